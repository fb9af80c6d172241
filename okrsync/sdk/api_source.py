"""The shape shared by the HTTP API sources (HubSpot, Salesforce, Pipedrive, any JSON API).

A subclass declares its models, how to build its :class:`~okrsync.sdk.http.ApiClient` and how to read
one metric; the loop, the per-metric error mapping, the connection check and closing the client
live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from okrsync.errors import SourceError
from okrsync.sdk.connector import ConnT, FetchResult, MetricQuery, Observation, ParamsT, Source
from okrsync.sdk.http import ApiClient, HttpError, source_error


class ApiSource(Source[ConnT, ParamsT]):
    check_path: ClassVar[str | None] = None  # a cheap authenticated GET for `connections test`

    @abstractmethod
    def client(self) -> ApiClient:
        """A client for this connection (credentials resolved and registered for redaction)."""

    @abstractmethod
    def read(self, client: ApiClient, query: MetricQuery) -> float:
        """One metric's value; raise HttpError or ValueError with a message for the user."""

    def describe_check(self, answer: object) -> str:
        return "credentials accepted"

    def check_paths(self) -> list[str]:
        """The cheap authenticated GETs `connections test` makes: by default ``check_path``; a source whose
        permissions depend on what the metrics read checks exactly that."""
        return [self.check_path] if self.check_path else []

    def check(self) -> str:
        client = self.client()
        answer = None
        try:
            for path in self.check_paths():
                answer = client.json("GET", path)
        except HttpError as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        finally:
            client.close()
        return self.describe_check(answer) if self.check_paths() else "configured"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        """Every query, up to ``max_concurrency`` in flight at once on one client (httpx's Client is safe
        to share between threads); the connection's pacer and retry policy are shared by all of them."""
        client = self.client()

        def one(q: MetricQuery) -> tuple[str, Observation | SourceError]:
            try:
                return q.metric_id, Observation(self.read(client, q))
            except (HttpError, ValueError) as exc:
                return q.metric_id, source_error(exc, metric=q.metric_id, connection=self.name)

        try:
            return dict(self.concurrently(one, queries))
        finally:
            client.close()
