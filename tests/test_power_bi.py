"""The power_bi source end to end: the real config loader and fetch against the Power BI emulator
(tests/emulators/power_bi.py, every request checked against Microsoft's Swagger excerpt) with the token issued
by the identity platform's emulator, both over HTTPS. Expected figures are worked out by hand in each test;
the connector contract runs at the end of this file."""

import json
import logging
import ssl
from datetime import date

import pytest

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sdk import entra as entra_module
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.entra import App
from tests.emulators.power_bi import PowerBiEmulator
from tests.helpers import cli, okrsync, oslo

TENANT, APP, SECRET = "contoso-tenant", "app-1", "pbiSecretCanary0123456789"
WS, DS = "f089354e-8366-4e18-aea3-4cb4a3a50b48", "cfafbeb1-8037-4d0c-896e-a46fb27ff229"  # ids as Microsoft's example
REVENUE = 'EVALUATE ROW("v", [Total Revenue])'
SCOPE = "https://analysis.windows.net/powerbi/api/.default"
DAY = oslo(2026, 11, 16)


@pytest.fixture
def pbi(monkeypatch):
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    entra_module._APPS.clear()
    server = PowerBiEmulator((TENANT, App(APP, secret=SECRET))).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.certificates.ca_file))  # what msal (through okrsync) and httpx trust
    monkeypatch.setenv("PBI_SECRET", SECRET)
    try:
        yield server
    finally:
        server.stop()
        entra_module._APPS.clear()


def config(write_config, pbi, metrics: dict[str, dict], **connection):
    """Connection ``pbi`` on the emulators and ``metrics`` (id -> keys; a None value leaves the key out)."""
    conn = {"type": "power_bi", "tenant_id": TENANT, "client_id": APP, "client_secret": "${PBI_SECRET}"}
    conn = {k: v for k, v in (conn | {"authority": pbi.entra.url, "endpoint": pbi.url} | connection).items() if v}
    base = {"connection": "pbi", "dataset": DS, "workspace": WS}
    keyed = {m: {k: v for k, v in (base | keys).items() if v} for m, keys in metrics.items()}
    lines = "\n".join(f"  {m}: {json.dumps(keys)}" for m, keys in keyed.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: -1000}}}}" for m in metrics)
    return write_config(f"connections:\n  pbi: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n")


def fetch(path) -> dict:
    got = fetch_connection(plan(load_config(path), DAY), "pbi")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def test_a_value_end_to_end_with_a_token_for_power_bi(write_config, pbi, caplog):
    pbi.add(DS, WS, **{"Total Revenue": 1234567.89})
    path = config(write_config, pbi, {"revenue": {"dax": REVENUE}})
    with caplog.at_level(logging.DEBUG):
        assert fetch(path) == {"revenue": 1234567.89}
        check = check_connection(load_config(path), "pbi")
    assert check.startswith("token for Power BI obtained; the service principal is a member of 1 workspace(s)")
    (token,) = pbi.entra.requests("POST", r"/oauth2/v2.0/token$")
    assert token.form()["scope"] == [SCOPE] and token.form()["grant_type"] == ["client_credentials"]
    (sent,) = pbi.requests("POST")
    assert sent.path == f"/v1.0/myorg/groups/{WS}/datasets/{DS}/executeQueries"
    assert sent.json() == {"queries": [{"query": REVENUE}], "serializerSettings": {"includeNulls": True}}
    assert sent.headers["authorization"] == f"Bearer {pbi.entra.issued.access[0]}"
    for secret in (SECRET, *pbi.entra.issued.access):
        assert secret not in caplog.text and secret not in check


