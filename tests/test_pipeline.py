"""The sync pipeline end to end on local sources: partial failure, staleness, idempotence, overrides."""

import json
from collections.abc import Sequence
from typing import Literal

import pytest

from okrsync.config.load import load_config
from okrsync.config.schema import json_schema
from okrsync.errors import ConfigError, SourceError
from okrsync.registry import Registry, RegistryError, registry
from okrsync.sdk.connector import ConnectionSettings, Connector, MetricParams, MetricQuery, Observation, Source
from okrsync.store import Store
from okrsync.sync.plan import compile_plan as plan
from okrsync.sync.sequence import reevaluate, sync
from tests.helpers import oslo, write_csv

DAY1, DAY2, DAY3 = oslo(2026, 11, 14), oslo(2026, 11, 15), oslo(2026, 11, 16)


@pytest.fixture
def team(tmp_path, write_config):
    write_csv(
        tmp_path / "data" / "kpi.csv",
        """
        date,signups,csat
        2026-11-14,10,80
        2026-11-15,20,81
        2026-11-16,30,82
    """,
    )
    return write_config("""
        connections:
          files: {type: csv, root: data/}
          dwh: {type: sql, url: "sqlite:///missing.db"}
        metrics:
          signups: {connection: files, path: kpi.csv, column: signups, date_column: date}
          csat: {connection: files, path: kpi.csv, column: csat, date_column: date}
          revenue: {connection: dwh, query: "select 1"}
          per_signup: {formula: "revenue / signups"}
          ratio: {formula: "csat / (signups - signups)"}
        objectives:
          - id: grow
            title: Grow
            key_results:
              - {id: signups, metric: signups, start: 0, target: 100}
              - {id: csat, metric: csat, start: 75, target: 90}
              - {id: revenue, metric: revenue, start: 0, target: 10}
              - {id: ratio, metric: ratio, kind: at_least, target: 1}
        kpis: [{id: rps, metric: per_signup, healthy: {min: 0}}]
        outputs: [{type: report, path: out/report.json}, {type: report, path: out/report.md}]
    """)


def kr(doc, kr_id):
    doc = doc.to_dict() if hasattr(doc, "to_dict") else doc
    return next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == kr_id)


def test_plan_groups_by_connection_and_skips_formulas(team):
    compiled = plan(load_config(team), DAY1)
    assert {c: [q.metric_id for q in qs] for c, qs in compiled.queries.items()} == {
        "dwh": ["revenue"],
        "files": ["csat", "signups"],
    }
    assert compiled.formulas == ("per_signup", "ratio")
    assert compiled.metrics == ("csat", "per_signup", "ratio", "revenue", "signups")
    assert compiled.day.isoformat() == "2026-11-14" and set(compiled.metric_as_of) == set(compiled.metrics)


def test_plan_orders_formulas_by_dependency_and_applies_offset_days(write_config):
    path = write_config("""
        connections: {f: {type: csv, root: .}}
        metrics:
          a: {connection: f, path: x.csv, column: n, offset_days: 3}
          total: {formula: "half * 2"}
          half: {formula: "a / 2"}
        kpis: [{id: t, metric: total, healthy: {min: 0}}]
    """)
    compiled = plan(load_config(path), DAY2)
    assert compiled.formulas == ("half", "total")  # each after the formula it uses
    assert compiled.queries["f"][0].as_of == oslo(2026, 11, 12)
    assert compiled.metric_as_of["total"] == DAY2


def test_failing_source_never_stops_the_others(team):
    config = load_config(team)
    result = sync(config, DAY1, now=DAY1)
    assert result.exit_code == 1
    doc = result.document.to_dict()
    assert kr(doc, "signups")["value"] == 10 and kr(doc, "signups")["status"] != "no_data"
    assert kr(doc, "revenue")["status"] == "no_data" and "SQLite database not found" in kr(doc, "revenue")["error"]
    assert "division by zero" in kr(doc, "ratio")["error"]
    errors = {e["metric"]: e for e in doc["errors"]}
    assert errors["revenue"]["connection"] == "dwh"
    assert "revenue" in errors["per_signup"]["message"]  # a formula over a failed metric says which
    assert (team.parent / "out" / "report.json").exists() and (team.parent / "out" / "report.md").exists()


def test_failed_fetch_keeps_the_last_value_and_flags_stale(team, tmp_path):
    config = load_config(team)
    sync(config, DAY1, now=DAY1)
    (tmp_path / "data" / "kpi.csv").write_text("date,signups\n")  # the export broke: csat column gone
    result = sync(config, DAY2, now=DAY2)
    csat = kr(result.document, "csat")
    assert csat["value"] == 80 and csat["stale"] and "fetch failed" in csat["stale_reason"]
    assert "no column 'csat'" in csat["stale_reason"]


