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
from typing import ClassVar, Literal

import httpx

from okrsync.sdk import (
    Aggregate,
    ApiClient,
    ApiSource,
    BearerToken,
    Connector,
    MetricParams,
    MetricQuery,
    RemoteConnection,
    TransientError,
    retry_after_seconds,
)


class GithubConnection(RemoteConnection):
    type: Literal["github"]
    token: str


class GithubMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count",)
    query: str


class GithubSource(ApiSource[GithubConnection, GithubMetric]):
    api_root = "https://api.github.com"
    auth = BearerToken()
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    limits = [(30, 60.0)]  # the search API's own window: 30 requests a minute, authenticated (a burst of 30)
    token_hint = "the token of connection {name!r} (it may have expired)"
    vendor = "GitHub"
    check_path = "/rate_limit"  # authenticated, and does not count against the limits

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """GitHub's rate-limit answers: 403/429 with no quota left or with retry-after (secondary limits)."""
        if response.status_code not in (403, 429):
            return None
        if "retry-after" in response.headers:
            return TransientError("GitHub rate limit", retry_after_seconds(response.headers["retry-after"]))
        if response.headers.get("x-ratelimit-remaining") == "0":
            wait = max(0.0, float(response.headers.get("x-ratelimit-reset") or 0) - time.time())
            return TransientError("GitHub rate limit (no requests left until x-ratelimit-reset)", wait)
        return None

    def describe_check(self, answer: object) -> str:
        resources = answer.get("resources") if isinstance(answer, dict) else None
        search = resources.get("search") if isinstance(resources, dict) else None
        search = search if isinstance(search, dict) else {}
        return f"token accepted; search quota {search.get('remaining', '?')}/{search.get('limit', '?')} per minute"

    def read(self, client: ApiClient, q: MetricQuery[GithubMetric]) -> float:
        data = client.json("GET", "/search/issues", params={"q": q.fill(q.params.query), "per_page": 1})
        if not isinstance(data, dict) or not isinstance(data.get("total_count"), int):
            raise ValueError("GitHub answered without a total_count")
        if data.get("incomplete_results"):
            raise ValueError("GitHub's search timed out and the count may be incomplete: narrow the query")
        return float(data["total_count"])


connector = Connector(
    "github", connection=GithubConnection, metric=GithubMetric, source=GithubSource, description="GitHub search"
)