def test_my_workspace_for_a_user_signed_in_with_the_device_code(write_config, pbi):
    pbi.service_principal = False  # a user's delegated token: My workspace is theirs
    pbi.entra.add_app(App("public-app", public=True))
    pbi.add(DS, None, **{"Total Revenue": 42.5})
    device = {"client_id": "public-app", "client_secret": None, "login": "device", "token_cache": "tokens/pbi.json"}
    path = config(write_config, pbi, {"mine": {"dax": REVENUE, "workspace": None}}, **device)
    ran = okrsync("-c", str(path), "login", "pbi")
    assert ran.returncode == 0 and "signed in as kari@contoso.example" in ran.stdout, ran.stdout + ran.stderr
    assert fetch(path) == {"mine": 42.5}
    (sent,) = pbi.requests("POST")
    assert sent.path == f"/v1.0/myorg/datasets/{DS}/executeQueries"
    assert pbi.entra.requests("POST", "/devicecode$")[0].form()["scope"][0].startswith(SCOPE)


def test_cycle_dates_become_dax_dates(write_config, pbi):
    pbi.add(DS, WS, Revenue=[(date(2026, 9, 30), 1000.0), (date(2026, 10, 1), 200.0), (date(2026, 11, 16), 30.0)])
    pbi.datasets[(WS, DS)].measures["Revenue"].append((date(2026, 11, 17), 4.0))
    so_far = "EVALUATE ROW(\"v\", CALCULATE([Revenue], 'Date'[Date] >= {cycle.start}, 'Date'[Date] <= {as_of}))"
    cycle = "EVALUATE ROW(\"v\", CALCULATE([Revenue], 'Date'[Date] >= {cycle.start}, 'Date'[Date] <= {cycle.end}))"
    got = fetch(config(write_config, pbi, {"so_far": {"dax": so_far}, "cycle": {"dax": cycle}}))
    # 2026-10-01 .. 2026-11-16: 200 + 30 (30 Sep is before the cycle, 17 Nov after as-of); to 31 Dec: + 4
    assert got == {"so_far": 230.0, "cycle": 234.0}
    sent = {r.json()["queries"][0]["query"] for r in pbi.requests("POST")}
    assert so_far.replace("{cycle.start}", "DATE(2026, 10, 1)").replace("{as_of}", "DATE(2026, 11, 16)") in sent
    assert cycle.replace("{cycle.start}", "DATE(2026, 10, 1)").replace("{cycle.end}", "DATE(2026, 12, 31)") in sent


def test_ten_metrics_on_one_dataset_take_one_token_and_ten_queries(write_config, pbi, figures, capsys):
    pbi.add(DS, WS, **{f"M{i}": i * 10 for i in range(10)})
    metrics = {f"m{i}": {"dax": f'EVALUATE ROW("v", [M{i}])'} for i in range(10)}
    assert fetch(config(write_config, pbi, metrics)) == {f"m{i}": i * 10.0 for i in range(10)}
    # by hand: one client-credentials token for the connection (kept by msal for the run), one query per metric
    # ("One query per API call"), nothing else on Power BI
    tokens = pbi.entra.requests("POST", r"/oauth2/v2.0/token$")
    discovery = pbi.entra.requests("GET", r"/openid-configuration$")
    assert len(tokens) == 1 and len(pbi.requests("POST", r"/executeQueries$")) == 10 and len(pbi.requests()) == 10
    measured = {"token requests": len(tokens), "query requests": len(pbi.requests()), "openid config": len(discovery)}
    with capsys.disabled():
        print(f"\npower_bi, 10 metrics on one dataset: {measured}")
    figures.append(("power_bi", "10 metrics on one dataset", measured))


def test_the_first_cell_must_be_a_number(write_config, pbi):
    found = pbi.add(DS, WS, Blank=None, Text="n/a")
    found.tables["Empty"] = []
    found.tables["Sales"] = [
        {"Sales[Amount]": 12.5, "Sales[Region]": "North"},
        {"Sales[Amount]": 7, "Sales[Region]": "S"},
    ]
    metrics = {
        "blank": {"dax": 'EVALUATE ROW("v", [Blank])'},
        "text": {"dax": 'EVALUATE ROW("v", [Text])'},
        "empty": {"dax": "EVALUATE 'Empty'"},
        "first": {"dax": "EVALUATE 'Sales'"},
    }
    got = fetch(config(write_config, pbi, metrics))
    where = f"the DAX on dataset '{DS}' in workspace '{WS}'"
    assert got["blank"] == f"{where} returned a blank [v]: the measure has no value for these filters"
    assert got["text"] == f"{where} returned [v] = 'n/a', not a number"
    assert got["empty"].startswith(f"{where} returned an empty table: the DAX must return one table with one row")
    assert got["first"] == 12.5  # the first cell of the first row


