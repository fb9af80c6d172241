"""GitHub: counts of issues and pull requests from a search query.

Connection: a ``token`` (fine-grained or classic personal access token, or an app installation
token; by ``${ENV}``), ``endpoint`` to replace https://api.github.com (GitHub Enterprise Server:
``https://HOST/api/v3``, or an emulator). Metric: ``query``, GitHub's search syntax
(``repo:acme/app is:issue is:open label:bug``, ``created:>={cycle.start}``); the value is the
search's ``total_count`` (one request with ``per_page=1``, however many items match).

Vendor rules followed here:
- Search issues and pull requests: ``GET /search/issues?q=`` returns ``total_count`` and
  ``incomplete_results``; true means the search timed out and the count may be short, so the metric
  fails instead of reporting a low number.
  https://docs.github.com/en/rest/search/search#search-issues-and-pull-requests
- Headers: ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``,
  ``Authorization: Bearer <token>``. https://docs.github.com/en/rest/about-the-rest-api/api-versions
- The search API allows 30 requests per minute for an authenticated user, so requests are paced at
  one every 2 s (at most 30 in any minute). A 403 or 429 with ``x-ratelimit-remaining: 0`` waits
  for ``x-ratelimit-reset``; a secondary limit's ``retry-after`` is honoured; both are retried,
  bounded. https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
- 401: bad credentials; 403 otherwise: the token cannot see the repository or organisation;
  422: GitHub could not run the query (its own message is shown).
"""

from __future__ import annotations

import time
from typing import Literal

import httpx

from okrsync.errors import TransientError
from okrsync.sdk.api_source import ApiSource
from okrsync.sdk.connector import Connector, MetricParams, MetricQuery, RemoteConnection
from okrsync.sdk.http import ApiClient, secret
from okrsync.sdk.retry import per_second, retry_after_seconds

API_ROOT = "https://api.github.com"
SEARCH_PER_MINUTE = 30
API_VERSION = "2022-11-28"


class GithubConnection(RemoteConnection):
    type: Literal["github"]
    token: str


class GithubMetric(MetricParams):
    query: str


def throttled(response: httpx.Response, now: float | None = None) -> TransientError | None:
    """GitHub's rate-limit answers: 403/429 with no quota left or with retry-after (secondary limits)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    if "retry-after" in headers:
        return TransientError("GitHub rate limit", retry_after_seconds(headers["retry-after"]))
    if headers.get("x-ratelimit-remaining") == "0":
        reset = float(headers.get("x-ratelimit-reset") or 0)
        wait = max(0.0, reset - (time.time() if now is None else now))
        return TransientError("GitHub rate limit (no requests left until x-ratelimit-reset)", wait)
    return None


class GithubSource(ApiSource[GithubConnection, GithubMetric]):
    check_path = "/rate_limit"  # authenticated, and does not count against the limits

    def client(self) -> ApiClient:
        token = secret(self.settings.token, f"connections.{self.name}.token")
        # the search API's own window: 30 requests a minute, authenticated (a burst of 30 is allowed)
        limits = per_second(self.settings.rate_limit) or [(SEARCH_PER_MINUTE, 60.0)]
        return ApiClient(
            (self.settings.endpoint or API_ROOT).rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            limits=limits,
            token_hint=f"the token of connection {self.name!r} (it may have expired)",
            timeout=self.settings.timeout,
            throttled=throttled,
        )

    def describe_check(self, answer: object) -> str:
        resources = answer.get("resources") if isinstance(answer, dict) else None
        search = resources.get("search") if isinstance(resources, dict) else None
        search = search if isinstance(search, dict) else {}
        return f"token accepted; search quota {search.get('remaining', '?')}/{search.get('limit', '?')} per minute"

    def read(self, client: ApiClient, q: MetricQuery[GithubMetric]) -> float:
        if (q.aggregate or "count") != "count":
            raise ValueError(f"aggregate {q.aggregate} is not supported for GitHub (count)")
        data = client.json("GET", "/search/issues", params={"q": q.fill(q.params.query), "per_page": 1})
        if not isinstance(data, dict) or not isinstance(data.get("total_count"), int):
            raise ValueError("GitHub answered without a total_count")
        if data.get("incomplete_results"):
            raise ValueError("GitHub's search timed out and the count may be incomplete: narrow the query")
        return float(data["total_count"])


connector = Connector(
    "github", connection=GithubConnection, metric=GithubMetric, source=GithubSource, description="GitHub search"
)
