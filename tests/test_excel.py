"""The excel source (connectors/excel): workbooks made here with openpyxl, every expected figure worked out by hand.

openpyxl cannot calculate, so a workbook "saved by Excel" is made by editing what openpyxl wrote: the formula's
stored value written into the sheet's XML by hand, and the workbook's fullCalcOnLoad flag (openpyxl sets it,
Excel clears it once it has calculated) taken out.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.helpers import oslo

AS_OF = oslo(2026, 11, 16)  # the cycle is 2026-10-01 .. 2026-12-31, Europe/Oslo


def workbook(path: Path, sheets: dict[str, list[list]], calculated: bool = True, stored: dict | None = None) -> Path:
    """An .xlsx with these sheets (rows from A1). ``calculated``: as Excel saves it (no fullCalcOnLoad);
    ``stored``: {(sheet number from 1, "B5"): "83.32"} the values Excel stored for those formula cells."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    rewrite(path, calculated, stored or {})
    return path


def rewrite(path: Path, calculated: bool, stored: dict) -> None:
    parts = {}
    with zipfile.ZipFile(path) as zin:
        for name in zin.namelist():
            parts[name] = zin.read(name).decode()
    if calculated:
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(' fullCalcOnLoad="1"', "")
    for (sheet, ref), value in stored.items():
        name = f"xl/worksheets/sheet{sheet}.xml"
        kind = ' t="str"' if not re.fullmatch(r"-?[0-9.]+", value) else ""
        cell = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/>')
        parts[name], found = cell.subn(rf'<c r="{ref}"\1{kind}><f>\2</f><v>{value}</v>', parts[name])
        assert found == 1, (ref, parts[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, text in parts.items():
            zout.writestr(name, text)


def fetch(tmp_path: Path, metrics: dict[str, dict], as_of: datetime = AS_OF) -> dict[str, float | str]:
    """Each metric's value, or its error's message, through the config loader, the plan and the source."""
    config = {
        "version": 1,
        "cycle": {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"},
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "connections": {"books": {"type": "excel", "root": "data"}},
        "metrics": {m: {"connection": "books", "path": "kpis.xlsx", **keys} for m, keys in metrics.items()},
        "kpis": [{"id": m, "metric": m, "healthy": {"min": -1e18}} for m in metrics],
    }
    path = tmp_path / "okrsync.yaml"
    path.write_text(json.dumps(config))
    got = fetch_connection(compile_plan(load_config(path), as_of), "books")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


LOG = [  # date, signups, region: September is last quarter's, Nov 17 is after the as-of day
    ["date", "signups", "region"],
    [date(2026, 9, 30), 300, "eu"],
    [date(2026, 10, 1), 1, "eu"],
    ["2026-10-15", 40, "us"],  # ISO text
    [datetime(2026, 11, 16, 23, 30), 59, "eu"],  # late on the as-of day: counts
    [date(2026, 11, 17), 1000, "eu"],
]


def excel_case(_, tmp_path: Path) -> ContractCase:
    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [["CSAT", 82.5], ["NPS", 41]], "Log": LOG})
    return ContractCase(
        connection={"type": "excel", "root": "data"},
        metrics={
            "csat": {"path": "kpis.xlsx", "sheet": "KPIs", "range": "B1"},
            "both": {"path": "kpis.xlsx", "sheet": "KPIs", "range": "B1:B2", "aggregate": "sum"},
            "latest": {"path": "kpis.xlsx", "sheet": "Log", "column": "signups", "date_column": "date"},
            "total": {
                "path": "kpis.xlsx",
                "sheet": "Log",
                "column": "signups",
                "date_column": "date",
                "aggregate": "sum",
            },
        },
        # 82.5 + 41 = 123.5; latest row up to Nov 16 is 59; Oct 1 + Oct 15 + Nov 16 = 1 + 40 + 59 = 100
        expected={"csat": 82.5, "both": 123.5, "latest": 59.0, "total": 100.0},
        broken={"path": "kpis.xlsx", "sheet": "Gone", "range": "B1"},
    )


TestExcelContract = source_contract("excel", excel_case, credentials=False)


def test_a_cell_a_percentage_and_a_range_with_each_aggregate(tmp_path):
    pct = openpyxl.Workbook()
    ws = pct.active
    ws.title = "KPIs"
    for row in [["CSAT", 82.5], ["Share", 0.82], ["Deals", 3], ["Deals", None], ["Deals", 7], ["Won?", True]]:
        ws.append(row)
    ws["B2"].number_format = "0%"  # shown as 82%
    (tmp_path / "data").mkdir()
    pct.save(tmp_path / "data" / "kpis.xlsx")
    rewrite(tmp_path / "data" / "kpis.xlsx", calculated=True, stored={})
    got = fetch(
        tmp_path,
        {
            "cell": {"sheet": "KPIs", "range": "B1"},
            "share": {"sheet": "KPIs", "range": "$B$2"},
            "sum": {"sheet": "KPIs", "range": "B3:B5", "aggregate": "sum"},
            "avg": {"sheet": "KPIs", "range": "B3:B5", "aggregate": "avg"},
            "min": {"sheet": "KPIs", "range": "B3:B5", "aggregate": "min"},
            "max": {"sheet": "KPIs", "range": "B3:B5", "aggregate": "max"},
            "count": {"sheet": "KPIs", "range": "A1:B5", "aggregate": "count"},
            "latest": {"sheet": "KPIs", "range": "B3:B5", "aggregate": "latest"},
            "done": {"sheet": "KPIs", "range": "B6"},
            "empty": {"sheet": "KPIs", "range": "B4"},
        },
    )
    assert got == {
        "cell": 82.5,
        "share": 0.82,  # the stored fraction, as Excel Online reports it, not the 82 shown
        "sum": 10.0,  # 3 + 7: the empty B4 is skipped
        "avg": 5.0,  # (3 + 7) / 2
        "min": 3.0,
        "max": 7.0,
        "count": 9.0,  # A1:B5 holds 10 cells, B4 is empty
        "latest": 7.0,
        "done": 1.0,  # TRUE
        "empty": "kpis.xlsx!KPIs!B4: the cell is empty",
    }


def test_a_text_cell_where_a_number_is_expected_names_file_sheet_and_cell(tmp_path):
    rows = [["week", "score"], [1, 80], [2, 81]] + [[n, 82] for n in range(3, 6)] + [[6, "n/a"], [7, "1,234"]]
    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": rows, "Q4 plan": [[1], ["x"]]})
    got = fetch(
        tmp_path,
        {
            "range": {"sheet": "KPIs", "range": "B2:B8", "aggregate": "sum"},
            "cell": {"sheet": "KPIs", "range": "B8"},
            "column": {"sheet": "KPIs", "column": "score", "aggregate": "max"},
            "counted": {"sheet": "KPIs", "range": "B2:B8", "aggregate": "count"},
            "quoted": {"sheet": "Q4 plan", "range": "A1:A2", "aggregate": "sum"},
        },
    )
    assert got["range"] == "kpis.xlsx!KPIs!B7: 'n/a' is text, not a number"
    assert got["column"] == "kpis.xlsx!KPIs!B7: 'n/a' is text, not a number"
    assert got["cell"].startswith("kpis.xlsx!KPIs!B8: '1,234' is text, not a number (a number stored as text")
    assert got["counted"] == 7.0  # count counts the non-empty cells, text too (as the Sheets source does)
    assert got["quoted"] == "kpis.xlsx!'Q4 plan'!A2: 'x' is text, not a number"


def test_stored_formula_values_are_read_and_a_formula_never_calculated_is_named(tmp_path):
    sheets = {"KPIs": [[10, 20, "=A1+B1", "=A1*0", '=IF(A1>50,1,"")'], ["=A1/0"]]}
    stored = {(1, "C1"): "30", (1, "E1"): ""}  # D1 was never calculated; E1's result is "" (an empty text)
    workbook(tmp_path / "data" / "kpis.xlsx", sheets, stored=stored)
    got = fetch(
        tmp_path,
        {
            "sum": {"sheet": "KPIs", "range": "C1"},
            "never": {"sheet": "KPIs", "range": "D1"},
            "range": {"sheet": "KPIs", "range": "A1:E1", "aggregate": "sum"},
            "blank": {"sheet": "KPIs", "range": "E1:E2", "aggregate": "count"},
            "below": {"sheet": "KPIs", "range": "A1:A2", "aggregate": "max"},
        },
    )
    assert got["sum"] == 30.0
    message = "kpis.xlsx!KPIs!D1 holds a formula whose value was never saved"
    assert got["never"].startswith(message) and got["never"].endswith("open the file in Excel and save it")
    assert got["range"].startswith(message)  # not 10 + 20 + 30 = 60 with D1 left out
    assert got["blank"] == 0.0  # E1 stored "" (an empty text, not a missing value); E2 is empty
    assert got["below"] == "kpis.xlsx!KPIs!A2 holds a formula whose value was never saved (the file was written " + (
        "by a program that does not calculate formulas): open the file in Excel and save it"
    )


def test_a_workbook_that_asks_to_be_recalculated_has_no_formula_results_to_read(tmp_path):
    # xlsxwriter-style: the stored 0 is a placeholder, and fullCalcOnLoad says so
    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [[10, "=A1*2"]]}, calculated=False, stored={(1, "B1"): "0"})
    got = fetch(tmp_path, {"typed": {"sheet": "KPIs", "range": "A1"}, "formula": {"sheet": "KPIs", "range": "B1"}})
    assert got["typed"] == 10.0  # a typed value is real
    assert got["formula"].startswith("kpis.xlsx!KPIs!B1 holds a formula whose value was never saved (the workbook ")
    assert "open the file in Excel and save it" in got["formula"]


