"""Jira output: progress fields and comments on the issues named by KRs' ``jira_issue``.

The progress field is written (notifyUsers=false) only when it differs from the issue's. A comment
goes out when the output's ``comment_on`` triggers fire (:mod:`okrsync.present.triggers`); it carries a
marker, and the issue's comments are searched for that marker before every POST, so a re-run, a
retry or a crash between the POST and its answer never leaves two comments.

Read only, every publish: the comments people wrote on each issue since the previous check-in (the synced day
minus ``checkin.since_days``) are handed back to the sync as notes on the issue's key results (author: the
comment's author; identity: the comment's id), okrsync's own comments (those with its marker) left out
(docs/checkin.md, "Notes from Sheets and Jira").
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import cast

import requests
from jira import JIRAError

from okrsync.connectors.jira import JiraConnection, JiraOutput
from okrsync.connectors.jira.client import JiraClient, jira_message
from okrsync.errors import SinkError, TransientError
from okrsync.okr.numbers import parse_number
from okrsync.okr.status import KrStatus, StatusDocument
from okrsync.present.formats import forecast_text, label, pct
from okrsync.present.triggers import fired, previous_krs
from okrsync.sdk.connector import Heard, Sink, SinkContext, heard_identity
from okrsync.sdk.delivery import fingerprint

MARKER = "okrsync:{ns}/{kr}/{day}/{status}"
# the marker okrsync ends each of its comments with, on a line of its own (a namespace or KR id may hold spaces)
OWN = re.compile(r"^\[okrsync:[^\]\n]*\]\s*$", re.M)


def comment_text(kr: KrStatus, prev: KrStatus | None, doc: StatusDocument, marker: str) -> str:
    was = f" (was {label(prev.status)})" if prev and prev.status != kr.status else ""
    target = kr.target if kr.target is not None else f"{kr.min}–{kr.max}"
    lines = [
        f"OKR update: {kr.title} is {label(kr.status)}{was}.",
        f"Progress {pct(kr.progress)} (expected {pct(kr.judged)}), value {kr.value} toward target {target}, "
        f"as of {doc.day}.",
    ]
    if kr.forecast:
        lines.append(f"F{forecast_text(kr)[1:]} by {kr.due}.")  # "Forecast 120 (80–140, 72% likely) by …"
    if kr.stale:
        lines.append(f"Stale: {kr.stale_reason}")
    lines.append(f"[{marker}]")
    return "\n".join(lines)


class JiraSink(Sink[JiraOutput]):
    def __init__(self, settings: JiraOutput, base_dir) -> None:
        super().__init__(settings, base_dir)
        self._client: JiraClient | None = None
        self.connection: JiraConnection | None = None

    @property
    def key(self) -> str:
        """Per connection: two Jira sites may both have an APP-1."""
        return f"jira:{self.settings.connection}"

    @property
    def client(self) -> JiraClient:
        """Opened on the first write that is really sent."""
        if self._client is None:
            if self.connection is None:
                raise RuntimeError("JiraSink.client is opened by write()")
            self._client = JiraClient(self.settings.connection, self.connection)
        return self._client

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        # the config checks when it loads that an output's connection is one of its own connector's
        self.connection = cast(JiraConnection, ctx.config.connections[s.connection])
        previous = previous_krs(ctx.previous)
        failures: list[str] = []
        for _, kr in ctx.document.key_results():
            if not kr.jira_issue or kr.suspect:  # a held-back value is not written back until accepted
                continue
            try:
                if s.progress_field and kr.progress is not None:
                    self._set_progress(ctx, s.progress_field, kr.jira_issue, round(kr.progress * 100, 1))
                prev = previous.get(kr.id)
                if fired(kr, prev, s.comment_on):
                    self._comment(ctx, kr.jira_issue, kr, prev)
            except (JIRAError, TransientError, requests.RequestException) as exc:
                failures.append(f"{kr.jira_issue}: {jira_message(exc, s.connection)}")
            except ValueError as exc:  # an answer okrsync cannot act on (a page without its comments, a field's text)
                failures.append(f"{kr.jira_issue}: {exc}")
            except SinkError as exc:
                failures.append(exc.message)
        failures += self._listen(ctx)
        if failures:
            raise SinkError("; ".join(failures))

    def _listen(self, ctx: SinkContext) -> list[str]:
        """Hand back the comments people wrote on the KRs' issues since the previous check-in; one read per issue
        (newest first, usually one page); what could not be read, per issue."""
        issues: dict[str, list[str]] = {}
        for _, kr in ctx.document.key_results():
            if kr.jira_issue:
                issues.setdefault(kr.jira_issue, []).append(kr.id)
        failures = []
        site = str(getattr(ctx.config.connections[self.settings.connection], "url", self.settings.connection))
        for issue, krs in issues.items():
            try:
                comments = self.client.comments_since(issue, since_checkin(ctx))
            except (JIRAError, TransientError, requests.RequestException, ValueError) as exc:
                failures.append(f"{issue}: cannot read its comments: {jira_message(exc, self.settings.connection)}")
                continue
            for c in comments:
                if not c.body.strip() or OWN.search(c.body):  # okrsync's own comment, or nothing said
                    continue
                for kr_id in krs:
                    identity = heard_identity("jira", site, issue, c.id, kr_id)  # one comment, one note
                    ctx.hear(Heard(kr_id, c.body, "jira", identity, author=c.author, written_at=c.created))
        return failures

    def _set_progress(self, ctx: SinkContext, field: str, issue: str, desired: float) -> None:
        def send(_key: str) -> str | None:  # the field's value is its own key: Jira keeps one
            found = self.client.call(lambda: self.client.jira.issue(issue, fields=field))
            current = found.raw["fields"].get(field)
            if current is not None and parse_number(current) == desired:
                return None
            self.client.call(lambda: found.update(fields={field: desired}, notify=False))
            return f"jira: set {field} of {issue} to {desired}"

        ctx.delivery.idempotent(
            f"{issue}/{field}", fingerprint(desired), send, would=f"jira: would set {field} of {issue} to {desired}"
        )

    def _comment(self, ctx: SinkContext, issue: str, kr: KrStatus, prev: KrStatus | None) -> None:
        doc = ctx.document
        marker = MARKER.format(ns=ctx.config.namespace, kr=kr.id, day=doc.day, status=kr.status)
        body = comment_text(kr, prev, doc, marker)

        def posted() -> bool:
            try:
                return self.client.has_comment(issue, marker)
            except TransientError as exc:  # cannot check: posting blind could duplicate, so stop here
                raise SinkError(f"{issue}: cannot read its comments to check for an earlier post ({exc})") from None

        def post_once() -> None:  # look before every POST: a previous attempt (or a crashed run) may have landed
            if not posted():
                self.client.jira.add_comment(issue, body)

        def send(_key: str) -> str:  # the marker in the comment is the key: looked for before posting
            self.client.call(post_once)
            return f"jira: commented on {issue} ({kr.id} is {kr.status})"

        what = f"({kr.id} is {kr.status})"
        ctx.delivery.idempotent(
            f"{issue}/comment/{marker}", fingerprint(marker), send, would=f"jira: would comment on {issue} {what}"
        )


def since_checkin(ctx: SinkContext) -> datetime:
    """The start of the previous check-in's day: the synced day minus ``checkin.since_days``, in the cycle's zone."""
    day = ctx.document.day - timedelta(days=ctx.config.checkin.since_days)
    return datetime.combine(day, time(0), tzinfo=ctx.config.cycle.tz)
