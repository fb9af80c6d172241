"""The store on SQLite and PostgreSQL: migrations, upserts, idempotent re-runs, overrides, ledger."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from okrsync.config.load import parse_config
from okrsync.errors import StoreError
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.sdk.delivery import fingerprint
from okrsync.store import Store
from okrsync.store.history import ValueRow
from tests.helpers import REPO, migrate_to, oslo

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
    versions = REPO / "okrsync" / "store" / "migrations" / "versions"
    newest = max(path.name[:4] for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))  # 0006_manual_key_results
    with again.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar_one() == newest
    again.close()


def test_the_newest_revision_read_from_the_file_names_is_alembics_head():
    """A store at head opens without Alembic (okrsync.store.engine.newest_revision): the two must agree."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from okrsync.store.engine import MIGRATIONS, newest_revision

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert newest_revision() == ScriptDirectory.from_config(cfg).get_current_head() == "0011"


def test_same_day_rerun_stores_nothing_twice(store_url):
    store = Store(store_url)
    at = oslo(2026, 11, 15, 2)
    for attempt in range(2):
        run_id = store.begin_run("ns", "Q4", date(2026, 11, 15), at, "run", at)
        store.save_values("ns", "Q4", run_id, [ValueRow("m", date(2026, 11, 15), at, at, 4.0 + attempt)])
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
    assert store.load_history("ns", "Q4", at.date())["m"] == [Point.of(at, 5.0)]
    store.close()


def test_history_is_per_namespace_and_until_the_synced_day(store_url):
    store = Store(store_url)
    days = [oslo(2026, 10, 1) + timedelta(days=d) for d in range(5)]
    store.save_values("a", "Q4", None, [ValueRow("m", d.date(), d, d, float(i)) for i, d in enumerate(days)])
    store.save_values("b", "Q4", None, [ValueRow("m", days[0].date(), days[0], days[0], 99.0)])
    history = store.load_history("a", "Q4", days[2].date())["m"]
    assert [p.value for p in history] == [0, 1, 2]
    assert history[0].at == days[0] and history[0].at.tzinfo is not None
    assert store.load_history("b", "Q4", days[4].date())["m"][0].value == 99
    store.close()


def test_history_keeps_the_sources_own_time_beside_the_synced_day(store_url):
    """A csv row dated 11-27 read by the runs of 11-28 and 11-30: two values, one per synced day, each at
    its run's as-of on the timeline, both observed 11-27 (what staleness reads)."""
    store = Store(store_url)
    row_day = oslo(2026, 11, 27)
    synced = [oslo(2026, 11, 28, 2), oslo(2026, 11, 30, 2)]
    store.save_values("ns", "Q4", None, [ValueRow("m", at.date(), at, row_day, 7.0) for at in synced])
    points = store.load_history("ns", "Q4", date(2026, 11, 30))["m"]
    assert [(p.at, p.observed_at, p.value) for p in points] == [(at, row_day, 7.0) for at in synced]
    assert store.load_history("ns", "Q4", date(2026, 11, 29))["m"] == [points[0]]
    store.close()


