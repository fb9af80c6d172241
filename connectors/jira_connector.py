"""Jira: KPIs from JQL (source) and progress fields and comments back on issues (output).

Connection: ``url`` + ``email`` + API ``token`` is Jira Cloud (basic auth); ``url`` + ``token``
without email is a Data Center personal access token (bearer). Cloud or Data Center is then read
from serverInfo, and decides the endpoints: Cloud has no legacy /search any more.

Metric: ``jql`` (may use {cycle.start} {cycle.end} {as_of}) and ``aggregate``:
- ``count`` (default): Cloud's approximate-count endpoint; Data Center's legacy search with
  maxResults=0 and its ``total``. One request per distinct JQL, however many metrics share it.
- ``sum`` / ``avg`` of ``field`` (an id such as customfield_10016, or a name such as
  "Story Points"; raw units, e.g. timespent in seconds), paging through search/jql with
  nextPageToken on Cloud (startAt on Data Center), refusing a repeated page token.
- ``percent_done``: 100 x count(JQL AND statusCategory = Done) / count(JQL).

Output ``jira``: for KRs naming ``jira_issue``, writes the KR's progress (0..100) to
``progress_field`` when the value differs from the issue's (read first, written with
notifyUsers=false), and adds a comment on the configured triggers. Each comment carries a marker;
before posting, and after any failed POST, the issue's comments are checked for it, so a re-run,
a retry or a crash between the POST and its answer never leaves two comments. jira's own
ResilientSession retries (which re-send POSTs) are switched off; okrsync's bounded policy
retries reads and idempotent writes only.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import requests
from jira import JIRA, JIRAError

from okrsync.config import JiraConnection, JiraMetric, JiraOutput, resolve_env
from okrsync.connector import FetchResult, MetricQuery, Observation, Sink, SinkContext, Source
from okrsync.document import iter_krs
from okrsync.errors import SinkError, SourceError
from okrsync.numbers import parse_number
from okrsync.retry import RETRYABLE_STATUS, Pacer, Retryable, RetryPolicy, retry_after_seconds
from okrsync.store import fingerprint

T = TypeVar("T")
REQUESTS_PER_SECOND = 10.0  # Jira Cloud's cost-based limits allow bursts; stay well below them
PAGE_SIZE = 100
MARKER = "okrsync:{ns}/{kr}/{day}/{status}"


class JiraClient:
    """One jira.JIRA per connection, with okrsync's pacing and retry policy around every call."""

    def __init__(self, name: str, settings: JiraConnection, policy: RetryPolicy | None = None):
        self.name = name
        self.policy = policy or RetryPolicy()
        self.pacer = Pacer(settings.rate_limit or REQUESTS_PER_SECOND, burst=5)
        server = (settings.endpoint or settings.url).rstrip("/")
        token = resolve_env(settings.token, f"connections.{name}.token")
        auth: dict = {}
        if settings.email:
            auth["basic_auth"] = (resolve_env(settings.email, f"connections.{name}.email"), token)
        else:
            auth["token_auth"] = token
        self.jira = self.call(
            lambda: JIRA(
                server=server,
                max_retries=0,
                timeout=30,
                get_server_info=True,
                options={"rest_api_version": "2", "check_update": False},
                **auth,
            )
        )
        self.cloud = self.jira.deploymentType == "Cloud"
        self._fields: list[dict] | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run one idempotent request (read, PUT) with pacing and bounded retries."""

        def once() -> T:
            self.pacer.acquire()
            try:
                return fn()
            except JIRAError as exc:
                if exc.status_code in RETRYABLE_STATUS:
                    after = exc.response.headers.get("Retry-After") if exc.response is not None else None
                    raise Retryable(f"HTTP {exc.status_code}", retry_after_seconds(after), exc) from exc
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise Retryable(type(exc).__name__, None, exc) from exc

        return self.policy.call(once)

    # -- reads --------------------------------------------------------------------------------

    def count(self, jql: str) -> int:
        if self.cloud:
            return int(self.call(lambda: self.jira.approximate_issue_count(jql)))
        with warnings.catch_warnings():  # jira warns that maxResults=0 fetches no issues: that is the point
            warnings.simplefilter("ignore")
            page = self.call(lambda: self.jira.search_issues(jql, maxResults=0, fields="key", json_result=True))
        return int(page["total"])

    def field_id(self, wanted: str) -> str:
        if self._fields is None:  # once per connection, however many sum/avg metrics ask
            self._fields = self.call(self.jira.fields)
        for f in self._fields:
            if wanted == f["id"] or wanted.lower() == f.get("name", "").lower() or wanted in f.get("clauseNames", []):
                return f["id"]
        raise ValueError(f"no field {wanted!r} in this Jira (give its id, e.g. customfield_10016, or its exact name)")

    def field_values(self, jql: str, field: str) -> list[object]:
        values: list[object] = []
        if self.cloud:
            token: str | None = None
            seen: set[str] = set()
            while True:
                page = self.call(
                    lambda t=token: self.jira.enhanced_search_issues(
                        jql, nextPageToken=t, maxResults=PAGE_SIZE, fields=[field], json_result=True
                    )
                )
                values += [issue["fields"].get(field) for issue in page.get("issues", [])]
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    return values
                if token in seen:
                    raise ValueError(f"Jira repeated page token {token!r}: stopped paging to avoid a loop")
                seen.add(token)
        start = 0
        while True:
            page = self.call(
                lambda s=start: self.jira.search_issues(
                    jql, startAt=s, maxResults=PAGE_SIZE, fields=[field], json_result=True
                )
            )
            issues = page.get("issues", [])
            values += [issue["fields"].get(field) for issue in issues]
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                return values


def jira_message(exc: BaseException, connection: str) -> str:
    """Jira's own words for an error, never the request (its str() can include headers)."""
    if isinstance(exc, Retryable):
        return f"Jira kept failing ({exc}) after retries; try again later"
    if isinstance(exc, JIRAError):
        status = exc.status_code
        if status == 401:
            return (
                f"Jira rejected the credentials of connection {connection!r} (401): check the email and API "
                "token (Cloud) or the personal access token (Data Center)"
            )
        if status == 403:
            return "Jira refused access (403): the account lacks permission for this project or issue"
        detail = ""
        try:
            body = exc.response.json()
            detail = "; ".join(body.get("errorMessages") or [f"{k}: {v}" for k, v in body.get("errors", {}).items()])
        except Exception:
            detail = ""
        return f"Jira answered HTTP {status}" + (f": {detail}" if detail else " (not a JSON error body)")
    if isinstance(exc, requests.RequestException):
        return f"cannot reach Jira: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