def test_a_column_reads_the_cycles_rows_up_to_the_as_of_day(tmp_path):
    workbook(tmp_path / "data" / "kpis.xlsx", {"Log": LOG})
    keys = {"sheet": "Log", "column": "signups", "date_column": "date"}
    got = fetch(
        tmp_path,
        {
            "sum": {**keys, "aggregate": "sum"},
            "all": {**keys, "aggregate": "sum", "window": "all"},
            "count_eu": {**keys, "aggregate": "count", "where": {"region": "eu"}},
            "avg": {**keys, "aggregate": "avg"},
        },
    )
    assert got == {
        "sum": 100.0,  # Oct 1 + Oct 15 + Nov 16 = 1 + 40 + 59; Sep 30 is last quarter's, Nov 17 is later
        "all": 400.0,  # 300 + 1 + 40 + 59: a running total, still not Nov 17
        "count_eu": 2.0,  # Oct 1 and Nov 16 (Sep 30 is outside the cycle, Nov 17 after the day)
        "avg": 100.0 / 3,
    }


def test_as_of_a_day_the_row_dated_that_day_counts_and_latest_reports_its_date(tmp_path):
    workbook(tmp_path / "data" / "kpis.xlsx", {"Log": LOG})
    latest = {"latest": {"sheet": "Log", "column": "signups", "date_column": "date"}}
    assert fetch(tmp_path, latest, as_of=oslo(2026, 11, 15, 12))["latest"] == 40.0  # Nov 16's 59 is not yet
    assert fetch(tmp_path, latest, as_of=oslo(2026, 11, 16, 0, 0, 1))["latest"] == 59.0  # as of D: all of D
    config = tmp_path / "okrsync.yaml"
    got = fetch_connection(compile_plan(load_config(config), oslo(2026, 11, 16, 9)), "books")["latest"]
    assert got.observed_at == oslo(2026, 11, 16)  # the row's own day (its 23:30 dropped: a day, not a moment)