def test_history_groups_metrics_exactly_and_skips_old_non_finite_values(store_url):
    """Many metrics written interleaved come back each in day order, times exact to the microsecond
    (what count_until compares with as_of), and a NaN written by an older version is left out."""
    store = Store(store_url)
    base = oslo(2026, 10, 1, 6, 30).replace(microsecond=123456)
    rows = [
        ValueRow(f"m{i}", (base + timedelta(days=d)).date(), at := base + timedelta(days=d, seconds=i), at, 10 * i + d)
        for d in reversed(range(4))
        for i in range(3)
    ]
    store.save_values("ns", "Q4", None, rows)
    bad = float("nan") if store.engine.dialect.name == "postgresql" else float("inf")  # SQLite turns NaN to NULL
    with store.engine.begin() as conn:  # as a store from before values were checked could hold
        conn.execute(
            sa.text("update metric_values set value = :v where metric_id = 'm2' and day = '2026-10-02'"), {"v": bad}
        )
    history = store.load_history("ns", "Q4", date(2026, 10, 3))
    assert list(history) == ["m0", "m1", "m2"]
    assert [p.value for p in history["m0"]] == [0, 1, 2]
    assert [p.value for p in history["m1"]] == [10, 11, 12]
    assert [p.value for p in history["m2"]] == [20, 22]  # day 2 was not finite
    assert history["m1"][2].ts == (base + timedelta(days=2, seconds=1)).timestamp()
    assert store.load_history("other", "Q4", date(2026, 10, 3)) == {}
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
    claim = ledger.claim("slack", "digest", fp, base=0, state="sent", now=now)
    assert ledger.claim("slack", "digest", fp, base=0, state="sent", now=now) is None  # one claim per key
    assert ledger.state("slack", "digest", fp) == "sent"
    assert ledger.last_confirmed("slack", "digest") is None
    assert ledger.settle(claim, "confirmed", now)
    assert ledger.last_confirmed("slack", "digest").fingerprint == fp
    assert not ledger.settle(claim, "unsure", now, only_from="sent")  # already moved on
    assert store.count_rows()["write_ledger"] == 1
    store.close()


def test_unreachable_store_is_a_store_error_without_password():
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://okr:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cret-pw" not in str(info.value) and "127.0.0.1" in str(info.value)
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        Store("not a url")


def test_migration_0002_repairs_non_finite_numbers_and_keeps_the_ledger(store_url):
    """A store written before values were checked at the boundary: NaN/Infinity rows are removed or
    nulled, documents rewritten, and the ledger's rows survive the new claim key."""
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate_to(conn, "0001")
        now = "2026-11-15 01:00:00"
        document = '{"forecast": NaN, "kpis": [Infinity, 1.5]}'
        conn.execute(
            sa.text(
                "insert into runs (id, namespace, cycle, day, as_of, started_at, trigger, document) "
                "values (1, 'ns', 'Q4', '2026-11-15', :t, :t, 'run', :d)"
            ),
            {"t": now, "d": document if engine.dialect.name == "sqlite" else None},
        )
        bad = [float("inf"), float("-inf")] + ([float("nan")] if engine.dialect.name == "postgresql" else [])
        for i, value in enumerate([4.0, *bad]):
            insert = (
                "insert into metric_values (namespace, cycle, metric_id, day, observed_at, value) "
                "values ('ns', 'Q4', :m, '2026-11-15', :t, :v)"
            )
            conn.execute(sa.text(insert), {"m": f"m{i}", "t": now, "v": value})
        conn.execute(
            sa.text(
                "insert into kr_results (run_id, kr_id, objective_id, metric_id, kind, value, "
                "expected, status, stale, overridden, forecast_value) values (1, 'k', 'o', 'm0', "
                "'increase', 4, 50, 'on_track', false, false, :inf)"
            ),
            {"inf": float("inf")},
        )
        conn.execute(
            sa.text(
                "insert into write_ledger (namespace, sink, target, fingerprint, state, updated_at) "
                "values ('ns', 'slack', 'digest', 'fp', 'confirmed', :t)"
            ),
            {"t": now},
        )
    engine.dispose()

    store = Store(store_url)  # migrates to head
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select metric_id, value from metric_values")).all() == [("m0", 4.0)]
        assert conn.execute(sa.text("select forecast_value, value from kr_results")).one() == (None, 4.0)
    if store.engine.dialect.name == "sqlite":
        assert store.latest_run("ns", "Q4", finished=False).document == {"forecast": None, "kpis": [None, 1.5]}
    ledger = store.ledger("ns", None)
    assert ledger.last_confirmed("slack", "digest").fingerprint == "fp"
    assert ledger.claim("slack", "digest", "fp", base=0, state="sent", now=oslo(2026, 11, 16)) is None  # still held
    store.close()


def test_a_store_at_head_opens_without_loading_alembic(tmp_path):
    """Alembic is a third of a read command's imports: it loads only when a migration has work to do."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).close()  # created at head
    code = (
        "import sys\nfrom okrsync.store import Store\n"
        f"Store({url!r}, access='read').close()\nStore({url!r}).close()\n"
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
