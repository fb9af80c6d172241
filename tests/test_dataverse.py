"""The dataverse source end to end: the real config loader and fetch against the Dataverse emulator
(tests/emulators/dataverse.py, every request checked against tests/vendor_specs/dataverse.json) with a
token from the identity platform's emulator over HTTPS for the environment URL. Expected figures are
worked out by hand in each test. The connector contract runs here too (TestDataverseContract)."""

import json
import logging

import pytest

from okrsync.config.load import load_config
from okrsync.connectors.dataverse import query_path
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from okrsync.testing.emulator import Fault
from tests.emulators.dataverse import DataverseEmulator
from tests.emulators.entra import App
from tests.helpers import SECRET, cli, oslo
from tests.vendor_spec import spec

ENV_URL = "https://acme.crm4.dynamics.com"
CLIENT_SECRET = "d365SecretCanary0123456789"
DAY = oslo(2026, 11, 16)
OPPORTUNITIES = [  # statecode 0 open, 1 won, 2 lost
    {"statecode": 1, "actualvalue": 1000.0, "createdon": "2026-09-20T08:00:00Z"},
    {"statecode": 1, "actualvalue": 2500.0, "createdon": "2026-10-02T09:30:00Z"},
    {"statecode": 1, "actualvalue": 4000.0, "createdon": "2026-11-10T12:00:00Z"},
    {"statecode": 1, "actualvalue": None, "createdon": "2026-11-12T12:00:00Z"},
    {"statecode": 0, "actualvalue": None, "createdon": "2026-11-01T10:00:00Z"},
    {"statecode": 2, "actualvalue": 0.0, "createdon": "2026-10-15T10:00:00Z"},
]


@pytest.fixture
def dv(monkeypatch):
    server = DataverseEmulator(ENV_URL, app=App("app-1", secret=CLIENT_SECRET)).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.certificates.ca_file))
    monkeypatch.setenv("D365_SECRET", CLIENT_SECRET)
    server.table("opportunities", "opportunity", [dict(r) for r in OPPORTUNITIES])
    try:
        yield server
    finally:
        server.stop()


def connection(dv, **keys) -> dict:
    conn = {"type": "dataverse", "url": ENV_URL, "tenant_id": "contoso-tenant", "client_id": "app-1"}
    return conn | {"client_secret": "${D365_SECRET}", "endpoint": dv.url, "authority": dv.entra.url, **keys}


def config(write_config, dv, metrics: dict[str, dict], **keys):
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'd365', **k})}" for m, k in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    path = write_config(
        f"connections:\n  d365: {json.dumps(connection(dv, **keys))}\nmetrics:\n{lines}\nkpis: [{kpis}]\n"
    )
    return load_config(path)


def values(got: dict) -> dict:
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def fetch(cfg) -> dict:
    return values(fetch_connection(plan(cfg, DAY), "d365"))


WON = "statecode eq 1"


def test_count_sum_avg_min_max_with_a_token_for_the_environment(write_config, dv):
    metrics = {
        "won": {"entity_set": "opportunities", "filter": WON},
        "revenue": {"entity_set": "opportunities", "filter": WON, "aggregate": "sum", "field": "actualvalue"},
        "deal": {"entity_set": "opportunities", "filter": WON, "aggregate": "avg", "field": "actualvalue"},
        "smallest": {"entity_set": "opportunities", "aggregate": "min", "field": "actualvalue"},
        "largest": {"entity_set": "opportunities", "aggregate": "max", "field": "actualvalue"},
        "all": {"entity_set": "opportunities"},
    }
    got = fetch(config(write_config, dv, metrics))
    # won: 4 rows; their values 1000 + 2500 + 4000 (one has none) = 7500, average 7500 / 3 = 2500;
    # over every row the values are 1000, 2500, 4000, 0: min 0, max 4000; 6 rows in all
    assert got == {"won": 4.0, "revenue": 7500.0, "deal": 2500.0, "smallest": 0.0, "largest": 4000.0, "all": 6.0}
    (token,) = dv.entra.requests("POST", r"/oauth2/v2.0/token$")
    assert token.form()["scope"] == [f"{ENV_URL}/.default"]  # the environment URL is the resource
    sent = dv.requests()
    assert len(sent) == 6 and {r.headers["authorization"][:7] for r in sent} == {"Bearer "}
    for r in sent:
        assert (r.headers["accept"], r.headers["odata-maxversion"], r.headers["odata-version"]) == (
            "application/json",
            "4.0",
            "4.0",
        )
    f = "filter(statecode%20eq%201)/"
    assert sorted(dv.raw) == sorted(
        [
            f"/api/data/v9.2/opportunities?$apply={f}aggregate($count%20as%20total)",
            f"/api/data/v9.2/opportunities?$apply={f}aggregate(actualvalue%20with%20sum%20as%20total)",
            f"/api/data/v9.2/opportunities?$apply={f}aggregate(actualvalue%20with%20average%20as%20total)",
            "/api/data/v9.2/opportunities?$apply=aggregate(actualvalue%20with%20min%20as%20total)",
            "/api/data/v9.2/opportunities?$apply=aggregate(actualvalue%20with%20max%20as%20total)",
            "/api/data/v9.2/opportunities?$apply=aggregate($count%20as%20total)",
        ]
    )


