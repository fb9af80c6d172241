"""The Jira client of one connection: one jira.JIRA behind okrsync's guard.

jira's own ResilientSession retries (which re-send POSTs) are switched off; the guard paces every
call and retries reads and idempotent writes with okrsync's bounded policy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from jira import JIRA, JIRAError

from okrsync.config.env import resolve_env
from okrsync.connectors.jira import JiraConnection
from okrsync.errors import TransientError
from okrsync.redact import REDACTOR
from okrsync.sdk.guard import Guard
from okrsync.sdk.retry import RETRYABLE_STATUS, RetryPolicy, per_second, retry_after_seconds

T = TypeVar("T")
# Jira Cloud's limits are cost-based, not a published request rate ("apps should … respect Retry-After";
# https://developer.atlassian.com/cloud/jira/platform/rate-limiting/): 10 requests in any second stays
# well inside them, and a 429's Retry-After pauses the whole connection. rate_limit overrides.
JIRA_LIMITS = [(10, 1.0)]
PAGE_SIZE = 100
# What a Cloud site answers on Data Center's endpoints and Data Center on Cloud's: Cloud's legacy search is
# 410 Gone (https://developer.atlassian.com/changelog/#CHANGE-2046), Data Center has no search/jql nor
# search/approximate-count (404).
NOT_THIS_DEPLOYMENT = (404, 410)


class Switched(Exception):
    """The deployment was found out while a read still took it for Cloud: the jira package's Cloud-only calls then
    answer None without sending anything (its ``cloud_api`` decorator). The read starts again."""


def cloud_only(answer: T | None) -> T:
    if answer is None:
        raise Switched
    return answer


def cloud_site(settings: JiraConnection) -> bool:
    """Whether the connection names a Jira Cloud site: Atlassian hosts every Cloud site at
    ``<name>.atlassian.net`` and a REST client signs in there with an email and an API token ("Basic auth for
    REST APIs", https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/: requests go to
    ``https://<your-domain>.atlassian.net/rest/api/...``).
    A custom domain or a Data Center server is not assumed: its serverInfo says which it is."""
    host = urlsplit(str(settings.url)).hostname or ""
    return bool(settings.email) and (host == "atlassian.net" or host.endswith(".atlassian.net"))


def refused_credentials(exc: BaseException) -> bool:
    """A 401: the credentials, which every other request of the connection would meet too."""
    return isinstance(exc, JIRAError) and exc.status_code == 401


def classify_jira(exc: BaseException) -> TransientError | None:
    """jira's failures that can heal: 429/5xx answers and network errors."""
    if isinstance(exc, JIRAError) and exc.status_code in RETRYABLE_STATUS:
        after = exc.response.headers.get("Retry-After") if exc.response is not None else None
        status = exc.status_code
        return TransientError(
            f"HTTP {status}", retry_after_seconds(after), maybe_delivered=True, throttled=status == 429
        )
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return TransientError(type(exc).__name__, maybe_delivered=True)
    return None


COMMENT_PAGE = 100


@dataclass(frozen=True)
class Comment:
    """A comment as okrsync reads it: Jira's PageOfComments items (id, body — plain text in API v2 —, the author's
    displayName, created; https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/)."""

    id: str
    body: str
    author: str | None
    created: datetime | None

    @classmethod
    def of(cls, raw: dict) -> Comment:
        author: dict = raw["author"] if isinstance(raw.get("author"), dict) else {}
        try:  # Jira writes 2026-11-20T10:00:00.000+0000
            created: datetime | None = datetime.fromisoformat(str(raw.get("created")))
        except ValueError:
            created = None
        if created is not None and created.tzinfo is None:
            created = None  # a moment without its offset cannot be placed
        body = raw.get("body")
        return cls(str(raw.get("id", "")), body if isinstance(body, str) else "", author.get("displayName"), created)


class JiraClient:
    """One jira.JIRA per connection, with okrsync's pacing and retry policy around every call."""

    def __init__(self, name: str, settings: JiraConnection, policy: RetryPolicy | None = None):
        self.name = name
        limits = per_second(settings.rate_limit) or JIRA_LIMITS
        self.guard = Guard(classify_jira, limits=limits, policy=policy, stops=refused_credentials)
        self.info: dict[str, Any] | None = None  # serverInfo, once read
        self._deciding = threading.Lock()
        self._asked = False  # whether serverInfo was asked after an assumed Cloud's 404 (once, even if it failed)
        server = (settings.endpoint or settings.url).rstrip("/")
        token = resolve_env(settings.token, f"connections.{name}.token")
        REDACTOR.add(token)  # written in the config or in the environment: never shown either way
        auth: dict = {}
        if settings.email:
            email = resolve_env(settings.email, f"connections.{name}.email")
            REDACTOR.add_basic(email, token)
            auth["basic_auth"] = (email, token)
        else:
            auth["token_auth"] = token
        # The jira package sends nothing here: serverInfo is read below, paced, unless the site's name says Cloud
        # (on an atlassian.net site it would cost one paced request every sync: a second when a hundred
        # counts fill ten windows of Jira's pace).
        self.jira = JIRA(
            server=server,
            max_retries=0,
            timeout=settings.timeout,
            get_server_info=False,
            options={"rest_api_version": "2", "check_update": False},
            **auth,
        )
        self.assumed = cloud_site(settings)
        if self.assumed:
            self.jira.deploymentType = "Cloud"
        else:
            self.server_info()
        self._fields: list[dict] | None = None

    @property
    def cloud(self) -> bool:
        return self.jira.deploymentType == "Cloud"

    def call(self, fn: Callable[[], T]) -> T:
        """Run one idempotent request (read, PUT, or a POST that checks first) paced and retried. After a 401 no
        other request is sent: each fails with that answer at once (a wrong token is not a hundred requests)."""
        return self.guard.call(fn)

    def server_info(self) -> dict[str, Any]:
        """Jira's serverInfo; its deploymentType ("Cloud", "Server") decides the endpoints from now on."""
        info = self.call(self.jira.server_info)
        if not isinstance(info, dict) or not isinstance(info.get("versionNumbers"), list):
            raise ValueError("serverInfo is not Jira's JSON")
        self.jira._version = tuple(info["versionNumbers"])  # as the jira package's own reading keeps it
        self.jira.deploymentType = info.get("deploymentType")
        self.info, self.assumed = info, False
        return info

    def by_deployment(self, read: Callable[[], T]) -> T:
        """Run ``read``, which picks its endpoints by ``cloud``. Where Cloud was assumed from the site's name and
        the endpoint is not there (404, 410: a Data Center behind an atlassian.net name, as a proxy or a test
        may set up), serverInfo is read once, for every thread, and ``read`` runs again on the right endpoints.
        Once a read succeeds the assumption holds, and such an answer is Jira's own again; so it is when serverInfo
        says Cloud, or could not be read (the thread that asked shows why)."""
        assumed = self.assumed  # before the read: another thread may find the deployment out meanwhile
        try:
            answer = read()
        except Switched:  # found out by another thread while this read was being retried
            return read()
        except JIRAError as exc:
            if not assumed or exc.status_code not in NOT_THIS_DEPLOYMENT:
                raise
            with self._deciding:
                if self.assumed and not self._asked:
                    self._asked = True
                    self.server_info()
            if self.assumed or self.cloud:
                raise
            return read()
        self.assumed = False
        return answer

    # -- reads --------------------------------------------------------------------------------

    def comment_pages(self, issue: str) -> Iterator[list[dict]]:
        """The comments of ``issue``, newest first, a page at a time through *every* page: Jira returns comments a
        page at a time (``startAt``/``maxResults``/``total``; Cloud caps a page at 100 —
        https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/
        #api-rest-api-2-issue-issueidorkey-comment-get, read 2026-11-22). The jira library reads one page only."""

        def comments_from(start: int) -> Any:
            params = {"startAt": start, "maxResults": COMMENT_PAGE, "orderBy": "-created"}
            return self.jira._get_json(f"issue/{issue}/comment", params=params)

        start = 0
        while True:
            page = self.call(partial(comments_from, start))
            comments = page.get("comments") if isinstance(page, dict) else None
            if not isinstance(comments, list):  # not an empty page: reading on as if it were could post twice
                raise ValueError("Jira answered a page of comments without its comments")
            yield comments
            start += len(comments)
            if not comments or start >= int(page.get("total", 0)):
                return

    def has_comment(self, issue: str, marker: str) -> bool:
        """Whether any comment of ``issue`` contains ``marker``. Newest first, so a recent post (the usual case)
        ends the search on the first page."""
        return any(marker in (c.get("body") or "") for page in self.comment_pages(issue) for c in page)

    def comments_since(self, issue: str, since: datetime) -> list[Comment]:
        """The comments of ``issue`` created at or after ``since``, newest first: the pages are read until one
        holds an older comment. A comment whose ``created`` cannot be read counts as new."""
        found: list[Comment] = []
        for page in self.comment_pages(issue):
            for raw in page:
                comment = Comment.of(raw)
                if comment.created is not None and comment.created < since:
                    return found
                found.append(comment)
        return found

    def count(self, jql: str) -> int:
        return self.by_deployment(partial(self._count, jql))

    def _count(self, jql: str) -> int:
        if self.cloud:  # the jira package would read an empty answer as 0: its "count" is required here
            answer = self.call(lambda: cloud_only(self.jira.approximate_issue_count(jql, json_result=True)))
            return int(answer["count"])
        # Data Center's search with maxResults=0 answers the total alone. Asked through the package's JSON call:
        # its search_issues warns on maxResults=0, and silencing that (catch_warnings) is not thread-safe.
        params = {"jql": jql, "maxResults": 0, "fields": "key"}
        page = self.call(lambda: self.jira._get_json("search", params=params))
        return int(page["total"])

    def field_id(self, wanted: str) -> str:
        if self._fields is None:  # once per connection, however many sum/avg metrics ask
            self._fields = self.call(self.jira.fields)
        for f in self._fields:
            if wanted == f["id"] or wanted.lower() == f.get("name", "").lower() or wanted in f.get("clauseNames", []):
                return f["id"]
        raise ValueError(f"no field {wanted!r} in this Jira (give its id, e.g. customfield_10016, or its exact name)")

    def field_values(self, jql: str, field: str) -> list[object]:
        return self.by_deployment(partial(self._field_values, jql, field))

    def _field_values(self, jql: str, field: str) -> list[object]:
        values: list[object] = []

        def cloud_page(token: str | None) -> Any:
            return cloud_only(
                self.jira.enhanced_search_issues(
                    jql, nextPageToken=token, maxResults=PAGE_SIZE, fields=[field], json_result=True
                )
            )

        def page_from(start: int) -> Any:
            return self.jira.search_issues(jql, startAt=start, maxResults=PAGE_SIZE, fields=[field], json_result=True)

        if self.cloud:
            token: str | None = None
            seen: set[str] = set()
            while True:
                page = self.call(partial(cloud_page, token))
                values += [issue["fields"].get(field) for issue in page["issues"]]
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    return values
                if token in seen:
                    raise ValueError(f"Jira repeated page token {token!r}: stopped paging to avoid a loop")
                seen.add(token)
        start = 0
        while True:
            page = self.call(partial(page_from, start))
            issues = page["issues"]  # always there, [] past the last: an answer without it is not Jira's
            values += [issue["fields"].get(field) for issue in issues]
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                return values


def jira_message(exc: BaseException, connection: str) -> str:
    """Jira's own words for an error, never the request (its str() can include headers)."""
    if isinstance(exc, TransientError):
        return f"Jira kept failing ({exc}) after retries; try again later"
    if isinstance(exc, JIRAError):
        status = exc.status_code
        if status == 401:
            return (
                f"Jira rejected the credentials of connection {connection!r} (401): check the email and API "
                "token (Cloud) or the personal access token (Data Center)"
            )
        if status == 403:
            return "Jira refused access (403): the account lacks permission for this project or issue"
        detail = ""
        try:
            body = exc.response.json() if exc.response is not None else {}
            detail = "; ".join(body.get("errorMessages") or [f"{k}: {v}" for k, v in body.get("errors", {}).items()])
        except Exception:
            detail = ""
        if status == 400 and "unbounded jql" in detail.lower():
            # Jira Cloud's enhanced search and approximate count refuse a JQL without a search restriction
            # (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/, 2026-11-22)
            return "Jira Cloud refuses a JQL without a restriction: add one, e.g. project = APP or created >= -90d"
        return f"Jira answered HTTP {status}" + (f": {detail}" if detail else " (not a JSON error body)")
    if isinstance(exc, ValueError):  # requests' JSONDecodeError too: Jira answered, but not with JSON
        return (
            "Jira answered with something that is not JSON (an HTML login, proxy or maintenance page?): "
            "check the connection's url"
        )
    if isinstance(exc, requests.RequestException):
        return f"cannot reach Jira: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"
