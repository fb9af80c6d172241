"""Jira source: counts, sums, averages and shares done over JQL (see the package docstring)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import requests
from jira import JIRAError

from okrsync.connectors.jira import JiraConnection, JiraMetric
from okrsync.connectors.jira.client import JiraClient, jira_message
from okrsync.errors import SourceError, TransientError
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import FetchResult, MetricQuery, Observation, Source

T = TypeVar("T")
Answer = int | list[object] | Exception  # a count, a field's values, or what the request raised


class JiraSource(Source[JiraConnection, JiraMetric]):
    def _client(self) -> JiraClient:
        return self._answer(lambda: JiraClient(self.name, self.settings))

    def _answer(self, ask: Callable[[], T]) -> T:
        """What ``ask`` (the client's construction or its serverInfo) gives, or a SourceError saying why not."""
        try:
            return ask()
        except (JIRAError, TransientError, requests.RequestException) as exc:
            raise SourceError(jira_message(exc, self.name), connection=self.name) from None
        except (KeyError, TypeError, ValueError):  # the server-info answer is not Jira's JSON
            raise SourceError(
                "the server at the connection's url does not answer like Jira (serverInfo is not Jira's JSON)",
                connection=self.name,
            ) from None

    def check(self) -> str:
        client = self._client()
        info = client.info if client.info is not None else self._answer(client.server_info)
        return f"Jira {'Cloud' if client.cloud else 'Data Center'} {info.get('version', '')}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        """Every distinct request at once (up to ``max_concurrency``), then each metric from the answers.

        Requests are planned first so that metrics sharing a JQL share its count, and field names are
        resolved with one fields read before anything runs in parallel. ``percent_done`` asks for both of
        its counts together, so a JQL matching no issue costs one request more than a sequential check."""
        client = self._client()
        out: FetchResult = {}
        wanted: dict[str, tuple] = {}  # the metric -> its requests: ("count", jql) or ("values", jql, field)
        for q in queries:
            try:
                wanted[q.metric_id] = self._requests(client, q)
            except (JIRAError, TransientError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
                out[q.metric_id] = self._failure(exc, q)
        distinct = list(dict.fromkeys(r for reqs in wanted.values() for r in reqs))
        answers = dict(zip(distinct, self.concurrently(lambda r: _attempt(client, r), distinct), strict=True))
        for q in queries:
            if q.metric_id in wanted:
                out[q.metric_id] = self._compose(q, [answers[r] for r in wanted[q.metric_id]])
        return out

    def _requests(self, client: JiraClient, q: MetricQuery) -> tuple:
        jql = q.fill(q.params.jql)
        how = q.aggregate or "count"
        if how == "count":
            return (("count", jql),)
        if how == "percent_done":
            return ("count", jql), ("count", f"({jql}) AND statusCategory = Done")
        if how in ("sum", "avg"):
            if not q.params.field:
                raise ValueError(f"aggregate {how} needs field: (a field id or name, e.g. Story Points)")
            return (("values", jql, client.field_id(q.params.field)),)
        raise ValueError(f"aggregate {how} is not supported for Jira (count, sum, avg, percent_done)")

    def _compose(self, q: MetricQuery, answers: list[Answer]) -> Observation | SourceError:
        failed = next((a for a in answers if isinstance(a, BaseException)), None)
        try:
            if failed is not None:
                raise failed
            # no answer is an exception now, and each is what _requests planned for this aggregate
            how = q.aggregate or "count"
            if how == "count":
                return Observation(float(cast(int, answers[0])))
            if how == "percent_done":
                total, done = cast(list[int], answers)  # two counts
                if total == 0:
                    raise ValueError("no issues match the JQL, so there is no share done")
                return Observation(100.0 * done / total)
            values = cast(list[object], answers[0])  # sum and avg: one field's values
            numbers = [parse_number(v) for v in values if v not in (None, "")]
            if how == "avg" and not numbers:
                raise ValueError("no matched issue has a value in that field")
            return Observation(sum(numbers) if how == "sum" else sum(numbers) / len(numbers))
        except (JIRAError, TransientError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
            return self._failure(exc, q)

    def _failure(self, exc: BaseException, q: MetricQuery) -> SourceError:
        if isinstance(exc, KeyError | TypeError | json.JSONDecodeError):  # a 200 whose body is not Jira's JSON
            return self.error("Jira answered with a body that is not the expected JSON", q)
        if isinstance(exc, ValueError) and not isinstance(exc, requests.RequestException):
            return self.error(str(exc), q)
        return self.error(jira_message(exc, self.name), q)


def _attempt(client: JiraClient, request: tuple) -> Answer:
    """One planned request's answer, or the exception it raised (kept for every metric that needs it)."""
    try:
        if request[0] == "count":
            return client.count(request[1])
        return client.field_values(request[1], request[2])
    except (JIRAError, TransientError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
        return exc
