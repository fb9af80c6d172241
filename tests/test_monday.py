"""The monday source: the contract suite and end-to-end reads against the monday.com emulator (every query checked
against the schema excerpt of tests/vendor_specs/monday.json), plus respx for monday's own answers (complexity
budget, rate limits, errors at HTTP 200, the daily call limit). Expected figures are worked out by hand."""

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
from tests.emulators.monday import MondayEmulator
from tests.helpers import oslo

TOKEN = "mondayTokenCanary0123456789"
DAY = oslo(2026, 11, 16)
URL = "https://monday.test/v2"
# labels by id, in the order the board shows them: a new board's Status as monday's 2025-10 changelog lists its settings
# (Done is id 1 at index 2, Stuck id 2 at index 1): items and filters go by the id, so a source that took the index
# would count the Stuck items as Done
STATUS = {"id": "status", "title": "Status", "type": "status", "labels": {0: "Working on it", 2: "Stuck", 1: "Done"}}
REVENUE = {"id": "numbers_3", "title": "Revenue", "type": "numbers"}
OWNER = {"id": "text_1", "title": "Owner", "type": "text"}


def roadmap(emulator: MondayEmulator) -> None:
    """Board 111: five items (status, revenue): Done 10, Done (no revenue), Stuck 4, Working on it 6, none 2.5."""
    emulator.add_board(111, "Roadmap", [STATUS, REVENUE, OWNER])
    for name, status, revenue in [("a", 1, 10), ("b", 1, None), ("c", 2, 4), ("d", 0, 6), ("e", None, 2.5)]:
        emulator.add_item(111, name, status=status, numbers_3=revenue, text_1="ann")


def monday_emulator() -> MondayEmulator:
    emulator = MondayEmulator(TOKEN)
    roadmap(emulator)
    return emulator


def monday_case(emulator, tmp_path) -> ContractCase:
    return ContractCase(
        connection={"type": "monday", "token": "${MONDAY_TOKEN}", "endpoint": emulator.url},
        metrics={
            "items": {"board": 111},
            "done": {"board": 111, "where": {"column": "Status", "any_of": ["Done"]}},
            "revenue": {"board": 111, "aggregate": "sum", "column": "numbers_3"},
            "open_revenue": {
                "board": 111,
                "aggregate": "avg",
                "column": "Revenue",
                "where": {"column": "status", "any_of": ["Stuck", 0]},
            },
        },
        # 5 items; 2 Done; 10 + 4 + 6 + 2.5 = 22.5; Stuck 4 and Working on it 6: (4 + 6) / 2 = 5
        expected={"items": 5.0, "done": 2.0, "revenue": 22.5, "open_revenue": 5.0},
        env={"MONDAY_TOKEN": TOKEN},
        broken={"board": 999},
        rejected_env={"MONDAY_TOKEN": "mondayTokenWrong9876543210"},
    )


TestMondayContract = source_contract("monday", monday_case, emulator=monday_emulator)


@pytest.fixture
def mon():
    server = monday_emulator().start()
    try:
        yield server
    finally:
        server.stop()


def config(write_config, monkeypatch, metrics: dict[str, dict], endpoint: str = "https://monday.test"):
    monkeypatch.setenv("MONDAY_TOKEN", TOKEN)
    conn = {"type": "monday", "token": "${MONDAY_TOKEN}", "endpoint": endpoint}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'mon', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    return load_config(write_config(f"connections:\n  mon: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n"))


def values(cfg) -> dict:
    got = fetch_connection(plan(cfg, DAY), "mon")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def test_1203_items_are_read_500_a_page_with_the_cursor(write_config, monkeypatch):
    server = MondayEmulator(TOKEN).start()
    try:
        server.add_board(222, "Tickets", [STATUS])
        for i in range(1203):
            server.add_item(222, f"t{i}", status=[0, 1, 2, None][i % 4])
        metrics = {"all": {"board": 222}, "done": {"board": 222, "where": {"column": "status", "any_of": ["Done"]}}}
        got = values(config(write_config, monkeypatch, metrics, server.url))
        # i % 4 == 1 is Done: 1, 5, ..., 1201, (1201 - 1) / 4 + 1 = 301
        assert got == {"all": 1203.0, "done": 301.0}
        bodies = [r.json() for r in server.requests("POST", "/v2")]
        pages = [b for b in bodies if "items_page" in b["query"] or "next_items_page" in b["query"]]
        # all: pages of 500, 500 and 203; done: the status column (its labels), then its 301 items in one page
        assert len(bodies) == 5 and len(pages) == 4
        assert [b["variables"]["limit"] for b in pages] == [500] * 4
        assert sum("next_items_page" in b["query"] for b in pages) == 2
        done = next(b for b in pages if b["variables"].get("params"))
        assert done["variables"]["params"] == {
            "rules": [{"column_id": "status", "compare_value": [1], "operator": "any_of"}]
        }
    finally:
        server.stop()


