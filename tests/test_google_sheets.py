"""Google Sheets end to end: the real gspread + google-auth clients against the local emulator."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from okrsync.config.load import load_config
from okrsync.connectors.google_sheets.client import SHEETS_RETRY
from okrsync.store import Store
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.sync.sequence import sync
from okrsync.testing import Fault
from tests.emulators.sheets import SheetsEmulator, Spreadsheet
from tests.helpers import oslo, service_account_file

GRID = r"/v4/spreadsheets/[^/:]+$"  # spreadsheets.get: okrsync's one read per spreadsheet
SA_EMAIL = "okrsync@acme-okrs.iam.gserviceaccount.com"
SID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
DAY = oslo(2026, 11, 15)


@pytest.fixture(scope="session")
def private_key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def sheets(tmp_path, private_key_pem, waits):
    emulator = SheetsEmulator().start()
    emulator.spreadsheets[SID] = Spreadsheet(
        {
            "Survey": {"B2": "82.5", "B3": "1,234.5", "B4": "12%", "B5": " 42 ", "C2": "lots", "D2": "TRUE"},
            "Revenue": {"A2": "$1,200", "A3": "800", "A4": "", "A5": "1,000"},
        },
        shared_with={SA_EMAIL},
    )
    service_account_file(tmp_path, f"{emulator.url}/token", private_key_pem, SA_EMAIL)
    yield emulator
    emulator.stop()


def config(write_config, emulator, metrics: str, outputs: str = "", krs: str = "", rate: float = 1000):
    body = (
        "connections:\n"
        f'  sheet: {{type: google_sheets, credentials_file: sa.json, endpoint: "{emulator.url}", rate_limit: {rate}}}\n'
        f"metrics:\n{metrics}\n"
        "objectives:\n  - id: o\n    title: Survey scores\n    owner: ana@acme.example\n"
        f"    key_results:\n{krs}\n" + (f"outputs:\n{outputs}\n" if outputs else "")
    )
    return load_config(write_config(body))


METRICS = f"""\
  csat: {{connection: sheet, range: "Survey!B2",
          spreadsheet: "https://docs.google.com/spreadsheets/d/{SID}/edit#gid=0"}}
  grouped: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B3"}}
  percent: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B4"}}
  spaced: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B5"}}
  launched: {{connection: sheet, spreadsheet: {SID}, range: "Survey!D2"}}
  revenue: {{connection: sheet, spreadsheet: {SID}, range: "Revenue!A2:A9", aggregate: sum}}
  last_rev: {{connection: sheet, spreadsheet: {SID}, range: "Revenue!A2:A9", aggregate: latest}}
  rev_rows: {{connection: sheet, spreadsheet: {SID}, range: "Revenue!A2:A9", aggregate: count}}"""
KRS = """\
              - {id: csat, metric: csat, start: 75, target: 90}
              - {id: grouped, metric: grouped, kind: at_least, target: 1}
              - {id: percent, metric: percent, kind: at_least, target: 1}
              - {id: spaced, metric: spaced, kind: at_least, target: 1}
              - {id: launched, metric: launched, kind: milestone}
              - {id: revenue, metric: revenue, kind: at_least, target: 1}
              - {id: last-rev, metric: last_rev, kind: at_least, target: 1}
              - {id: rev-rows, metric: rev_rows, kind: at_least, target: 1}"""


def fetch(cfg):
    return fetch_connection(plan(cfg, DAY), "sheet")


def values(result):
    return {m: getattr(v, "value", None) if not hasattr(v, "message") else v.message for m, v in result.items()}


def test_every_metric_of_a_spreadsheet_in_one_batch_get(write_config, sheets):
    got = values(fetch(config(write_config, sheets, METRICS, krs=KRS)))
    assert got == {
        "csat": 82.5,
        "grouped": 1234.5,
        "percent": 12,
        "spaced": 42,
        "launched": 1,
        "revenue": 3000,
        "last_rev": 1000,
        "rev_rows": 3,
    }
    assert len(sheets.requests("GET", GRID)) == 1  # locale, tabs and every range: one spreadsheets.get
    assert len(sheets.requests("POST", "/token")) == 1
    (read,) = sheets.requests("GET", GRID)
    assert read.headers["authorization"].startswith("Bearer ya29.emulator-")
    assert len(read.query["ranges"]) == 6  # the three metrics on Revenue!A2:A9 share one range


def test_plain_language_errors_per_metric(write_config, sheets):
    sheets.spreadsheets["2NotSharedSpreadsheetId0000"] = Spreadsheet({"S": {"A1": "1"}}, shared_with=set())
    cfg = config(
        write_config,
        sheets,
        f"""\
  ok: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B2"}}
  text: {{connection: sheet, spreadsheet: {SID}, range: "Survey!C2"}}
  empty: {{connection: sheet, spreadsheet: {SID}, range: "Survey!Z9"}}
  notab: {{connection: sheet, spreadsheet: {SID}, range: "Nope!A1"}}
  many: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B2:B5"}}
  private: {{connection: sheet, spreadsheet: 2NotSharedSpreadsheetId0000, range: "S!A1"}}
  missing: {{connection: sheet, spreadsheet: 3NoSuchSpreadsheetId000000, range: "S!A1"}}
  badid: {{connection: sheet, spreadsheet: "not an id", range: "A1"}}""",
        krs="\n".join(
            f"              - {{id: {m}, metric: {m}, kind: at_least, target: 1}}"
            for m in ("ok", "text", "empty", "notab", "many", "private", "missing", "badid")
        ),
    )
    got = values(fetch(cfg))
    assert got["ok"] == 82.5
    assert got["text"].startswith("cell Survey!C2 holds 'lots', which is not a number in this spreadsheet's locale")
    assert "Z9 is empty" in got["empty"]
    assert got["notab"] == "tab 'Nope' does not exist in this spreadsheet (tabs: Revenue, Survey)"
    assert "add aggregate" in got["many"]
    assert f"share it with {SA_EMAIL}" in got["private"]
    assert "3NoSuchSpreadsheetId000000 not found" in got["missing"]
    assert "neither a spreadsheet ID" in got["badid"]
    # Sheets refuses the whole read for the unknown tab; the metadata says which, the rest is read again:
    # three requests for the spreadsheet, not one per metric
    assert len(sheets.requests("GET", f"/v4/spreadsheets/{SID}$")) == 3


def test_retries_honour_retry_after_and_give_up_bounded(write_config, sheets, waits):
    cfg = config(
        write_config,
        sheets,
        f"  csat: {{connection: sheet, spreadsheet: {SID}, range: Survey!B2}}",
        krs="              - {id: csat, metric: csat, start: 75, target: 90}",
    )
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    sheets.fault(
        "GET", GRID, Fault(429, {"error": {"code": 429, "message": "Quota", "status": "X"}}, {"Retry-After": "2"})
    )
    sheets.fault("GET", GRID, Fault(503, "<html><body>Service Unavailable</body></html>", {"Retry-After": when}))
    sheets.fault("GET", GRID, Fault(drop="before"))
    assert values(fetch(cfg))["csat"] == 82.5
    assert len(sheets.requests("GET", GRID)) == 4
    retry_waits = [w for w in waits if w >= 0.1]  # pacing waits are ~1 ms at rate_limit 1000
    assert 2.0 <= retry_waits[0] <= 2.2  # Retry-After in seconds
    assert 3.0 <= retry_waits[1] <= 5.2  # Retry-After as an HTTP date
    waits.clear()
    sheets.fault(
        "GET",
        GRID,
        Fault(429, {"error": {"code": 429, "message": "Quota", "status": "X"}}, {"Retry-After": "1"}),
        times=50,
    )
    before = len(sheets.requests("GET", GRID))
    got = values(fetch(cfg))
    assert "kept failing (HTTP 429) after retries" in got["csat"]
    assert len(sheets.requests("GET", GRID)) - before == SHEETS_RETRY.attempts


def test_a_quota_429_without_retry_after_is_retried_past_the_per_minute_refill(write_config, sheets, waits):
    cfg = config(
        write_config,
        sheets,
        f"  csat: {{connection: sheet, spreadsheet: {SID}, range: Survey!B2}}",
        krs="              - {id: csat, metric: csat, start: 75, target: 90}",
    )
    quota = Fault(429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
    sheets.fault("GET", GRID, quota, times=SHEETS_RETRY.attempts - 1)
    assert values(fetch(cfg))["csat"] == 82.5  # the last attempt lands after the refill
    backoff = [w for w in waits if w >= 0.5]  # pacing waits are ~1 ms at rate_limit 1000
    assert len(backoff) == SHEETS_RETRY.attempts - 1 and sum(backoff) >= 60  # spans a full minute


def test_html_error_page_and_malformed_json_are_reported_without_crashing(write_config, sheets):
    cfg = config(
        write_config,
        sheets,
        f"  csat: {{connection: sheet, spreadsheet: {SID}, range: Survey!B2}}",
        krs="              - {id: csat, metric: csat, start: 75, target: 90}",
    )
    sheets.fault("GET", GRID, Fault(400, "<html>Bad gateway config</html>"))
    assert values(fetch(cfg))["csat"] == "Google Sheets answered HTTP 400 with a body that is not JSON"
    sheets.fault("GET", GRID, Fault(200, '{"valueRanges": [', {"Content-Type": "application/json"}))
    assert values(fetch(cfg))["csat"] == "Google Sheets answered with a body that is not JSON"
    # a proxy's error body (gspread's APIError raises TypeError on it): still classified, retried, then read
    sheets.fault("GET", GRID, Fault(503, {"error": "upstream overloaded"}, {"Retry-After": "1"}))
    assert values(fetch(cfg))["csat"] == 82.5


def test_requests_are_paced_to_the_quota(write_config, sheets, waits, still_clock):
    other = "4SecondSpreadsheetId00000000"
    sheets.spreadsheets[other] = Spreadsheet({"S": {"A1": "5"}}, shared_with={SA_EMAIL})
    cfg = config(
        write_config,
        sheets,
        f"""\
  a: {{connection: sheet, spreadsheet: {SID}, range: Survey!B2}}
  b: {{connection: sheet, spreadsheet: {other}, range: S!A1}}""",
        krs="""\
              - {id: a, metric: a, kind: at_least, target: 1}
              - {id: b, metric: b, kind: at_least, target: 1}""",
        rate=1,
    )
    assert values(fetch(cfg)) == {"a": 82.5, "b": 5}
    assert [round(w) for w in waits] == [1]  # one request per spreadsheet at 1/s: the second waited


def with_sheet_cell(cell: str) -> str:
    """KRS with the csat KR written back to ``cell`` too."""
    csat = "{id: csat, metric: csat, start: 75, target: 90"
    return KRS.replace(csat + "}", f"{csat}, sheet_cell: {cell}}}")


OUTPUT = f"""\
  - {{type: google_sheets, connection: sheet, spreadsheet: {SID}, worksheet: OKR status}}"""


def test_status_write_back_one_write_then_nothing_when_unchanged(write_config, sheets):
    krs = with_sheet_cell("Survey!F2")
    cfg = config(write_config, sheets, METRICS, outputs=OUTPUT, krs=krs)
    store = Store(cfg.store_url())
    result = sync(cfg, DAY, now=DAY, store=store)
    assert result.exit_code == 0, result.output_errors
    writes = sheets.requests("POST", "values:batchUpdate")
    assert len(writes) == 1
    assert len(sheets.requests("POST", f"{SID}:batchUpdate")) == 1  # the tab was created first
    sheet = sheets.spreadsheets[SID]
    assert sheet.cell("OKR status", "A1") == "Objective" and sheet.cell("OKR status", "B2") is not None
    assert sheet.cell("OKR status", "I2") == "on track" and sheet.cell("Survey", "F2") == "50%"
    assert len([k for k in sheet.sheets["OKR status"] if k[1] == 1]) == 9  # header + 8 KRs

    before = len(sheets.log)
    again = sync(cfg, DAY, now=DAY, store=store)
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in sheets.log[before:]] == [
        ("POST", "token"),
        ("GET", SID),
        ("POST", "token"),
        ("GET", SID),
    ]  # the source's read and the output's read back (one spreadsheets.get each): no write
    assert "unchanged" in " ".join(again.writes)

    sheets.spreadsheets[SID].sheets["Survey"][(2, 2)] = "90"  # csat reaches its target
    sync(cfg, DAY + timedelta(days=1), now=DAY, store=store)
    assert len(sheets.requests("POST", "values:batchUpdate")) == 2
    assert sheets.spreadsheets[SID].cell("OKR status", "I2") == "done"
    store.close()


def test_rows_that_shrink_are_cleared(write_config, sheets):
    cfg = config(write_config, sheets, METRICS, outputs=OUTPUT, krs=KRS)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)
    smaller = config(write_config, sheets, METRICS, outputs=OUTPUT, krs="\n".join(KRS.splitlines()[:3]))
    sync(smaller, DAY + timedelta(days=1), now=DAY, store=store)
    (clear,) = sheets.requests("POST", "values:batchClear")
    assert clear.json() == {"ranges": ["'OKR status'!A5:O9"]}
    assert len(sheets.requests("POST", "values:batchUpdate")) == 2
    assert [k for k in sheets.spreadsheets[SID].sheets["OKR status"] if k[0] > 4] == []
    store.close()


def test_output_failure_is_reported_and_the_sync_completes(write_config, sheets):
    sheets.spreadsheets[SID].shared_with.clear()
    cfg = config(
        write_config,
        sheets,
        "  x: {formula: '3'}",
        outputs=OUTPUT,
        krs="              - {id: x, metric: x, start: 0, target: 3}",
    )
    result = sync(cfg, DAY, now=DAY)
    assert result.exit_code == 1 and result.document.objectives[0].status == "done"
    (err,) = result.output_errors
    assert f"share it with {SA_EMAIL}" in err.message and "google_sheets" in err.output


def test_connection_check_gets_a_real_token(write_config, sheets):
    from okrsync.errors import SourceError
    from okrsync.sync.fetch import check_connection

    cfg = config(
        write_config,
        sheets,
        f"  csat: {{connection: sheet, spreadsheet: {SID}, range: Survey!B2}}",
        krs="              - {id: csat, metric: csat, start: 75, target: 90}",
    )
    assert check_connection(cfg, "sheet") == f"access token issued for {SA_EMAIL}"
    assert len(sheets.requests("POST", "/token")) == 1
    sheets.fault(
        "POST", "/token", Fault(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    )
    with pytest.raises(SourceError, match="could not get an access token.*invalid_grant"):
        check_connection(cfg, "sheet")


def test_comma_decimal_spreadsheets_are_read_in_their_locale(write_config, sheets):
    """A de_DE sheet shows 82,5 and 1.234 (= 1234): read as such, never as 825 or 1.234; a point
    that is not German grouping is refused, not guessed."""
    german = "5GermanSpreadsheetId000000000"
    cells = {"A1": "82,5", "A2": "1.234", "A3": "1.234,5", "A4": "12,5 %", "A5": "12.5", "A6": "1.234,50 €"}
    sheets.spreadsheets[german] = Spreadsheet({"Zahlen": cells}, shared_with={SA_EMAIL}, locale="de_DE")
    metrics = "\n".join(
        f"  m{i}: {{connection: sheet, spreadsheet: {german}, range: Zahlen!A{i}}}" for i in range(1, 7)
    )
    krs = "\n".join(f"              - {{id: m{i}, metric: m{i}, kind: at_least, target: 1}}" for i in range(1, 7))
    got = values(fetch(config(write_config, sheets, metrics, krs=krs)))
    assert {k: got[k] for k in ("m1", "m2", "m3", "m4", "m6")} == {
        "m1": 82.5,
        "m2": 1234,
        "m3": 1234.5,
        "m4": 12.5,
        "m6": 1234.5,
    }
    assert "not a number in this spreadsheet's locale (decimal ','" in got["m5"]


def test_a_cell_on_a_missing_tab_is_named_and_the_table_still_written(write_config, sheets):
    krs = with_sheet_cell("Scorecard!C5")
    cfg = config(write_config, sheets, METRICS, outputs=OUTPUT, krs=krs)
    store = Store(cfg.store_url())
    result = sync(cfg, DAY, now=DAY, store=store)
    (error,) = result.output_errors
    assert "not the sheet_cell Scorecard!C5: no such tab" in error.message
    assert sheets.spreadsheets[SID].cell("OKR status", "A1") == "Objective"  # the table is there all the same
    del sheets.spreadsheets[SID].sheets["OKR status"]  # someone deletes the status tab
    sheets.spreadsheets[SID].sheets["Scorecard"] = {}  # and adds the missing one
    again = sync(cfg, DAY + timedelta(days=1), now=DAY, store=store)
    assert again.output_errors == []
    assert sheets.spreadsheets[SID].cell("OKR status", "A1") == "Objective"  # the tab came back
    assert sheets.spreadsheets[SID].cell("Scorecard", "C5") is not None
    store.close()


def test_titles_that_look_like_formulas_are_written_as_text(write_config, sheets):
    krs = KRS.replace(
        "{id: csat, metric: csat,", '{id: csat, title: "=IMPORTXML(\\"http://x\\", \\"//a\\")", metric: csat,'
    )
    cfg = config(write_config, sheets, METRICS, outputs=OUTPUT, krs=krs)
    store = Store(cfg.store_url())
    assert sync(cfg, DAY, now=DAY, store=store).exit_code == 0
    titles = [v for (row, col), v in sheets.spreadsheets[SID].sheets["OKR status"].items() if col == 2]
    assert any(str(t).startswith("'=IMPORTXML") for t in titles)  # the apostrophe keeps it text
    assert not any(str(t).startswith("=") for t in titles)
    store.close()


def test_several_spreadsheets_are_read_at_once_with_one_token(write_config, sheets):
    """Nine spreadsheets: the first alone (it gets the access token), the other eight four at a time;
    with a slow API (0.3 s a request) that shows as overlapping requests in the emulator's log."""
    ids = [f"{i}ManySheetsSpreadsheetId0000" for i in range(9)]
    for i, sid in enumerate(ids):
        sheets.spreadsheets[sid] = Spreadsheet({"S": {"A1": str(i)}}, shared_with={SA_EMAIL})
    metrics = "\n".join(f"  m{i}: {{connection: sheet, spreadsheet: {sid}, range: S!A1}}" for i, sid in enumerate(ids))
    krs = "\n".join(f"              - {{id: m{i}, metric: m{i}, kind: at_least, target: 1}}" for i in range(9))
    sheets.fault("GET", GRID, Fault(delay=0.3), times=9)
    got = values(fetch(config(write_config, sheets, metrics, krs=krs)))
    assert got == {f"m{i}": i for i in range(9)}
    assert len(sheets.requests("POST", "/token")) == 1
    reads = sorted(r.at for r in sheets.requests("GET", GRID))
    assert max(sum(1 for t in reads if s <= t < s + 0.3) for s in reads) == 4  # four in flight at once