def test_an_error_inside_a_200_answer_is_quoted(write_config, pbi):
    pbi.row_limit = 3
    pbi.add(DS, WS, **{"Total Revenue": 5.0}).tables["Sales"] = [{"Sales[Amount]": i} for i in range(5)]
    two = REVENUE + '\nEVALUATE ROW("w", [Total Revenue])'
    got = fetch(config(write_config, pbi, {"two": {"dax": two}, "rows": {"dax": "EVALUATE 'Sales'"}}))
    said = f"Power BI answered the DAX on dataset '{DS}' in workspace '{WS}' with an error: "
    fix = " (the DAX must return one table with one row, e.g. " + REVENUE + ")"
    assert got["two"] == said + "MultipleTables: More than one result table in a query" + fix  # the result's error
    assert got["rows"] == said + "RowLimitExceeded: More than 3 rows in a query result" + fix  # the table's error
    assert all(r.json()["queries"][0]["query"] in (two, "EVALUATE 'Sales'") for r in pbi.requests())


def tenant_setting_off(status):
    def setup(pbi):
        pbi.execute_queries_enabled, pbi.refusal_status = False, status

    return setup


SP_CAUSES = [
    'Power BI does not say which: the tenant setting "Dataset Execute Queries REST API" (Admin portal, Tenant',
    "the app may not use Power BI APIs (Developer settings) or is not a Member of the workspace;",
    "or the dataset has RLS or SSO",
]


@pytest.mark.parametrize(
    ("setup", "metric", "words"),
    [
        (
            tenant_setting_off(401),
            {},
            [
                f"HTTP 401 from Power BI on dataset '{DS}' in workspace '{WS}': PowerBINotAuthorizedException; ",
                *SP_CAUSES,
            ],
        ),
        (tenant_setting_off(403), {}, ["HTTP 403 from Power BI on dataset", *SP_CAUSES]),
        (lambda p: p.members.clear(), {}, ["HTTP 401 from Power BI", *SP_CAUSES]),
        (lambda p: setattr(p, "service_principals_allowed", False), {}, SP_CAUSES),
        (lambda p: setattr(p.datasets[(WS, DS)], "rls", True), {}, SP_CAUSES),
        (
            None,
            {"workspace": None},
            [
                f"dataset '{DS}' in My workspace",
                "a service principal has no My workspace",
                "add workspace: <the id of the workspace that holds the dataset>",
            ],
        ),
        (
            None,
            {"dataset": "0000-gone"},
            [
                "HTTP 404 from Power BI: dataset '0000-gone' in workspace",
                "not visible",
                "(check dataset: and workspace:): PowerBIEntityNotFound",
            ],
        ),
        (
            None,
            {"dax": 'EVALUATE ROW("v", [Nope])'},
            [
                f"Power BI could not run the DAX on dataset '{DS}' in workspace '{WS}' (HTTP 400): "
                "DatasetExecuteQueriesError: Query (1, 17) The value for 'Nope' cannot be determined"
            ],
        ),
    ],
)
def test_refusals_are_plain_messages_naming_the_fix(write_config, pbi, waits, caplog, setup, metric, words):
    pbi.add(DS, WS, **{"Total Revenue": 1.0})
    if setup:
        setup(pbi)
    with caplog.at_level(logging.DEBUG):
        (message,) = fetch(config(write_config, pbi, {"m": {"dax": REVENUE, **metric}})).values()
    assert isinstance(message, str) and all(w in message for w in words), message
    assert len(message) < 500 and waits == [] and len(pbi.requests()) == 1  # said once, not retried
    for secret in (SECRET, *pbi.entra.issued.access):
        assert secret not in message and secret not in caplog.text