def test_the_environment_url_from_an_env_reference_is_resolved(write_config, dv, monkeypatch):
    """``url: ${D365_URL}``: the token's resource and the API root read the variable's value, and without
    ``endpoint:`` the requests go to that URL (here the emulator's)."""
    monkeypatch.setenv("D365_URL", dv.url)
    keys = {"url": "${D365_URL}", "endpoint": None}
    cfg = config(write_config, dv, {"won": {"entity_set": "opportunities", "filter": WON}}, **keys)
    assert fetch(cfg) == {"won": 4.0}  # 4 won opportunities, as in the test above
    (token,) = dv.entra.requests("POST", r"/oauth2/v2.0/token$")
    assert token.form()["scope"] == [f"{dv.url}/.default"]


def test_cycle_placeholders_become_odata_date_literals(write_config, dv):
    since = "statecode eq 1 and createdon ge {cycle.start} and createdon le {cycle.end}"
    got = fetch(config(write_config, dv, {"m": {"entity_set": "opportunities", "filter": since}}))
    assert got == {"m": 3.0}  # won on or after 2026-10-01: Oct 2, Nov 10, Nov 12 (not Sep 20)
    (raw,) = dv.raw
    expected = "statecode%20eq%201%20and%20createdon%20ge%202026-10-01%20and%20createdon%20le%202026-12-31"
    assert raw == f"/api/data/v9.2/opportunities?$apply=filter({expected})/aggregate($count%20as%20total)"


def test_the_wire_form_matches_the_excerpt_and_a_plus_is_not_a_space(dv):
    for example in spec("dataverse")["wire"]["examples"]:
        path, _, apply = example["as_documented"].partition("?$apply=")
        assert query_path(path, apply) == example["on_the_wire"]
    # a literal plus (a date-time offset) travels as %2B; a space is never sent as '+'
    odd = query_path("opportunities", "filter(createdon ge 2026-10-01T00:00:00+02:00 and name eq 'A&B #1')/x")
    assert odd == (
        "/api/data/v9.2/opportunities?$apply=filter(createdon%20ge%202026-10-01T00:00:00%2B02:00%20and%20name"
        "%20eq%20'A%26B%20%231')/x"
    )


def test_ten_metrics_cost_one_token_and_ten_queries(write_config, dv, figures, capsys):
    metrics = {f"m{i}": {"entity_set": "opportunities", "filter": f"statecode eq {i % 3}"} for i in range(10)}
    got = fetch(config(write_config, dv, metrics))
    # statecode 0: 1 row, 1: 4 rows, 2: 1 row; i % 3 for i = 0..9 is 0,1,2,0,1,2,0,1,2,0
    assert got == {f"m{i}": [1.0, 4.0, 1.0][i % 3] for i in range(10)}
    tokens, queries = len(dv.entra.requests("POST", r"/token$")), len(dv.requests())
    configuration = len(dv.entra.requests("GET"))
    with capsys.disabled():
        print(
            f"\ndataverse, 10 metrics: {tokens} token request, {queries} queries ({configuration} OpenID configuration)"
        )
    assert (tokens, queries) == (1, 10)  # expected by hand: 1 token for the connection + 1 query a metric
    figures.append(("dataverse", "10 metrics", {"token requests": tokens, "queries": queries}))


def no_user(dv):
    dv.app_user = False


def not_a_member(dv):  # the answer users report when no application user exists (code and text unconfirmed)
    said = {"error": {"code": "0x80072560", "message": "The user is not a member of the organization."}}
    dv.fault("GET", "", Fault(403, said))