def test_dates_must_be_dates_and_dated_values_need_a_date(tmp_path):
    rows = [["date", "n"], [date(2026, 10, 2), 1], ["2026-10-03", 2], [46000, 3]]
    workbook(tmp_path / "data" / "kpis.xlsx", {"Serial": rows, "Undated": [["date", "n"], [None, 5]]})
    got = fetch(
        tmp_path,
        {
            "serial": {"sheet": "Serial", "column": "n", "date_column": "date", "aggregate": "sum"},
            "undated": {"sheet": "Undated", "column": "n", "date_column": "date", "aggregate": "sum"},
        },
    )
    assert got["serial"].startswith("kpis.xlsx!Serial!A4: 46000 is a number, not a date (an Excel date, or ISO")
    assert got["undated"] == "kpis.xlsx!Undated!A2: the row has a value but no date in 'date'"


def test_a_missing_sheet_or_column_lists_what_is_there(tmp_path):
    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [["CSAT", 80]], "Log": LOG})
    got = fetch(
        tmp_path,
        {
            "sheet": {"sheet": "KPI", "range": "B1"},
            "case": {"sheet": "kpis", "range": "B1"},  # Excel's sheet names ignore case
            "column": {"sheet": "Log", "column": "signup", "date_column": "date"},
        },
    )
    assert got["sheet"] == "kpis.xlsx has no worksheet 'KPI' (sheets: 'KPIs', 'Log')"
    assert got["case"] == 80.0
    assert got["column"] == "kpis.xlsx!Log: no column 'signup' in row 1 (it holds 'date', 'signups', 'region')"