def test_a_refused_connection_test_names_the_developer_setting(write_config, pbi):
    pbi.service_principals_allowed = False
    with pytest.raises(SourceError) as info:
        check_connection(load_config(config(write_config, pbi, {"m": {"dax": REVENUE}})), "pbi")
    assert "HTTP 401 from Power BI listing the workspaces of the app (service principal): PowerBINotAuthorized" in str(
        info.value
    )
    assert '"Allow service principals to use Power BI APIs" (Developer settings) may exclude it' in str(info.value)


def test_a_user_refused_hears_the_causes_that_fit_a_user(write_config, pbi):
    pbi.service_principal, pbi.execute_queries_enabled = False, False
    pbi.entra.add_app(App("public-app", public=True))
    pbi.add(DS, WS, **{"Total Revenue": 1.0})
    device = {"client_id": "public-app", "client_secret": None, "login": "device", "token_cache": "tokens/pbi.json"}
    path = config(write_config, pbi, {"m": {"dax": REVENUE}}, **device)
    assert okrsync("-c", str(path), "login", "pbi").returncode == 0
    (message,) = fetch(path).values()
    assert message.endswith(
        "Integration settings) is off; the app registration lacks the delegated permission Dataset.Read.All; "
        "or the user lacks Read and Build permission on the dataset"
    ), message


def test_a_429_waits_for_retry_after_then_reads(write_config, pbi, waits):
    pbi.add(DS, WS, **{"Total Revenue": 3.0})
    pbi.throttle(1, retry_after=7)
    assert fetch(config(write_config, pbi, {"m": {"dax": REVENUE}})) == {"m": 3.0}
    assert len(pbi.requests()) == 2 and any(7 <= w <= 7.2 for w in waits)


def test_throttled_for_good_names_the_limit(write_config, pbi, waits):
    pbi.add(DS, WS, **{"Total Revenue": 3.0})
    pbi.throttle(20, retry_after=1)
    (message,) = fetch(config(write_config, pbi, {"m": {"dax": REVENUE}})).values()
    assert (
        message
        == "gave up after retries: Power BI is throttling this connection (120 query requests a minute per user)"
    )
    assert len(pbi.requests()) == 5  # bounded: the retry policy's 5 attempts


def test_the_121st_query_in_a_minute_waits_for_the_window(write_config, pbi, waits):
    pbi.per_minute = 10_000  # the emulator does not count: the pacing is what is tested (waits recorded, not slept)
    pbi.add(DS, WS, **{"Total Revenue": 1.0})
    got = fetch(config(write_config, pbi, {f"m{i}": {"dax": REVENUE} for i in range(121)}))
    assert set(got.values()) == {1.0}
    assert len(waits) == 1 and 55 < waits[0] <= 60.05  # "120 query requests per minute per user"


def test_an_answer_with_a_byte_order_mark_is_read(write_config, pbi):
    pbi.bom = True
    pbi.add(DS, WS, **{"Total Revenue": 9.0})
    assert fetch(config(write_config, pbi, {"m": {"dax": REVENUE}})) == {"m": 9.0}


def validate(write_config, monkeypatch, metric: str) -> tuple[int, str]:
    monkeypatch.setenv("PBI_SECRET", SECRET)
    path = write_config(
        "connections:\n  pbi: {type: power_bi, tenant_id: t, client_id: c, client_secret: '${PBI_SECRET}'}\n"
        f"metrics:\n  m: {{connection: pbi, dataset: {DS}, {metric}}}\n"
        "kpis: [{id: m, metric: m, healthy: {min: 0}}]\n"
    )
    return cli(["-c", str(path), "validate"])


def test_an_aggregate_is_a_located_validate_error(write_config, monkeypatch):
    code, output = validate(write_config, monkeypatch, f"dax: '{REVENUE}', aggregate: sum")
    assert code == 2 and "okrsync.yaml:7: metrics.m.aggregate: a power_bi metric takes no aggregate" in output


