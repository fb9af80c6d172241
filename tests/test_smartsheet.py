"""The smartsheet source: the contract suite and end-to-end reads against the Smartsheet emulator (every request
checked against tests/vendor_specs/smartsheet.json), plus respx for Smartsheet's own answers (429 errorCode
4003, the error bodies, regions, pacing). Expected figures are worked out by hand in each test."""

import json

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.smartsheet import SmartsheetEmulator
from tests.helpers import oslo

TOKEN = "ssTokenCanary0123456789abcdef"
DAY = oslo(2026, 11, 16)
SHEET = 4583173393803140
COLUMNS = [("Task", "TEXT_NUMBER"), ("Status", "PICKLIST"), ("Revenue", "TEXT_NUMBER"), ("Share", "TEXT_NUMBER")]


def kpis(emulator: SmartsheetEmulator) -> None:
    """Five rows (task, status, revenue): a Done 100, b Open 50.5, c Done (empty), d Open 20, e Done 30."""
    emulator.add_sheet(SHEET, "KPIs", COLUMNS)
    for task, status, revenue in [("a", "Done", 100), ("b", "Open", 50.5), ("c", "Done", None), ("d", "Open", 20)]:
        emulator.add_row(SHEET, Task=task, Status=status, Revenue=revenue)
    emulator.add_row(SHEET, Task="e", Status="Done", Revenue=30, Share=0.5)  # a 50 % cell holds 0.5


def smartsheet_emulator() -> SmartsheetEmulator:
    emulator = SmartsheetEmulator(TOKEN)
    kpis(emulator)
    return emulator


def smartsheet_case(emulator, tmp_path) -> ContractCase:
    return ContractCase(
        connection={"type": "smartsheet", "token": "${SMARTSHEET_TOKEN}", "endpoint": emulator.url},
        metrics={
            "cell": {"sheet": SHEET, "column": "Revenue", "row": 2},
            "total": {"sheet": SHEET, "column": "Revenue", "aggregate": "sum"},
            "done_revenue": {"sheet": SHEET, "column": "Revenue", "aggregate": "sum", "where": done()},
            "done_tasks": {"sheet": SHEET, "column": "Task", "aggregate": "count", "where": done()},
            "average": {"sheet": SHEET, "column": "Revenue", "aggregate": "avg"},
            "share": {"sheet": SHEET, "column": "Share", "row": 5},
        },
        # row 2: 50.5; 100 + 50.5 + 20 + 30 = 200.5; Done: 100 + 30 = 130, tasks a, c, e = 3; 200.5 / 4 = 50.125
        expected={
            "cell": 50.5,
            "total": 200.5,
            "done_revenue": 130.0,
            "done_tasks": 3.0,
            "average": 50.125,
            "share": 0.5,
        },
        env={"SMARTSHEET_TOKEN": TOKEN},
        broken={"sheet": 999, "column": "Revenue", "row": 1},
        rejected_env={"SMARTSHEET_TOKEN": "ssTokenWrong9876543210fedcba"},
    )


def done() -> dict:
    return {"column": "Status", "equals": "Done"}


TestSmartsheetContract = source_contract("smartsheet", smartsheet_case, emulator=smartsheet_emulator)


@pytest.fixture
def ss():
    server = smartsheet_emulator().start()
    try:
        yield server
    finally:
        server.stop()


def config(write_config, monkeypatch, metrics: dict[str, dict], **connection):
    monkeypatch.setenv("SMARTSHEET_TOKEN", TOKEN)
    conn = {"type": "smartsheet", "token": "${SMARTSHEET_TOKEN}", "endpoint": "https://ss.test", **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'ss', **keys})}" for m, keys in metrics.items())
    kpi = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: -1e9}}}}" for m in metrics)
    return load_config(write_config(f"connections:\n  ss: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpi}]\n"))


