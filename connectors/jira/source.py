"""Jira source: counts, sums, averages and shares done over JQL (see the package docstring)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import requests
from jira import JIRAError

from connectors.jira import JiraConnection, JiraMetric
from connectors.jira.client import JiraClient, jira_message
from okrsync.connector import FetchResult, MetricQuery, Observation, Source
from okrsync.errors import SourceError, TransientError
from okrsync.numbers import parse_number


class JiraSource(Source[JiraConnection, JiraMetric]):
    def _client(self) -> JiraClient:
        try:
            return JiraClient(self.name, self.settings)
        except (JIRAError, TransientError, requests.RequestException) as exc:
            raise SourceError(jira_message(exc, self.name), connection=self.name) from None
        except (KeyError, TypeError, ValueError):  # the server-info answer is not Jira's JSON
            raise SourceError(
                "the server at the connection's url does not answer like Jira (serverInfo is not Jira's JSON)",
                connection=self.name,
            ) from None

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
            except (JIRAError, TransientError, requests.RequestException) as exc:
                out[q.metric_id] = self.error(jira_message(exc, self.name), q)
            else:
                out[q.metric_id] = Observation(value)
        return out
