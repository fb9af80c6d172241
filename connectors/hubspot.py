"""HubSpot CRM: counts and sums over any object (deals, contacts, companies, tickets) by CRM v3 search.

Connection: a private-app ``token`` (scopes ``crm.objects.<object>.read``), ``endpoint`` to
replace https://api.hubapi.com. Metric: ``object``, ``filters`` (property, operator, value and, for
BETWEEN, high_value; values may use {cycle.start} {cycle.end} {as_of}) and ``aggregate``: count (default; ``total`` of a
search with limit 1: one request), or sum / avg / min / max of ``property``, paging 200 at a time.
HubSpot's search stops at 10,000 results; a sum over more is read in ranges of record id that each
stay under it (see :func:`matching_records`), never silently truncated. Requests are paced to
HubSpot's 5 searches a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Literal

import httpx

from okrsync.sdk import (
    Aggregate,
    ApiClient,
    ApiSource,
    BearerToken,
    Connector,
    CursorPaginator,
    MetricParams,
    MetricQuery,
    PageRequest,
    RemoteConnection,
    Strict,
    aggregate,
    parse_number,
)

SEARCH_CEILING = 10_000
PAGE = 200


class HubspotConnection(RemoteConnection):
    type: Literal["hubspot"]
    token: str


class HubspotFilter(Strict):
    property: str
    operator: str = "EQ"
    value: Any = None
    high_value: Any = None  # BETWEEN's upper bound


# "HubSpot API endpoints accept UNIX formatted timestamps in milliseconds … Date properties will only
# store the date, and must be set to midnight UTC" — https://developers.hubspot.com/docs/faq/
# how-should-timestamps-be-formatted-for-hubspots-apis (read 2026-11-22). People write ISO dates
# (2026-10-01, or {cycle.start}); okrsync sends epoch milliseconds. A date is a UTC day, and the bound
# is chosen so that the filter means what it says for date and datetime properties alike: GTE/LT/EQ
# from the day's first millisecond, GT/LTE from its last (LTE 2026-11-16 keeps deals closed that day).
END_OF_DAY_OPERATORS = {"GT", "LTE"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def hubspot_value(text: str, operator: str, *, upper: bool = False) -> str:
    """``text`` as HubSpot wants it: ISO dates and date-times become epoch milliseconds."""
    if _ISO_DATE.match(text):
        day = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        if upper or operator in END_OF_DAY_OPERATORS:
            return str(int((day + timedelta(days=1)).timestamp() * 1000) - 1)
        return str(int(day.timestamp() * 1000))
    if _ISO_DATETIME.match(text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return str(int(moment.timestamp() * 1000))
    return text


class HubspotMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum", "avg", "min", "max")
    object: str = "deals"
    filters: list[HubspotFilter] = []
    property: str | None = None


class HubspotSource(ApiSource[HubspotConnection, HubspotMetric]):
    api_root = "https://api.hubapi.com"
    auth = BearerToken()
    # "The CRM search endpoints are rate limited to five requests per second per account", and a private app
    # may send 100 requests per 10 seconds on the lowest tiers (https://developers.hubspot.com/docs/api/usage-details)
    limits = [(5, 1.0), (100, 10.0)]
    # HubSpot's cursor: paging.next.after in each answer, sent back as "after" in the search body
    pagination = CursorPaginator("paging.next.after", "after", in_body=True)
    token_hint = "the private-app token of connection {name!r}"
    vendor = "HubSpot"

    def check_paths(self) -> list[str]:
        """One record of each object the metrics read: a token with only the contacts scope checks fine
        for a config that only counts contacts (GET /crm/v3/objects/{objectType}, scope
        crm.objects.<object>.read — https://developers.hubspot.com/docs/api-reference/crm-objects-v3)."""
        objects = dict.fromkeys(m.object for m in self.metrics) or {"deals": None}
        return [f"/crm/v3/objects/{obj}?limit=1" for obj in objects]

    def allocation(self, response: httpx.Response) -> str | None:
        return daily_limit_spent(response)

    def describe_check(self, answer: object) -> str:
        return "private-app token accepted"

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        p: HubspotMetric = q.params
        filters = [_filter(f, q) for f in p.filters]
        # every field HubSpot's published PublicObjectSearchRequest marks required (filterGroups, limit,
        # after, properties, sorts — HubSpot-public-api-spec-collection, CRM v3): "after" "0" is the first
        # page, no sorts keeps HubSpot's default order (by object id), stable while paging
        body: dict = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "limit": 1,
            "after": "0",
            "properties": [],
            "sorts": [],
        }
        url = f"/crm/v3/objects/{p.object}/search"
        how = q.aggregate or "count"
        if how == "count":
            return float(client.json("POST", url, json=body)["total"])
        if not p.property:
            raise ValueError(f"aggregate {how} needs property: (e.g. amount)")
        body.update(limit=PAGE, properties=[p.property])
        values = []
        for record in matching_records(self, client, url, body):
            raw = (record.get("properties") or {}).get(p.property)
            if raw not in (None, ""):
                values.append(parse_number(raw))
        if not values and how != "sum":
            raise ValueError(f"no {p.object} with a value in {p.property}")
        return aggregate(values, how)


