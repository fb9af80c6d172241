"""HubSpot, Salesforce, Pipedrive and a generic JSON API end to end against local emulators."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from okrsync.config.load import load_config
from okrsync.sdk import retry
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from tests.emulators.crm import HubspotEmulator, JsonApiEmulator, PipedriveEmulator, SalesforceEmulator
from tests.helpers import oslo

DAY = oslo(2026, 11, 15)
HUBSPOT_TOKEN = "pat-eu1-canary-hubspot-0001"
SF_ID, SF_SECRET = "3MVG9canary-client-id", "canary-sf-secret-77"
PIPEDRIVE_TOKEN = "canary-pipedrive-token-42"
API_TOKEN = "canary-billing-token-9"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for k, v in {
        "HUBSPOT_TOKEN": HUBSPOT_TOKEN,
        "SF_CLIENT_ID": SF_ID,
        "SF_CLIENT_SECRET": SF_SECRET,
        "PIPEDRIVE_TOKEN": PIPEDRIVE_TOKEN,
        "BILLING_TOKEN": API_TOKEN,
    }.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def emulators():
    hub = HubspotEmulator(HUBSPOT_TOKEN).start()
    for i in range(450):
        hub.objects["deals"].append(
            {
                "id": str(i + 1),
                "properties": {
                    "dealstage": "closedwon" if i % 3 == 0 else "open",
                    "amount": str(100 + i),
                    "closedate": f"2026-{10 + i % 3:02d}-15T13:30:00Z",  # HubSpot returns datetimes
                },
            }
        )
    sf = SalesforceEmulator(SF_ID, SF_SECRET).start()
    sf.soql["SELECT SUM(Amount) total FROM Opportunity WHERE IsWon = true AND CloseDate >= 2026-10-01"] = {
        "totalSize": 1,
        "records": [{"attributes": {"type": "AggregateResult"}, "total": 1250000.0}],
    }
    sf.soql["SELECT COUNT() FROM Opportunity WHERE IsClosed = false"] = {"totalSize": 37, "records": []}
    pd = PipedriveEmulator(PIPEDRIVE_TOKEN).start()
    pd.deals = [
        {"status": "won", "value_eur": 1000, "filter_ids": [7], "pipeline_id": 1, "user_id": 5},
        {"status": "won", "value_eur": 3000, "filter_ids": [], "pipeline_id": 2, "user_id": 5},
        {"status": "lost", "value_eur": 500, "filter_ids": [7], "pipeline_id": 1, "user_id": 6},
    ]
    api = JsonApiEmulator(API_TOKEN).start()
    yield {"hubspot": hub, "salesforce": sf, "pipedrive": pd, "api": api}
    for e in (hub, sf, pd, api):
        e.stop()


def crm_config(write_config, e, rate: float = 1000, sfdc_extra: str = "", hubspot_extra: str = ""):
    metrics = {
        "won_count": "{connection: hubspot, object: deals, filters: [{property: dealstage, operator: EQ, value: "
        "closedwon}], aggregate: count}",
        "won_amount": "{connection: hubspot, object: deals, filters: [{property: dealstage, operator: EQ, value: "
        "closedwon}, {property: closedate, operator: GTE, value: '{cycle.start}'}], aggregate: sum, "
        "property: amount}",
        "all_amount": "{connection: hubspot, object: deals, aggregate: sum, property: amount}",
        "bad_object": "{connection: hubspot, object: widgets}",
        "sf_won": "{connection: sfdc, soql: 'SELECT SUM(Amount) total FROM Opportunity WHERE IsWon = true AND "
        "CloseDate >= {cycle.start}'}",
        "sf_open": "{connection: sfdc, soql: 'SELECT COUNT() FROM Opportunity WHERE IsClosed = false'}",
        "sf_bad": "{connection: sfdc, soql: 'SELECT COUNT() FROM Opportunity WHERE Name ~'}",
        "pd_won": "{connection: pipedrive, status: won}",
        "pd_won_value": "{connection: pipedrive, status: won, aggregate: sum}",
        "pd_filtered": "{connection: pipedrive, filter_id: 7, aggregate: avg}",
        "mrr": "{connection: billing, path: /metrics/mrr, params: {date: '{as_of}'}, select: data.current.value}",
        "invoiced": "{connection: billing, path: /invoices, select: 'items[].amount', aggregate: sum, "
        "paginate: {next: meta.next_cursor, param: cursor}}",
    }
    body = (
        "connections:\n"
        f'  hubspot: {{type: hubspot, token: "${{HUBSPOT_TOKEN}}", endpoint: "{e["hubspot"].url}",'
        f" rate_limit: {rate}{hubspot_extra}}}\n"
        '  sfdc: {type: salesforce, instance_url: "https://acme.my.salesforce.com",'
        f' endpoint: "{e["salesforce"].url}",'
        ' client_id: "${SF_CLIENT_ID}", client_secret: "${SF_CLIENT_SECRET}", rate_limit: 1000'
        f"{sfdc_extra}}}\n"
        '  pipedrive: {type: pipedrive, url: "https://acme.pipedrive.com",'
        f' endpoint: "{e["pipedrive"].url}", token: "${{PIPEDRIVE_TOKEN}}", rate_limit: 1000}}\n'
        f'  billing: {{type: http, base_url: "{e["api"].url}/api",'
        ' headers: {Authorization: "Bearer ${BILLING_TOKEN}"}, rate_limit: 1000}\n'
        "metrics:\n"
        + "".join(f"  {k}: {v}\n" for k, v in metrics.items())
        + "kpis:\n"
        + "".join(f"  - {{id: {k}, metric: {k}, healthy: {{min: 0}}}}\n" for k in metrics)
        + "outputs: [{type: report, path: out/report.json}]\n"
    )
    return load_config(write_config(body))


def fetch(cfg, connection):
    got = fetch_connection(plan(cfg, DAY), connection)
    return {m: getattr(v, "value", None) if not hasattr(v, "message") else v.message for m, v in got.items()}


def test_hubspot_count_in_one_request_and_sums_paged(write_config, emulators):
    hub = emulators["hubspot"]
    got = fetch(crm_config(write_config, emulators), "hubspot")
    won = [d for d in hub.objects["deals"] if d["properties"]["dealstage"] == "closedwon"]
    assert got["won_count"] == len(won) == 150
    assert got["won_amount"] == sum(float(d["properties"]["amount"]) for d in won)
    assert got["all_amount"] == sum(100 + i for i in range(450))
    assert "HTTP 404" in got["bad_object"] and "widgets" in got["bad_object"]
    searches = hub.requests("POST", "/search$")
    counts = [r for r in searches if r.json()["limit"] == 1]
    assert len(counts) == 2  # count metric: one request (plus bad_object's)
    assert [
        r.json().get("after") for r in searches if r.json()["limit"] == 200 and len(r.json()["filterGroups"]) == 0
    ] == ["0", "200", "400"]  # 450 deals: three pages of 200
    closed = next(r.json() for r in searches if r.json().get("properties") and r.json()["filterGroups"])
    october_first_utc = str(int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000))  # HubSpot: epoch ms
    assert {"propertyName": "closedate", "operator": "GTE", "value": october_first_utc} in closed["filterGroups"][0][
        "filters"
    ]


def test_hubspot_dates_are_epoch_milliseconds_and_day_bounds_mean_what_they_say(write_config, emulators):
    hub = emulators["hubspot"]
    hub.objects["deals"] = [
        {"id": "1", "properties": {"dealstage": "closedwon", "closedate": "2026-11-16T22:30:00Z"}},
        {"id": "2", "properties": {"dealstage": "closedwon", "closedate": "2026-11-17T00:00:00Z"}},
        {"id": "3", "properties": {"dealstage": "closedwon", "closedate": "2026-09-30T23:59:59Z"}},
    ]
    path = write_config(f"""
        connections:
          hubspot: {{type: hubspot, token: "${{HUBSPOT_TOKEN}}", endpoint: "{hub.url}", rate_limit: 1000}}
        metrics:
          to_date: {{connection: hubspot, filters: [{{property: closedate, operator: LTE, value: "{{as_of}}"}},
                                                     {{property: closedate, operator: GTE, value: "{{cycle.start}}"}}]}}
          window: {{connection: hubspot, filters: [{{property: closedate, operator: BETWEEN, value: "{{cycle.start}}",
                                                     high_value: "2026-11-16"}}]}}
          after: {{connection: hubspot, filters: [{{property: closedate, operator: GT, value: "2026-11-16"}}]}}
          iso: {{connection: hubspot, filters: [{{property: closedate, operator: GT,
                                                  value: "2026-11-16T23:00:00+01:00"}}]}}
        kpis: [{{id: a, metric: to_date, healthy: {{min: 0}}}}, {{id: b, metric: window, healthy: {{min: 0}}}},
               {{id: c, metric: after, healthy: {{min: 0}}}}, {{id: d, metric: iso, healthy: {{min: 0}}}}]
    """)
    found = fetch_connection(plan(load_config(path), oslo(2026, 11, 16)), "hubspot")
    got = {m: getattr(v, "value", None) if not hasattr(v, "message") else v.message for m, v in found.items()}
    assert got == {"to_date": 1, "window": 1, "after": 1, "iso": 2}  # 22:30 UTC on the 16th counts as that day
    sent = [f for r in hub.requests("POST", "/search$") for g in r.json()["filterGroups"] for f in g["filters"]]
    assert all(str(f[k]).isdigit() for f in sent for k in ("value", "highValue") if k in f)


def test_hubspot_sums_past_the_ten_thousand_ceiling_in_ranges_of_record_id(write_config, emulators):
    """HubSpot's search refuses to page past 10,000 results (the emulator answers 400 as HubSpot does): 25,000
    deals with portal-like ids are read in id ranges of at most 10,000, each paged whole, none twice."""
    hub = emulators["hubspot"]
    ids = [30_000_000_000 + 13 * i for i in range(25_000)]
    hub.objects["deals"] = [{"id": str(n), "properties": {"amount": str(i % 7)}} for i, n in enumerate(ids)]
    got = fetch(crm_config(write_config, emulators), "hubspot")
    assert got["all_amount"] == sum(i % 7 for i in range(25_000)) and got["won_count"] == 0
    bodies = [r.json() for r in hub.requests("POST", "/search$") if r.json()["properties"] != []]  # all_amount's
    bodies = [
        b for b in bodies if all(f["propertyName"] == "hs_object_id" for g in b["filterGroups"] for f in g["filters"])
    ]
    counts = [r.json() for r in hub.requests("POST", "/search$") if '"hs_object_id"' in r.body.decode()]
    counts = [b for b in counts if b["limit"] == 1]
    pages = [b for b in bodies if not b["filterGroups"]]
    ranged = [b for b in bodies if b["filterGroups"]]
    assert len(pages) == 1  # the first page said 25,000: its rows are not used, the ranges are
    first_pages = [b for b in ranged if b["after"] == "0"]  # one per id range
    assert len(first_pages) >= 3 and len(ranged) <= 25_000 // 200 + len(first_pages)  # each range paged once
    assert len(counts) <= 30  # bounds around the ids seen, then halving down to ranges of at most 10,000 deals
    bounds = [(int(f["value"]), int(f["highValue"])) for b in first_pages for f in b["filterGroups"][0]["filters"]]
    assert all(a[1] < b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # ranges in order, disjoint


def test_hubspot_past_the_ceiling_with_every_filter_used_is_a_clear_error(write_config, emulators):
    """A range needs one more filter; HubSpot takes 6 a group (the emulator answers 400 past that)."""
    hub = emulators["hubspot"]
    hub.objects["deals"] = [{"id": str(i), "properties": {"amount": "1"}} for i in range(1, 10_051)]
    six, five = (", ".join(["{property: amount, operator: GTE, value: 0}"] * k) for k in (6, 5))
    cfg = load_config(
        write_config(f"""
        connections:
          hubspot: {{type: hubspot, token: "${{HUBSPOT_TOKEN}}", endpoint: "{hub.url}", rate_limit: 1000}}
        metrics:
          six: {{connection: hubspot, filters: [{six}], aggregate: sum, property: amount}}
          five: {{connection: hubspot, filters: [{five}], aggregate: sum, property: amount}}
        kpis: [{{id: six, metric: six, healthy: {{min: 0}}}}, {{id: five, metric: five, healthy: {{min: 0}}}}]
    """)
    )
    got = fetch(cfg, "hubspot")
    assert "10,050 records match, more than HubSpot search returns (10,000)" in got["six"]
    assert "narrow the filters" in got["six"]
    assert got["five"] == 10_050  # five filters leave room for the id range


def test_hubspot_pacing_from_the_emulator_log(write_config, emulators):
    hub = emulators["hubspot"]
    fetch(crm_config(write_config, emulators, rate=5), "hubspot")
    times = sorted(r.at for r in hub.requests("POST", "/search$"))
    # never more than 5 searches arrive in any second (HubSpot's search limit), whatever the threads
    assert len(times) >= 6 and all(b - a >= 1.0 for a, b in zip(times, times[5:], strict=False))


def test_salesforce_client_credentials_and_soql(write_config, emulators):
    sf = emulators["salesforce"]
    got = fetch(crm_config(write_config, emulators), "sfdc")
    assert got["sf_won"] == 1_250_000 and got["sf_open"] == 37
    assert "MALFORMED_QUERY" not in got["sf_bad"] and "unexpected token" in got["sf_bad"]
    (token,) = sf.requests("POST", "/token$")
    assert token.form()["grant_type"] == ["client_credentials"]
    assert all(r.headers["authorization"].startswith("Bearer 00D") for r in sf.requests("GET", "/query$"))


def test_salesforce_stops_when_the_orgs_daily_allocation_is_used_up(write_config, emulators):
    """The answer that reports api-usage at the allocation is kept; okrsync then sends nothing more on
    the connection (the org's other integrations share the allocation) and says why."""
    sf = emulators["salesforce"]
    sf.api_used, sf.api_allocation = 14998, 15000
    cfg = crm_config(write_config, emulators, sfdc_extra=", max_concurrency: 1")
    got = fetch(cfg, "sfdc")
    spent = {m for m, v in got.items() if "allocation is used up (api-usage=15000/15000)" in str(v)}
    assert len(spent) == 1  # the 14,999th and 15,000th requests were answered, the third was never sent
    expected = {"sf_won": 1_250_000, "sf_open": 37}
    assert all(got[m] == v for m, v in expected.items() if m not in spent)
    assert sf.api_used == 15000 and len(sf.requests("GET", "/query$")) == 2
    sf.api_used = 15000  # already over when the sync starts: Salesforce's 403 says so, nothing else is sent
    got = fetch(crm_config(write_config, emulators, sfdc_extra=", max_concurrency: 1"), "sfdc")
    assert all("allocation is used up" in m for m in got.values()), got
    assert len(sf.requests("GET", "/query$")) == 3


def test_hubspot_stops_when_the_accounts_daily_limit_is_used_up(write_config, emulators):
    """Remaining 0 on an answer keeps that answer and stops the connection; a 429 with policyName DAILY is
    not retried (nothing frees up before midnight)."""
    hub = emulators["hubspot"]
    hub.daily_used, hub.daily_limit = 249_997, 250_000  # three requests left
    got = fetch(crm_config(write_config, emulators, hubspot_extra=", max_concurrency: 1"), "hubspot")
    spent = {m for m, v in got.items() if "daily API limit is used up" in str(v)}
    assert 0 < len(spent) < len(got) and hub.daily_used == 250_000  # nothing sent once Remaining said 0
    got = fetch(crm_config(write_config, emulators, hubspot_extra=", max_concurrency: 1"), "hubspot")
    assert all("daily API limit is used up" in str(v) for v in got.values()), got
    assert hub.daily_used == 250_001  # the refused request only: no retries, nothing after it


def test_salesforce_bad_client_secret(write_config, emulators, monkeypatch):
    monkeypatch.setenv("SF_CLIENT_SECRET", "wrong-secret-123")
    got = fetch(crm_config(write_config, emulators), "sfdc")
    assert all("invalid client credentials" in m for m in got.values())
    assert all("wrong-secret-123" not in m for m in got.values())


def test_pipedrive_summary_with_documented_token(write_config, emulators):
    pd = emulators["pipedrive"]
    got = fetch(crm_config(write_config, emulators), "pipedrive")
    assert got == {"pd_won": 2, "pd_won_value": 4000, "pd_filtered": 750}
    summaries = pd.requests("GET", "summary")
    assert all(r.headers["x-api-token"] == PIPEDRIVE_TOKEN and "api_token" not in r.query for r in summaries)


def test_generic_json_api_select_and_pagination(write_config, emulators):
    api = emulators["api"]
    got = fetch(crm_config(write_config, emulators), "billing")
    assert got == {"mrr": 152300.5, "invoiced": 150}
    assert api.requests("GET", "mrr$")[0].query["date"] == ["2026-11-15"]
    assert [r.query.get("cursor") for r in api.requests("GET", "invoices$")] == [None, ["2"], ["4"]]
    api.loop = True
    assert "same page cursor twice" in fetch(crm_config(write_config, emulators), "billing")["invoiced"]


def test_unreachable_api_is_retried_then_reported(write_config, emulators, monkeypatch):
    recorded: list[float] = []
    monkeypatch.setattr(retry, "sleep", recorded.append)
    emulators["api"].stop()
    got = fetch(crm_config(write_config, emulators), "billing")
    assert "gave up after retries: cannot connect" in got["mrr"]
    assert len([w for w in recorded if w > 0.1]) == 2 * (retry.RetryPolicy().attempts - 1)


def test_through_the_cli_no_secret_anywhere(write_config, emulators, tmp_path):
    cfg = crm_config(write_config, emulators)
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OKRSYNC_STORE_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "okrsync", "-v", "-c", str(cfg.path), "run", "--as-of", "2026-11-15"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 1  # bad_object and sf_bad fail; the rest is stored
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {k["id"]: k["value"] for k in doc["kpis"]}["pd_won_value"] == 4000
    test = subprocess.run(
        [sys.executable, "-m", "okrsync", "-c", str(cfg.path), "connections", "test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "✓ pipedrive (pipedrive): token of ops@acme.example" in test.stdout
    everything = run.stdout + run.stderr + test.stdout + test.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            everything += path.read_bytes().decode("utf-8", "replace")
    for canary in (HUBSPOT_TOKEN, SF_SECRET, PIPEDRIVE_TOKEN, API_TOKEN):
        assert canary not in everything


def test_connection_checks_use_what_the_config_reads(write_config, emulators, monkeypatch):
    """A contacts-only HubSpot token checks fine for a config that counts contacts (and fails, naming the
    scope, for one that reads deals); the Salesforce check never needs "View Setup and Configuration"."""
    from okrsync.errors import SourceError
    from okrsync.sync.fetch import check_connection

    hub, sf = emulators["hubspot"], emulators["salesforce"]
    hub.scopes = {"contacts"}
    monkeypatch.setenv("HUBSPOT_TOKEN", HUBSPOT_TOKEN)

    def hubspot_config(obj: str):
        return load_config(
            write_config(f"""
            connections: {{hubspot: {{type: hubspot, token: "${{HUBSPOT_TOKEN}}", endpoint: "{hub.url}"}}}}
            metrics: {{n: {{connection: hubspot, object: {obj}}}}}
            kpis: [{{id: n, metric: n, healthy: {{min: 0}}}}]
        """)
        )

    assert check_connection(hubspot_config("contacts"), "hubspot") == "private-app token accepted"
    with pytest.raises(SourceError, match="crm.objects.deals.read"):
        check_connection(hubspot_config("deals"), "hubspot")
    assert [r.path for r in hub.requests("GET")] == ["/crm/v3/objects/contacts", "/crm/v3/objects/deals"]

    cfg = crm_config(write_config, emulators)
    assert "token accepted" in check_connection(cfg, "sfdc")
    assert sf.requests("GET", "/limits$") == []


def test_independent_queries_of_one_connection_are_in_flight_together(write_config, emulators):
    """Four requests in flight at once by default (max_concurrency: 1 makes it one at a time); a slow
    API answers in 0.3 s, so concurrency shows as overlapping requests in the emulator's log."""
    from okrsync.testing import Fault

    api = emulators["api"]
    for concurrency, expected in ((None, 4), (1, 1)):
        connection = {
            "type": "http",
            "base_url": f"{api.url}/api",
            "rate_limit": 1000,
            "headers": {"Authorization": "Bearer ${BILLING_TOKEN}"},
        }
        if concurrency:
            connection["max_concurrency"] = concurrency
        metrics = {
            f"m{i}": {"connection": "api", "path": "/metrics/mrr", "select": "data.current.value"} for i in range(8)
        }
        cycle = {"name": "Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"}
        config = {
            "version": 1,
            "cycle": cycle,
            "connections": {"api": connection},
            "metrics": metrics,
            "kpis": [{"id": m, "metric": m, "healthy": {"min": 0}} for m in metrics],
        }
        cfg = load_config(write_config(json.dumps(config), header=False))
        before = len(api.log)
        api.fault("GET", "/mrr$", Fault(delay=0.3), times=8)  # a slow API, answering normally
        got = fetch_connection(plan(cfg, DAY), "api")
        assert all(v.value == 152300.5 for v in got.values())
        started = sorted(r.at for r in api.log[before:])
        in_flight = max(sum(1 for t in started if s <= t < s + 0.3) for s in started)
        assert in_flight == expected