def values(cfg) -> dict:
    got = fetch_connection(plan(cfg, DAY), "ss")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def test_2345_rows_are_read_1000_a_page_with_two_columns_only(write_config, monkeypatch):
    server = SmartsheetEmulator(TOKEN).start()
    try:
        server.add_sheet(7, "Big", [("Name", "TEXT_NUMBER"), ("Points", "TEXT_NUMBER"), ("Team", "PICKLIST")])
        for i in range(1, 2346):
            server.add_row(7, Name=f"r{i}", Points=i, Team="A" if i % 3 == 0 else "B")
        metrics = {
            "points": {"sheet": 7, "column": "Points", "aggregate": "sum"},
            "team_a": {"sheet": 7, "column": "Points", "aggregate": "max", "where": {"column": "Team", "equals": "A"}},
        }
        # 1 + 2 + ... + 2345 = 2345 x 2346 / 2 = 2,750,685; the largest multiple of 3 up to 2345 is 2343
        assert values(config(write_config, monkeypatch, metrics, endpoint=server.url)) == {
            "points": 2750685.0,
            "team_a": 2343.0,
        }
        sent = server.requests("GET", r"/2\.0/sheets/7")
        # each metric: one row to learn the columns and the total, then pages 1, 2, 3 of 1000 (2345 rows)
        assert (
            len(sent) == 8 and sorted(r.query.get("page", ["?"])[0] for r in sent) == ["1"] * 4 + ["2"] * 2 + ["3"] * 2
        )
        points, team = server.column_id(7, "Points"), server.column_id(7, "Team")
        asked = {r.query["columnIds"][0] for r in sent if "columnIds" in r.query}
        assert asked == {str(points), f"{points},{team}"}
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in sent)
    finally:
        server.stop()


def test_exactly_two_pages_never_asks_for_a_third(write_config, monkeypatch):
    """A page past the last returns the last one again (getSheet's page parameter): pages come from the total."""
    server = SmartsheetEmulator(TOKEN).start()
    try:
        server.add_sheet(8, "Even", [("Points", "TEXT_NUMBER")])
        for _ in range(2000):
            server.add_row(8, Points=1)
        got = values(
            config(
                write_config,
                monkeypatch,
                {"n": {"sheet": 8, "column": "Points", "aggregate": "count"}},
                endpoint=server.url,
            )
        )
        assert got == {"n": 2000.0} and len(server.requests()) == 3
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ({"column": "Task", "row": 1}, f"sheet {SHEET}, row 1, column 'Task' holds 'a', not a number"),
        ({"column": "Status", "aggregate": "sum"}, f"sheet {SHEET}, row 1, column 'Status' holds 'Done', not a number"),
        ({"column": "Revenue", "row": 3}, f"sheet {SHEET}, row 3, column 'Revenue' is empty"),
        ({"column": "Revenue", "row": 99}, f"sheet {SHEET} has no row 99 (it has 5 rows)"),
        ({"column": "Revenue", "row_id": 123}, f"sheet {SHEET} has no row with id 123"),
        ({"column": "Profit", "row": 1}, f"sheet {SHEET} has no column 'Profit'; its columns: 'Task', 'Status'"),
        (
            {"column": "Revenue", "aggregate": "min", "where": {"column": "Status", "equals": "Gone"}},
            "in the rows kept",
        ),
    ],
)
def test_what_cannot_be_read_is_named(write_config, monkeypatch, ss, metric, words):
    (message,) = values(config(write_config, monkeypatch, {"m": {"sheet": SHEET, **metric}}, endpoint=ss.url)).values()
    assert isinstance(message, str) and words in message, message


def test_an_unticked_checkbox_equals_false_whether_or_not_it_was_ever_ticked(write_config, monkeypatch):
    """A CHECKBOX cell is true, false once unticked, and holds no value until it is first touched (Smartsheet's
    cell value representation): all but the ticked one are false."""
    server = SmartsheetEmulator(TOKEN).start()
    try:
        server.add_sheet(9, "Launch", [("Task", "TEXT_NUMBER"), ("Shipped", "CHECKBOX")])
        for task, shipped in [("a", True), ("b", False), ("c", None), ("d", True), ("e", None)]:
            server.add_row(9, Task=task, Shipped=shipped)
        metrics = {
            "open": {
                "sheet": 9,
                "column": "Task",
                "aggregate": "count",
                "where": {"column": "Shipped", "equals": False},
            },
            "shipped": {
                "sheet": 9,
                "column": "Task",
                "aggregate": "count",
                "where": {"column": "Shipped", "equals": True},
            },
        }
        # b was unticked, c and e never touched: 3 open; a and d: 2 shipped
        assert values(config(write_config, monkeypatch, metrics, endpoint=server.url)) == {"open": 3.0, "shipped": 2.0}
    finally:
        server.stop()