def test_same_sync_twice_stores_nothing_twice(team):
    config = load_config(team)
    store = Store(config.store_url())
    sync(config, DAY2, now=DAY2, store=store)
    before = store.count_rows()
    report = (team.parent / "out" / "report.md").stat().st_mtime_ns
    again = sync(config, DAY2, now=DAY2, store=store)
    assert store.count_rows() == before
    assert "unchanged" in " ".join(again.writes)
    assert (team.parent / "out" / "report.md").stat().st_mtime_ns == report
    store.close()


def test_dry_run_changes_nothing(team):
    config = load_config(team)
    result = sync(config, DAY1, now=DAY1, dry_run=True)
    assert result.run_id is None and kr(result.document, "signups")["value"] == 10
    assert any("would write" in w for w in result.writes)
    assert not (team.parent / "out").exists()
    store = Store(config.store_url())
    assert store.count_rows()["metric_values"] == 0 and store.count_rows()["runs"] == 0
    store.close()


def test_history_builds_forecast_and_start_auto(team):
    config = load_config(team)
    for day in (DAY1, DAY2, DAY3):
        result = sync(config, day, now=day)
    signups = kr(result.document, "signups")
    assert signups["forecast"] is not None and signups["forecast"]["value"] > 30  # +10 a day
    assert [p[1] for p in result.history["signups"]] == [10, 20, 30]


def test_override_once_then_replaced_and_sticky_kept(team):
    config = load_config(team)
    store = Store(config.store_url())
    sync(config, DAY1, now=DAY1, store=store)
    store.add_override(config.namespace, "signups", 99, False, "manual count", DAY1)
    shown = reevaluate(config, store, now=DAY1)
    assert kr(shown.document, "signups")["value"] == 99
    assert kr(shown.document, "signups")["override"]["note"] == "manual count"
    assert kr(shown.document, "revenue")["error"]  # errors of the run are kept on re-evaluation
    assert store.latest_run(config.namespace).document == shown.document.to_dict()
    replaced = sync(config, DAY2, now=DAY2, store=store)
    assert kr(replaced.document, "signups")["value"] == 20 and store.active_overrides(config.namespace) == {}
    store.add_override(config.namespace, "signups", 55, True, None, DAY2)
    assert kr(sync(config, DAY3, now=DAY3, store=store).document, "signups")["value"] == 55
    store.close()


class FakeMetric(MetricParams):
    answer: float


class FakeConnection(ConnectionSettings):
    type: Literal["fake"]
    region: str


class FakeSource(Source[FakeConnection, FakeMetric]):
    calls: list[list[str]] = []

    def fetch(self, queries: Sequence[MetricQuery]):
        FakeSource.calls.append([q.metric_id for q in queries])
        return {q.metric_id: Observation(q.params.answer) for q in queries}


class CrashingConnection(FakeConnection):
    type: Literal["crashing"]


class CrashingSource(FakeSource):
    def fetch(self, queries):
        raise RuntimeError("bug with secret-token-123 inside")


FAKE = Connector("fake", connection=FakeConnection, metric=FakeMetric, source=FakeSource)
CRASHING = Connector("crashing", connection=CrashingConnection, metric=FakeMetric, source=CrashingSource)


def test_third_party_connector_through_the_registry(write_config):
    reg = registry()
    reg.register(FAKE)
    reg.register(CRASHING)
    try:
        path = write_config("""
            connections: {f: {type: fake, region: eu}, c: {type: crashing, region: us}}
            metrics:
              a: {connection: f, answer: 42}
              b: {connection: f, answer: 7}
              z: {connection: c, answer: 1}
            kpis: [{id: a, metric: a, healthy: {min: 0}}, {id: b, metric: b, healthy: {min: 0}},
                   {id: z, metric: z, healthy: {min: 0}}]
        """)
        FakeSource.calls.clear()
        result = sync(load_config(path), DAY1, now=DAY1, dry_run=True)
        assert FakeSource.calls == [["a", "b"]]  # one batch per connection
        assert {k["id"]: k["value"] for k in result.document.to_dict()["kpis"]} == {"a": 42, "b": 7, "z": None}
        crash = result.errors["z"].message
        assert "unexpected error in the crashing connector" in crash and "secret-token" not in crash
        bad = write_config(
            """
            connections: {f: {type: fake, regoin: eu}}
            metrics: {a: {connection: f, answr: 42}}
        """,
            name="bad.yaml",
        )
        with pytest.raises(ConfigError) as info:
            load_config(bad)
        text = str(info.value)
        assert "connections.f.regoin" in text and "connections.f.region: required" in text
        assert "metrics.a.answr: not a key of a fake metric" in text
        assert "fake" in json.dumps(json_schema())  # the schema is built from the registry
    finally:
        reg.unregister("fake")
        reg.unregister("crashing")