class JiraSource(Source):
    type_name = "jira"
    connection_model = JiraConnection
    metric_model = JiraMetric

    def _client(self) -> JiraClient:
        try:
            return JiraClient(self.name, self.settings)
        except (JIRAError, Retryable, requests.RequestException) as exc:
            raise SourceError(jira_message(exc, self.name), connection=self.name) from None

    def check(self) -> str:
        client = self._client()
        return f"Jira {'Cloud' if client.cloud else 'Data Center'} {client.jira.server_info().get('version', '')}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        client = self._client()
        counts: dict[str, int] = {}

        def count(jql: str) -> int:
            if jql not in counts:
                counts[jql] = client.count(jql)
            return counts[jql]

        out: FetchResult = {}
        for q in queries:
            jql = q.fill(q.params.jql)
            how = q.aggregate or "count"
            try:
                if how == "count":
                    value = float(count(jql))
                elif how == "percent_done":
                    total = count(jql)
                    if total == 0:
                        raise ValueError("no issues match the JQL, so there is no share done")
                    value = 100.0 * count(f"({jql}) AND statusCategory = Done") / total
                elif how in ("sum", "avg"):
                    if not q.params.field:
                        raise ValueError(f"aggregate {how} needs field: (a field id or name, e.g. Story Points)")
                    numbers = [
                        parse_number(v)
                        for v in client.field_values(jql, client.field_id(q.params.field))
                        if v not in (None, "")
                    ]
                    if how == "avg" and not numbers:
                        raise ValueError("no matched issue has a value in that field")
                    value = sum(numbers) if how == "sum" else sum(numbers) / len(numbers)
                else:
                    raise ValueError(f"aggregate {how} is not supported for Jira (count, sum, avg, percent_done)")
            except (KeyError, TypeError, json.JSONDecodeError):  # a 200 with a body that is not Jira's JSON
                out[q.metric_id] = self.error("Jira answered with a body that is not the expected JSON", q)
            except ValueError as exc:
                out[q.metric_id] = self.error(str(exc), q)
            except (JIRAError, Retryable, requests.RequestException) as exc:
                out[q.metric_id] = self.error(jira_message(exc, self.name), q)
            else:
                out[q.metric_id] = Observation(value)
        return out


# --------------------------------------------------------------------------- output

TRIGGER_TEST = {
    "status_change": lambda kr, prev: prev is not None and prev["status"] != kr["status"],
    "done": lambda kr, prev: kr["status"] == "done" and (prev is None or prev["status"] != "done"),
    "stale": lambda kr, prev: kr["stale"] and not (prev or {}).get("stale"),
    "error": lambda kr, prev: bool(kr["error"]) and not (prev or {}).get("error"),
    "every_run": lambda kr, prev: True,
}