def test_min_and_max_skip_empty_cells(write_config, monkeypatch, mon):
    metrics = {
        "low": {"board": 111, "aggregate": "min", "column": "Revenue"},
        "high": {"board": 111, "aggregate": "max", "column": "Revenue"},
        "done_sum": {
            "board": 111,
            "aggregate": "sum",
            "column": "Revenue",
            "where": {"column": "Status", "any_of": [1]},
        },
    }
    # revenues 10, -, 4, 6, 2.5: min 2.5, max 10; Done: 10 and an empty cell: 10
    assert values(config(write_config, monkeypatch, metrics, mon.url)) == {"low": 2.5, "high": 10.0, "done_sum": 10.0}


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        (
            {"where": {"column": "Status", "any_of": ["Finished"]}},
            "has no label 'Finished'; its labels: 'Working on it'",
        ),
        (
            {"where": {"column": "Phase", "any_of": ["Done"]}},
            "board 111 has no column 'Phase'; its columns: status (Status)",
        ),
        (
            {"aggregate": "sum", "column": "Owner"},
            "column 'Owner' of board 111 is a text column: sum, avg, min and max",
        ),
        ({"board": 333}, "board 333 not found, or not shared with the token's user"),
        (
            {"aggregate": "avg", "column": "Revenue", "where": {"column": "Owner", "any_of": ["bob"]}},
            "no item of board",
        ),
    ],
)
def test_what_cannot_be_read_is_named(write_config, monkeypatch, mon, metric, words):
    (message,) = values(config(write_config, monkeypatch, {"m": {"board": 111, **metric}}, mon.url)).values()
    assert isinstance(message, str) and words in message, message


def test_a_board_not_shared_with_the_token_user_is_not_found(write_config, monkeypatch, mon):
    mon.shared = set()
    (message,) = values(config(write_config, monkeypatch, {"m": {"board": 111}}, mon.url)).values()
    assert "board 111 not found, or not shared with the token's user" in message


def test_a_token_without_boards_read_is_refused_with_the_fix(write_config, monkeypatch, mon, waits):
    mon.scopes = set()
    (message,) = values(config(write_config, monkeypatch, {"m": {"board": 111}}, mon.url)).values()
    assert "may not read this board (User unauthorized to perform action (UserUnauthorizedException))" in message
    assert "boards:read" in message and TOKEN not in message and waits == []


def test_the_connection_check_names_each_board(write_config, monkeypatch, mon):
    cfg = config(write_config, monkeypatch, {"m": {"board": 111}}, mon.url)
    assert check_connection(cfg, "mon") == "token accepted; board 111 (Roadmap)"


def test_the_emulator_spends_the_complexity_budget_and_the_source_waits(write_config, monkeypatch, waits):
    server = MondayEmulator(TOKEN, budget=3100, clock=lambda: sum(waits)).start()  # time passes as waits do
    try:
        roadmap(server)
        # each count costs 10 + 4 (complexity and its 3 fields) + 1503 (boards, id, and items_page: 1 + 500 x 3 for
        # cursor, items and id) = 1517: two fit in 3100, the third gets COMPLEXITY_BUDGET_EXHAUSTED until the
        # minute is over
        metrics = {f"m{i}": {"board": 111} for i in range(3)}
        got = values(config(write_config, monkeypatch, metrics, server.url))
        assert got == {"m0": 5.0, "m1": 5.0, "m2": 5.0}
        assert len(server.requests()) > 3 and sum(waits) >= 60, waits
    finally:
        server.stop()


