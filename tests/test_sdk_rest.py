"""The declarative REST source's parts, pure: each paginator (an answer in, the next request out, a
repeated token refused), each auth object (settings in, credentials out), and aggregates a source does
not support refused when the config is validated, located like every other config error."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest

from okrsync.errors import SourceError
from okrsync.redact import REDACTOR
from okrsync.sdk import (
    ApiClient,
    Basic,
    BearerToken,
    CursorPaginator,
    HeaderToken,
    HttpError,
    KeysetPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageRequest,
    QueryToken,
    link_target,
    pages,
    parse_instant,
)
from tests.helpers import okrsync

NO_HEADERS: dict[str, str] = {}


# --- paginators: an answer in, the next request out -------------------------------------------------


def test_offset_moves_by_the_limit_and_ends_on_a_short_page():
    pager = OffsetPaginator(limit=2, items="rows")
    first = PageRequest("/rows", {"q": "x"})
    second = pager.advance(first, {"rows": [1, 2]}, NO_HEADERS)
    assert second == PageRequest("/rows", {"q": "x", "offset": 2, "limit": 2})
    assert pager.advance(second, {"rows": [3, 4]}, NO_HEADERS) == PageRequest(
        "/rows", {"q": "x", "offset": 4, "limit": 2}
    )
    assert pager.advance(second, {"rows": [5]}, NO_HEADERS) is None


def test_offset_ends_at_the_total():
    pager = OffsetPaginator(limit=2, items="rows", total="meta.total")
    assert pager.advance(PageRequest("/rows", {"offset": 2}), {"rows": [3, 4], "meta": {"total": 4}}, {}) is None


def test_offset_refuses_an_offset_it_already_asked_for():
    pager = OffsetPaginator(limit=2, items="rows")
    page = PageRequest("/rows", {"offset": 0})
    pager.advance(page, {"rows": [1, 2]}, NO_HEADERS)
    with pytest.raises(HttpError, match="same page cursor twice"):
        pager.advance(page, {"rows": [1, 2]}, NO_HEADERS)


def test_cursor_in_the_query_and_in_the_body():
    in_query = CursorPaginator("meta.next", "cursor")
    assert in_query.advance(PageRequest("/i", {"a": 1}), {"meta": {"next": "c2"}}, {}) == PageRequest(
        "/i", {"a": 1, "cursor": "c2"}
    )
    in_body = CursorPaginator("paging.next.after", "after", in_body=True)
    sent = PageRequest("/search", json={"limit": 200, "after": "0", "sorts": []})
    following = in_body.advance(sent, {"paging": {"next": {"after": "200"}}}, {})
    assert following is not None and following.json == {"limit": 200, "after": "200", "sorts": []}
    assert list(following.json) == ["limit", "after", "sorts"]  # the body's keys keep their order
    assert in_body.advance(following, {"results": []}, {}) is None


@pytest.mark.parametrize("end", [None, "", {}])
def test_cursor_ends_when_there_is_none(end):
    assert CursorPaginator("next", "cursor").advance(PageRequest("/i"), {"next": end or None}, {}) is None


def test_cursor_refuses_a_repeated_cursor_and_a_fresh_copy_starts_over():
    pager = CursorPaginator("next", "cursor")
    pager.advance(PageRequest("/i"), {"next": "same"}, {})
    with pytest.raises(HttpError, match=r"same page cursor twice \('same'\): stopped to avoid a loop"):
        pager.advance(PageRequest("/i", {"cursor": "same"}), {"next": "same"}, {})
    assert pager.fresh().advance(PageRequest("/i"), {"next": "same"}, {}) is not None


def test_cursor_path_may_be_a_function_of_the_answer():
    pager = CursorPaginator(lambda data: data["pages"][-1], "page")
    assert pager.advance(PageRequest("/i"), {"pages": [1, 2]}, {}) == PageRequest("/i", {"page": 2})


def test_next_url_carries_its_own_query():
    pager = NextUrlPaginator("links.next")
    following = pager.advance(PageRequest("/i", {"a": 1}, {"b": 2}), {"links": {"next": "/i?page=2"}}, {})
    assert following == PageRequest("/i?page=2")
    assert pager.advance(following, {"links": {"next": None}}, {}) is None
    with pytest.raises(HttpError, match="same page cursor twice"):
        pager.advance(following, {"links": {"next": "/i?page=2"}}, {})


def test_link_header():
    header = '<https://api.x.test/i?page=1>; rel="prev", <https://api.x.test/i?page=3>; rel="next"'
    assert link_target(header) == "https://api.x.test/i?page=3"
    assert link_target('<https://api.x.test/i?page=9>; rel="last"') is None
    pager = LinkHeaderPaginator()
    assert pager.advance(PageRequest("/i", {"a": 1}), [], {"link": header}) == PageRequest(
        "https://api.x.test/i?page=3"
    )
    assert pager.advance(PageRequest("/i"), [], {}) is None
    with pytest.raises(HttpError, match="same page cursor twice"):
        pager.advance(PageRequest("/i"), [], {"link": header})


def test_keyset_sends_the_last_key_and_ends_on_an_empty_page():
    pager = KeysetPaginator("id", "after_id", items="data")
    first = PageRequest("/rows", {"per_page": 2})
    assert pager.advance(first, {"data": [{"id": 7}, {"id": 9}]}, {}) == PageRequest(
        "/rows", {"per_page": 2, "after_id": 9}
    )
    assert pager.advance(first, {"data": []}, {}) is None
    with pytest.raises(HttpError, match="same page cursor twice"):
        pager.advance(first, {"data": [{"id": 9}]}, {})


def mock_client(handler) -> ApiClient:
    return ApiClient("https://api.x.test", transport=httpx.MockTransport(handler))


def test_pages_sends_each_request_and_stops_after_max_pages():
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        number = int(request.url.params.get("cursor", "0"))
        return httpx.Response(200, json={"n": number, "next": str(number + 1)})

    client = mock_client(handler)
    pager = CursorPaginator("next", "cursor")
    got = pages(client, "GET", PageRequest("/i", {"q": "x"}), pager, max_pages=3)
    with pytest.raises(HttpError, match="more than 3 pages: stopped"):
        list(got)
    assert sent == [
        "https://api.x.test/i?q=x",
        "https://api.x.test/i?q=x&cursor=1",
        "https://api.x.test/i?q=x&cursor=2",
    ]


def test_pages_follows_a_link_with_its_own_query():
    """A next-page link carries its query (``?page=2``); httpx would drop it for ``params``, so pages() keeps it
    (found by the GitLab source: every linked page asked for page 1 again, then 'same page cursor twice')."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        page = int(request.url.params.get("page", "1"))
        link = {"link": f'<https://api.x.test/i?per_page=2&page={page + 1}>; rel="next"'} if page < 3 else {}
        return httpx.Response(200, json=[page], headers=link)

    got = list(pages(mock_client(handler), "GET", PageRequest("/i", {"per_page": 2}), LinkHeaderPaginator()))
    assert got == [[1], [2], [3]]
    assert sent == [
        "https://api.x.test/i?per_page=2",
        "https://api.x.test/i?per_page=2&page=2",
        "https://api.x.test/i?per_page=2&page=3",
    ]


