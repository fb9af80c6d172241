"""Migration 0004 (the sync-day timeline) on SQLite and PostgreSQL: a store written by 0003 keeps its
history, each value moves to the day of the run that last stored it, and a process killed before the
upgrade commits leaves the 0003 schema and its rows as they were."""

import subprocess
import sys
import textwrap
from datetime import date

import sqlalchemy as sa

from okrsync.store import Store
from tests.helpers import migrate_to

# (metric, old day = the source's own day, observed_at, value, run_id): csat's Nov 27 row was read by the
# Nov 30 run (1) and taken over by the Dec 2 run (2); nps has two rows that both belong to run 2's day
ROWS = [
    ("csat", "2026-11-27", "2026-11-26 23:00:00", 86.5, 2),
    ("mrr", "2026-11-30", "2026-11-29 23:00:00", 10.0, 1),
    ("mrr", "2026-12-02", "2026-12-01 23:00:00", 12.0, 2),
    ("nps", "2026-11-28", "2026-11-27 23:00:00", 30.0, 2),
    ("nps", "2026-12-02", "2026-12-01 23:00:00", 31.0, 2),
    ("orphan", "2026-11-01", "2026-10-31 23:00:00", 5.0, None),  # its run was deleted: keeps its day
]


def store_at_0003(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        migrate_to(conn, "0003")
        for run_id, day in ((1, "2026-11-30"), (2, "2026-12-02")):
            conn.execute(
                sa.text(
                    "insert into runs (id, namespace, cycle, day, as_of, started_at, trigger) "
                    "values (:id, 'ns', 'Q4', :day, :t, :t, 'run')"
                ),
                {"id": run_id, "day": day, "t": f"{day} 12:00:00"},
            )
        for metric, day, observed, value, run_id in ROWS:
            conn.execute(
                sa.text(
                    "insert into metric_values (namespace, cycle, metric_id, day, observed_at, value, run_id) "
                    "values ('ns', 'Q4', :m, :d, :o, :v, :r)"
                ),
                {"m": metric, "d": day, "o": observed, "v": value, "r": run_id},
            )
    engine.dispose()


def rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("select metric_id, day, value from metric_values order by metric_id, day"))
        out = [(m, str(d)[:10], v) for m, d, v in found]
    engine.dispose()
    return out


def test_0004_moves_values_to_the_day_that_stored_them(store_url):
    store_at_0003(store_url)
    store = Store(store_url)  # migrates to head
    assert rows(store_url) == [
        ("csat", "2026-12-02", 86.5),
        ("mrr", "2026-11-30", 10.0),
        ("mrr", "2026-12-02", 12.0),
        ("nps", "2026-12-02", 31.0),  # of two rows on one day, the one observed last
        ("orphan", "2026-11-01", 5.0),
    ]
    history = store.load_history("ns", "Q4", date(2026, 11, 30))
    assert {m: [p.value for p in points] for m, points in history.items()} == {"mrr": [10.0], "orphan": [5.0]}
    csat = store.load_history("ns", "Q4", date(2026, 12, 2), ["csat"])["csat"][0]
    assert csat.observed_at.isoformat() == "2026-11-26T23:00:00+00:00"  # the source's time, unchanged
    store.close()


KILLED = """
import os, sys
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from okrsync.store import sqlite
from okrsync.store.engine import MIGRATIONS

url = sa.engine.make_url(sys.argv[1])
# the store's own engine on SQLite: transactional DDL
engine = sqlite.writer(url) if url.get_backend_name() == "sqlite" else sa.create_engine(url)
cfg = Config()
cfg.set_main_option("script_location", str(MIGRATIONS))
with engine.begin() as conn:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
    os._exit(9)  # killed after every step of 0004 ran, before the commit
"""


def test_a_kill_mid_migration_leaves_the_0003_schema(store_url):
    store_at_0003(store_url)
    before = rows(store_url)
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED), store_url], capture_output=True)
    assert killed.returncode == 9, killed.stderr.decode()
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar_one() == "0003"
        columns = {c["name"] for c in sa.inspect(conn).get_columns("metric_values")}
    engine.dispose()
    assert "as_of" not in columns and rows(store_url) == before
    Store(store_url).close()  # the next open migrates as if nothing had happened
    assert len(rows(store_url)) == 5
