"""Any JSON API: a request per metric, a JMESPath ``select`` to the number (or to a list to aggregate).

Connection: ``base_url`` (``endpoint``/``url`` replace it), ``headers`` and ``params`` sent with
every request and ``auth: {username, password}`` for basic auth; all may use ${ENV}, and every
resolved value is treated as a secret (redacted from logs and messages). Metric: ``method``,
``path``, ``params``, ``body`` (JSON), ``headers``, ``select``, ``aggregate`` for lists, and
``paginate: {next, param, max_pages}``: ``next`` is a JMESPath to the next cursor (sent as query
``param``) or to the next page's URL; pages are followed until it is empty, refusing a cursor
that repeats. Strings in path, params and body may use {cycle.start} {cycle.end} {as_of}.
"""

from __future__ import annotations

from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import Field, field_validator

from okrsync.sdk import (
    ApiClient,
    ApiSource,
    Basic,
    Connector,
    Credentials,
    CursorPaginator,
    MetricParams,
    MetricQuery,
    NextUrlPaginator,
    PageRequest,
    Paginator,
    RemoteConnection,
    Strict,
    WebUrl,
    aggregate,
    pages,
    parse_number,
    secret,
)


def _fill(value: Any, q: MetricQuery) -> Any:
    if isinstance(value, str):
        return q.fill(value)
    if isinstance(value, dict):
        return {k: _fill(v, q) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, q) for v in value]
    return value


class BasicAuth(Strict):
    username: str
    password: str


class HttpConnection(RemoteConnection):
    type: Literal["http"]
    base_url: WebUrl
    headers: dict[str, str] = Field({}, description="sent with every request; values may use ${ENV}")
    params: dict[str, str] = Field({}, description="query parameters sent with every request; may use ${ENV}")
    auth: BasicAuth | None = None
    url: WebUrl | None = Field(None, description="alias of endpoint: replaces base_url")


class HttpPagination(Strict):
    next: str = Field(description="JMESPath to the next page's cursor or URL in each response; absent/null ends")
    param: str | None = Field(None, description="query parameter that carries the cursor; omit when next is a URL")
    max_pages: int = Field(100, gt=0)


class HttpMetric(MetricParams):
    path: str = ""
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = {}
    body: Any = None
    headers: dict[str, str] = {}
    select: str | None = Field(None, description="JMESPath to a number, or to a list of numbers to aggregate")
    paginate: HttpPagination | None = None

    @field_validator("select")
    @classmethod
    def _valid_jmespath(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except JMESPathError as exc:
                raise ValueError(f"invalid JMESPath {value!r}: {exc}") from None
        return value


class HttpSource(ApiSource[HttpConnection, HttpMetric]):
    api_root_from = ("url", "base_url")  # endpoint, then url, then base_url
    auth = Basic("auth.username", "auth.password")
    limits = ()  # any JSON API: no pacing unless rate_limit says so
    token_hint = "the credentials in connections.{name}"

    def credentials(self) -> Credentials:
        """The connection's headers and params (secrets when they use ${ENV}, and credential headers
        always), and basic auth from ``auth: {username, password}``."""
        s, where = self.settings, f"connections.{self.name}"
        headers = {k: secret(v, f"{where}.headers.{k}") if "${" in v else v for k, v in s.headers.items()}
        params = {k: secret(v, f"{where}.params.{k}") if "${" in v else v for k, v in s.params.items()}
        for name in headers:
            if name.lower() in ("authorization", "x-api-key", "x-api-token", "cookie"):
                secret(headers[name], name)
        return Credentials(headers, params, super().credentials().basic)

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        p: HttpMetric = q.params
        first = PageRequest(q.fill(p.path), _fill(p.params, q), _fill(p.body, q))
        paginator, max_pages = (_paginator(p.paginate), p.paginate.max_pages) if p.paginate else (None, 1)
        found: list[Any] = []  # each page's selection: a list of them is flattened, one page's stays as it is
        for data in pages(client, p.method, first, paginator, max_pages=max_pages, headers=p.headers):
            found.append(jmespath.search(p.select, data) if p.select else data)
        picked = [v for page in found for v in (page if isinstance(page, list) else [page])] if p.paginate else found[0]
        if not isinstance(picked, list):
            if picked is None:
                raise ValueError(f"select {p.select!r} matched nothing in the response")
            return parse_number(picked)
        numbers = [parse_number(v) for v in picked if v is not None]
        if not q.aggregate:
            raise ValueError(f"select {p.select!r} gives {len(numbers)} values: add aggregate (sum, avg, count, ...)")
        return aggregate(numbers, q.aggregate)


def _paginator(how: HttpPagination) -> Paginator:
    """``next`` is a cursor sent as query parameter ``param``, or (without ``param``) the next page's URL."""
    found = jmespath.compile(how.next).search
    return CursorPaginator(found, how.param) if how.param else NextUrlPaginator(found)


connector = Connector(
    "http", connection=HttpConnection, metric=HttpMetric, source=HttpSource, description="any JSON API"
)