def test_the_emulator_refuses_what_the_schema_does_not_have(mon):
    headers = {"Authorization": TOKEN, "API-Version": "2026-10"}
    bad = [  # graphql-core's words
        ("query { boards(ids: [111]) { id colour } }", None, "Cannot query field 'colour' on type 'Board'"),
        ("query { boards(ids: [111], sort: name) { id } }", None, "Unknown argument 'sort' on field 'Query.boards'"),
        ("query { boards { items_page { cursor } } }", None, ""),  # valid: limit has a default of 25
        ("query { next_items_page(limit: 5) { cursor } }", None, "argument 'cursor' of type 'String!' is required"),
        ("query ($b: [ID!]) { boards(ids: $c) { id } }", None, "Variable '$c' is not defined"),
        ("query { boards(ids: [111]) { columns } }", None, "must have a selection of subfields"),
        ("query { boards(ids: [111]) { id } ", None, "Syntax Error: Expected Name, found <EOF>"),
        ("query ($s: State) { boards(state: $s) { id } }", {"s": "gone"}, "Value 'gone' does not exist in 'State'"),
    ]
    with httpx.Client(base_url=mon.url, headers=headers) as client:
        for query, variables, words in bad:
            answer = client.post("/v2", json={"query": query, "variables": variables})
            body = answer.json()
            said = " ".join(e["message"] for e in body.get("errors") or [])
            assert answer.status_code == 200 and ((words in said) if words else "errors" not in body), (query, body)
        expired = client.post(
            "/v2", json={"query": "query { boards(ids: [111]) { items_page(limit: 501) { cursor } } }"}
        ).json()
        assert "limit must be between 1 and 500" in expired["errors"][0]["message"]
        assert (
            client.post("/v2", json={"query": "{ complexity { query } }"}, headers={"Authorization": "x"}).status_code
            == 401
        )
    problems = " ".join(vendor_spec.PROBLEMS)
    assert all(words in problems for _, _, words in bad), vendor_spec.PROBLEMS  # each refusal fails its test
    assert "limit must be between" not in problems  # an answer from the data, not a schema refusal
    vendor_spec.PROBLEMS.clear()


def test_the_emulator_expires_cursors_after_60_minutes():
    now = [0.0]
    server = MondayEmulator(TOKEN, clock=lambda: now[0]).start()
    try:
        server.add_board(1, "b", [STATUS])
        for i in range(3):
            server.add_item(1, f"i{i}")
        with httpx.Client(base_url=server.url, headers={"Authorization": TOKEN}) as client:
            first = client.post("/v2", json={"query": "{ boards(ids: [1]) { items_page(limit: 2) { cursor } } }"})
            cursor = first.json()["data"]["boards"][0]["items_page"]["cursor"]
            now[0] += 3601
            query = "query ($c: String!) { next_items_page(cursor: $c, limit: 2) { cursor items { id } } }"
            late = client.post("/v2", json={"query": query, "variables": {"c": cursor}}).json()
        assert late["errors"][0]["extensions"]["code"] == "CursorExpiredError"
    finally:
        server.stop()


# -- monday's own answers, through respx ----------------------------------------------------------


def page(items: int, cursor: str | None = None, complexity: dict | None = None) -> dict:
    spent = complexity or {"query": 1000, "after": 9_000_000, "reset_in_x_seconds": 30}
    data = {
        "complexity": spent,
        "boards": [{"id": "111", "items_page": {"cursor": cursor, "items": [{"id": str(i)} for i in range(items)]}}],
    }
    return {"data": data, "account_id": 1}


@respx.mock
def test_request_shape(write_config, monkeypatch):
    route = respx.post(URL).respond(200, json=page(3))
    assert values(config(write_config, monkeypatch, {"m": {"board": 111}})) == {"m": 3.0}
    sent = route.calls.last.request
    assert sent.headers["authorization"] == TOKEN and sent.headers["api-version"] == "2026-10"
    body = json.loads(sent.content)
    assert body["variables"] == {"board": ["111"], "limit": 500, "params": None}
    assert "items_page(limit: $limit, query_params: $params)" in body["query"] and "complexity" in body["query"]


def gql_error(
    status: int, message: str, code: str | None = None, retry: int | None = None, **headers
) -> httpx.Response:
    extensions = {"code": code} if code else {}
    if retry is not None:
        extensions["retry_in_seconds"] = retry
    return httpx.Response(status, json={"errors": [{"message": message, "extensions": extensions}]}, headers=headers)


