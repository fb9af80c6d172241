"""csv and sql sources through the real config and pipeline functions (no mocks)."""

import sqlite3

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.connector import Observation
from okrsync.errors import SourceError
from okrsync.pipeline import fetch_connection, plan
from tests.conftest import oslo, write_csv

AS_OF = oslo(2026, 11, 15)


def fetch(config_path, connection, as_of=AS_OF):
    config = load_config(config_path)
    return fetch_connection(plan(config, as_of), connection)


def values(result):
    return {k: (v.value if isinstance(v, Observation) else v) for k, v in result.items()}


@pytest.fixture
def csv_config(tmp_path, write_config):
    write_csv(
        tmp_path / "data" / "sales.csv",
        """
        date,region,amount,done
        2026-10-01,north,"1,000.5",yes
        2026-10-15,south,12%,no
        2026-11-01,north, 42 ,TRUE
        2026-11-20,north,500,FALSE
    """,
    )
    write_csv(
        tmp_path / "data" / "bad.csv",
        """
        date,amount
        2026-10-01,lots
    """,
    )
    return write_config("""
        connections: {files: {type: csv, root: data/}}
        metrics:
          total: {connection: files, path: sales.csv, column: amount, aggregate: sum, date_column: date}
          north: {connection: files, path: sales.csv, column: amount, aggregate: sum, where: {region: north}}
          rows: {connection: files, path: sales.csv, column: amount, aggregate: count}
          last: {connection: files, path: sales.csv, column: amount, date_column: date}
          avg: {connection: files, path: sales.csv, column: amount, aggregate: avg, where: {region: north}}
          share: {connection: files, path: sales.csv, column: done, aggregate: percent_done}
          latest_day: {connection: files, path: sales.csv, column: amount, where: {date: "{as_of}"}}
          bad: {connection: files, path: bad.csv, column: amount}
          nocol: {connection: files, path: sales.csv, column: price}
          nofile: {connection: files, path: missing.csv, column: amount}
        kpis:
          - {id: a, metric: total, healthy: {min: 0}}
          - {id: b, metric: north, healthy: {min: 0}}
          - {id: c, metric: rows, healthy: {min: 0}}
          - {id: d, metric: last, healthy: {min: 0}}
          - {id: e, metric: avg, healthy: {min: 0}}
          - {id: f, metric: share, healthy: {min: 0}}
          - {id: g, metric: latest_day, healthy: {min: 0}}
          - {id: h, metric: bad, healthy: {min: 0}}
          - {id: i, metric: nocol, healthy: {min: 0}}
          - {id: j, metric: nofile, healthy: {min: 0}}
    """)


def test_csv_aggregates_filters_and_parsing(csv_config):
    result = fetch(csv_config, "files")
    got = values(result)
    assert got["total"] == pytest.approx(1000.5 + 12 + 42)  # the 2026-11-20 row is after as_of
    assert got["north"] == pytest.approx(1000.5 + 42 + 500)
    assert got["rows"] == 4
    assert got["last"] == 42 and result["last"].observed_at == oslo(2026, 11, 1)
    assert got["avg"] == pytest.approx((1000.5 + 42 + 500) / 3)
    assert got["share"] == 50


def test_csv_errors_name_the_metric_and_what_to_fix(csv_config):
    got = values(fetch(csv_config, "files"))
    assert isinstance(got["bad"], SourceError) and got["bad"].metric == "bad"
    assert "line 2" in got["bad"].message and "'lots'" in got["bad"].message
    assert "no column 'price'" in got["nocol"].message and "amount" in got["nocol"].message
    assert "file not found" in got["nofile"].message
    assert "no rows" in got["latest_day"].message  # where with {as_of} placeholder matched nothing
    assert got["bad"].connection == "files"