def test_registry_rejects_broken_connectors():
    reg = Registry()
    reg.register(FAKE)
    with pytest.raises(RegistryError, match="registered twice"):
        reg.register(CRASHING, "fake")
    with pytest.raises(RegistryError, match="not an okrsync.sdk.connector.Connector"):
        reg.register(dict, "dict")  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="type must be Literal"):
        reg.register(Connector("other", connection=FakeConnection, metric=FakeMetric, source=FakeSource))
    with pytest.raises(RegistryError, match="must subclass okrsync.sdk.connector.MetricParams"):
        reg.register(Connector("fake2", connection=FakeConnection, metric=dict, source=FakeSource))  # type: ignore
    with pytest.raises(RegistryError, match="not an okrsync.sdk.connector.Source or Sink"):
        reg.register(Connector("crashing", connection=CrashingConnection, metric=FakeMetric, source=dict))


def test_a_type_without_an_installed_connector_is_a_located_config_error(write_config):
    """Built-in and third-party types take the same path: a type nobody installed (here: hubspot and
    slack taken out of the registry) is a config error naming the installed types, before any fetch."""
    reg = registry()
    saved = reg.connectors.pop("hubspot"), reg.connectors.pop("slack")
    try:
        path = write_config("""
            connections: {crm: {type: hubspot, token: "${HUBSPOT_TOKEN}"}, files: {type: csv, root: .}}
            metrics: {won: {connection: crm, object: deals, aggregate: count}}
            kpis: [{id: won, metric: won, healthy: {max: 3}}]
            outputs: [{type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}]
        """)
        with pytest.raises(ConfigError) as info:
            load_config(path)
    finally:
        reg.connectors["hubspot"], reg.connectors["slack"] = saved
    text = str(info.value)
    listed = text.split("unknown connection type 'hubspot'; expected one of: ")[1].split("\n")[0]
    assert "csv" in listed.split(", ") and "hubspot" not in listed
    assert "outputs[0].type: output type 'slack' is not known; expected one of: " in text and "webhook" in text


def test_output_connection_is_checked_when_the_config_loads(write_config):
    path = write_config("""
        connections: {files: {type: csv, root: .}, sheet: {type: google_sheets}}
        outputs:
          - {type: google_sheets, connection: shet, spreadsheet: "1AbCdEfGhIjKlMnOp"}
          - {type: jira, connection: files}
          - {type: google_sheets, connection: sheet, spreadsheet: "1AbCdEfGhIjKlMnOp"}
    """)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = {p.path: p for p in info.value.problems}
    assert set(problems) == {"outputs[0].connection", "outputs[1].connection"}
    assert "unknown connection 'shet' (defined: files, sheet)" in problems["outputs[0].connection"].message
    assert (
        "'files' is a csv connection; a jira output needs a jira connection"
        in problems["outputs[1].connection"].message
    )
    assert problems["outputs[1].connection"].line == 8  # 3 header lines, then connections, outputs, [0]


def test_source_error_carries_metric_and_connection():
    err = SourceError("boom", connection="c").for_metric("m")
    assert (err.metric, err.connection, err.message) == ("m", "c", "boom")


def test_canary_secret_never_reaches_store_reports_or_errors(tmp_path, write_config, monkeypatch, capsys):
    canary = "canary-9f3b2c"
    monkeypatch.setenv("DWH_URL", f"postgresql+psycopg://okr:{canary}@127.0.0.1:1/dwh?connect_timeout=2")
    monkeypatch.setenv("SQLITE_URL", "sqlite:///ok.db")
    import sqlite3

    sqlite3.connect(tmp_path / "ok.db").execute("create table t (n int)").connection.commit()
    path = write_config("""
        connections:
          dwh: {type: sql, url: "${DWH_URL}"}
          ok: {type: sql, url: "${SQLITE_URL}"}
        metrics:
          a: {connection: dwh, query: "select 1"}
          b: {connection: ok, query: "select count(*) from t"}
        objectives: [{id: o, title: O, key_results: [{id: a, metric: a, start: 0, target: 1},
                                                      {id: b, metric: b, start: 0, target: 1}]}]
        outputs: [{type: report, path: r.html}, {type: report, path: r.json}, {type: report, path: r.md},
                  {type: report, path: r.csv}]
    """)
    result = sync(load_config(path), DAY1, now=DAY1)
    assert result.exit_code == 1 and "cannot connect" in result.errors["a"].message
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert canary.encode() not in file.read_bytes(), file
    captured = capsys.readouterr()
    assert canary not in captured.out + captured.err