def test_a_sheet_that_understates_its_dimensions_is_still_read_to_its_end(tmp_path):
    path = workbook(tmp_path / "data" / "kpis.xlsx", {"Log": LOG})
    with zipfile.ZipFile(path) as zin:
        parts = {n: zin.read(n) for n in zin.namelist()}
    parts["xl/worksheets/sheet1.xml"] = re.sub(
        rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C2"', parts["xl/worksheets/sheet1.xml"]
    )
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    assert fetch(tmp_path, {"n": {"sheet": "Log", "column": "signups", "date_column": "date", "aggregate": "sum"}}) == {
        "n": 100.0
    }


def test_a_damaged_sheet_fails_its_metrics_without_quoting_the_file(tmp_path):
    path = workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [[1], [2]], "Fine": [[3]]})
    with zipfile.ZipFile(path) as zin:
        parts = {n: zin.read(n) for n in zin.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"<v>2</v>", b"<v>s3cr3t</v>")
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    got = fetch(tmp_path, {"bad": {"sheet": "KPIs", "range": "A2"}, "fine": {"sheet": "Fine", "range": "A1"}})
    assert got["bad"].startswith("cannot read sheet 'KPIs' of ") and got["bad"].endswith("(ValueError): is it damaged?")
    assert "s3cr3t" not in got["bad"]  # openpyxl's own message quotes the cell ("invalid literal ... 's3cr3t'")
    assert got["fine"] == 3.0


def test_a_part_read_whole_may_not_unzip_past_the_cap_a_streamed_worksheet_may(tmp_path, monkeypatch):
    from okrsync.connectors.excel import source

    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [[n] for n in range(1, 1001)]})  # its XML: some 30 kB
    monkeypatch.setattr(source, "MAX_PART", 12_000)  # the theme (10 kB) and the styles fit, the sheet does not
    assert fetch(tmp_path, {"m": {"sheet": "KPIs", "range": "A1:A1000", "aggregate": "sum"}}) == {"m": 500500.0}
    monkeypatch.setattr(source, "MAX_PART", 1000)  # the styles part alone unzips to more
    got = fetch(tmp_path, {"m": {"sheet": "KPIs", "range": "A1"}})
    assert got["m"].endswith("kpis.xlsx: a part unzips to more than 0 MB (not a real workbook?)")


@pytest.mark.parametrize("path", ["../secret.xlsx", "/etc/passwd.xlsx", "data/../../x.xlsx", "~/x.xlsx"])
def test_paths_outside_root_are_config_errors(tmp_path, path):
    with pytest.raises(ConfigError, match=r"metrics\.m\.path.*inside the connection's root"):
        fetch(tmp_path, {"m": {"path": path, "sheet": "KPIs", "range": "B2"}})


def test_the_source_never_leaves_root_reads_only_regular_files_up_to_200_mb(tmp_path):
    outside = workbook(tmp_path / "outside.xlsx", {"KPIs": [[1]]})
    data = tmp_path / "data"
    workbook(data / "real.xlsx", {"KPIs": [[7]]})
    (data / "escape.xlsx").symlink_to(outside)
    (data / "inside.xlsx").symlink_to(data / "real.xlsx")  # a link that stays in root is fine
    os.mkfifo(data / "pipe.xlsx")  # opening it must not block
    with open(data / "big.xlsx", "wb") as big:
        big.truncate(200 * 1024 * 1024 + 1)  # sparse: one byte over the cap
    (data / "old.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)  # an .xls (OLE2) renamed
    keys = {"sheet": "KPIs", "range": "A1"}
    got = fetch(
        tmp_path, {n: {**keys, "path": f"{n}.xlsx"} for n in ["escape", "inside", "pipe", "big", "old", "gone"]}
    )
    assert "is outside the connection's root" in got["escape"] and "a symlink out of root?" in got["escape"]
    assert got["inside"] == 7.0
    assert got["pipe"].endswith("pipe.xlsx is not a regular file")
    assert got["big"].endswith("big.xlsx is larger than 200 MB")
    assert "old.xlsx is not an .xlsx workbook (an .xls renamed, or a password-protected file?)" in got["old"]
    assert got["gone"].startswith("file not found:")


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({"path": "kpis.xls", "range": "B2"}, "path: kpis.xls is an old-format .xls workbook, which openpyxl does not"),
        ({"path": "kpis.xlsb", "range": "B2"}, "path: kpis.xlsb is a binary .xlsb workbook"),
        ({"range": "KPIs!B2"}, "range 'KPIs!B2' names a sheet: write the sheet in sheet:"),
        ({"range": "B2:B9"}, "range B2:B9 holds 8 cells: add aggregate:"),
        ({"range": "XFE1"}, "lies outside Excel's grid"),
        ({"range": "B2", "column": "n"}, "give range: (a cell such as B2, or cells B2:B40) or column:"),
        ({"range": "B2", "date_column": "d"}, "date_column, where and header_row go with column:"),
    ],
)
def test_config_errors_are_located_and_say_what_to_write(tmp_path, keys, says):
    with pytest.raises(ConfigError) as info:
        fetch(tmp_path, {"m": {"sheet": "KPIs", **keys}})
    assert says in str(info.value) and "metrics.m" in str(info.value)


