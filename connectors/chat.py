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

from functools import partial
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from okrsync.config.model import Strict
from okrsync.errors import SinkError
from okrsync.present.digest import Digest, run_digest, weekly_digest
from okrsync.present.triggers import Trigger
from okrsync.sdk.connector import Connector, OutputSettings, Sink, SinkContext, WebUrl
from okrsync.sdk.delivery import fingerprint
from okrsync.sdk.http import ApiClient, HttpError, secret
from okrsync.sdk.retry import per_second

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DEFAULT_QUESTIONS = [
    "What has had the most impact so far?",
    "What is blocking progress, and who can unblock it?",
    "What will we change this week to get back on track?",
]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class WeeklyCheckin(Strict):
    """A weekly digest of every objective for the OKR meeting, with check-in questions for KRs in trouble."""

    weekday: Weekday = "monday"
    questions: list[str] = Field(DEFAULT_QUESTIONS, min_length=1)


class ChatOutput(OutputSettings):
    webhook_url: WebUrl
    on: list[Trigger] = ["status_change", "done", "suspect", "stale", "error"]
    report_url: str | None = None
    weekly: WeeklyCheckin | None = None
    rate_limit: float | None = Field(None, gt=0, description="messages per second (default 1)")


class SlackOutput(ChatOutput):
    type: Literal["slack"]


class TeamsOutput(ChatOutput):
    type: Literal["teams"]


class ChatSink(Sink[ChatOutput]):
    """Shared by Slack and Teams: what to send and when; subclasses only shape the payload."""

    @property
    def key(self) -> str:
        """One ledger key per webhook, so two channels each get their digest (the URL as written in the
        config, usually a ${ENV} reference, hashed: the resolved URL is a secret)."""
        return f"{self.settings.type}:{fingerprint(self.settings.webhook_url)[:12]}"

    def payload(self, digest: Digest) -> dict:
        raise NotImplementedError

    def messages(self, ctx: SinkContext) -> list[tuple[str, str, dict]]:
        """(target, fingerprint, payload) of each message this run owes: the digest, the weekly check-in."""
        s, doc = self.settings, ctx.document
        out = []
        digest = run_digest(doc, ctx.previous, list(s.on), s.report_url)
        if not digest.empty:
            body = self.payload(digest)
            out.append((f"digest/{doc.day}", fingerprint(body), body))
        as_of = doc.as_of
        if s.weekly and WEEKDAYS[as_of.weekday()] == s.weekly.weekday:
            year, week, _ = as_of.isocalendar()
            target = f"weekly/{year}-W{week:02d}"  # one check-in per week, even if numbers moved since
            out.append(
                (target, fingerprint(target), self.payload(weekly_digest(doc, s.weekly.questions, s.report_url)))
            )
        return out

    def write(self, ctx: SinkContext) -> None:
        kind = self.settings.type
        messages = self.messages(ctx)
        if not messages:
            ctx.delivery.note(f"{kind}: nothing to send")
            return
        clients: list[ApiClient] = []  # opened on the first message that is really sent

        def send(body: dict) -> None:
            if not clients:
                clients.append(self._client())
            clients[0].request("POST", self._url(), json=body, idempotent=False)

        try:
            for target, fp, body in messages:
                try:
                    ctx.delivery.at_most_once(
                        target,
                        fp,
                        partial(send, body),
                        would=f"{kind}: would send {target}",
                        sent=f"{kind}: sent {target}",
                        already=f"{kind}: {target} already sent",
                    )
                except HttpError as exc:
                    raise SinkError(f"{target}: {exc.message}") from None
        finally:
            for client in clients:
                client.close()

    def _url(self) -> str:
        return secret(self.settings.webhook_url, f"outputs.{self.settings.type}.webhook_url")

    def _client(self) -> ApiClient:
        parts = urlsplit(self._url())
        return ApiClient(
            f"{parts.scheme}://{parts.netloc}",
            # Slack: "Incoming webhooks … one message per second" (https://api.slack.com/apis/rate-limits)
            limits=per_second(self.settings.rate_limit or 1.0),
            token_hint="the webhook URL",
        )


class SlackSink(ChatSink):
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


slack = Connector("slack", output=SlackOutput, sink=SlackSink, description="Slack incoming webhook")
teams = Connector("teams", output=TeamsOutput, sink=TeamsSink, description="Microsoft Teams workflow webhook")
