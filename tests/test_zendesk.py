"""The zendesk source: the connector contract against the Zendesk emulator (tests/emulators/zendesk.py, every
request checked against Zendesk's description), respx for Zendesk's own answers (429 with Retry-After, its two
error shapes, cursor pages), and the config's refusals. Expected figures are worked out by hand in each test."""

import base64
import itertools
import json

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests import vendor_spec
from tests.emulators.zendesk import ZendeskEmulator
from tests.helpers import oslo

EMAIL = "ops@acme.com"
TOKEN = "zdTokenCanary0123456789abcdef"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
DAY = oslo(2026, 11, 16)
COUNT = "https://acme.zendesk.com/api/v2/search/count"
RATINGS = "https://acme.zendesk.com/api/v2/satisfaction_ratings"
CYCLE_START = 1790805600  # 2026-10-01 00:00 in Oslo (CEST) = 2026-09-30T22:00:00Z
AS_OF_END = 1794870000 - 1  # the last second of 2026-11-16 in Oslo (CET): 2026-11-16T22:59:59Z
SOLVED = "type:ticket status:solved solved>={cycle.start}"


def zendesk_emulator(**kwargs) -> ZendeskEmulator:
    zd = ZendeskEmulator(EMAIL, TOKEN, **kwargs)
    zd.ticket("solved", "normal", ["vip"], created="2026-09-20", solved="2026-10-02")
    zd.ticket("solved", "high", created="2026-10-05", solved="2026-10-10")
    zd.ticket("closed", "normal", created="2026-09-01", solved="2026-09-25")
    zd.ticket("open", "urgent", ["vip"], created="2026-10-20")
    zd.ticket("pending", "urgent", created="2026-11-01")
    zd.ticket("hold", "low", ["vip"], created="2026-11-10")
    zd.ticket("solved", "urgent", created="2026-11-02", solved="2026-11-03")
    zd.ticket("new", "high", created="2026-09-15")
    zd.ticket("open", "normal", ["vip"], created="2026-10-01")
    zd.ticket("solved", "low", created="2026-09-28", solved="2026-10-01")
    for score, at in [
        ("good", "2026-09-30T21:59:59Z"),  # 23:59:59 on 30 September in Oslo: before the cycle
        ("good", "2026-09-30T22:00:00Z"),  # 00:00 on 1 October in Oslo: the first second of the cycle
        ("good", "2026-10-15T10:00:00Z"),
        ("bad", "2026-10-20T10:00:00Z"),
        ("offered", "2026-10-10T10:00:00Z"),  # offered, never answered: neither good nor bad
        ("good", "2026-11-16T22:59:59Z"),  # the last second of the as-of day in Oslo (CET)
        ("bad", "2026-11-16T23:00:00Z"),  # 00:00 on 17 November in Oslo: after the as-of day
    ]:
        zd.rating(score, at)
    zd.rating("good", "2026-11-01T09:00:00Z", comment="Quick and kind")
    return zd


def zendesk_case(emulator, tmp_path) -> ContractCase:
    return ContractCase(
        connection={
            "type": "zendesk",
            "subdomain": "acme",
            "email": EMAIL,
            "token": "${ZENDESK_TOKEN}",
            "endpoint": emulator.url,
            "rate_limit": 100,
        },
        metrics={
            "solved": {"search": SOLVED},
            "open_urgent": {"search": "type:ticket status<solved priority:urgent"},
            "new_vip": {"search": "type:ticket tags:vip created>={cycle.start}"},
            "csat": {"satisfaction": {"score": "good"}},
            "unhappy": {"satisfaction": {"score": "bad"}},
        },
        # solved: tickets solved on 1 Oct (the whole day counts), 2 Oct, 10 Oct and 3 Nov (the closed one is
        # not status:solved); open_urgent: open and pending urgent ones (the new one is high); new_vip: vip
        # tickets created on 1 Oct, 20 Oct and 10 Nov; csat: 4 good and 1 bad from 1 Oct 00:00 to the end of
        # 16 Nov in Oslo (one good before, one bad after, the offered one in neither): 4 / 5
        expected={"solved": 4.0, "open_urgent": 2.0, "new_vip": 3.0, "csat": 80.0, "unhappy": 20.0},
        env={"ZENDESK_TOKEN": TOKEN},
        broken={"satisfaction": {"start": "2025-01-01", "end": "2025-01-31"}},  # no ratings: no CSAT
        rejected_env={"ZENDESK_TOKEN": "zdWrongToken9876543210"},
    )