@pytest.fixture
def sqlite_db(tmp_path):
    db = tmp_path / "biz.db"
    con = sqlite3.connect(db)
    con.executescript("""
        create table deals (closed_on text, status text, amount text);
        insert into deals values ('2026-09-30','won','5'), ('2026-10-02','won','10'), ('2026-11-01','won','1,000'),
                                 ('2026-11-20','won','7'), ('2026-10-05','lost','3');
    """)
    con.commit()
    con.close()
    return db


def sql_config(write_config, url):
    return write_config(f"""
        connections: {{db: {{type: sql, url: "{url}"}}}}
        metrics:
          won: {{connection: db, query: "select count(*) from deals where status = 'won'
                                          and closed_on between :cycle_start and :as_of"}}
          amount: {{connection: db, query: "select amount from deals where closed_on = '2026-11-01'"}}
          nothing: {{connection: db, query: "select amount from deals where 1 = 0"}}
          many: {{connection: db, query: "select status, amount from deals"}}
          broken: {{connection: db, query: "select * from nowhere"}}
          write: {{connection: db, query: "delete from deals"}}
        kpis: [{{id: a, metric: won, healthy: {{min: 0}}}}, {{id: b, metric: amount, healthy: {{min: 0}}}},
               {{id: c, metric: nothing, healthy: {{min: 0}}}}, {{id: d, metric: many, healthy: {{min: 0}}}},
               {{id: e, metric: broken, healthy: {{min: 0}}}}, {{id: f, metric: write, healthy: {{min: 0}}}}]
    """)


def test_sql_sqlite_binds_parses_and_is_read_only(tmp_path, write_config, sqlite_db):
    got = values(fetch(sql_config(write_config, "sqlite:///biz.db"), "db"))
    assert got["won"] == 2  # 2026-09-30 is before the cycle, 2026-11-20 after as_of
    assert got["amount"] == 1000
    assert "returned 0 row(s)" in got["nothing"].message
    assert "of 2 columns" in got["many"].message
    assert "no such table: nowhere" in got["broken"].message
    assert "readonly" in got["write"].message.replace("-", "").replace(" ", "").lower()
    assert sqlite3.connect(sqlite_db).execute("select count(*) from deals").fetchone()[0] == 5


def test_sql_postgresql_read_only_transaction(write_config, pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table deals (closed_on date, status text, amount numeric)"))
        conn.execute(
            sa.text(
                "insert into deals values ('2026-10-02','won',10), ('2026-11-01','won',1000), ('2026-11-20','won',7)"
            )
        )
    got = values(fetch(sql_config(write_config, pg_url), "db"))
    assert got["won"] == 2 and got["amount"] == 1000
    assert "read-only transaction" in got["write"].message
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from deals")).scalar_one() == 3
    engine.dispose()


def test_sql_connection_failure_fails_every_metric_without_leaking_the_url(write_config, monkeypatch):
    monkeypatch.setenv("DWH_URL", "postgresql+psycopg://okr:s3cret-pw@127.0.0.1:1/dwh?connect_timeout=2")
    config = write_config("""
        connections: {dwh: {type: sql, url: "${DWH_URL}"}}
        metrics: {a: {connection: dwh, query: "select 1"}, b: {connection: dwh, query: "select 2"}}
        kpis: [{id: a, metric: a, healthy: {min: 0}}, {id: b, metric: b, healthy: {min: 0}}]
    """)
    got = values(fetch(config, "dwh"))
    assert set(got) == {"a", "b"}
    for metric, err in got.items():
        assert isinstance(err, SourceError) and err.metric == metric and err.connection == "dwh"
        assert "s3cret-pw" not in err.message and "cannot connect" in err.message


def test_missing_env_variable_names_the_key(write_config, monkeypatch):
    monkeypatch.delenv("DWH_URL", raising=False)
    config = write_config("""
        connections: {dwh: {type: sql, url: "${DWH_URL}"}}
        metrics: {a: {connection: dwh, query: "select 1"}}
        kpis: [{id: a, metric: a, healthy: {min: 0}}]
    """)
    err = fetch(config, "dwh")["a"]
    assert "DWH_URL is not set" in err.message and "connections.dwh.url" in err.message
