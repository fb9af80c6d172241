"""Pipedrive: deal counts and values from the deals summary endpoint.

Connection: ``url`` (the company domain, e.g. https://acme.pipedrive.com), API ``token`` sent as the
documented ``api_token`` query parameter (redacted from every log and message), ``endpoint``
to replace the URL. Metric: ``status`` (open, won, lost), ``filter_id``, ``pipeline_id``,
``user_id`` and ``aggregate``: count (default; ``total_count``), sum (the deals' value converted
to the company currency) or avg (sum / count). One request per metric.
"""

from __future__ import annotations

from collections.abc import Sequence

from okrsync.config import PipedriveConnection, PipedriveMetric
from okrsync.connector import FetchResult, MetricQuery, Observation, Source
from okrsync.http import ApiClient, HttpError, secret, source_error


class PipedriveSource(Source):
    type_name = "pipedrive"
    connection_model = PipedriveConnection
    metric_model = PipedriveMetric

    def _client(self) -> ApiClient:
        token = secret(self.settings.token, f"connections.{self.name}.token")
        return ApiClient(
            (self.settings.endpoint or self.settings.url).rstrip("/"),
            params={"api_token": token},
            rate=self.settings.rate_limit or 5.0,
            token_hint=f"the API token of connection {self.name!r} (Settings > Personal preferences > API)",
        )

    def check(self) -> str:
        client = self._client()
        try:
            me = client.json("GET", "/api/v1/users/me")
        except HttpError as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        finally:
            client.close()
        return f"token of {((me or {}).get('data') or {}).get('email', 'a user')}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        client = self._client()
        out: FetchResult = {}
        try:
            for q in queries:
                p: PipedriveMetric = q.params
                params = {
                    k: v
                    for k, v in (
                        ("status", p.status),
                        ("filter_id", p.filter_id),
                        ("pipeline_id", p.pipeline_id),
                        ("user_id", p.user_id),
                    )
                    if v is not None
                }
                try:
                    data = (client.json("GET", "/api/v1/deals/summary", params=params) or {}).get("data") or {}
                    count = float(data.get("total_count") or 0)
                    total = float(data.get("total_currency_converted_value") or 0)
                    how = q.aggregate or "count"
                    if how == "count":
                        value = count
                    elif how == "sum":
                        value = total
                    elif how == "avg":
                        if not count:
                            raise ValueError("no deals match, so there is no average")
                        value = total / count
                    else:
                        raise ValueError(f"aggregate {how} is not supported for Pipedrive (count, sum, avg)")
                    out[q.metric_id] = Observation(value)
                except (HttpError, ValueError) as exc:
                    out[q.metric_id] = source_error(exc, metric=q.metric_id, connection=self.name)
        finally:
            client.close()
        return out
