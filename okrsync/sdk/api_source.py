"""The base of every REST source, declared in the spirit of singer-sdk's RESTStream.

A source declares, as class attributes, what sets it apart, and overrides :meth:`ApiSource.read`:

    api_root       the vendor's root (``https://api.github.com``); ``endpoint:`` replaces it
    api_root_from  or the connection keys that hold it (a company domain: ``url``, ``instance_url``)
    auth           one auth object (:mod:`okrsync.sdk.auth`: bearer, basic, header, query parameter)
    headers        fixed headers sent with every request (an API version, an Accept type)
    limits         the vendor's published quota windows, the page cited beside them; ``rate_limit:``
                   (requests per second) overrides them
    max_concurrency  requests in flight at once unless the connection says ``max_concurrency:``
    pagination     a paginator template (:mod:`okrsync.sdk.pagination`) that :meth:`ApiSource.pages` follows
    token_hint     what a 401 tells the user to check (``{name}``: the connection)
    vendor         the vendor's name in messages

The aggregates a source supports are declared on its metric model (``aggregates``, a ClassVar): the
config refuses any other as a located error, and :meth:`fetch` refuses it too. Two hooks read a
vendor's own answers: :meth:`throttled` ("slow down": wait and retry) and :meth:`allocation` (a daily
allocation is used up: send nothing more). Building the client (credentials resolved from ``${ENV}``
and registered for redaction, ``endpoint or root``, ``rate_limit or limits``, the token hint, the
timeout), the per-metric error mapping, the connection check and closing the client live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import httpx

from okrsync.config.env import resolve_env
from okrsync.errors import SourceError, TransientError
from okrsync.sdk.auth import Auth, Credentials
from okrsync.sdk.connector import DEFAULT_CONCURRENCY, ConnT, FetchResult, MetricQuery, Observation, ParamsT, Source
from okrsync.sdk.http import ApiClient, HttpError, source_error
from okrsync.sdk.pagination import PageRequest, Paginator, pages
from okrsync.sdk.retry import Limits, per_second


class ApiSource(Source[ConnT, ParamsT]):
    api_root: ClassVar[str] = ""
    api_root_from: ClassVar[tuple[str, ...]] = ()
    auth: ClassVar[Auth | None] = None
    headers: ClassVar[dict[str, str]] = {}
    limits: ClassVar[Limits] = ()
    max_concurrency: ClassVar[int] = DEFAULT_CONCURRENCY
    pagination: ClassVar[Paginator | None] = None
    token_hint: ClassVar[str] = "the token of connection {name!r}"
    vendor: ClassVar[str] = ""
    check_path: ClassVar[str | None] = None  # a cheap authenticated GET for `connections test`
    # X-RateLimit-Remaining: 0 pauses the connection until X-RateLimit-Reset (False: the vendor only slows down)
    quota_headers_pause: ClassVar[bool] = True

    @abstractmethod
    def read(self, client: ApiClient, query: MetricQuery) -> float:
        """One metric's value; raise HttpError or ValueError with a message for the user."""

    def root(self) -> str:
        """``endpoint:``, else the first of ``api_root_from`` the connection sets, else ``api_root``; a
        ``${ENV}`` reference in it is resolved (a missing variable names the key)."""
        keys = ("endpoint", *self.api_root_from)
        given = next(((k, v) for k, v in ((k, getattr(self.settings, k, None)) for k in keys) if v), None)
        if given is None:
            return self.api_root.rstrip("/")
        key, value = given
        return resolve_env(str(value), f"connections.{self.name}.{key}").rstrip("/")

    def credentials(self) -> Credentials:
        """The declared ``auth``'s credentials for this connection (override for a login flow)."""
        return self.auth.credentials(self.settings, f"connections.{self.name}") if self.auth else Credentials()

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """A vendor's own "slow down" answer (beyond 429 and Retry-After): wait and retry. None here."""
        return None

    def allocation(self, response: httpx.Response) -> str | None:
        """Why the vendor's allocation is used up (nothing more is sent this run), or None. None here."""
        return None

    def client(self) -> ApiClient:
        """A client for this connection (credentials resolved and registered for redaction)."""
        credentials = self.credentials()
        settings: Any = self.settings  # a RemoteConnection: rate_limit and timeout
        client = ApiClient(
            self.root(),
            headers={**credentials.headers, **self.headers},
            params=credentials.params,
            limits=per_second(settings.rate_limit) or list(self.limits),
            token_hint=self.token_hint.format(name=self.name),
            timeout=settings.timeout,
            throttled=self.throttled,
            allocation=self.allocation,
            quota_headers_pause=self.quota_headers_pause,
        )
        if credentials.basic:
            client.client.auth = credentials.basic
        return client

    def pages(
        self, client: ApiClient, method: str, first: PageRequest, *, max_pages: int = 1000, **kwargs: Any
    ) -> Iterator[Any]:
        """Each page's JSON answer, following the declared ``pagination`` (one page without one)."""
        return pages(client, method, first, self.pagination, max_pages=max_pages, **kwargs)

    def check_aggregate(self, q: MetricQuery) -> None:
        supported = type(q.params).aggregates
        if q.aggregate and supported is not None and q.aggregate not in supported:
            raise ValueError(f"aggregate {q.aggregate} is not supported for {self.vendor} ({', '.join(supported)})")

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
        said = self.describe_check(answer) if self.check_paths() else "configured"
        signed_in = self.auth.describe(self.settings) if self.auth else None
        return f"{said} ({signed_in})" if signed_in else said

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        """Every query, up to ``max_concurrency`` in flight at once on one client (httpx's Client is safe
        to share between threads); the connection's pacer and retry policy are shared by all of them."""
        client = self.client()

        def one(q: MetricQuery) -> tuple[str, Observation | SourceError]:
            try:
                self.check_aggregate(q)
                return q.metric_id, Observation(self.read(client, q))
            except (HttpError, ValueError) as exc:
                return q.metric_id, source_error(exc, metric=q.metric_id, connection=self.name)

        try:
            return dict(self.concurrently(one, queries, self.max_concurrency))
        finally:
            client.close()
