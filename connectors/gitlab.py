"""GitLab: counts of issues and merge requests of a project or a group, with GitLab's own filters.

Connection: ``url`` (https://gitlab.com, or a self-managed instance), ``token`` (scope *read_api*), ``auth: oauth``
for an OAuth 2.0 token. Metric: ``project`` or ``group``, and ``issues`` or ``merge_requests``: the list API's own
query parameters; bare dates are the cycle's days; ``merged_after`` / ``merged_before`` are okrsync's own (GitLab's
list has no merged-at filter), counted by ``merged_at``. The value is a count. (docs/sources/gitlab.md)

Vendor rules followed here (GitLab REST API v4, read 2026-12-07):
- ``GET /projects/:id/issues``, ``/groups/:id/issues``, ``/projects/:id/merge_requests``, ``/groups/:id/
  merge_requests``: their query parameters are the filters (GitLab ignores an unknown one: a config error here).
  https://docs.gitlab.com/api/issues/ https://docs.gitlab.com/api/merge_requests/
- ``issues_statistics`` answers ``statistics.counts.{all,closed,opened}`` in one request however many match; it
  takes no ``state`` and fewer filters: used when every filter is one it takes, and for a group only with
  ``non_archived: false`` (the list leaves archived projects out; the statistics cannot).
  https://docs.gitlab.com/api/issues_statistics/
- Counting: ``per_page=1`` and ``x-total``; "if a query returns more than 10,000 records, GitLab doesn't return"
  it: then the items are counted 100 a page (the maximum) following ``Link: rel="next"``, by keyset for a
  project's issues (``pagination=keyset``, ``order_by=created_at``: the OpenAPI's has no ``id``), else by offset.
  https://docs.gitlab.com/api/rest/#pagination https://docs.gitlab.com/api/rest/#namespaced-paths (``acme%2Fweb``)
- ``PRIVATE-TOKEN`` for access tokens, ``Authorization: Bearer`` for OAuth tokens (valid two hours); bad or
  missing: 401 ``{"message": "401 Unauthorized"}``; no scope: 403 ``insufficient_scope``; a private project the
  token cannot see: 404 ``{"message": "404 Project Not Found"}``; a value GitLab does not take: 400 ``{"error":
  "state does not have a valid value"}``. https://docs.gitlab.com/api/rest/authentication/
- GitLab.com: 2,000 authenticated API requests each minute per user (the pace here); ``RateLimit-Remaining`` and
  ``RateLimit-Reset`` (Unix time) on answers (0 left holds the connection until the reset), 429 with
  ``Retry-After``. https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom
  https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import quote, unquote

import httpx
from pydantic import ValidationInfo, field_validator, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Auth,
    Connector,
    Credentials,
    HttpError,
    LinkHeaderPaginator,
    MetricParams,
    MetricQuery,
    PageRequest,
    RemoteConnection,
    TransientError,
    WebUrl,
    origin,
    retry_after_seconds,
)

API = "/api/v4"
PER_PAGE = 100  # "max: 100"
MAX_PAGES = 1000  # pages counted one by one, at most (100,000 items)
KEYSET = {"pagination": "keyset", "order_by": "created_at", "sort": "asc"}  # with a cursor in Link rel="next"
SCOPE = "read_api"
# The list APIs' query parameters (GitLab's OpenAPI, openapi_v2.yaml), less those that do not filter
_STATISTICS = (
    "labels milestone milestone_id iids search in author_id author_username assignee_id assignee_username "
    "created_after created_before updated_after updated_before not[labels] not[milestone] not[milestone_id] "
    "not[iids] not[author_id] not[author_username] not[assignee_id] not[assignee_username] not[weight] "
    "not[iteration_id] not[iteration_title] scope my_reaction_emoji confidential weight epic_id health_status "
    "iteration_id iteration_title"
)
STATISTICS = frozenset(_STATISTICS.split())
ISSUES = STATISTICS | {"state", "closed_by_id", "due_date", "issue_type"}
_MERGE_REQUESTS = (
    "state author_id author_username assignee_id assignee_username reviewer_id reviewer_username labels milestone "
    "my_reaction_emoji created_after created_before updated_after updated_before scope source_branch "
    "source_project_id target_branch search in wip not[author_id] not[author_username] not[assignee_id] "
    "not[assignee_username] not[reviewer_id] not[reviewer_username] not[labels] not[milestone] "
    "not[my_reaction_emoji] deployed_before deployed_after environment approved merge_user_id "
    "merge_user_username approver_ids approved_by_ids approved_by_usernames"
)
MERGE_REQUESTS = frozenset(_MERGE_REQUESTS.split())
MERGED = ("merged_after", "merged_before")  # okrsync's own: counted by merged_at
FILTERS = {
    ("issues", "project"): ISSUES,
    ("issues", "group"): ISSUES | {"non_archived"},
    ("merge_requests", "project"): MERGE_REQUESTS | {"iids", *MERGED},
    ("merge_requests", "group"): MERGE_REQUESTS | {"non_archived", *MERGED},
}
NOT_FILTERS = {"page", "per_page", "cursor", "pagination", "order_by", "sort", "view", "with_labels_details"}
STATES = {"issues": ("opened", "closed", "all"), "merge_requests": ("opened", "closed", "locked", "merged", "all")}
COMMA_LISTS = {"labels", "not[labels]"}  # "Comma-separated list of label names"; other lists go as name[]=v

Value = str | bool | int | datetime | date | list[str | int]


def filter_problem(kind: str, where: str, filters: dict[str, Value]) -> str | None:
    """Why ``filters`` are not GitLab's filters of a ``where`` (project, group) ``kind`` list, or None."""
    allowed = FILTERS[(kind, where)]
    for key, value in filters.items():
        if key in NOT_FILTERS:
            return f"{key} is not a filter (a count does not depend on it): leave it out"
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            listed = f"https://docs.gitlab.com/api/{kind}/"
            return f"{key!r} is not a filter of a {where}'s {kind.replace('_', ' ')}{hint}: see {listed}"
        if key == "state" and value not in STATES[kind]:
            return f"state must be one of {', '.join(STATES[kind])} (got {value!r})"
    if any(k in filters for k in MERGED) and filters.get("state", "merged") != "merged":
        return "merged_after and merged_before count merged merge requests: write state: merged or leave it out"
    return None


