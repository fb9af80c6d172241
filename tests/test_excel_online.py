"""The excel_online source end to end: the real config loader and fetch against the Graph emulator
(tests/emulators/excel_online.py, every request and batch member checked against Microsoft's description)
signed in through the Entra ID emulator over HTTPS. Expected figures are worked out by hand in each test."""

import json
import logging
import os
import stat

import pytest

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sdk import entra as entra_module
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing import Fault
from okrsync.testing.contract import ContractCase, source_contract
from okrsync.testing.emulator import TestCertificates
from tests.emulators.entra import App, EntraEmulator
from tests.emulators.excel_online import ExcelOnlineEmulator, Workbook
from tests.helpers import XL_SECRET as SECRET
from tests.helpers import XL_TENANT as TENANT
from tests.helpers import cli, okrsync, oslo

DAY = oslo(2026, 11, 16)
URL = "https://contoso.sharepoint.com/:x:/s/okr/EaBcD123?e=Xy9"
DRIVE, ITEM = "b!drive-1", "01ITEMXLSX"
TABS = ("Sales", "Support", "Q4 plan", "Ops")


@pytest.fixture
def entra(graph_entra):
    return graph_entra


@pytest.fixture
def xl(entra):
    server = ExcelOnlineEmulator().start()
    server.bearers = entra.issued.access
    sheets = {"KPIs": {"B2": 0.82, "B3": "n/a", "B5": "#DIV/0!", "B6": True}}
    sheets["Revenue"] = {"B1": "Revenue", "B2": 100, "B3": 250.5, "B5": 49.5, "B6": "tbd"}
    server.add(DRIVE, ITEM, Workbook("kpis.xlsx", sheets, formats={"KPIs!B2": "0%"}), url=URL)
    try:
        yield server
    finally:
        server.stop()


def config(write_config, entra, xl, metrics: dict[str, dict], **connection):
    conn = {"type": "excel_online", "tenant_id": TENANT, "client_id": "app-1", "client_secret": "${XL_SECRET}"}
    conn |= {"authority": entra.url, "endpoint": xl.url, **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'xl', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: -1000}}}}" for m in metrics)
    path = write_config(f"connections:\n  xl: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n")
    return load_config(path)


def values(got: dict) -> dict:
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def fetch(cfg) -> dict:
    return values(fetch_connection(plan(cfg, DAY), "xl"))


def test_forty_cells_on_four_tabs_take_one_share_lookup_and_two_batches(write_config, entra, xl, figures):
    sheets = {tab: {f"C{row}": 10 * t + row for row in range(1, 11)} for t, tab in enumerate(TABS)}
    xl.add(DRIVE, ITEM, Workbook("kpis.xlsx", sheets), url=URL)
    metrics = {
        f"m{t}_{row}": {"workbook": URL, "range": f"'{tab}'!C{row}"}
        for t, tab in enumerate(TABS)
        for row in range(1, 11)
    }
    got = fetch(config(write_config, entra, xl, metrics))
    assert got == {f"m{t}_{row}": float(10 * t + row) for t in range(4) for row in range(1, 11)}
    # by hand: 1 sharing-URL resolution + ceil(40 / 20) = 2 batches = 3 requests to Graph
    sent = xl.requests()
    assert [r.method for r in sent] == ["GET", "POST", "POST"] and len(sent) == 3
    assert sent[0].path == "/v1.0/shares/" + "u!" + _b64url(URL) + "/driveItem"
    batches = [r.json()["requests"] for r in sent[1:]]
    assert [len(b) for b in batches] == [20, 20]
    urls = {m["url"] for b in batches for m in b}
    assert "/drives/b%21drive-1/items/01ITEMXLSX/workbook/worksheets/Q4%20plan/range(address='C7')" in urls
    assert len(entra.requests("POST", r"/oauth2/v2.0/token$")) == 1
    figures.append(("excel_online", "40 cells on 4 tabs of one workbook", {"requests": len(sent)}))


