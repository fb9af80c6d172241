"""A year of history at company scale (issue 26) on SQLite and PostgreSQL: migration 0011's indexes, the history read
returning exactly its namespace's, cycle's, metrics' and days' rows from them, and a sync reading of the other
namespaces only the objectives alignment reads (never their key results), with the same roll-up as whole documents."""

from datetime import date, timedelta

import sqlalchemy as sa

from okrsync.config.load import parse_config
from okrsync.okr.alignment import aligned_children, parent_findings
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.okr.status import StatusDocument, build_document
from okrsync.store import Store
from okrsync.store.history import ValueRow
from okrsync.sync.persist import other_documents
from tests.helpers import migrate_to, oslo


def index_sql(store: Store, name: str) -> str:
    """The database's own definition of index ``name`` (None when there is none)."""
    if store.engine.dialect.name == "postgresql":
        q = "SELECT indexdef FROM pg_indexes WHERE indexname = :n AND schemaname = current_schema()"
    else:
        q = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"
    with store.engine.connect() as conn:
        return conn.execute(sa.text(q), {"n": name}).scalar_one_or_none()


def test_migration_0011_creates_the_history_finished_run_and_run_id_indexes(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate_to(conn, "0010")
        conn.execute(
            sa.text(
                "INSERT INTO runs (namespace, cycle, day, as_of, started_at, trigger) "
                "VALUES ('a', 'Q4', '2026-11-01', '2026-11-01 05:00:00', '2026-11-01 05:00:00', 'run')"
            )
        )
    engine.dispose()
    store = Store(store_url)  # 0010 -> head
    assert index_sql(store, "ix_metric_values_history") is not None and index_sql(store, "ix_runs_finished") is not None
    indexes = {i["name"]: i for i in sa.inspect(store.engine).get_indexes("metric_values")}
    history = ["namespace", "cycle", "metric_id", "day", "as_of", "observed_at", "value"]
    assert indexes["ix_metric_values_history"]["column_names"] == history
    runs = {i["name"]: i for i in sa.inspect(store.engine).get_indexes("runs")}
    assert runs["ix_runs_finished"]["column_names"] == ["cycle", "namespace", "day"]
    assert "document IS NOT NULL" in index_sql(store, "ix_runs_finished").replace("(", "").replace(")", "")
    for table in ("metric_values", "held_values", "write_ledger"):  # a run's delete finds the rows pointing at it
        found = {i["name"]: i["column_names"] for i in sa.inspect(store.engine).get_indexes(table)}
        assert found[f"ix_{table}_run"] == ["run_id"]
    assert store.count_rows()["runs"] == 1  # the rows written before 0011 stay
    store.close()


def test_the_history_read_takes_the_covering_index_on_sqlite(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.connect() as conn:
        plan = conn.execute(
            sa.text(
                "EXPLAIN QUERY PLAN SELECT metric_id, as_of, value, observed_at FROM metric_values "
                "WHERE namespace = 'a' AND cycle = 'Q4' AND day <= '2026-12-31' ORDER BY metric_id, day"
            )
        ).all()
    assert any("COVERING INDEX ix_metric_values_history" in row[-1] for row in plan), plan
    store.close()


def test_the_history_read_returns_exactly_the_rows_of_its_namespace_cycle_metrics_and_days(store_url):
    """Values written a day at a time for every metric (as runs write them), beside other namespaces, cycles,
    metrics and later days: the read returns exactly the asked ones, each metric's in day order."""
    store = Store(store_url)
    days = [date(2026, 10, 1) + timedelta(days=d) for d in range(6)]
    for d, day in enumerate(days):
        at = oslo(day.year, day.month, day.day, 6)
        for namespace, cycle in (("a", "Q4"), ("b", "Q4"), ("a", "Q3")):
            rows = [ValueRow(m, day, at, at, 10.0 * i + d + (namespace == "b") * 100) for i, m in enumerate("zxy")]
            store.save_values(namespace, cycle, None, rows)
    got = store.load_history("a", "Q4", days[3], ["x", "z"])
    # by hand: x is metric 1, z metric 0; days 0..3; namespace a adds nothing
    assert {m: [p.value for p in points] for m, points in got.items()} == {
        "x": [10.0, 11.0, 12.0, 13.0],
        "z": [0.0, 1.0, 2.0, 3.0],
    }
    assert [p.at for p in got["x"]] == [oslo(d.year, d.month, d.day, 6) for d in days[:4]]
    assert sorted(store.load_history("a", "Q4", days[5])) == ["x", "y", "z"]
    store.close()


CONFIG = """\
version: 1
namespace: {namespace}
cycle: {{name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
metrics: {{m: {{formula: "1"}}}}
objectives:
  - {{id: grow, title: Grow, weight: 2, parent: {parent}, key_results: [{{id: k1, metric: m, start: 0, target: 4}},
     {{id: k2, metric: m, start: 0, target: 8}}]}}
  - {{id: keep, title: Keep, key_results: [{{id: k3, metric: m, start: 0, target: 2}}]}}
kpis: [{{id: h, metric: m, healthy: {{max: 5}}}}]
"""


def stored_document(store: Store, namespace: str, parent: str, day: date, value: float, finish: bool = True) -> dict:
    """A team's run of ``day`` with its real document (its KRs, its KPI) stored; the document as a dict."""
    config = parse_config(CONFIG.format(namespace=namespace, parent=parent), f"{namespace}.yaml")
    at = oslo(day.year, day.month, day.day, 6)
    evaluation = evaluate(config, {"m": MetricState((Point.of(at, value),))}, at)
    document = build_document(evaluation, config).to_dict()
    run_id = store.begin_run(namespace, "Q4", day, at, "run", at)
    if finish:
        store.finish_run(run_id, "ok", document, at)
    return document


def test_other_documents_hold_each_namespaces_latest_objectives_without_key_results(store_url):
    store = Store(store_url)
    company = parse_config(CONFIG.format(namespace="company", parent="null"), "company.yaml")
    stored_document(store, "company", "null", date(2026, 11, 2), 1.0)
    stored_document(store, "team-a", "company/grow", date(2026, 11, 1), 1.0)
    latest_a = stored_document(store, "team-a", "company/grow", date(2026, 11, 2), 2.0)
    stored_document(store, "team-a", "company/grow", date(2026, 11, 3), 3.0, finish=False)  # still running
    stored_document(store, "team-b", "company/keep", date(2026, 11, 4), 4.0)  # after the day read
    found = other_documents(store, company, until=date(2026, 11, 3))
    assert sorted(found) == ["team-a"]  # not its own, not b's later day
    whole = StatusDocument.from_dict(latest_a)
    assert [kr.id for _, kr in whole.key_results()] == ["k1", "k2", "k3"] and whole.kpis  # what is left out
    doc = found["team-a"]
    assert list(doc.key_results()) == [] and doc.kpis == [] and doc.errors == []
    assert doc.objectives == [o.model_copy(update={"key_results": []}) for o in whole.objectives]
    assert doc.model_copy(update={"objectives": []}) == whole.model_copy(update={"objectives": [], "kpis": []})
    assert doc.objectives[0].progress == 0.375  # by hand: 2 of 4 and 2 of 8, mean of 0.5 and 0.25
    full = {"team-a": whole}
    assert aligned_children(company, found) == aligned_children(company, full) != {}
    assert parent_findings(company, found) == parent_findings(company, full)
    store.close()
