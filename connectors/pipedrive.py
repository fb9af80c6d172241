"""Pipedrive: deal counts and values from the deals summary endpoint.

Connection: ``url`` (the company domain, e.g. https://acme.pipedrive.com), API ``token`` sent in the
``x-api-token`` header — "The API token must be provided in the x-api-token header for all requests"
(https://pipedrive.readme.io/docs/core-api-concepts-authentication, read 2026-11-22); never in the
URL, where proxies and server logs would keep it — ``endpoint`` to replace the URL.
Metric: ``status`` (open, won, lost), ``filter_id``, ``pipeline_id``,
``user_id`` and ``aggregate``: count (default; ``total_count``), sum (the deals' value converted
to the company currency) or avg (sum / count). One request per metric.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from okrsync.sdk import (
    Aggregate,
    ApiClient,
    ApiSource,
    Connector,
    HeaderToken,
    MetricParams,
    MetricQuery,
    RemoteConnection,
    WebUrl,
)


class PipedriveConnection(RemoteConnection):
    type: Literal["pipedrive"]
    url: WebUrl
    token: str


class PipedriveMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum", "avg")
    status: Literal["open", "won", "lost"] | None = None
    filter_id: int | None = None
    pipeline_id: int | None = None
    user_id: int | None = None


class PipedriveSource(ApiSource[PipedriveConnection, PipedriveMetric]):
    api_root_from = ("url",)  # the company domain
    auth = HeaderToken("x-api-token")
    # Pipedrive limits API-token requests per 2-second rolling window by plan; 20 is the lowest plan's
    # (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting)
    limits = [(20, 2.0)]
    token_hint = "the API token of connection {name!r} (Settings > Personal preferences > API)"
    vendor = "Pipedrive"
    check_path = "/api/v1/users/me"

    def describe_check(self, answer: object) -> str:
        user = answer.get("data") if isinstance(answer, dict) else None
        return f"token of {user.get('email', 'a user') if isinstance(user, dict) else 'a user'}"

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        p: PipedriveMetric = q.params
        params = p.model_dump(exclude_none=True)  # status, filter_id, pipeline_id, user_id: those set
        data = (client.json("GET", "/api/v1/deals/summary", params=params) or {}).get("data") or {}
        count = float(data.get("total_count") or 0)
        total = float(data.get("total_currency_converted_value") or 0)
        how = q.aggregate or "count"
        if how == "count":
            return count
        if how == "sum":
            return total
        if not count:
            raise ValueError("no deals match, so there is no average")
        return total / count  # avg


connector = Connector(
    "pipedrive", connection=PipedriveConnection, metric=PipedriveMetric, source=PipedriveSource, description="Pipedrive"
)