# "The search endpoints are limited to 10,000 total results for any given query. Attempting to page beyond
# 10,000 will result in a 400 error"; "a maximum of five filterGroups with up to 6 filters in each group"
# (https://developers.hubspot.com/docs/guides/api/crm/search#limitations, read 2026-11-30). Beyond the
# ceiling, okrsync splits the search into ranges of record id (hs_object_id BETWEEN lo AND hi, one more
# filter) that each match at most 10,000 records, found by halving a range and counting its left half
# (one request with limit 1: ``total`` is exact past the ceiling). No ``sorts`` are needed: each range is
# paged whole, in whatever order HubSpot returns it.
MAX_FILTERS = 6
MAX_ID = 2**63 - 1  # record ids are positive 64-bit integers


def matching_records(source: ApiSource, client: ApiClient, url: str, body: dict) -> Iterator[dict]:
    """Every record ``body`` matches, 200 a page; split into id ranges past the 10,000-result ceiling."""
    first = client.json("POST", url, json=body)
    if first.get("total", 0) <= SEARCH_CEILING:
        yield from _pages(source, client, url, body, first)
        return
    if len(_filters(body)) >= MAX_FILTERS:
        raise ValueError(
            f"{first['total']:,} records match, more than HubSpot search returns ({SEARCH_CEILING:,}), and the "
            f"search already uses HubSpot's {MAX_FILTERS} filters: narrow the filters (e.g. a date window)"
        )
    bounds = _id_bounds(client, url, body, [int(r["id"]) for r in first.get("results", [])])
    for low, high in _id_ranges(client, url, body, *bounds, first["total"]):
        yield from _pages(source, client, url, _within(body, low, high))


def _within(body: dict, low: int, high: int) -> dict:
    """``body`` restricted to record ids low..high: one more filter in its (single) filter group."""
    ids = {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": str(low), "highValue": str(high)}
    return {**body, "filterGroups": [{"filters": [*_filters(body), ids]}]}


def _filters(body: dict) -> list[dict]:
    return body["filterGroups"][0]["filters"] if body["filterGroups"] else []


def _count(client: ApiClient, url: str, body: dict, low: int, high: int) -> int:
    """How many records ``body`` matches with ids low..high: one search of limit 1 (``total`` is exact)."""
    counting = {**_within(body, low, high), "limit": 1, "properties": []}
    return int(client.json("POST", url, json=counting).get("total", 0))


def _id_bounds(client: ApiClient, url: str, body: dict, seen: list[int]) -> tuple[int, int]:
    """A tight [low, high] around every matching id, so that halving starts near the records rather than
    at 2^63 (about 50 counts): the first page's ids, widened four-fold until a count finds nothing
    beyond (usually one or two requests a side)."""
    low, high = (min(seen), max(seen)) if seen else (0, MAX_ID)
    while low > 0 and _count(client, url, body, 0, low - 1):
        low //= 4
    while high < MAX_ID and _count(client, url, body, high + 1, MAX_ID):
        high = min(MAX_ID, high * 4)
    return low, high


def _id_ranges(client: ApiClient, url: str, body: dict, low: int, high: int, total: int):
    """Ranges [low, high] of record id, in order, that each match at most SEARCH_CEILING records."""
    if total <= 0:
        return
    if total <= SEARCH_CEILING or low == high:
        yield low, high
        return
    middle = (low + high) // 2
    left = _count(client, url, body, low, middle)
    yield from _id_ranges(client, url, body, low, middle, left)
    yield from _id_ranges(client, url, body, middle + 1, high, total - left)


def _pages(source: ApiSource, client: ApiClient, url: str, body: dict, first: dict | None = None) -> Iterator[dict]:
    """One search's records, paged with ``after`` (HubSpot's cursor), from an answer already in hand."""
    request = PageRequest(url, json=body)
    for data in source.pages(client, "POST", request, max_pages=SEARCH_CEILING // PAGE + 1, answered=first):
        if data.get("total", 0) > SEARCH_CEILING:
            raise ValueError(f"{data['total']:,} records match one id range, more than HubSpot search returns")
        yield from data.get("results", [])


def _filter(f: HubspotFilter, q: MetricQuery) -> dict:
    out: dict[str, Any] = {"propertyName": f.property, "operator": f.operator}
    if f.value is not None:
        out["value"] = hubspot_value(q.fill(str(f.value)), f.operator)
    if f.high_value is not None:
        out["highValue"] = hubspot_value(q.fill(str(f.high_value)), f.operator, upper=True)
    return out


def daily_limit_spent(response: httpx.Response) -> str | None:
    """Whether the account's daily request limit is used up: HubSpot reports what is left in
    ``X-HubSpot-RateLimit-Daily-Remaining`` and refuses past it with a 429 whose ``policyName`` is ``DAILY``
    (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details, read 2026-11-30). Retrying
    cannot help before midnight in the account's time zone, and every app of the account shares that limit."""
    left = response.headers.get("X-HubSpot-RateLimit-Daily-Remaining", "").strip()
    daily_429 = response.status_code == 429 and '"DAILY"' in response.text.replace(" ", "")
    if left == "0" or daily_429:
        return (
            "the HubSpot account's daily API limit is used up (shared by every app of the account): okrsync "
            "sent no more requests; it resets at midnight in the account's time zone"
        )
    return None


connector = Connector(
    "hubspot", connection=HubspotConnection, metric=HubspotMetric, source=HubspotSource, description="HubSpot CRM"
)