class GitlabConnection(RemoteConnection):
    type: Literal["gitlab"]
    url: WebUrl = "https://gitlab.com"  # the instance, with its relative root if it has one
    token: str
    auth: Literal["private_token", "oauth"] = "private_token"

    endpoint_adds = "url: holds the rest"


class GitlabMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count",)
    project: str | int | None = None  # a full path (acme/web) or an id
    group: str | int | None = None
    issues: dict[str, Value] | None = None
    merge_requests: dict[str, Value] | None = None

    @field_validator("issues", "merge_requests")
    @classmethod
    def _gitlab_filters(cls, value: dict[str, Value] | None, info: ValidationInfo) -> dict[str, Value] | None:
        where = "group" if info.data.get("group") is not None else "project"
        if value is not None and (problem := filter_problem(str(info.field_name), where, value)):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_target_one_list(self) -> GitlabMetric:
        if (self.project is None) == (self.group is None):
            raise ValueError("give project: (a path such as acme/web, or an id) or group: (acme), one of them")
        if (self.issues is None) == (self.merge_requests is None):
            raise ValueError("give issues: or merge_requests: (GitLab's filters, e.g. {state: opened}), one of them")
        return self

    def listing(self) -> tuple[str, dict[str, Value]]:  # ("issues" or "merge_requests", its filters)
        return ("issues", self.issues) if self.issues is not None else ("merge_requests", self.merge_requests or {})

    def base(self) -> str:
        """``/api/v4/projects/acme%2Fweb`` or ``/api/v4/groups/acme``."""
        scope, target = ("projects", self.project) if self.project is not None else ("groups", self.group)
        return f"{API}/{scope}/{quote(str(target), safe='')}"


@dataclass(frozen=True)
class GitlabToken(Auth):
    """``PRIVATE-TOKEN`` for access tokens; ``Authorization: Bearer`` for OAuth 2.0 tokens (``auth: oauth``)."""

    def describe(self, settings: Any) -> str | None:
        return "an OAuth access token" if settings.auth == "oauth" else "an access token as PRIVATE-TOKEN"

    def credentials(self, settings: Any, where: str) -> Credentials:
        token = self.resolve(settings, "token", where) or ""
        return Credentials(
            headers={"Authorization": f"Bearer {token}"} if settings.auth == "oauth" else {"PRIVATE-TOKEN": token}
        )