def unreadable(dv):
    dv.readable.discard("opportunities")


def many_rows(dv):
    dv.table("activitypointers", "activitypointer", [{"statecode": 1}] * 50_001)


@pytest.mark.parametrize(
    ("setup", "metric", "words"),
    [
        (
            no_user,
            {},
            "did not accept the token of connection 'd365' (HTTP 401): create an application user for client_id "
            "app-1 in the Power Platform admin center (environment https://acme.crm4.dynamics.com) with a security "
            "role that reads opportunities",
        ),
        (
            not_a_member,
            {},
            "knows no user for connection 'd365' (HTTP 403) (0x80072560: The user is not a member of the "
            "organization.): create an application user for client_id app-1",
        ),
        (
            unreadable,
            {},
            "lacks a privilege on opportunities (0x80040220: Principal user (Id=",
        ),
        (
            None,
            {"entity_set": "opportunity"},
            "has no entity set 'opportunity' (0x8006088a: Resource not found for the segment 'opportunity'.): "
            "entity_set is the table's EntitySetName, plural (e.g. opportunities",
        ),
        (
            None,
            {"filter": "statcode eq 1"},
            "refused the query on opportunities (HTTP 400) (0x80060888: Could not find a property named 'statcode' "
            "on type 'Microsoft.Dynamics.CRM.opportunity'.): check filter: and field:",
        ),
        (
            None,
            {"filter": "statecode == 1"},
            "(HTTP 400) (0x80060888: Syntax error at 'statecode == 1'",
        ),
        (
            None,
            {"aggregate": "sum", "field": "revenue"},
            "Could not find a property named 'revenue' on type 'Microsoft.Dynamics.CRM.opportunity'",
        ),
        (
            many_rows,
            {"entity_set": "activitypointers"},
            "refused the aggregate over activitypointers (Aggregate over more than 50000 records (the emulator's "
            "wording: Dataverse's is unpublished)): an aggregate reads at most 50,000 rows, narrow the filter",
        ),
    ],
)
def test_refusals_are_plain_messages_naming_the_fix(write_config, dv, waits, caplog, setup, metric, words):
    if setup:
        setup(dv)
    cfg = config(write_config, dv, {"m": {"entity_set": "opportunities", "filter": WON, **metric}})
    with caplog.at_level(logging.DEBUG):
        (err,) = fetch_connection(plan(cfg, DAY), "d365").values()
    assert isinstance(err, SourceError) and words in err.message, err
    for secret in (CLIENT_SECRET, *dv.entra.issued.access):
        assert secret not in err.message and secret not in caplog.text
    assert waits == [] and len(dv.requests()) == 1  # a refusal is not retried


def test_avg_of_nothing_is_an_error_and_a_sum_of_nothing_is_zero(write_config, dv):
    none = "statecode eq 0"  # the open opportunity has no actualvalue
    metrics = {
        "avg": {"entity_set": "opportunities", "filter": none, "aggregate": "avg", "field": "actualvalue"},
        "sum": {"entity_set": "opportunities", "filter": none, "aggregate": "sum", "field": "actualvalue"},
        "count": {"entity_set": "opportunities", "filter": "statecode eq 9"},
    }
    got = fetch(config(write_config, dv, metrics))
    assert got["sum"] == 0.0 and got["count"] == 0.0
    assert "no opportunities matching 'statecode eq 0' has a value in actualvalue, so no avg" in got["avg"]


def test_a_429_waits_for_retry_after_then_reads(write_config, dv, waits):
    dv.throttle(times=1, retry_after=7)
    assert fetch(config(write_config, dv, {"m": {"entity_set": "opportunities", "filter": WON}})) == {"m": 4.0}
    assert len(dv.requests()) == 2 and any(7 <= w <= 7.2 for w in waits)


def test_throttled_for_good_quotes_the_service_protection_limit(write_config, dv, waits, caplog):
    dv.throttle(times=20, retry_after=1)
    with caplog.at_level(logging.DEBUG):
        got = fetch(config(write_config, dv, {"m": {"entity_set": "opportunities"}}))
    assert "service protection limits (0x80072322: Number of requests exceeded the limit of 6000" in got["m"]
    assert 1 < len(dv.requests()) <= 5 and all(1 <= w <= 1.2 for w in waits if w >= 1)  # bounded retries
    assert not any(t in caplog.text or t in got["m"] for t in dv.entra.issued.access)