TestZendeskContract = source_contract("zendesk", zendesk_case, emulator=zendesk_emulator)


@pytest.fixture
def zd():
    server = zendesk_emulator().start()
    try:
        yield server
    finally:
        server.stop()


def config(write_config, monkeypatch, metrics: dict[str, dict], **connection):
    """Connection ``zd`` (acme.zendesk.com, or ``endpoint=``) with ``metrics`` (id -> keys), loaded for real."""
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    conn = {"type": "zendesk", "subdomain": "acme", "email": EMAIL, "token": "${ZENDESK_TOKEN}", **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'zd', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    return load_config(write_config(f"connections:\n  zd: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n"))


def values(cfg) -> dict:
    got = fetch_connection(plan(cfg, DAY), "zd")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


@respx.mock
def test_a_search_count_is_one_request_as_zendesk_documents_it(write_config, monkeypatch):
    route = respx.get(COUNT).respond(200, json={"count": 6})
    assert values(config(write_config, monkeypatch, {"n": {"search": SOLVED}})) == {"n": 6.0}
    sent = route.calls.last.request
    assert sent.url.params["query"] == "type:ticket status:solved solved>=2026-10-01" and len(sent.url.params) == 1
    assert sent.headers["authorization"] == BASIC  # {email}/token and the API token, HTTP Basic
    assert sent.headers["accept"] == "application/json"


@respx.mock
def test_a_429_waits_for_retry_after_then_reads(write_config, monkeypatch, waits):
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "TooManyRequests"})
    route = respx.get(COUNT).mock(side_effect=[limited, httpx.Response(200, json={"count": 3})])
    assert values(config(write_config, monkeypatch, {"n": {"search": SOLVED}})) == {"n": 3.0}
    assert route.call_count == 2 and any(7 <= w <= 7.2 for w in waits)


@pytest.mark.parametrize("status", [400, 503])
@respx.mock
def test_a_search_zendesk_could_not_complete_is_tried_again(write_config, monkeypatch, waits, status):
    said = "Sorry, we could not complete your search query. Please try again in a moment."
    busy = httpx.Response(status, json={"error": "unavailable", "description": said})
    route = respx.get(COUNT).mock(side_effect=[busy, httpx.Response(200, json={"count": 9})])
    assert values(config(write_config, monkeypatch, {"n": {"search": SOLVED}})) == {"n": 9.0}
    assert route.call_count == 2 and len(waits) == 1


INVALID = "Invalid search: Requested response size was greater than Search Response Limits"
DENIED = "You do not have access to this page. Please contact the account owner of this help desk for further help."


@pytest.mark.parametrize(
    ("url", "status", "body", "words"),
    [
        (COUNT, 401, {"error": "Couldn't authenticate you"}, "(Couldn't authenticate you): check email: and token:"),
        (COUNT, 403, {"error": "Forbidden", "description": "missing scopes: read"}, "may not search (Forbidden: miss"),
        (RATINGS, 403, {"error": {"title": "Forbidden", "message": DENIED}}, f"(Forbidden: {DENIED}): Zendesk allows"),
        (COUNT, 404, {"error": "RecordNotFound", "description": "Not found"}, "check subdomain: of connection 'zd'"),
        (COUNT, 422, {"error": "invalid", "description": INVALID}, f"(HTTP 422) (invalid: {INVALID})"),
        (COUNT, 400, {"error": "invalid", "description": "bad"}, "(invalid: bad): check it against Zendesk's search"),
    ],
)
@respx.mock
def test_refusals_say_what_to_fix_in_zendesks_own_words(write_config, monkeypatch, waits, url, status, body, words):
    respx.get(url).respond(status, json=body)
    metric = {"search": SOLVED} if url == COUNT else {"satisfaction": {}}
    (err,) = fetch_connection(plan(config(write_config, monkeypatch, {"kpi": metric}), DAY), "zd").values()
    assert isinstance(err, SourceError) and err.metric == "kpi" and words in err.message, err
    assert TOKEN not in err.message and waits == []  # a refusal is not retried
    if status in (400, 422):
        assert "the search: 'type:ticket status:solved solved>=2026-10-01'" in err.message


def rating_page(good: int, bad: int, after: str | None, offered: int = 0) -> dict:
    scores = ["good"] * good + ["bad"] * bad + ["offered"] * offered
    ratings = [{"id": i, "score": s, "created_at": "2026-10-15T10:00:00Z"} for i, s in enumerate(scores)]
    return {"satisfaction_ratings": ratings, "meta": {"has_more": after is not None, "after_cursor": after}}