class GitlabSource(ApiSource[GitlabConnection, GitlabMetric]):
    api_root = "https://gitlab.com"
    api_root_from = ("url",)  # endpoint: replaces its scheme, host and port
    auth = GitlabToken()
    headers = {"Accept": "application/json"}
    limits = [(2000, 60.0)]  # GitLab.com: 2,000 authenticated API requests each minute per user
    token_hint = "the token of connection {name!r}"
    vendor = "GitLab"

    def root(self) -> str:
        """``url`` (its path kept: a relative root), its scheme, host and port replaced by ``endpoint:``."""
        given = super().root()  # endpoint, else url
        if not self.settings.endpoint:
            return given
        url = str(self.settings.url).rstrip("/")
        return given + url[len(origin(url)) :]

    def client(self) -> ApiClient:
        client = super().client()
        client.throttled = lambda response: self.answer(client, response)
        return client

    def check_paths(self) -> list[str]:
        """The instance's version (the token), then one item of each list the metrics read (their access)."""
        lists = sorted({f"{m.base()}/{m.listing()[0]}?per_page=1" for m in self.metrics})
        return [f"{API}/version", *lists]

    def describe_check(self, answer: object) -> str:
        return f"token accepted; {len(self.check_paths()) - 1} list(s) of issues or merge requests readable"

    def answer(self, client: ApiClient, response: httpx.Response) -> TransientError | None:
        """GitLab's rate-limit headers, then its refusals named with what to fix (the shared rules follow)."""
        status, headers = response.status_code, response.headers
        if status == 429:
            # neither header: GitLab's per-endpoint limiter (search, say) answers a bare 429 (lib/api/helpers/
            # rate_limiter.rb, "This endpoint has been requested too many times"): None, so the policy backs off
            wait = retry_after_seconds(headers.get("Retry-After")) or _until(headers.get("RateLimit-Reset")) or None
            named = headers.get("RateLimit-Name") or "rate limit"
            return TransientError(f"GitLab is throttling this connection ({named})", wait, throttled=True)
        spent = response.is_success and headers.get("RateLimit-Remaining", "").strip() == "0"
        if spent and (wait := _until(headers.get("RateLimit-Reset"))):
            client.guard.pacer.pause(min(wait, 60.0))  # the quota windows are a minute long
        if status in (400, 401, 403, 404, 405):
            raise self.refusal(response)
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, said = response.status_code, _message(response)
        quoted, target = (f" (GitLab: {said})" if said else ""), _target(response)
        if status == 401:
            text = (
                f"HTTP 401: GitLab did not accept the token of connection {self.name!r}{quoted}: it may be wrong, "
                f"expired or revoked (an OAuth access token lasts two hours); create one with the scope {SCOPE}"
            )
        elif status == 403 and "insufficient_scope" in said:
            text = f"HTTP 403: the token of connection {self.name!r} lacks the scope {SCOPE}: create one with it"
        elif status == 403:
            text = f"HTTP 403: GitLab refused {target} to the token of connection {self.name!r}{quoted}"
        elif status == 404:
            text = (
                f"HTTP 404: {target} not found, or not visible to the token of connection {self.name!r} (GitLab "
                f"answers 404 for a private project or group the token cannot see){quoted}: check the metric's "
                "project: or group: (a full path such as acme/web, or the id) and the token's membership"
            )
        else:
            text = f"GitLab refused the request (HTTP {status}){quoted}: check the metric's filters"
        return HttpError(REDACTOR(text), kind="fatal" if status in (400, 405) else "bad_config", status=status)

    def read(self, client: ApiClient, q: MetricQuery[GitlabMetric]) -> float:
        kind, filters = q.params.listing()
        base, params = q.params.base(), sent(q, filters)
        if kind == "merge_requests" and any(k in filters for k in MERGED):
            after, before = (_instant(q, k, filters.get(k)) for k in MERGED)
            return float(self.count_merged(client, base, params, after, before))
        if kind == "issues" and (counted := self.statistics(client, base, params)) is not None:
            return float(counted)
        path = f"{base}/{kind}"
        total = client.request("GET", path, params={**params, "per_page": 1}).headers.get("x-total", "").strip()
        if total.isdigit():  # omitted above 10,000: count page by page
            return float(total)
        offset = PageRequest(path, {**params, "per_page": PER_PAGE})
        if kind == "issues" and base.startswith(f"{API}/projects"):  # keyset: GitLab 18.3 and later
            try:
                return self.counted(client, PageRequest(path, {**offset.params, **KEYSET}), kind)
            except HttpError as exc:
                if exc.status != 405:  # older: "Keyset pagination is not yet available for this type of request"
                    raise
        return self.counted(client, offset, kind)

    def statistics(self, client: ApiClient, base: str, params: dict[str, Any]) -> int | None:
        """The count from issues_statistics when every filter is one it takes (else None)."""
        if base.startswith(f"{API}/groups") and params.get("non_archived") != "false":  # the list leaves them out
            return None
        asked = {k: v for k, v in params.items() if k not in ("state", "non_archived")}
        if not {k.removesuffix("[]") for k in asked} <= STATISTICS:
            return None
        data = client.json("GET", f"{base}/issues_statistics", params=asked)
        stats = data.get("statistics") if isinstance(data, dict) else None
        counts = stats.get("counts") if isinstance(stats, dict) else None
        value = counts.get(params.get("state", "all")) if isinstance(counts, dict) else None
        if not isinstance(value, int):
            raise ValueError("GitLab answered issues_statistics without statistics.counts")
        return value

    def count_merged(self, client: ApiClient, base: str, params: dict, after: Any, before: Any) -> int:
        """Merged merge requests whose merged_at is in [after, before], newest merge first: the pages end at
        the first one merged before ``after``. One without merged_at (merged long ago) is not counted."""
        ordered = {**params, "state": "merged", "order_by": "merged_at", "sort": "desc", "per_page": PER_PAGE}
        count = 0
        for items in self.pages_of(client, PageRequest(f"{base}/merge_requests", ordered), "merge requests"):
            for item in items:
                merged = _parsed(item.get("merged_at") if isinstance(item, dict) else None)
                if merged is not None and after is not None and merged < after:
                    return count
                count += merged is not None and (before is None or merged <= before)
        return count

    def counted(self, client: ApiClient, first: PageRequest, what: str) -> float:
        return float(sum(len(items) for items in self.pages_of(client, first, what)))

    def pages_of(self, client: ApiClient, first: PageRequest, what: str) -> Iterator[list]:
        """Each page's items, following ``Link: rel="next"`` (at most MAX_PAGES pages). GitLab builds the link
        from its own URL: behind ``endpoint:`` it is pointed at the endpoint (the credentials stay there)."""
        home, links = origin(str(self.settings.url)), LinkHeaderPaginator()
        request = first
        for _ in range(MAX_PAGES):
            response = client.request("GET", request.target(), **request.sent_with())  # a link keeps its query
            yield (items := _items(response))
            if (following := links.advance(request, items, response.headers)) is None:
                return
            swap = origin(following.url) == home
            request = PageRequest(client.origin + following.url[len(home) :]) if swap else following
        raise ValueError(
            f"more than {MAX_PAGES * PER_PAGE:,} {what.replace('_', ' ')} match, the most okrsync counts page by "
            "page (GitLab gives no total above 10,000): narrow the filters"
        )