LEGACY = "Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds"
COMPLEXITY_2024 = {"error_code": "ComplexityException", "status_code": 429, "error_message": LEGACY, "errors": [LEGACY]}


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        # 2025-07 and later: the budget error names retry_in_seconds, at HTTP 429
        (gql_error(429, "Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED", 17), 17),
        # the older ComplexityException at HTTP 200, its wait only in the text
        (httpx.Response(200, json=COMPLEXITY_2024), 3),
        # the per-minute limit, its wait in Retry-After
        (gql_error(429, "Rate Limit Exceeded", "RATE_LIMIT_EXCEEDED", **{"Retry-After": "9"}), 9),
        (gql_error(429, "Concurrency limit exceeded", "maxConcurrencyExceeded", 2), 2),
    ],
)
@respx.mock
def test_slow_down_answers_wait_what_monday_says_then_read(write_config, monkeypatch, waits, answer, wait):
    route = respx.post(URL).mock(side_effect=[answer, httpx.Response(200, json=page(4))])
    assert values(config(write_config, monkeypatch, {"m": {"board": 111}})) == {"m": 4.0}
    assert route.call_count == 2 and any(wait <= w <= wait + 0.2 for w in waits), waits


@respx.mock
def test_too_little_budget_left_holds_the_next_page_until_the_reset(write_config, monkeypatch, waits):
    low = page(500, "c1", {"query": 1100, "after": 700, "reset_in_x_seconds": 42})  # 700 left < 1100 a page
    respx.post(URL).mock(side_effect=[httpx.Response(200, json=low), httpx.Response(200, json=page(20))])
    assert values(config(write_config, monkeypatch, {"m": {"board": 111}})) == {"m": 520.0}
    assert any(41.5 <= w <= 42.2 for w in waits), waits


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (gql_error(401, "Not Authenticated"), "monday.com did not accept the API token of connection 'mon'"),
        (
            gql_error(200, "User unauthorized to perform action", "UserUnauthorizedException"),
            "share the board with the token's user",
        ),
        (
            gql_error(200, "Photo unavailable.", "ASSET_UNAVAILABLE"),  # partial data and an error: no value
            "monday.com refused the query: Photo unavailable. (ASSET_UNAVAILABLE)",
        ),
        (gql_error(400, 'Parse error on ")" (RPAREN) at [1, 15]'), 'refused the query: Parse error on ")"'),
    ],
)
@respx.mock
def test_refusals_are_plain_messages_and_not_retried(write_config, monkeypatch, waits, answer, words):
    route = respx.post(URL).mock(return_value=answer)
    (message,) = values(config(write_config, monkeypatch, {"m": {"board": 111}})).values()
    assert words in message and TOKEN not in message, message
    assert route.call_count == 1 and waits == []


@respx.mock
def test_the_daily_call_limit_stops_the_connection_for_the_run(write_config, monkeypatch, waits):
    route = respx.post(URL).mock(return_value=gql_error(429, "Daily limit exceeded", "DAILY_LIMIT_EXCEEDED"))
    got = values(config(write_config, monkeypatch, {"a": {"board": 111}, "b": {"board": 112}}))
    assert all("daily call limit of the account is used up" in m for m in got.values()), got
    assert route.call_count == 1 and waits == []  # the second metric is not even sent


@respx.mock
def test_a_cursor_given_twice_stops_instead_of_looping(write_config, monkeypatch):
    again = {"data": {"complexity": None, "next_items_page": {"cursor": "same", "items": [{"id": "1"}]}}}
    respx.post(URL).mock(side_effect=[httpx.Response(200, json=page(500, "same")), httpx.Response(200, json=again)])
    (message,) = values(config(write_config, monkeypatch, {"m": {"board": 111}})).values()
    assert "same page cursor twice" in message


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ("aggregate: sum", "aggregate sum needs column:"),
        ("column: numbers_3", "column: is for sum, avg, min and max"),
        ("aggregate: latest, column: numbers_3", "supports count, sum, avg, min or max only"),
        ("where: {column: status}", "metrics.m.where.any_of"),
    ],
)
def test_metric_keys_are_checked_when_the_config_loads(write_config, monkeypatch, keys, words):
    monkeypatch.setenv("MONDAY_TOKEN", TOKEN)
    path = write_config(
        "connections:\n  mon: {type: monday, token: '${MONDAY_TOKEN}'}\n"
        f"metrics:\n  m: {{connection: mon, board: 111, {keys}}}\nkpis: [{{id: m, metric: m, healthy: {{min: 0}}}}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value), info.value


def test_endpoint_takes_scheme_host_and_port_only(write_config, monkeypatch):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"m": {"board": 111}}, endpoint="https://monday.test/v2")
    (problem,) = [p for p in info.value.problems if p.path == "connections.mon.endpoint"]
    assert "scheme, host and port only (not the path /v2): okrsync adds /v2 itself" in problem.message
