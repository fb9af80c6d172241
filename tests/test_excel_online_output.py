"""The excel_online output end to end: the real config loader and sync against the Graph emulator
(tests/emulators/excel_online.py: every request checked against Microsoft's description) signed in through
the Entra ID emulator over HTTPS. Expected cells are worked out by hand from each config."""

import json
from datetime import timedelta

import pytest

from okrsync.config.load import load_config
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.emulators.excel_online import ExcelOnlineEmulator, Workbook
from tests.helpers import XL_SECRET as SECRET
from tests.helpers import XL_TENANT as TENANT
from tests.helpers import oslo

DAY = oslo(2026, 11, 16, 12)
URL = "https://contoso.sharepoint.com/:x:/s/okr/EaBcD123?e=Xy9"
DRIVE, ITEM = "b!drive-1", "01ITEMXLSX"
TAB = "OKR status"
PATCH = r"/workbook/worksheets/OKR%20status/range"
HEADER_ROW = ["Objective", "Key result", "Owner", "Start", "Current", "Target", "Progress", "Expected"]
HEADER_ROW += ["Status", "Forecast", "Last updated", "Stale / error", "Chance of target", "Note", "Confidence"]


@pytest.fixture
def entra(graph_entra):
    return graph_entra


@pytest.fixture
def xl(entra):
    server = ExcelOnlineEmulator().start()
    server.bearers = entra.issued.access
    server.add(DRIVE, ITEM, Workbook("okr.xlsx", {"Sheet1": {}}), url=URL)
    try:
        yield server
    finally:
        server.stop()


def config(write_config, entra, xl, krs: dict[str, tuple[str, float]], workbook: str = f'workbook: "{URL}"'):
    """One objective; each KR ``id: (title, value)`` on a formula metric, start 0, target 100."""
    conn = {"type": "excel_online", "tenant_id": TENANT, "client_id": "app-1", "client_secret": "${XL_SECRET}"}
    conn |= {"authority": entra.url, "endpoint": xl.url}
    metrics = "\n".join(f"  {k}: {{formula: '{v}'}}" for k, (_, v) in krs.items())
    rows = [{"id": k, "title": t, "metric": k, "start": 0, "target": 100} for k, (t, _) in krs.items()]
    lines = "\n".join(f"      - {json.dumps(r)}" for r in rows)
    body = f"connections:\n  xl: {json.dumps(conn)}\nmetrics:\n{metrics}\n"
    body += f"objectives:\n  - id: o\n    title: Grow\n    owner: ana@acme.example\n    key_results:\n{lines}\n"
    body += f"outputs:\n  - {{type: excel_online, connection: xl, {workbook}, worksheet: {TAB}}}\n"
    return load_config(write_config(body))


def cells(xl) -> list[list]:
    return xl.written(DRIVE, ITEM, TAB)


KRS = {"signups": ("Signups to 100", 100), "churn": ("Churn down", 25), "nps": ("NPS up", 50)}


def test_the_table_arrives_with_the_status_cells(write_config, entra, xl):
    cfg = config(write_config, entra, xl, KRS)
    result = sync(cfg, DAY, now=DAY)
    assert result.exit_code == 0, result.output_errors
    assert len(xl.applied("POST", "/worksheets/add$")) == 1  # the tab did not exist
    table = cells(xl)
    assert table[0] == HEADER_ROW
    # by hand: start 0, target 100, current = the formula's value, progress = current / 100; expected =
    # 46.5 of the cycle's 92 days (Oct 1 to Dec 31, noon Nov 16) = 50.5% -> "51%"; against it 25% is
    # off track and 50% on track (okrsync.okr's thresholds); one observation: no forecast, no chance
    seen = ["51%"]
    tail = ["", "2026-11-16 12:00", "", "", "", ""]  # no forecast, no error, no chance, no note, no confidence
    owner = "ana@acme.example"
    assert table[1:] == [
        ["Grow", "Signups to 100", owner, "0", "100", "100", "100%", *seen, "done", *tail],
        ["Grow", "Churn down", owner, "0", "25", "100", "25%", *seen, "off track", *tail],
        ["Grow", "NPS up", owner, "0", "50", "100", "50%", *seen, "on track", *tail],
    ]


def test_a_second_identical_run_sends_no_write_and_a_change_sends_one(write_config, entra, xl):
    cfg = config(write_config, entra, xl, KRS)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)
    assert len(xl.applied("PATCH", PATCH)) == 1
    again = sync(cfg, DAY, now=DAY, store=store)
    assert len(xl.applied("PATCH", PATCH)) == 1 and "excel_online: OKR status unchanged" in again.writes
    changed = config(write_config, entra, xl, KRS | {"nps": ("NPS up", 60)})
    sync(changed, DAY + timedelta(hours=1), now=DAY + timedelta(hours=1), store=store)
    assert len(xl.applied("PATCH", PATCH)) == 2 and len(xl.applied("POST", "/worksheets/add$")) == 1
    assert cells(xl)[3][4] == "60"
    store.close()


def test_a_shrinking_table_clears_the_rows_below_in_the_same_write(write_config, entra, xl):
    cfg = config(write_config, entra, xl, KRS)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)
    smaller = config(write_config, entra, xl, {"signups": KRS["signups"]})
    sync(smaller, DAY, now=DAY, store=store)
    first, second = xl.applied("PATCH", PATCH)
    assert first.path.endswith("range(address='A1:O4')") and second.path.endswith("range(address='A1:O4')")
    assert second.json()["values"][2:] == [[""] * 15, [""] * 15]  # "" clears a cell; null would keep it
    assert len(cells(xl)) == 2 and cells(xl)[1][1] == "Signups to 100"
    store.close()


def test_titles_that_look_like_formulas_arrive_as_text(write_config, entra, xl):
    link = '=HYPERLINK("http://evil.example","click")'
    cfg = config(write_config, entra, xl, {"a": (link, 10), "b": ("-5 bugs", 5), "c": ("@risk", 1)})
    assert sync(cfg, DAY, now=DAY).exit_code == 0
    (patch,) = xl.applied("PATCH", PATCH)
    assert [r[1] for r in patch.json()["values"][1:]] == ["'" + link, "'-5 bugs", "'@risk"]
    assert [r[1] for r in cells(xl)[1:]] == [link, "-5 bugs", "@risk"]  # text, as shown
    assert xl.books[(DRIVE, ITEM)].formulas == {}


def test_drive_and_item_need_no_share_lookup(write_config, entra, xl):
    cfg = config(write_config, entra, xl, KRS, workbook=f"drive: {json.dumps(DRIVE)}, item: {ITEM}")
    assert sync(cfg, DAY, now=DAY).exit_code == 0
    assert xl.requests("GET", "/shares/") == [] and cells(xl)[0] == HEADER_ROW


def test_an_app_only_refusal_is_the_outputs_error_naming_device_login(write_config, entra, xl):
    xl.app_only = entra.issued.access
    cfg = config(write_config, entra, xl, KRS)
    result = sync(cfg, DAY, now=DAY)
    assert result.exit_code == 1 and result.document.objectives[0].key_results[0].status == "done"
    (err,) = result.output_errors
    assert "excel_online" in err.output and "HTTP 403" in err.message
    assert "login: device" in err.message and "okrsync login xl" in err.message and SECRET not in err.message
    assert xl.applied("PATCH", PATCH) == []
