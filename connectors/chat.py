"""Slack and Microsoft Teams digests through incoming webhooks.

``slack``: a Block Kit message with a text fallback to an incoming-webhook URL. ``teams``: the same
digest as an Adaptive Card to a Teams workflow ("When a Teams webhook request is received")
URL. Both: the run digest on the ``on:`` triggers, nothing when nothing matched, and with
``weekly:`` a check-in digest on the chosen weekday (once per ISO week).

A chat message cannot be checked afterwards, so delivery is at most once: the write ledger marks
a digest ``sent`` before the POST, and a retried or re-run sync never posts a digest whose
fingerprint is already sent or confirmed. The POST itself is retried only when it certainly
did not arrive (a refused connection, 429 with Retry-After); after a timeout or a dropped
answer the digest is reported and not repeated. Webhook URLs are secrets: redacted everywhere.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from okrsync.config import SlackOutput, TeamsOutput
from okrsync.connector import Sink, SinkContext
from okrsync.digest import Digest, run_digest, weekly_digest
from okrsync.errors import SinkError
from okrsync.http import ApiClient, HttpError, secret
from okrsync.store import fingerprint

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ChatSink(Sink):
    """Shared by Slack and Teams: what to send and when; subclasses only shape the payload."""

    settings: SlackOutput | TeamsOutput

    @property
    def key(self) -> str:
        """One ledger key per webhook, so two channels each get their digest (the URL as written in the
        config, usually a ${ENV} reference, hashed: the resolved URL is a secret)."""
        return f"{self.type_name}:{fingerprint(self.settings.webhook_url)[:12]}"

    def payload(self, digest: Digest) -> dict:
        raise NotImplementedError

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        doc = ctx.document
        as_of = datetime.fromisoformat(doc["as_of"])
        messages: list[tuple[str, Digest]] = []
        digest = run_digest(doc, ctx.previous, list(s.on), s.report_url)
        if not digest.empty:
            messages.append((f"digest/{doc['as_of'][:10]}", digest))
        if s.weekly and WEEKDAYS[as_of.weekday()] == s.weekly.weekday:
            year, week, _ = as_of.isocalendar()
            messages.append((f"weekly/{year}-W{week:02d}", weekly_digest(doc, s.weekly.questions, s.report_url)))
        if not messages:
            ctx.planned.append(f"{self.type_name}: nothing to send")
            return
        url = secret(s.webhook_url, f"outputs.{self.type_name}.webhook_url")
        now = ctx.now or as_of
        client: ApiClient | None = None
        try:
            for target, message in messages:
                body = self.payload(message)
                fp = fingerprint(body)
                if target.startswith("weekly/"):
                    fp = fingerprint(target)  # one check-in per week, even if numbers moved since
                if ctx.ledger.state(self.key, target, fp) in ("sent", "confirmed"):
                    ctx.planned.append(f"{self.type_name}: {target} already sent")
                    continue
                if ctx.dry_run:
                    ctx.planned.append(f"{self.type_name}: would send {target}")
                    continue
                client = client or self._client(url)
                ctx.ledger.mark(self.key, target, fp, "sent", now)
                try:
                    client.request("POST", url, json=body, idempotent=False)
                except HttpError as exc:
                    # a definite refusal (4xx) was not delivered: a later run may try again
                    if exc.status is not None and exc.status < 500:
                        ctx.ledger.mark(self.key, target, fp, "failed", now, detail=exc.message)
                    raise SinkError(f"{target}: {exc.message}") from None
                ctx.ledger.mark(self.key, target, fp, "confirmed", now)
                ctx.planned.append(f"{self.type_name}: sent {target}")
        finally:
            if client:
                client.close()

    def _client(self, url: str) -> ApiClient:
        parts = urlsplit(url)
        return ApiClient(
            f"{parts.scheme}://{parts.netloc}", rate=self.settings.rate_limit or 1.0, token_hint="the webhook URL"
        )


class SlackSink(ChatSink):
    type_name = "slack"

    def payload(self, digest: Digest) -> dict:
        blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": digest.title[:150]}}]
        for section in digest.sections:
            if section.lines:
                text = f"*{section.title}*\n" + "\n".join(section.lines)
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
        if digest.link:
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{digest.link}|Open the report>"}]}
            )
        return {"text": digest.text()[:3000], "blocks": blocks[:50]}


class TeamsSink(ChatSink):
    type_name = "teams"

    def payload(self, digest: Digest) -> dict:
        body: list[dict] = [
            {"type": "TextBlock", "text": digest.title, "weight": "Bolder", "size": "Medium", "wrap": True}
        ]
        for section in digest.sections:
            if section.lines:
                body.append(
                    {"type": "TextBlock", "text": section.title, "weight": "Bolder", "wrap": True, "spacing": "Medium"}
                )
                body.extend(
                    {"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"} for line in section.lines
                )
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if digest.link:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": digest.link}]
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