def test_application_default_credentials_from_the_environment(sheets, tmp_path, write_config, monkeypatch):
    """Without credentials_file: application default credentials (a key named by GOOGLE_APPLICATION_CREDENTIALS);
    behind endpoint: they never look anything up at googleapis.com (google-auth's regional access boundary)."""
    from google.auth import _regional_access_boundary_utils as rab

    lookups = []
    monkeypatch.setattr(rab._RegionalAccessBoundaryManager, "maybe_start_refresh", lambda *a: lookups.append(a))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    cfg = load_config(
        write_config(f"""
        connections:
          sheet: {{type: google_sheets, endpoint: "{sheets.url}", rate_limit: 1000}}
        metrics:
          csat: {{connection: sheet, spreadsheet: {SID}, range: "Survey!B2"}}
        kpis: [{{id: csat, metric: csat, healthy: {{min: 0}}}}]
    """)
    )
    got = fetch_connection(plan(cfg, DAY), "sheet")
    assert got["csat"].value == 82.5
    (token,) = sheets.requests("POST", "/token$")
    assert token.form()["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert lookups == []  # nothing left the endpoint
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    message = fetch_connection(plan(cfg, DAY), "sheet")["csat"].message
    assert f"GOOGLE_APPLICATION_CREDENTIALS ({tmp_path / 'missing.json'}) is not a usable key" in message