def test_one_workbook_is_opened_once_and_each_sheet_read_in_one_pass(tmp_path, monkeypatch):
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    from okrsync.connectors.excel import source

    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [["CSAT", 80], ["NPS", 40]], "Log": LOG})
    opened, passes = [], []
    real_reader, real_rows = source.ExcelReader, ReadOnlyWorksheet.iter_rows
    monkeypatch.setattr(source, "ExcelReader", lambda *a, **k: opened.append(k) or real_reader(*a, **k))
    monkeypatch.setattr(
        ReadOnlyWorksheet, "iter_rows", lambda ws, *a, **k: passes.append(ws.title) or real_rows(ws, *a, **k)
    )
    keys = {"sheet": "Log", "column": "signups", "date_column": "date"}
    got = fetch(
        tmp_path,
        {
            "a": {"sheet": "KPIs", "range": "B1"},
            "b": {"sheet": "KPIs", "range": "B1:B2", "aggregate": "sum"},
            "c": keys,
            "d": {**keys, "aggregate": "sum"},
            "e": {**keys, "aggregate": "count", "where": {"region": "us"}},
        },
    )
    assert got == {"a": 80.0, "b": 120.0, "c": 59.0, "d": 100.0, "e": 1.0}
    assert [k["data_only"] for k in opened] == [True]  # one open, values only: no empty cell needed a second look
    assert sorted(passes) == ["KPIs", "Log"]


def test_the_connection_check_counts_the_workbooks(tmp_path):
    workbook(tmp_path / "data" / "kpis.xlsx", {"KPIs": [[1]]})
    (tmp_path / "data" / "notes.txt").write_text("not a workbook")
    fetch(tmp_path, {"m": {"sheet": "KPIs", "range": "A1"}})  # writes the config
    assert check_connection(load_config(tmp_path / "okrsync.yaml"), "books").startswith("1 Excel workbook(s) in ")


days = st.dates(date(2026, 9, 1), date(2026, 12, 31))
rows = st.lists(st.tuples(days, st.integers(-1000, 1000), st.booleans()), max_size=30)


@settings(max_examples=25, deadline=None)
@given(rows=rows, as_of=st.dates(date(2026, 10, 1), date(2026, 12, 31)))
def test_a_column_sum_is_the_sum_of_the_cycles_rows_up_to_the_day(rows, as_of):
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        log = [["date", "n"]] + [[d if excel_date else d.isoformat(), n] for d, n, excel_date in rows]
        workbook(tmp / "data" / "kpis.xlsx", {"Log": log})
        at = oslo(as_of.year, as_of.month, as_of.day) + timedelta(hours=12)
        got = fetch(tmp, {"m": {"sheet": "Log", "column": "n", "date_column": "date", "aggregate": "sum"}}, as_of=at)
    assert got["m"] == sum(n for d, n, _ in rows if date(2026, 10, 1) <= d <= as_of)


def test_the_example_of_the_docs_page_is_a_valid_config(tmp_path):
    from okrsync.config.load import parse_config
    from tests.helpers import REPO

    page = (REPO / "docs" / "sources" / "excel.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert example is not None
    config = parse_config(example.group(1), "docs/sources/excel.md", base_path=tmp_path / "okrsync.yaml")
    assert {m: config.connections[v.connection].type for m, v in config.metrics.items()} == dict.fromkeys(
        ["csat", "revenue", "signups", "eu_deals", "headcount"], "excel"
    )