def test_pages_starts_from_an_answer_in_hand_and_says_when_an_answer_is_not_json():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>", headers={"content-type": "text/html"})

    got = pages(mock_client(handler), "GET", PageRequest("/i"), CursorPaginator(), answered={"next": "2"})
    assert next(got) == {"next": "2"}
    with pytest.raises(HttpError, match="expected JSON, got text/html"):
        next(got)


# --- auth objects: settings in, credentials out -----------------------------------------------------------


def settings(**keys) -> SimpleNamespace:
    return SimpleNamespace(**keys)


def test_bearer_header_and_query_tokens_resolve_env_and_register_the_secret(monkeypatch):
    monkeypatch.setenv("SDK_TOKEN", "tok-0123456789abcdef")
    s = settings(token="${SDK_TOKEN}")
    assert BearerToken().credentials(s, "connections.c").headers == {"Authorization": "Bearer tok-0123456789abcdef"}
    assert HeaderToken("x-api-token").credentials(s, "connections.c").headers == {"x-api-token": "tok-0123456789abcdef"}
    assert QueryToken("api_key").credentials(s, "connections.c").params == {"api_key": "tok-0123456789abcdef"}
    assert REDACTOR("sent tok-0123456789abcdef") == "sent ***"


def test_a_missing_variable_names_the_key_that_referenced_it(monkeypatch):
    monkeypatch.delenv("SDK_MISSING", raising=False)
    with pytest.raises(SourceError, match=r"referenced by connections\.c\.api\.key"):
        BearerToken("api.key").credentials(settings(api=settings(key="${SDK_MISSING}")), "connections.c")