@respx.mock
def test_csat_follows_the_cursor_until_has_more_is_false(write_config, monkeypatch):
    pages = [rating_page(70, 30, "c1"), rating_page(90, 10, "c2"), rating_page(20, 25, None, offered=5)]
    route = respx.get(RATINGS).mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    got = values(config(write_config, monkeypatch, {"csat": {"satisfaction": {"score": "good"}}}))
    assert got["csat"] == pytest.approx(100 * 180 / 245)  # 70 + 90 + 20 good of 245 good and bad; offered: neither
    sent = [call.request.url.params for call in route.calls]
    assert [p.get("page[after]") for p in sent] == [None, "c1", "c2"]
    for params in sent:
        assert params["score"] == "received" and params["page[size]"] == "100"
        assert (params["start_time"], params["end_time"]) == (str(CYCLE_START), str(AS_OF_END))


@respx.mock
def test_the_window_never_reads_past_the_as_of_day(write_config, monkeypatch):
    route = respx.get(RATINGS).respond(200, json=rating_page(1, 3, None))
    window = {"score": "bad", "start": "2026-11-01", "end": "{cycle.end}"}
    assert values(config(write_config, monkeypatch, {"c": {"satisfaction": window}})) == {"c": 75.0}
    params = route.calls.last.request.url.params  # 1 Nov 00:00 in Oslo (CET) is 2026-10-31T23:00:00Z
    assert (params["start_time"], params["end_time"]) == ("1793487600", str(AS_OF_END))


@pytest.mark.parametrize(
    ("pages", "words"),
    [
        ([rating_page(1, 0, "c1"), rating_page(1, 0, "c1")], "same page cursor twice"),
        ([{"satisfaction_ratings": [], "meta": {"has_more": True, "after_cursor": None}}], "gave no after_cursor"),
        ([rating_page(0, 0, None, offered=4)], "no satisfaction ratings were received from 2026-10-01 to 2026-11-16"),
        ([{"ratings": []}], "without a list of satisfaction_ratings"),
    ],
)
@respx.mock
def test_cursor_pages_that_cannot_give_a_csat_fail_plainly(write_config, monkeypatch, pages, words):
    respx.get(RATINGS).mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    got = values(config(write_config, monkeypatch, {"c": {"satisfaction": {}}}))
    assert words in got["c"]


@respx.mock
def test_requests_are_paced_at_the_team_plans_200_a_minute(write_config, monkeypatch, waits, still_clock):
    respx.get(COUNT).respond(200, json={"count": 1})
    metrics = {f"m{i}": {"search": f"type:ticket tags:t{i}"} for i in range(202)}
    got = values(config(write_config, monkeypatch, metrics, max_concurrency=1))
    assert set(got.values()) == {1.0}
    # a burst of 200, then the 201st and 202nd wait for the minute to move on past the 1st and the 2nd
    assert [round(w) for w in waits] == [60, 60]


def test_more_search_syntax_against_the_emulator(write_config, monkeypatch, zd):
    metrics = {
        "done_before": {"search": "type:ticket status>=solved created<{cycle.start}"},
        "open_above_normal": {"search": "type:ticket priority>normal status:open"},
        "solved_early_oct": {"search": "type:ticket solved>=2026-10-01 solved<=2026-10-02"},
    }
    got = values(config(write_config, monkeypatch, metrics, endpoint=zd.url))
    # solved or closed and created before 1 Oct: 20 Sep, 1 Sep, 28 Sep; open and high or urgent: the urgent one
    # of 20 Oct; solved on 1 or 2 Oct (both days whole): two
    assert got == {"done_before": 3.0, "open_above_normal": 1.0, "solved_early_oct": 2.0}


def test_the_emulator_refuses_what_it_cannot_evaluate_loudly(zd):
    auth = {"Authorization": BASIC}
    answer = httpx.get(f"{zd.url}/api/v2/search/count", params={"query": "type:ticket printer on fire"}, headers=auth)
    assert answer.status_code == 501 and zd.unsupported == ["the term 'printer' (free text or negation)"]
    assert vendor_spec.PROBLEMS and "cannot evaluate the term 'printer'" in vendor_spec.PROBLEMS[-1]
    vendor_spec.PROBLEMS.clear()  # expected here; anywhere else it fails the test