def _b64url(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_the_share_id_is_unpadded_base64url_as_microsoft_describes():
    from okrsync.connectors.excel_online import share_id

    # by hand: "https://a" is 9 bytes -> aHR0cHM6Ly9h; "?~~" -> P35+ ; "~" -> fg== (padding dropped, + -> -)
    assert share_id("https://a") == "u!aHR0cHM6Ly9h"
    assert share_id("https://a?~~~") == "u!aHR0cHM6Ly9hP35-fg"


def test_aggregates_read_the_numeric_cells_of_a_range(write_config, entra, xl):
    rng = {"drive": DRIVE, "item": ITEM, "range": "Revenue!B1:B6"}
    metrics = {how: {**rng, "aggregate": how} for how in ("sum", "avg", "min", "max", "count", "latest")}
    metrics["pct"] = {"drive": DRIVE, "item": ITEM, "range": "KPIs!B2"}
    got = fetch(config(write_config, entra, xl, metrics))
    # numbers in B2, B3, B5: 100, 250.5, 49.5 (B1 and B6 are text, B4 is empty)
    assert got == {
        "sum": 400.0,
        "avg": pytest.approx(400 / 3),
        "min": 49.5,
        "max": 250.5,
        "count": 3.0,
        "latest": 49.5,
        "pct": 0.82,  # the raw value of a cell Excel shows as 82%
    }
    assert [r.path for r in xl.requests()] == ["/v1.0/$batch"]  # ids given: no share lookup; one range, once
    assert len(xl.requests()[0].json()["requests"]) == 2


def test_a_cell_that_is_not_a_number_is_named_and_fails_alone(write_config, entra, xl):
    book = {"drive": DRIVE, "item": ITEM}
    metrics = {
        "text": {**book, "range": "KPIs!B3"},
        "empty": {**book, "range": "KPIs!B4"},
        "err": {**book, "range": "KPIs!B5"},
        "bool": {**book, "range": "KPIs!B6"},
        "in_range": {**book, "range": "KPIs!B2:B5", "aggregate": "sum"},
        "sheet": {**book, "range": "Nope!A1"},
        "ok": {**book, "range": "KPIs!B2"},
    }
    got = fetch(config(write_config, entra, xl, metrics))
    assert got["text"] == "KPIs!B3 holds string 'n/a', not a number"
    assert got["empty"] == "KPIs!B4 is empty"
    assert got["err"] == "KPIs!B5 holds the error #DIV/0!"
    assert got["bool"] == "KPIs!B6 holds boolean 'TRUE', not a number"
    assert got["in_range"] == "KPIs!B5 holds the error #DIV/0!"
    assert got["sheet"].startswith("Nope!A1: sheet 'Nope' was not found (HTTP 404 ItemNotFound")
    assert got["ok"] == 0.82
    assert len(xl.requests()) == 1  # seven ranges, one batch


def test_app_only_refused_says_to_sign_in_with_a_device_login(write_config, entra, xl, caplog):
    xl.app_only = entra.issued.access
    caplog.set_level(logging.DEBUG)
    got = fetch(config(write_config, entra, xl, {"m": {"workbook": URL, "range": "KPIs!B2"}}))
    message = got["m"]
    assert message.startswith(
        "KPIs!B2: Microsoft Graph refused the app's own token for the range (HTTP 403 accessDenied"
    )
    assert "login: device" in message and "token_cache:" in message and "`okrsync login xl`" in message
    assert "Files.ReadWrite" in message
    assert SECRET not in message + caplog.text and not any(t in message + caplog.text for t in entra.issued.access)


def test_client_credentials_allowed_read_with_the_graph_scope(write_config, entra, xl):
    got = fetch(config(write_config, entra, xl, {"m": {"workbook": URL, "range": "KPIs!B2"}}))
    assert got == {"m": 0.82}
    (token,) = entra.requests("POST", r"/oauth2/v2.0/token$")
    assert token.form()["scope"] == ["https://graph.microsoft.com/.default"]
    assert token.form()["grant_type"] == ["client_credentials"]
    assert {r.headers["authorization"][:7] for r in xl.requests()} == {"Bearer "}


def test_device_login_then_the_workbook_reads_as_the_user(write_config, entra, xl):
    entra.add_app(App("public-app", public=True))
    conn = {"type": "excel_online", "tenant_id": TENANT, "client_id": "public-app", "login": "device"}
    conn |= {"token_cache": "tokens/xl.json", "authority": entra.url, "endpoint": xl.url}
    metric = json.dumps({"connection": "xl", "workbook": URL, "range": "KPIs!B2"})
    kpis = "kpis: [{id: m, metric: m, healthy: {min: 0}}]\n"
    path = write_config(f"connections:\n  xl: {json.dumps(conn)}\nmetrics:\n  m: {metric}\n{kpis}")
    before = fetch(load_config(path))
    assert "run `okrsync login xl`" in before["m"] and xl.requests() == []
    ran = okrsync("-c", str(path), "login", "xl")
    assert ran.returncode == 0 and "signed in as kari@contoso.example" in ran.stdout, ran.stdout + ran.stderr
    assert stat.S_IMODE(os.stat(path.parent / "tokens" / "xl.json").st_mode) == 0o600
    entra_module._APPS.clear()  # a later run: it has only the file
    assert fetch(load_config(path)) == {"m": 0.82}
    (device,) = entra.requests("POST", r"/devicecode$")
    assert "https://graph.microsoft.com/.default" in device.form()["scope"][0]


def test_an_xls_file_asks_for_xlsx_by_name_or_by_graphs_refusal(write_config, entra, xl):
    xls_url = "https://contoso.sharepoint.com/:x:/s/okr/Old?e=1"
    xl.add("b!drive-1", "01OLDXLS", Workbook("Budget 2019.xls", {"KPIs": {"B2": 1}}), url=xls_url)
    metrics = {
        "shared": {"workbook": xls_url, "range": "KPIs!B2"},
        "by_ids": {"drive": DRIVE, "item": "01OLDXLS", "range": "KPIs!B2"},
    }
    got = fetch(config(write_config, entra, xl, metrics))
    for metric in got.values():
        assert "Budget 2019.xls is an .xls file" in metric and "save it as .xlsx" in metric
    assert got["shared"].startswith("KPIs!B2: ") and got["by_ids"].startswith("KPIs!B2: ")
    # the share told the name: no workbook call for it; by ids, Graph refused, then the item's name was read
    assert [r.method + " " + r.path for r in xl.requests()][1:] == [
        "POST /v1.0/$batch",
        "GET /v1.0/drives/b%21drive-1/items/01OLDXLS",
    ]


def test_onedrive_personal_is_refused_plainly(write_config, entra, xl):
    home = "https://contoso-my.sharepoint.com/:x:/g/personal/kari/Eabc"
    xl.add("personal-drive", "01HOME", Workbook("kpis.xlsx", {"KPIs": {"B2": 1}}, drive_type="personal"), url=home)
    metrics = {
        "short": {"workbook": "https://1drv.ms/x/s!AbCdEf", "range": "KPIs!B2"},
        "personal": {"workbook": home, "range": "KPIs!B2"},
    }
    got = fetch(config(write_config, entra, xl, metrics))
    assert all("OneDrive personal (consumer), which the Excel API does not support" in m for m in got.values())
    assert len(xl.requests()) == 1  # 1drv.ms is known without asking; the other share is resolved once


def test_throttled_members_are_sent_again_after_retry_after(write_config, entra, xl, waits):
    xl.throttle(2, retry_after=3)
    metrics = {f"r{row}": {"drive": DRIVE, "item": ITEM, "range": f"Revenue!B{row}"} for row in (2, 3, 5)}
    got = fetch(config(write_config, entra, xl, metrics))
    assert got == {"r2": 100.0, "r3": 250.5, "r5": 49.5}
    batches = [len(r.json()["requests"]) for r in xl.requests()]
    assert batches == [3, 2]  # the two throttled members again, in a second batch
    assert any(2.9 <= w <= 3.1 for w in waits)  # the batch again, once the 3 s asked for have passed


def test_a_throttled_batch_waits_for_retry_after(write_config, entra, xl, waits):
    xl.fault("POST", r"/\$batch$", Fault(429, {"error": {"code": "tooManyRequests"}}, {"Retry-After": "5"}))
    got = fetch(config(write_config, entra, xl, {"m": {"drive": DRIVE, "item": ITEM, "range": "KPIs!B2"}}))
    assert got == {"m": 0.82} and len(xl.requests()) == 2 and any(5 <= w <= 5.2 for w in waits)


def test_throttled_for_good_names_excels_limit(write_config, entra, xl, waits):
    xl.throttle(4, retry_after=1)
    got = fetch(config(write_config, entra, xl, {"m": {"drive": DRIVE, "item": ITEM, "range": "KPIs!B2"}}))
    assert "kept throttling" in got["m"] and "1,500 requests per 10 seconds per app per tenant" in got["m"]
    assert len(xl.requests()) == 4  # ROUNDS batches, then the metric fails; the next run tries again


def validate(write_config, metric: str) -> tuple[int, str]:
    path = write_config(
        "connections:\n  xl: {type: excel_online, tenant_id: t, client_id: c, client_secret: '${XL_SECRET}'}\n"
        f"metrics:\n  m: {{{metric}}}\n"
        "kpis: [{id: m, metric: m, healthy: {min: 0}}]\n"
    )
    return cli(["-c", str(path), "validate"])


@pytest.mark.parametrize(
    ("metric", "where", "words"),
    [
        ("connection: xl, drive: d, item: i, range: 'Revenue!B2:B40'", "metrics.m", "holds 39 cells: add aggregate:"),
        ("connection: xl, range: 'KPIs!B2'", "metrics.m", "give workbook: (the file's sharing URL) or drive:"),
        ("connection: xl, drive: d, range: 'KPIs!B2'", "metrics.m", "or drive: and item: (ids), one of them"),
        ("connection: xl, drive: d, item: i, range: 'B2'", "metrics.m", "is not Sheet!A1 or Sheet!A1:B9"),
        (
            "connection: xl, drive: d, item: i, range: 'R!B2:B9', aggregate: percent_done",
            "metrics.m.aggregate",
            "supports latest, sum, avg, min, max or count only",
        ),
    ],
)
def test_bad_metrics_are_located_validate_errors(write_config, monkeypatch, metric, where, words):
    monkeypatch.setenv("XL_SECRET", SECRET)
    code, output = validate(write_config, metric)
    assert code == 2 and f"okrsync.yaml:7: {where}" in output and words in output, output


def test_endpoint_takes_scheme_host_and_port_only(write_config, entra, xl):
    with pytest.raises(ConfigError) as info:
        config(write_config, entra, xl, {"m": {"workbook": URL, "range": "A!B2"}}, endpoint=f"{xl.url}/v1.0")
    (problem,) = [p for p in info.value.problems if p.path == "connections.xl.endpoint"]
    assert "scheme, host and port only (not the path /v1.0)" in problem.message


# --- the connector contract -------------------------------------------------------------------------------


class ExcelWithEntra(ExcelOnlineEmulator):
    """The Graph emulator (plain HTTP, where the contract's faults go) with its identity platform beside it."""

    def start(self, tls=None):
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp(prefix="xl-contract-"))
        self.certificates = TestCertificates.make(folder)
        self.entra = EntraEmulator(TENANT).start(tls=self.certificates)
        self.entra.add_app(App("app-1", secret=SECRET))
        self.bearers = self.entra.issued.access
        sheets = {"KPIs": {"B2": 0.82, "B3": 7}, "Revenue": {"B2": 100, "B3": 50}}
        self.add(DRIVE, ITEM, Workbook("kpis.xlsx", sheets), url=URL)
        entra_module._APPS.clear()
        return super().start()

    def stop(self):
        super().stop()
        self.entra.stop()


def contract_case(emulator, _) -> ContractCase:
    return ContractCase(
        connection={"type": "excel_online", "tenant_id": TENANT, "client_id": "app-1"}
        | {"client_secret": "${XL_SECRET}", "authority": emulator.entra.url, "endpoint": emulator.url},
        metrics={
            "csat": {"workbook": URL, "range": "KPIs!B2"},
            "revenue": {"drive": DRIVE, "item": ITEM, "range": "Revenue!B2:B3", "aggregate": "sum"},
        },
        expected={"csat": 0.82, "revenue": 150.0},
        env={"XL_SECRET": SECRET, "SSL_CERT_FILE": str(emulator.certificates.ca_file)},
        broken={"workbook": URL, "range": "Missing!A1"},
        rejected_env={"XL_SECRET": "wrongSecretCanary987"},
    )


TestExcelOnlineContract = source_contract("excel_online", contract_case, emulator=ExcelWithEntra)
