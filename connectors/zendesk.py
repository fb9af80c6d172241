"""Zendesk Support: the count of a search, and the share of good satisfaction ratings (CSAT).

Connection: ``subdomain`` (``acme`` of acme.zendesk.com), ``email`` (the address of the agent or admin
the requests act as) and an API ``token`` (by ``${ENV}``); ``endpoint`` replaces
https://{subdomain}.zendesk.com (scheme, host and port only: a proxy or an emulator). Metrics:

- ``search``: Zendesk's search syntax (``type:ticket status:solved solved>={cycle.start}``); the value is
  the search's count, one request however many records match.
- ``satisfaction: {score: good}``: 100 x the ratings of ``score`` (good, or bad) among the good and bad
  ratings received from ``start`` to ``end`` (days in the cycle's time zone; by default the cycle's start
  to the as-of day; ``end`` never goes past the as-of day). Offered ratings nobody answered count in
  neither. 40 good and 10 bad make 80.0.

Vendor rules followed here:
- Show Results Count: ``GET /api/v2/search/count?query=`` answers ``{"count": N}``; "the search string
  works the same as a regular search"; allowed for agents. "It can take up to a few minutes for new
  tickets ... to be indexed for search": a count may lag the tickets by minutes.
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#show-results-count
- Search errors are ``{"error": ..., "description": ...}`` ("unavailable", "invalid"), e.g. "Sorry, we
  could not complete your search query. Please try again in a moment." ("unavailable": retried).
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#list-search-results
- API token: HTTP Basic with ``{email_address}/token`` as the user and the token as the password.
  https://developer.zendesk.com/documentation/api-basics/authentication/using-the-api-with-2-factor-authentication-enabled
  With API token access turned off, "tokens and passwords won't work, making access anonymous" (a 401).
  https://support.zendesk.com/hc/en-us/articles/8662004958746-Turning-on-and-off-API-access
- 401: the request is not authenticated; 403: authenticated, but the user may not do it (an end user on an
  agents' endpoint, an agent on an admins' one).
  https://support.zendesk.com/hc/en-us/articles/10306782115610-Troubleshooting-401-and-403-Errors-on-the-Zendesk-Developer-Platform
- Rate limits are per account and per minute by plan: Team 200, Growth and Professional 400, Enterprise 700,
  Enterprise Plus and the High Volume add-on 2,500 (legacy Support Essential 10). Past it: 429 with
  Retry-After, "the number of seconds to wait". List Search Results has an allocation of its own (2,500 a
  minute, ``Zendesk-RateLimit-search-index``) that also counts toward the account's; the count endpoint's
  page names none. okrsync sends at most 200 requests a minute (the Team plan's; the account's other
  integrations share it): ``rate_limit:`` raises or lowers it. https://developer.zendesk.com/api-reference/introduction/rate-limits
- List Satisfaction Ratings: admins only; filters ``score`` (received = good or bad, answered),
  ``start_time`` and ``end_time`` (Unix epoch seconds); cursor pagination: ``page[size]`` (most endpoints:
  at most 100), then ``page[after]`` = ``meta.after_cursor`` "until the meta[has_more] property is false".
  These endpoints are Zendesk's legacy CSAT; an account on CSAT survey responses has no ratings here.
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/satisfaction_ratings/
  https://developer.zendesk.com/api-reference/introduction/pagination/
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, ValidationInfo, field_validator, model_validator

from okrsync.config.env import resolve_env
from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Auth,
    Connector,
    Credentials,
    CursorPaginator,
    HttpError,
    MetricParams,
    MetricQuery,
    PageRequest,
    RemoteConnection,
    Strict,
    TransientError,
    retry_after_seconds,
)

PAGE_SIZE = 100  # satisfaction ratings a page: cursor pagination's "maximum of 100" for most endpoints
RATINGS = "/api/v2/satisfaction_ratings"
COUNT = "/api/v2/search/count"
TOKEN_ACCESS = "Admin Center > Apps and integrations > APIs > API configuration"
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
DAY = r"^(\d{4}-\d{2}-\d{2}|\{cycle\.start\}|\{cycle\.end\}|\{as_of\})$"


class ZendeskConnection(RemoteConnection):
    type: Literal["zendesk"]
    subdomain: str
    email: str  # the agent's or admin's address the API token acts for
    token: str  # an API token

    @field_validator("subdomain")
    @classmethod
    def _subdomain_only(cls, value: str) -> str:
        if not SUBDOMAIN.match(value):
            name = value.split("://")[-1].split(".")[0]
            raise ValueError(f"the subdomain only ({name!r} of {name}.zendesk.com), in lowercase letters and digits")
        return value

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in value and "${" not in value:
            raise ValueError("the email address of the Zendesk agent or admin the API token acts for")
        return value

    endpoint_adds = "okrsync adds /api/v2/..."


class Satisfaction(Strict):
    """The share of ``score`` among the good and bad ratings received from ``start`` to ``end`` (days)."""

    score: Literal["good", "bad"] = "good"
    start: str = Field("{cycle.start}", pattern=DAY, description="first day: YYYY-MM-DD or a placeholder")
    end: str = Field("{as_of}", pattern=DAY, description="last day (at most the as-of day)")

    @field_validator("start", "end")
    @classmethod
    def _a_real_day(cls, value: str) -> str:
        if not value.startswith("{"):
            date.fromisoformat(value)  # 2026-13-45 matches the pattern but is no day
        return value


class ZendeskMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count",)
    search: str | None = Field(None, min_length=1, description="Zendesk search syntax; the value is its count")
    satisfaction: Satisfaction | None = Field(None, description="CSAT: % of good (or bad) among good+bad ratings")

    @model_validator(mode="after")
    def _one_kind(self, info: ValidationInfo) -> ZendeskMetric:
        if (self.search is None) == (self.satisfaction is None):
            raise ValueError("give either search: (a Zendesk search, counted) or satisfaction: (CSAT), not both")
        if self.satisfaction is not None and (info.context or {}).get("aggregate"):
            raise ValueError("a satisfaction metric is a percentage of ratings: leave out aggregate")
        return self

    def answers_for_past(self) -> bool:
        """Ratings carry their time, so CSAT can be read as of a past day; a search only with {as_of}."""
        return self.satisfaction is not None or super().answers_for_past()


@dataclass(frozen=True)
class ApiToken(Auth):
    """Basic auth with ``{email}/token`` as the user name and the API token as the password."""

    def describe(self, settings: Any) -> str | None:
        return f"an API token for {settings.email}"

    def credentials(self, settings: Any, where: str) -> Credentials:
        email = resolve_env(str(settings.email), f"{where}.email")  # an address: not a secret
        token = self.resolve(settings, "token", where) or ""
        REDACTOR.add_basic(f"{email}/token", token)  # the header's base64 form too, should a server echo it
        return Credentials(basic=(f"{email}/token", token))


def _after_cursor(page: Any) -> str | None:
    """The next page's cursor while ``meta.has_more`` is true (Zendesk's rule for the last page)."""
    meta = page.get("meta") if isinstance(page, dict) else None
    if not isinstance(meta, dict) or not meta.get("has_more"):
        return None
    cursor = meta.get("after_cursor")
    if not isinstance(cursor, str) or not cursor:
        raise HttpError("Zendesk said more satisfaction ratings follow but gave no after_cursor", kind="fatal")
    return cursor


class ZendeskSource(ApiSource[ZendeskConnection, ZendeskMetric]):
    auth = ApiToken()
    headers = {"Accept": "application/json"}
    limits = [(200, 60.0)]  # the lowest current plan's per-minute allowance (Team), shared by the account
    pagination = CursorPaginator(cursor=_after_cursor, param="page[after]")
    token_hint = "the API token of connection {name!r}"
    vendor = "Zendesk"

    def root(self) -> str:
        if self.settings.endpoint:
            return super().root()
        return f"https://{self.settings.subdomain}.zendesk.com"

    def check_paths(self) -> list[str]:
        """What the metrics need: a search (agents) and, with a CSAT metric, satisfaction ratings (admins)."""
        paths = [f"{COUNT}?query=type%3Aticket"]
        if any(m.satisfaction is not None for m in self.metrics):
            paths.append(f"{RATINGS}?page%5Bsize%5D=1")
        return paths

    def describe_check(self, answer: object) -> str:
        reads = "search and satisfaction ratings" if len(self.check_paths()) > 1 else "search"
        return f"API token accepted; {reads} readable"

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Zendesk's own answers before the shared classification: its rate limit, a search it could not
        complete for now, and refusals named with what to fix."""
        status = response.status_code
        if status == 429:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            return TransientError("Zendesk's per-minute rate limit for the account is used up", after, throttled=True)
        if status >= 400 and _error_type(response) == "unavailable":  # "Please try again in a moment"
            return TransientError(f"Zendesk could not complete the search for now: {_said(response)}")
        if status in (400, 401, 403, 404, 422):
            raise self.refusal(response)
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, said = response.status_code, _said(response)
        quoted = f" ({said})" if said else ""
        ratings = response.request.url.path.startswith(RATINGS)
        name = self.name
        if status == 401:
            text = (
                f"HTTP 401: Zendesk did not accept the credentials of connection {name!r}{quoted}: check email: "
                f"and token: (an active API token), and that API token access is on ({TOKEN_ACCESS})"
            )
        elif status == 403 and ratings:
            text = (
                f"HTTP 403: the user of connection {name!r} may not list satisfaction ratings{quoted}: Zendesk "
                "allows them to admins only, so use an admin's address in email:"
            )
        elif status == 403:
            text = (
                f"HTTP 403: the user of connection {name!r} may not search{quoted}: searching needs an agent or admin"
            )
        elif status == 404:
            text = f"HTTP 404: nothing at {self.root()}{quoted}: check subdomain: of connection {name!r}"
        elif ratings:
            text = f"Zendesk refused the satisfaction ratings request (HTTP {status}){quoted}"
        else:
            text = f"Zendesk could not run the search (HTTP {status}){quoted}: check it against Zendesk's search syntax"
        return HttpError(REDACTOR(text), kind="bad_config" if status in (401, 403, 404) else "fatal", status=status)

    def read(self, client: ApiClient, q: MetricQuery[ZendeskMetric]) -> float:
        if q.params.satisfaction is not None:
            return self.csat(client, q, q.params.satisfaction)
        query = q.fill(str(q.params.search))
        try:
            data = client.json("GET", COUNT, params={"query": query})
        except HttpError as exc:
            if exc.status in (400, 422):  # name the search Zendesk refused
                raise HttpError(
                    f"{exc.message}; the search: {query[:160]!r}", kind=exc.kind, status=exc.status
                ) from None
            raise
        count = data.get("count") if isinstance(data, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValueError("Zendesk answered the search count without a count")
        return float(count)

    def csat(self, client: ApiClient, q: MetricQuery, wanted: Satisfaction) -> float:
        first, last = window(q, wanted)
        params = {
            "score": "received",  # good and bad, with or without a comment
            "start_time": epoch(first, q),
            "end_time": epoch(last + timedelta(days=1), q) - 1,  # the last second of the last day
            "page[size]": PAGE_SIZE,
        }
        scores = {"good": 0, "bad": 0}
        for page in self.pages(client, "GET", PageRequest(RATINGS, params)):
            ratings = page.get("satisfaction_ratings") if isinstance(page, dict) else None
            if not isinstance(ratings, list):
                raise ValueError("Zendesk answered without a list of satisfaction_ratings")
            for rating in ratings:
                score = rating.get("score") if isinstance(rating, dict) else None
                if score in scores:
                    scores[score] += 1
        received = scores["good"] + scores["bad"]
        if not received:
            raise ValueError(f"no satisfaction ratings were received from {first} to {last}, so there is no CSAT")
        return 100.0 * scores[wanted.score] / received


def window(q: MetricQuery, wanted: Satisfaction) -> tuple[date, date]:
    """The first and last day of ratings read: ``start``..``end`` filled in, the end at most the as-of day."""
    first = date.fromisoformat(q.fill(wanted.start))
    last = min(date.fromisoformat(q.fill(wanted.end)), q.as_of_day)
    if first > last:
        raise ValueError(f"the satisfaction window starts on {first}, after its last day {last}")
    return first, last


def epoch(day: date, q: MetricQuery) -> int:
    """00:00 of ``day`` in the cycle's time zone as Unix epoch seconds (start_time and end_time)."""
    return int(datetime.combine(day, time(0), tzinfo=q.cycle.tz).timestamp())


def _body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_type(response: httpx.Response) -> str | None:
    error = _body(response).get("error")
    return error if isinstance(error, str) else None


def _said(response: httpx.Response) -> str:
    """Zendesk's own words, in either of its error shapes: ``{"error": "invalid", "description": "..."}``
    (search) or ``{"error": {"title": "Forbidden", "message": "..."}}``; short and redacted."""
    body = _body(response)
    error, description = body.get("error"), body.get("description")
    if isinstance(error, dict):
        title, message = error.get("title"), error.get("message")
        error, description = title, message or description
    parts = [str(part) for part in (error, description) if part]
    return REDACTOR(": ".join(parts))[:300]


connector = Connector(
    "zendesk",
    connection=ZendeskConnection,
    metric=ZendeskMetric,
    source=ZendeskSource,
    description="Zendesk Support (search counts, CSAT)",
)
