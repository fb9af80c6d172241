"""The store on SQLite and PostgreSQL: migrations, upserts, idempotent re-runs, overrides, ledger."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from okrsync.config.load import parse_config
from okrsync.delivery import fingerprint
from okrsync.errors import StoreError
from okrsync.evaluate import MetricState, Point, evaluate
from okrsync.store import Store
from tests.conftest import oslo

CONFIG = parse_config("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
metrics: {m: {formula: "1"}}
objectives: [{id: o, title: O, key_results: [{id: k, metric: m, start: 0, target: 10}]}]
kpis: [{id: h, metric: m, healthy: {max: 5}}]
""")


def test_migrates_once_and_reopens(store_url):
    store = Store(store_url)
    assert set(store.count_rows()) >= {"runs", "metric_values", "kr_results", "write_ledger", "overrides"}
    store.close()
    again = Store(store_url)  # already at head: no error, same tables
    with again.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar_one() == "0001"
    again.close()


def test_same_day_rerun_stores_nothing_twice(store_url):
    store = Store(store_url)
    at = oslo(2026, 11, 15, 2)
    for attempt in range(2):
        run_id = store.begin_run("ns", "Q4", date(2026, 11, 15), at, "run", at)
        store.save_values("ns", "Q4", run_id, [("m", date(2026, 11, 15), at, 4.0 + attempt)])
        evaluation = evaluate(CONFIG, {"m": MetricState((Point.of(at, 4.0 + attempt),))}, at)
        store.save_evaluation(run_id, evaluation)
        store.finish_run(run_id, "ok", {"attempt": attempt}, at)
    counts = store.count_rows()
    assert (
        counts["runs"],
        counts["metric_values"],
        counts["kr_results"],
        counts["objective_results"],
        counts["kpi_results"],
    ) == (1, 1, 1, 1, 1)
    latest = store.latest_run("ns", "Q4")
    assert latest.attempts == 2 and latest.document == {"attempt": 1} and latest.as_of == at
    assert store.load_history("ns", "Q4", at)["m"] == [Point.of(at, 5.0)]
    store.close()


def test_history_is_per_namespace_and_until_as_of(store_url):
    store = Store(store_url)
    days = [oslo(2026, 10, 1) + timedelta(days=d) for d in range(5)]
    store.save_values("a", "Q4", None, [("m", d.date(), d, float(i)) for i, d in enumerate(days)])
    store.save_values("b", "Q4", None, [("m", days[0].date(), days[0], 99.0)])
    history = store.load_history("a", "Q4", days[2])["m"]
    assert [p.value for p in history] == [0, 1, 2]
    assert history[0].at == days[0] and history[0].at.tzinfo is not None
    assert store.load_history("b", "Q4", days[4])["m"][0].value == 99
    store.close()


def test_overrides_once_and_sticky(store_url):
    store = Store(store_url)
    now = oslo(2026, 11, 1)
    store.add_override("ns", "k", 5, False, "first", now)
    store.add_override("ns", "k", 6, True, "second", now)  # supersedes the first
    store.add_override("ns", "j", 1, False, None, now)
    active = store.active_overrides("ns")
    assert {k: (o.value, o.sticky) for k, o in active.items()} == {"k": (6, True), "j": (1, False)}
    assert store.end_overrides("ns", now, once_only=True, reason="replaced") == 1
    assert set(store.active_overrides("ns")) == {"k"}
    assert store.end_overrides("ns", now, kr_id="k") == 1
    assert store.active_overrides("ns") == {}
    store.close()


def test_write_ledger_moves_through_states(store_url):
    store = Store(store_url)
    now = oslo(2026, 11, 1)
    ledger = store.ledger("ns", None)
    fp = fingerprint({"b": 2, "a": 1})
    assert fp == fingerprint({"a": 1, "b": 2})
    assert ledger.last_confirmed("slack", "digest") is None
    ledger.mark("slack", "digest", fp, "planned", now)
    ledger.mark("slack", "digest", fp, "sent", now)
    assert ledger.state("slack", "digest", fp) == "sent"
    assert ledger.last_confirmed("slack", "digest") is None
    ledger.mark("slack", "digest", fp, "confirmed", now)
    assert ledger.last_confirmed("slack", "digest") == fp
    assert store.count_rows()["write_ledger"] == 1
    store.close()


def test_unreachable_store_is_a_store_error_without_password():
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://okr:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cret-pw" not in str(info.value) and "127.0.0.1" in str(info.value)
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        Store("not a url")