def test_a_password_or_a_token_with_token_access_off_is_a_401(write_config, monkeypatch, zd):
    password = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()  # no /token: a password
    answer = httpx.get(
        f"{zd.url}/api/v2/search/count", params={"query": "type:ticket"}, headers={"Authorization": password}
    )
    assert answer.status_code == 401 and answer.json() == {"error": "Couldn't authenticate you"}
    zd.token_access = False
    got = values(config(write_config, monkeypatch, {"n": {"search": SOLVED}}, endpoint=zd.url))
    assert "API token access is on (Admin Center > Apps and integrations > APIs > API configuration)" in got["n"]


def test_an_agent_may_search_but_only_admins_read_ratings(write_config, monkeypatch, zd):
    zd.role = "agent"
    metrics = {"solved": {"search": SOLVED}, "csat": {"satisfaction": {}}}
    got = values(config(write_config, monkeypatch, metrics, endpoint=zd.url))
    assert got["solved"] == 4.0 and "Zendesk allows them to admins only" in got["csat"]


def test_csat_over_250_ratings_reads_three_pages_of_100(write_config, monkeypatch, zd):
    zd.ratings.clear()
    for i in range(250):
        zd.rating("bad" if i % 5 == 0 else "good", f"2026-10-{1 + i // 10:02d}T12:00:00Z")
    got = values(config(write_config, monkeypatch, {"csat": {"satisfaction": {}}}, endpoint=zd.url))
    assert got == {"csat": 80.0}  # every 5th of 250 is bad: 50 bad, 200 good
    pages = zd.requests("GET", "/api/v2/satisfaction_ratings")
    assert len(pages) == 3 and [r.query["page[size]"] for r in pages] == [["100"]] * 3
    assert "page[after]" not in pages[0].query and all("page[after]" in r.query for r in pages[1:])


def test_the_emulator_refuses_pages_over_100(zd):
    params = {"page[size]": "101"}
    answer = httpx.get(f"{zd.url}/api/v2/satisfaction_ratings", params=params, headers={"Authorization": BASIC})
    assert answer.status_code == 400


def test_the_emulators_per_minute_limit_is_waited_out(write_config, monkeypatch, waits):
    clock = itertools.count(1000, 31)  # each request 31 s after the one before
    zd = zendesk_emulator(per_minute=1, clock=lambda: next(clock)).start()
    try:
        metrics = {"a": {"search": SOLVED}, "b": {"search": "type:ticket tags:vip"}}
        got = values(config(write_config, monkeypatch, metrics, endpoint=zd.url, max_concurrency=1))
    finally:
        zd.stop()
    # a at 1000 opens the minute; b at 1031 is refused with Retry-After 29; b again at 1062, a new minute
    assert got == {"a": 4.0, "b": 4.0} and any(29 <= w <= 29.2 for w in waits)
    assert [r.path for r in zd.requests()] == ["/api/v2/search/count"] * 3


def test_the_connection_check_tries_what_the_metrics_need(write_config, monkeypatch, zd):
    cfg = config(write_config, monkeypatch, {"n": {"search": SOLVED}, "c": {"satisfaction": {}}}, endpoint=zd.url)
    said = check_connection(cfg, "zd")
    assert said == f"API token accepted; search and satisfaction ratings readable (an API token for {EMAIL})"
    assert [r.path for r in zd.requests()] == ["/api/v2/search/count", "/api/v2/satisfaction_ratings"]


@pytest.mark.parametrize(
    ("connection", "metric", "words"),
    [
        ({"subdomain": "acme.zendesk.com"}, {"search": SOLVED}, "the subdomain only ('acme' of acme.zendesk.com)"),
        ({"endpoint": "http://127.0.0.1:9/api/v2"}, {"search": SOLVED}, "scheme, host and port only"),
        ({"email": "ops"}, {"search": SOLVED}, "the email address of the Zendesk agent or admin"),
        ({}, {"search": SOLVED, "satisfaction": {}}, "give either search:"),
        ({}, {}, "give either search:"),
        ({}, {"satisfaction": {}, "aggregate": "count"}, "leave out aggregate"),
        ({}, {"satisfaction": {"start": "2026-13-45"}}, "month must be in 1..12"),
        ({}, {"satisfaction": {"score": "offered"}}, "score: 'offered' is not one of good, bad"),
    ],
)
def test_the_config_refuses_what_zendesk_cannot_answer(write_config, monkeypatch, connection, metric, words):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"m": metric}, **connection)
    assert words in str(info.value)