def test_a_row_by_its_id(write_config, monkeypatch, ss):
    row_id = ss.sheets[SHEET].rows[3]["id"]  # row 4: d, Open, 20
    got = values(
        config(
            write_config, monkeypatch, {"m": {"sheet": SHEET, "column": "Revenue", "row_id": row_id}}, endpoint=ss.url
        )
    )
    assert got == {"m": 20.0} and ss.requests()[0].query["rowIds"] == [str(row_id)]


@pytest.mark.parametrize(
    ("setup", "sheet", "words"),
    [
        (
            lambda s: s.unshared.add(SHEET),
            SHEET,
            f"HTTP 403: the token's user may not view sheet {SHEET} (errorCode 1004",
        ),
        (lambda s: None, 999, "HTTP 404: sheet 999 not found (errorCode 1006: Not Found; refId "),
        (
            lambda s: setattr(s, "token", "other"),
            SHEET,
            "HTTP 401: Smartsheet did not accept the access token of connection 'ss'",
        ),
    ],
)
def test_refusals_name_the_sheet_and_the_fix_and_are_not_retried(
    write_config, monkeypatch, ss, waits, setup, sheet, words
):
    setup(ss)
    (message,) = values(
        config(write_config, monkeypatch, {"m": {"sheet": sheet, "column": "Revenue", "row": 1}}, endpoint=ss.url)
    ).values()
    assert words in message and TOKEN not in message, message
    assert len(ss.requests()) == 1 and waits == []


def test_the_connection_check_reads_each_sheet(write_config, monkeypatch, ss):
    cfg = config(write_config, monkeypatch, {"m": {"sheet": SHEET, "column": "Revenue", "row": 1}}, endpoint=ss.url)
    assert check_connection(cfg, "ss") == "token accepted; sheets readable (last: 'KPIs')"
    assert ss.requests()[0].query == {"pageSize": ["1"], "page": ["1"]}


def test_the_emulator_limits_requests_to_300_a_minute_with_4003():
    now = [0.0]
    server = SmartsheetEmulator(TOKEN, per_minute=2, clock=lambda: now[0]).start()
    try:
        kpis(server)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            codes = [client.get(f"/2.0/sheets/{SHEET}").status_code for _ in range(3)]
            limited = client.get(f"/2.0/sheets/{SHEET}").json()
            now[0] += 60
            assert codes == [200, 200, 429] and client.get(f"/2.0/sheets/{SHEET}").status_code == 200
            assert limited["errorCode"] == 4003 and limited["message"] == "Rate limit exceeded." and limited["refId"]
            past = client.get(f"/2.0/sheets/{SHEET}", params={"pageSize": 2, "page": 9}).json()
            assert [r["rowNumber"] for r in past["rows"]] == [5]  # past the last page: the last page
    finally:
        server.stop()


# -- Smartsheet's own answers, through respx ----------------------------------------------------------


def sheet_answer(rows: list[tuple[int, object]], total: int | None = None) -> dict:
    columns = [{"id": 11, "index": 0, "title": "Revenue", "type": "TEXT_NUMBER", "primary": True}]
    shown = [{"id": 900 + n, "rowNumber": n, "cells": [{"columnId": 11, "value": v}]} for n, v in rows]
    return {
        "id": SHEET,
        "name": "KPIs",
        "totalRowCount": len(rows) if total is None else total,
        "columns": columns,
        "rows": shown,
    }