@pytest.mark.parametrize(
    ("dax", "says"),
    [
        ("'EVALUATE ROW(\"v\", CALCULATE([R], ''D''[Date] >= \"{cycle.start}\"))'", "{cycle.start} becomes a DAX date"),
        ("'ROW(\"v\", [R])'", "a DAX query starts with EVALUATE"),
    ],
)
def test_a_dax_that_cannot_work_is_a_located_validate_error(write_config, monkeypatch, dax, says):
    code, output = validate(write_config, monkeypatch, f"dax: {dax}")
    assert code == 2 and f"okrsync.yaml:7: metrics.m.dax: {says}" in output, output


def test_a_date_in_a_row_name_is_not_mistaken_for_a_quoted_one(write_config, pbi):
    pbi.add(DS, WS, Revenue=[(date(2026, 10, 2), 5.0)])
    dax = 'EVALUATE ROW("from", CALCULATE([Revenue], \'D\'[Date] >= {cycle.start}), "x", 1)'
    assert fetch(config(write_config, pbi, {"m": {"dax": dax}})) == {"m": 5.0}


def test_endpoint_takes_scheme_host_and_port_only(write_config, pbi):
    with pytest.raises(ConfigError) as info:
        load_config(config(write_config, pbi, {"m": {"dax": REVENUE}}, endpoint=f"{pbi.url}/v1.0/myorg"))
    (problem,) = [p for p in info.value.problems if p.path == "connections.pbi.endpoint"]
    assert "scheme, host and port only (not the path /v1.0/myorg)" in problem.message


def test_the_emulator_is_as_strict_as_the_description(pbi):
    import httpx

    from tests.vendor_spec import PROBLEMS

    pbi.add(DS, WS, **{"Total Revenue": 1.0})
    pbi.bearers.append("a-test-token")
    url = f"{pbi.url}/v1.0/myorg/groups/{WS}/datasets/{DS}/executeQueries"
    with httpx.Client(
        headers={"Authorization": "Bearer a-test-token"},
        verify=ssl.create_default_context(cafile=pbi.certificates.ca_file),
    ) as c:
        two = c.post(url, json={"queries": [{"query": REVENUE}, {"query": REVENUE}]})
        blank = c.post(url, json={"queries": [{"query": 'EVALUATE ROW("v", [Nothing])'}]})
    assert two.status_code == 400  # "One query per API call."
    assert any("DatasetExecuteQueriesRequest" in p and "is too long" in p for p in PROBLEMS), PROBLEMS
    PROBLEMS.clear()
    assert blank.status_code == 400 and "DatasetExecuteQueriesError" in blank.text


# -- the connector contract (okrsync.testing.contract) ------------------------------------------------------


def contract_emulator():
    server = PowerBiEmulator(("contract-tenant", App("contract-app", secret=SECRET)))
    server.add(DS, WS, **{"Total Revenue": 1234.5, "Orders": 17})
    return server


def contract_case(server, _) -> ContractCase:
    return ContractCase(
        connection={"type": "power_bi", "tenant_id": "contract-tenant", "client_id": "contract-app"}
        | {"client_secret": "${PBI_SECRET}", "authority": server.entra.url, "endpoint": server.url, "rate_limit": 1000},
        metrics={
            "revenue": {"dataset": DS, "workspace": WS, "dax": REVENUE},
            "orders": {"dataset": DS, "workspace": WS, "dax": 'EVALUATE ROW("n", [Orders])'},
        },
        expected={"revenue": 1234.5, "orders": 17.0},
        env={"PBI_SECRET": SECRET, "SSL_CERT_FILE": str(server.certificates.ca_file)},
        broken={"dataset": DS, "workspace": WS, "dax": 'EVALUATE ROW("v", [No Such Measure])'},
        rejected_env={"PBI_SECRET": "canary-wrong-secret-2"},
    )


TestPowerBiContract = source_contract("power_bi", contract_case, emulator=contract_emulator)