def comment_text(kr: dict, prev: dict | None, doc: dict, marker: str) -> str:
    label = kr["status"].replace("_", " ")
    was = f" (was {prev['status'].replace('_', ' ')})" if prev and prev["status"] != kr["status"] else ""
    pct = "–" if kr["progress"] is None else f"{kr['progress'] * 100:.0f}%"
    target = kr["target"] if kr["target"] is not None else f"{kr['min']}–{kr['max']}"
    lines = [
        f"OKR update: {kr['title']} is {label}{was}.",
        f"Progress {pct} (expected {kr['expected'] * 100:.0f}%), value {kr['value']} toward target {target}, "
        f"as of {doc['as_of'][:10]}.",
    ]
    if kr["stale"]:
        lines.append(f"Stale: {kr['stale_reason']}")
    lines.append(f"[{marker}]")
    return "\n".join(lines)


class JiraSink(Sink):
    type_name = "jira"
    settings: JiraOutput

    @property
    def key(self) -> str:
        """Per connection: two Jira sites may both have an APP-1."""
        return f"jira:{self.settings.connection}"

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        connection = ctx.config.connections.get(s.connection)
        if not isinstance(connection, JiraConnection):
            raise SinkError(f"connection {s.connection!r} is not a jira connection")
        previous = {kr["id"]: kr for _, kr in iter_krs(ctx.previous or {"objectives": []})}
        now = ctx.now or datetime.fromisoformat(ctx.document["as_of"])
        client: JiraClient | None = None
        failures: list[str] = []
        for _, kr in iter_krs(ctx.document):
            issue = kr.get("jira_issue")
            if not issue:
                continue
            try:
                if s.progress_field and kr["progress"] is not None:
                    client = self._set_progress(ctx, client, connection, issue, kr, now)
                prev = previous.get(kr["id"])
                if any(TRIGGER_TEST[t](kr, prev) for t in s.comment_on):
                    client = self._comment(ctx, client, connection, issue, kr, prev, now)
            except (JIRAError, Retryable, requests.RequestException) as exc:
                failures.append(f"{issue}: {jira_message(exc, s.connection)}")
            except SinkError as exc:
                failures.append(exc.message)
        if failures:
            raise SinkError("; ".join(failures))

    def _open(self, client: JiraClient | None, connection: JiraConnection) -> JiraClient:
        return client or JiraClient(self.settings.connection, connection)

    def _set_progress(self, ctx: SinkContext, client, connection, issue: str, kr: dict, now) -> JiraClient | None:
        field = self.settings.progress_field
        desired = round(kr["progress"] * 100, 1)
        target = f"{issue}/{field}"
        fp = fingerprint(desired)
        last = ctx.ledger.last_confirmed_entry(self.key, target)
        if last and last[0] == fp:
            return client
        if ctx.dry_run:
            ctx.planned.append(f"jira: would set {field} of {issue} to {desired}")
            return client
        client = self._open(client, connection)
        found = client.call(lambda: client.jira.issue(issue, fields=field))
        current = found.raw["fields"].get(field)
        if current is None or parse_number(current) != desired:
            client.call(lambda: found.update(fields={field: desired}, notify=False))
            ctx.planned.append(f"jira: set {field} of {issue} to {desired}")
        ctx.ledger.mark(self.key, target, fp, "confirmed", now)
        return client

    def _comment(self, ctx: SinkContext, client, connection, issue: str, kr: dict, prev, now) -> JiraClient | None:
        marker = MARKER.format(
            ns=ctx.config.namespace, kr=kr["id"], day=ctx.document["as_of"][:10], status=kr["status"]
        )
        target = f"{issue}/comment"
        if ctx.ledger.state(self.key, target, marker) == "confirmed":
            return client
        if ctx.dry_run:
            ctx.planned.append(f"jira: would comment on {issue} ({kr['id']} is {kr['status']})")
            return client
        client = self._open(client, connection)
        body = comment_text(kr, prev, ctx.document, marker)

        def posted() -> bool:
            try:
                comments = client.call(lambda: client.jira.comments(issue))
            except Retryable as exc:  # cannot check: posting blind could duplicate, so stop here
                raise SinkError(f"{issue}: cannot read its comments to check for an earlier post ({exc})") from None
            return any(marker in (c.raw.get("body") or "") for c in comments)

        def attempt() -> None:
            # look before every POST: a previous attempt (or a crashed run) may have landed
            if posted():
                return
            client.pacer.acquire()
            try:
                client.jira.add_comment(issue, body)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise Retryable(type(exc).__name__, None, exc) from exc
            except JIRAError as exc:
                if exc.status_code in RETRYABLE_STATUS:
                    raise Retryable(f"HTTP {exc.status_code}", None, exc) from exc
                raise

        ctx.ledger.mark(self.key, target, marker, "planned", now)
        client.policy.call(attempt)
        ctx.ledger.mark(self.key, target, marker, "confirmed", now)
        ctx.planned.append(f"jira: commented on {issue} ({kr['id']} is {kr['status']})")
        return client