@respx.mock
def test_a_429_4003_waits_for_retry_after_then_reads(write_config, monkeypatch, waits):
    limited = httpx.Response(
        429, json={"errorCode": 4003, "message": "Rate limit exceeded.", "refId": "r1"}, headers={"Retry-After": "7"}
    )
    route = respx.get(f"https://ss.test/2.0/sheets/{SHEET}").mock(
        side_effect=[limited, httpx.Response(200, json=sheet_answer([(1, 12.5)]))]
    )
    assert values(config(write_config, monkeypatch, {"m": {"sheet": SHEET, "column": "Revenue", "row": 1}})) == {
        "m": 12.5
    }
    assert route.call_count == 2 and any(7 <= w <= 7.2 for w in waits)


@respx.mock
def test_a_429_storm_ends_in_a_message_with_the_error_code(write_config, monkeypatch, waits):
    limited = httpx.Response(429, json={"errorCode": 4003, "message": "Rate limit exceeded.", "refId": "r1"})
    respx.get(f"https://ss.test/2.0/sheets/{SHEET}").mock(return_value=limited)
    (message,) = values(
        config(write_config, monkeypatch, {"m": {"sheet": SHEET, "column": "Revenue", "row": 1}})
    ).values()
    assert "Smartsheet rate limit (errorCode 4003: Rate limit exceeded.)" in message and len(waits) >= 4


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "api.smartsheet.com"),
        ("eu", "api.smartsheet.eu"),
        ("au", "api.smartsheet.au"),
        ("gov", "api.smartsheetgov.com"),
    ],
)
@respx.mock
def test_the_region_picks_the_host(write_config, monkeypatch, region, host):
    route = respx.get(f"https://{host}/2.0/sheets/{SHEET}").respond(200, json=sheet_answer([(1, 3)]))
    monkeypatch.setenv("SMARTSHEET_TOKEN", TOKEN)
    path = write_config(
        f"connections:\n  ss: {{type: smartsheet, token: '${{SMARTSHEET_TOKEN}}', region: {region}}}\n"
        f"metrics:\n  m: {{connection: ss, sheet: {SHEET}, column: Revenue, row: 1}}\n"
        "kpis: [{id: m, metric: m, healthy: {min: 0}}]\n"
    )
    assert values(load_config(path)) == {"m": 3.0} and route.call_count == 1
    assert route.calls.last.request.url.params["rowNumbers"] == "1"


@respx.mock
def test_pacing_keeps_300_requests_a_minute(write_config, monkeypatch, waits, still_clock):
    respx.get(f"https://ss.test/2.0/sheets/{SHEET}").respond(200, json=sheet_answer([(1, 1)]))
    metrics = {f"m{i}": {"sheet": SHEET, "column": "Revenue", "row": 1} for i in range(302)}
    got = values(config(write_config, monkeypatch, metrics, max_concurrency=1))
    # 300 a minute: a burst of 300, then the 301st and 302nd wait for the window to move on
    assert set(got.values()) == {1.0} and [round(w) for w in waits] == [60, 60]


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ("column: Revenue", "give row: (one cell) or aggregate:"),
        ("column: Revenue, row: 1, aggregate: sum", "row: and row_id: name one cell"),
        ("column: Revenue, row: 1, row_id: 5", "give row: (a row number) or row_id:, not both"),
        ("column: Revenue, aggregate: latest", "supports sum, avg, count, min or max only"),
        ("column: Revenue, row: 0", "metrics.m.row"),
    ],
)
def test_metric_keys_are_checked_when_the_config_loads(write_config, monkeypatch, keys, words):
    monkeypatch.setenv("SMARTSHEET_TOKEN", TOKEN)
    path = write_config(
        "connections:\n  ss: {type: smartsheet, token: '${SMARTSHEET_TOKEN}', region: eu}\n"
        f"metrics:\n  m: {{connection: ss, sheet: {SHEET}, {keys}}}\n"
        "kpis: [{id: m, metric: m, healthy: {min: 0}}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value), info.value


def test_endpoint_takes_scheme_host_and_port_only(write_config, monkeypatch):
    with pytest.raises(ConfigError) as info:
        config(
            write_config, monkeypatch, {"m": {"sheet": SHEET, "column": "A", "row": 1}}, endpoint="https://ss.test/2.0"
        )
    (problem,) = [p for p in info.value.problems if p.path == "connections.ss.endpoint"]
    assert "scheme, host and port only (not the path /2.0): okrsync adds /2.0 itself" in problem.message