def test_connection_check_names_the_tables(write_config, dv):
    metrics = {"m": {"entity_set": "opportunities"}}
    said = check_connection(config(write_config, dv, metrics), "d365")
    assert said.startswith(
        "token accepted for https://acme.crm4.dynamics.com (application user found); reads opportunities"
    )
    assert "app-only token (client credentials, client secret) for https://acme.crm4.dynamics.com/.default" in said
    assert sorted(dv.raw) == ["/api/data/v9.2/WhoAmI", "/api/data/v9.2/opportunities?$top=1"]
    dv.app_user = False
    with pytest.raises(SourceError, match="with a security role that reads the tables its metrics read"):
        check_connection(config(write_config, dv, metrics), "d365")


def validate(write_config, monkeypatch, metric: str) -> tuple[int, str]:
    monkeypatch.setenv("D365_SECRET", CLIENT_SECRET)
    path = write_config(
        "connections:\n  d365: {type: dataverse, url: 'https://acme.crm4.dynamics.com', tenant_id: t, "
        "client_id: c, client_secret: '${D365_SECRET}'}\n"
        f"metrics:\n  won: {{{metric}}}\n"
        "kpis: [{id: won, metric: won, healthy: {min: 0}}]\n"
    )
    return cli(["-c", str(path), "validate"])


def test_sum_without_field_is_a_located_validate_error(write_config, monkeypatch):
    code, output = validate(write_config, monkeypatch, "connection: d365, entity_set: opportunities, aggregate: sum")
    assert code == 2 and "okrsync.yaml:7: metrics.won: aggregate sum needs field:" in output


def test_aggregate_percent_done_is_a_located_validate_error(write_config, monkeypatch):
    code, output = validate(write_config, monkeypatch, "connection: d365, entity_set: x, aggregate: percent_done")
    supported = "a dataverse metric supports count, sum, avg, min or max only"
    assert code == 2 and f"okrsync.yaml:7: metrics.won.aggregate: {supported}" in output


@pytest.mark.parametrize(
    ("keys", "where", "says"),
    [
        ({"endpoint": "https://127.0.0.1:8443/api/data/v9.2"}, "endpoint", "not the path /api/data/v9.2"),
        ({"url": "https://acme.crm4.dynamics.com/main.aspx"}, "url", "not the path /main.aspx"),
    ],
)
def test_url_and_endpoint_take_scheme_host_and_port_only(write_config, dv, keys, where, says):
    with pytest.raises(ConfigError) as info:
        config(write_config, dv, {"m": {"entity_set": "opportunities"}}, **keys)
    (problem,) = [p for p in info.value.problems if p.path == f"connections.d365.{where}"]
    assert says in problem.message


def test_entity_set_must_be_a_name(write_config, dv):
    with pytest.raises(ConfigError, match="is not a name"):
        config(write_config, dv, {"m": {"entity_set": "opportunities?$top=1"}})


# -- the connector contract ----------------------------------------------------------------------------


def contract_emulator() -> DataverseEmulator:
    dv = DataverseEmulator(ENV_URL, app=App("app-1", secret=SECRET))
    dv.table("opportunities", "opportunity", [dict(r) for r in OPPORTUNITIES])
    return dv  # started by the contract (its start makes the test CA and starts the identity platform)


def contract_case(dv, _) -> ContractCase:
    conn = {"type": "dataverse", "url": ENV_URL, "tenant_id": "contoso-tenant", "client_id": "app-1"}
    conn |= {"client_secret": "${D365_SECRET}", "endpoint": dv.url, "authority": dv.entra.url, "rate_limit": 1000}
    return ContractCase(
        connection=conn,
        metrics={
            "won": {"entity_set": "opportunities", "filter": WON},
            "revenue": {"entity_set": "opportunities", "filter": WON, "aggregate": "sum", "field": "actualvalue"},
        },
        expected={"won": 4.0, "revenue": 7500.0},  # 4 won; 1000 + 2500 + 4000 (one without a value)
        env={"D365_SECRET": SECRET, "SSL_CERT_FILE": str(dv.certificates.ca_file)},
        broken={"entity_set": "opportunities", "filter": "nope eq 1"},
        rejected_env={"D365_SECRET": "canary-wrong-secret-2"},
    )


TestDataverseContract = source_contract("dataverse", contract_case, emulator=contract_emulator)