def sent(q: MetricQuery, filters: dict[str, Value]) -> dict[str, Any]:
    """The filters as query parameters: placeholders filled, bare dates as instants of the cycle's time zone,
    labels comma-separated and other lists in GitLab's array form (``iids[]=1&iids[]=2``)."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if key in MERGED:
            continue
        if isinstance(value, list):
            values = [_text(q, key, v) for v in value]
            out.update({key: ",".join(values)} if key in COMMA_LISTS else {f"{key}[]": values})
        else:
            out[key] = _text(q, key, value)
    return out


def _text(q: MetricQuery, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    instant = _instant(q, key, value)
    return instant.isoformat() if instant is not None else q.fill(str(value))


def _instant(q: MetricQuery, key: str, value: Any) -> datetime | None:
    """A date filter's instant: a bare day starts (``*_after``) or ends (``*_before``) in the cycle's zone."""
    if not key.endswith(("_after", "_before")) or value is None or isinstance(value, bool):
        return None
    text = value.isoformat() if isinstance(value, date) else q.fill(str(value)).strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):  # a time as given: parsed for okrsync's own, else sent as is
        return _parsed(text) if key in MERGED or isinstance(value, datetime) else None
    start = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=q.cycle.tz)
    return start if key.endswith("_after") else start + timedelta(days=1) - timedelta(microseconds=1)


def _parsed(text: Any) -> datetime | None:
    """GitLab's ISO 8601 time (``2026-10-03T09:12:00.000Z``); a naive one is UTC."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 time (e.g. 2026-10-01 or 2026-10-01T08:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _items(response: httpx.Response) -> list:
    try:
        items = response.json()
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise ValueError(f"GitLab answered without a list (HTTP {response.status_code})")
    return items


def _until(reset: str | None) -> float:  # seconds until RateLimit-Reset (Unix time); 0 without one
    return max(0.0, (retry_after_seconds(reset) or 0.0) - time.time())


def _target(response: httpx.Response) -> str:
    """The project or group a request named: ``project 'acme/web'``."""
    path = response.request.url.raw_path.decode().split("?")[0]
    found = re.search(r"/api/v4/(projects|groups)/([^/]+)", path)
    return f"{found.group(1)[:-1]} {unquote(found.group(2))!r}" if found else "the request"


def _message(response: httpx.Response) -> str:
    """GitLab's own words: ``{"message": ...}``, ``{"error": ..., "error_description": ...}`` or plain text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return "" if text.startswith("<") else REDACTOR(text[:200])
    if not isinstance(body, dict):
        return ""
    said = body.get("message") or " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    return REDACTOR(str(said))[:300]


connector = Connector(
    "gitlab", connection=GitlabConnection, metric=GitlabMetric, source=GitlabSource, description="GitLab"
)