def test_basic_auth_from_dotted_keys_and_absent_when_left_out():
    s = settings(auth=settings(username="bot", password="pw-secret-123"))
    assert Basic("auth.username", "auth.password").credentials(s, "connections.c").basic == ("bot", "pw-secret-123")
    assert Basic("auth.username", "auth.password").credentials(settings(auth=None), "connections.c").basic is None
    assert BearerToken().credentials(settings(token=None), "connections.c").headers == {}


# --- aggregates: declared by the source, checked by the config ------------------------------------------------

CONFIG = """\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
connections:
  gh: {{type: github, token: "${{GH_TOKEN}}"}}
  pd: {{type: pipedrive, url: https://acme.pipedrive.com, token: "${{PD_TOKEN}}"}}
metrics:
  bugs: {{connection: gh, query: "repo:acme/app is:issue", {github}}}
  won: {{connection: pd, status: won, {pipedrive}}}
kpis:
  - {{id: bugs, metric: bugs, healthy: {{max: 10}}}}
  - {{id: won, metric: won, healthy: {{min: 1}}}}
"""
ENV = {"GH_TOKEN": "ghp_x", "PD_TOKEN": "pd_x"}


def validate(tmp_path, github: str, pipedrive: str = "aggregate: sum"):
    path = tmp_path / "okrs.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(github=github, pipedrive=pipedrive)))
    return path, okrsync("-c", str(path), "validate", env=ENV)


def test_an_aggregate_github_does_not_support_is_a_located_config_error(tmp_path):
    path, ran = validate(tmp_path, "aggregate: sum", pipedrive="aggregate: max")
    shown = ran.stdout + ran.stderr
    assert ran.returncode == 2, shown
    assert (
        f"{path}:7: metrics.bugs.aggregate: a github metric supports count only "
        "(write aggregate: count, or leave it out)" in shown
    )
    assert (
        f"{path}:8: metrics.won.aggregate: a pipedrive metric supports count, sum or avg only "
        "(write one of them, or leave it out for count)" in shown
    )


@pytest.mark.parametrize("github", ["aggregate: count", "unit: bugs"])
def test_a_supported_aggregate_or_none_passes(tmp_path, github):
    _, ran = validate(tmp_path, github)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_parse_instant_reads_a_day_in_the_cycles_zone_and_names_its_key():
    oslo = ZoneInfo("Europe/Oslo")
    assert parse_instant("2026-10-01", oslo, "since") == datetime(2026, 10, 1, tzinfo=oslo)  # 00:00 in Oslo
    assert parse_instant("2026-10-01", oslo, "since").astimezone(UTC) == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert parse_instant(" 2026-10-01T09:30 ", oslo, "since") == datetime(2026, 10, 1, 9, 30, tzinfo=oslo)
    assert parse_instant("2026-10-01T09:30Z", oslo, "since") == datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="since must be an ISO date or date-time such as 2026-10-01, not 'last week'"):
        parse_instant("last week", oslo, "since")
