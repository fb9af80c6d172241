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

from okrsync.okr.aggregate import aggregate
from okrsync.okr.numbers import parse_number
from okrsync.sdk.api_source import ApiSource
from okrsync.sdk.connector import Connector, MetricParams, MetricQuery, RemoteConnection, Strict, WebUrl
from okrsync.sdk.http import ApiClient, paginate, secret
from okrsync.sdk.retry import per_second


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
    def client(self) -> ApiClient:
        s, where = self.settings, f"connections.{self.name}"
        headers = {k: secret(v, f"{where}.headers.{k}") if "${" in v else v for k, v in s.headers.items()}
        params = {k: secret(v, f"{where}.params.{k}") if "${" in v else v for k, v in s.params.items()}
        for name in headers:
            if name.lower() in ("authorization", "x-api-key", "x-api-token", "cookie"):
                secret(headers[name], name)
        client = ApiClient(
            s.endpoint or s.url or s.base_url,
            headers=headers,
            params=params,
            limits=per_second(s.rate_limit),  # any JSON API: no pacing unless rate_limit says so
            token_hint=f"the credentials in {where}",
            timeout=s.timeout,
        )
        if s.auth:
            client.client.auth = (
                secret(s.auth.username, f"{where}.auth.username"),
                secret(s.auth.password, f"{where}.auth.password"),
            )
        return client

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        p: HttpMetric = q.params
        base: dict[str, Any] = {"params": _fill(p.params, q), "headers": p.headers}
        if p.body is not None:
            base["json"] = _fill(p.body, q)

        def get(cursor):
            param = p.paginate.param if p.paginate else None
            if cursor is None or param:
                extra = {**base, "params": {**base["params"], **({param: cursor} if param and cursor else {})}}
                data = client.json(p.method, q.fill(p.path), **extra)
            else:
                data = client.json(p.method, str(cursor), headers=p.headers)  # next is a URL
            picked = jmespath.search(p.select, data) if p.select else data
            nxt = jmespath.search(p.paginate.next, data) if p.paginate else None
            return picked, nxt

        if p.paginate:
            pages = paginate(lambda cursor: _page(get, cursor), max_pages=p.paginate.max_pages)
            picked: Any = [v for page in pages for v in page]
        else:
            picked, _ = get(None)
        if not isinstance(picked, list):
            if picked is None:
                raise ValueError(f"select {p.select!r} matched nothing in the response")
            return parse_number(picked)
        numbers = [parse_number(v) for v in picked if v is not None]
        if not q.aggregate:
            raise ValueError(f"select {p.select!r} gives {len(numbers)} values: add aggregate (sum, avg, count, ...)")
        return aggregate(numbers, q.aggregate)


def _page(get, cursor):
    """One page for :func:`paginate`: the page's selected values as a list, and the next cursor."""
    picked, nxt = get(cursor)
    return [picked if isinstance(picked, list) else [picked]], nxt


connector = Connector(
    "http", connection=HttpConnection, metric=HttpMetric, source=HttpSource, description="any JSON API"
)
