"""Slack and Microsoft Teams digests through incoming webhooks.

``slack``: a Block Kit message with a text fallback to an incoming-webhook URL. ``teams``: the same
digest as an Adaptive Card to a Teams workflow ("When a Teams webhook request is received")
URL. Both: the run digest on the ``on:`` triggers, nothing when nothing matched, and with
``weekly:`` a check-in digest on the chosen weekday (once per ISO week). With ``on: [checkin]``, the weekly
check-in (okrsync.present.checkin) when it is published (`okrsync checkin --publish`, ``schedule.checkin``): a
compact message (:func:`checkin_digest`), once per check-in period. User text (titles, notes) goes out as plain
text, never as markup: Slack ``plain_text`` blocks (and ``& < >`` escaped in the fallback text, so a note cannot
mention ``@channel`` or hide a link), Teams ``TextRun``s, which Adaptive Cards never read as Markdown.

A chat message cannot be checked afterwards, so delivery is at most once: the write ledger marks
a digest ``sent`` before the POST, and a retried or re-run sync never posts a digest whose
fingerprint is already sent or confirmed. The POST itself is retried only when it certainly
did not arrive (a refused connection, 429 with Retry-After); after a timeout or a dropped
answer the digest is reported and not repeated. Webhook URLs are secrets: redacted everywhere.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, cast
from urllib.parse import urlsplit

from pydantic import Field

from okrsync.config.model import Strict
from okrsync.errors import SinkError
from okrsync.present.checkin import Checkin, KrCheckin, ObjectiveCheckin
from okrsync.present.checkin_text import heading, kr_facts, points
from okrsync.present.digest import Digest, Section, run_digest, weekly_digest
from okrsync.present.formats import EMOJI, fmt_value, label, pct
from okrsync.present.triggers import OutputTrigger
from okrsync.sdk.connector import CheckinContext, Connector, OutputSettings, Sink, SinkContext, WebUrl
from okrsync.sdk.delivery import Delivery, fingerprint
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
    on: list[OutputTrigger] = ["status_change", "done", "suspect", "stale", "error"]
    report_url: str | None = None
    weekly: WeeklyCheckin | None = None
    rate_limit: float | None = Field(None, gt=0, description="messages per second (default 1)")


class SlackOutput(ChatOutput):
    type: Literal["slack"]


class TeamsOutput(ChatOutput):
    type: Literal["teams"]


class ChatSink(Sink[ChatOutput]):
    """Shared by Slack and Teams: what to send and when; subclasses only shape the payload."""

    publishes_checkin = True

    @property
    def key(self) -> str:
        """One ledger key per webhook, so two channels each get their digest (the URL as written in the
        config, usually a ${ENV} reference, hashed: the resolved URL is a secret)."""
        return f"{self.settings.type}:{fingerprint(self.settings.webhook_url)[:12]}"

    def payload(self, digest: Digest) -> dict:
        raise NotImplementedError

    def checkin_payload(self, digest: Digest) -> dict:
        """The check-in's message: every text plain (user text is never read as markup)."""
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
        messages = self.messages(ctx)
        if not messages:
            ctx.delivery.note(f"{self.settings.type}: nothing to send")
            return
        self._send(ctx.delivery, messages)

    def write_checkin(self, ctx: CheckinContext) -> None:
        """The check-in, at most once per period: the target is the period, and so is the fingerprint (a note
        added later the same day does not post it again)."""
        digest = checkin_digest(cast(Checkin, ctx.checkin), self.settings.report_url)
        self._send(ctx.delivery, [(ctx.period, ctx.fingerprint(), self.checkin_payload(digest))])

    def _send(self, delivery: Delivery, messages: list[tuple[str, str, dict]]) -> None:
        """Each message at most once (claimed ``sent`` before its POST), on one client opened on the first send."""
        kind = self.settings.type
        clients: list[ApiClient] = []

        def send(body: dict) -> None:
            if not clients:
                clients.append(self._client())
            clients[0].request("POST", self._url(), json=body, idempotent=False)

        try:
            for target, fp, body in messages:
                try:
                    delivery.at_most_once(
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


# --------------------------------------------------------------------------- the check-in, compact

LINE_LIMIT = 300  # characters of one line of a chat check-in (a note is cut with …; the report shows it whole)
ATTENTION = ("at_risk", "off_track")
KR_LINES = ("stalled", "stale", "held back", "failing", "question", "note", "ask")  # kr_facts a message keeps


def discussed(kr: KrCheckin) -> bool:
    """Whether the chat check-in lists a KR: its value or status moved, it needs attention (at risk, off track,
    stale, held back, failing, an owner's confidence that disagrees with the data) or it has notes."""
    moved = _six(kr.value_from) != _six(kr.value_to) or kr.status_from != kr.status_to
    attention = kr.status_to in ATTENTION or kr.stale or kr.held_back or kr.failing or kr.confidence_flag
    return bool(moved or attention or kr.notes)


def _six(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _clip(text: str) -> str:
    return text if len(text) <= LINE_LIMIT else text[: LINE_LIMIT - 1] + "…"


def _moved(before: str | None, after: str) -> str:
    return label(after) if before in (None, after) else f"{label(before)} → {label(after)}"


def objective_line(o: ObjectiveCheckin) -> str:
    owner = f" ({o.owner})" if o.owner else ""
    progress = f"{pct(o.progress_from)} → {pct(o.progress_to)}{points(o.progress_from, o.progress_to)}"
    return _clip(f"{EMOJI[o.status_to]} {o.title}{owner}: {progress}, {_moved(o.status_from, o.status_to)}")


def kr_lines(kr: KrCheckin, objective_owner: str | None = None) -> list[str]:
    """The KR's headline (value, progress, status from → to; its owner when not the objective's), then what the
    meeting should hear about it."""
    owner = f" ({kr.owner})" if kr.owner and kr.owner != objective_owner else ""
    value = f"{fmt_value(kr.value_from, kr.unit)} → {fmt_value(kr.value_to, kr.unit)}"
    progress = f"{pct(kr.progress_from)} → {pct(kr.progress_to)}{points(kr.progress_from, kr.progress_to)}"
    headline = f"{EMOJI[kr.status_to]} {kr.title}{owner}: {value}, {progress}, {_moved(kr.status_from, kr.status_to)}"
    return [_clip(headline)] + [_clip(f"    {name}: {text}") for name, text in kr_facts(kr) if name in KR_LINES]


def checkin_digest(c: Checkin, link: str | None = None) -> Digest:
    """The check-in as a chat message: per objective its line and the KRs that moved or need attention, with
    their notes, questions and prompts; how many others have nothing to discuss."""
    sections = [Section("Period", [c.period_note])] if c.period_note else []
    if c.failing:
        failing = [_clip(f"{f.metric} ({f.connection or 'formula'}): {f.message}") for f in c.failing]
        sections.append(Section("Sources that failed", failing))
    by_id = {kr.id: kr for kr in c.key_results}
    for o in c.objectives:
        krs = [by_id[k] for k in o.key_results if k in by_id]
        listed = [kr for kr in krs if discussed(kr)]
        lines = [line for kr in listed for line in kr_lines(kr, o.owner)]
        if rest := len(krs) - len(listed):
            lines.append(f"{rest} more key result{'s' if rest > 1 else ''}: no change, nothing flagged")
        sections.append(Section(objective_line(o), lines))
    return Digest(heading(c), sections, link)


def slack_escape(text: str) -> str:
    """Slack's three control characters as it asks (https://api.slack.com/reference/surfaces/formatting#escaping):
    no mention, channel or link can be made of user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": False}


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

    def checkin_payload(self, digest: Digest) -> dict:
        blocks: list[dict] = [{"type": "header", "text": _plain(digest.title[:150])}]
        for section in digest.sections:
            text = "\n".join([section.title, *section.lines])
            blocks.append({"type": "section", "text": _plain(text if len(text) <= 2900 else text[:2899] + "…")})
        if digest.link:
            link = {"type": "mrkdwn", "text": f"<{digest.link}|Open the report>"}
            blocks = blocks[:49] + [{"type": "context", "elements": [link]}]
        return {"text": slack_escape(digest.text())[:3000], "blocks": blocks[:50]}


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
        return _message(_card(body, digest.link))

    def checkin_payload(self, digest: Digest) -> dict:
        """RichTextBlocks of TextRuns: Adaptive Cards read a TextBlock as Markdown, never a TextRun."""
        body = [_runs(digest.title, weight="Bolder", size="Medium")]
        for section in digest.sections:
            body.append(_runs(section.title, weight="Bolder", spacing="Medium"))
            body.extend(_runs(line, spacing="None") for line in section.lines)
        return _message(_card(body, digest.link))


def _card(body: list[dict], link: str | None) -> dict:
    """An Adaptive Card 1.4 of ``body``, with a button to the report when there is a link."""
    card: dict = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard"}
    card |= {"version": "1.4", "body": body}
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": link}]
    return card


def _runs(text: str, *, spacing: str | None = None, **style: str) -> dict:
    block: dict = {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}
    return block | ({"spacing": spacing} if spacing else {})


def _message(card: dict) -> dict:
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


slack = Connector("slack", output=SlackOutput, sink=SlackSink, description="Slack incoming webhook")
teams = Connector("teams", output=TeamsOutput, sink=TeamsSink, description="Microsoft Teams workflow webhook")
