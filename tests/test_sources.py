"""csv and sql sources through the real config and pipeline functions (no mocks)."""

import sqlite3

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.errors import SourceError
from okrsync.sdk.connector import Observation
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from tests.helpers import oslo, write_csv

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
          write: {{connection: db, query: "with gone as (delete from deals returning 1) select count(*) from gone"}}
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
    assert isinstance(got["write"], SourceError)  # SQLite has no DML in WITH; mode=ro and the authorizer stand behind
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


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("commit; delete from deals; select 1", "one statement"),
        ("select 1; select 2", "one statement"),
        ("vacuum into '/tmp/okrsync-copy.db'", "not VACUUM"),
        ("attach database 'file:/tmp/x.db?mode=rw' as x", "not ATTACH"),
        ("pragma writable_schema = 1", "not PRAGMA"),
        ("delete from deals", "not DELETE"),
    ],
)
def test_sql_queries_are_one_select_checked_when_the_config_loads(write_config, query, says):
    from okrsync.errors import ConfigError

    path = write_config(f"""
        connections: {{db: {{type: sql, url: "sqlite:///biz.db"}}}}
        metrics: {{m: {{connection: db, query: "{query}"}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert says in str(info.value) and "metrics.m.query" in str(info.value) and ":" in str(info.value)


def sql_source(tmp_path, write_config, url, timeout=60.0):
    """The sql source of a real config, and a maker of queries that skip the config check (to prove the
    database-side guards on their own)."""
    import dataclasses

    from okrsync.connectors.sql_source import SqlMetric
    from okrsync.sync.fetch import open_source

    path = write_config(f"""
        connections: {{db: {{type: sql, url: "{url}", statement_timeout: {timeout}}}}}
        metrics: {{m: {{connection: db, query: "select 1"}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    sync_plan = plan(load_config(path), AS_OF)
    (template,) = sync_plan.queries["db"]

    def query(text: str):
        return dataclasses.replace(template, metric_id="m", params=SqlMetric.model_construct(query=text))

    return open_source(sync_plan.config, "db"), query


def test_sqlite_authorizer_allows_reading_only(tmp_path, write_config, sqlite_db):
    source, query = sql_source(tmp_path, write_config, "sqlite:///biz.db")
    copy = tmp_path / "copy.db"
    for forbidden in (f"vacuum into '{copy}'", f"attach database '{tmp_path / 'other.db'}' as other"):
        got = source.fetch([query(forbidden)])
        assert isinstance(got["m"], SourceError) and "only reads" in got["m"].message
    assert not copy.exists() and not (tmp_path / "other.db").exists()
    assert source.fetch([query("select count(*) from deals")])["m"].value == 5


def test_sqlite_statement_timeout_stops_a_runaway_query(tmp_path, write_config, sqlite_db):
    forever = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    source, query = sql_source(tmp_path, write_config, "sqlite:///biz.db", timeout=0.3)
    got = source.fetch([query(forever)])
    assert isinstance(got["m"], SourceError) and "statement_timeout" in got["m"].message


def test_postgresql_statement_timeout_stops_a_slow_query(tmp_path, write_config, pg_url):
    source, query = sql_source(tmp_path, write_config, pg_url, timeout=0.3)
    got = source.fetch([query("select 1 from pg_sleep(5)")])
    assert isinstance(got["m"], SourceError) and "statement timeout" in got["m"].message


@pytest.mark.parametrize("path", ["../secret.csv", "/etc/passwd", "data/../../x.csv", "~/x.csv"])
def test_csv_paths_outside_root_are_config_errors(write_config, path):
    from okrsync.errors import ConfigError

    config = write_config(f"""
        connections: {{files: {{type: csv, root: data}}}}
        metrics: {{m: {{connection: files, path: "{path}", column: n}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    with pytest.raises(ConfigError, match=r"metrics\.m\.path.*inside the connection's root"):
        load_config(config)


def test_csv_never_leaves_root_nor_prints_what_it_should_not(tmp_path, write_config):
    import os

    secret = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    (tmp_path / "sa.json").write_text(f'{{"private_key": "{secret}"}}\n')
    data = tmp_path / "data"
    data.mkdir()
    (data / "escape.csv").symlink_to(tmp_path / "sa.json")
    (data / "key.csv").write_text(f'{{"private_key": "{secret}"}}\n1\n')  # not a CSV: its first line is no header
    (data / "utf16.csv").write_bytes("n\n5\n".encode("utf-16"))
    os.mkfifo(data / "pipe.csv")  # reading it would block forever
    config = write_config("""
        connections: {files: {type: csv, root: data}}
        metrics:
          escape: {connection: files, path: escape.csv, column: n}
          key: {connection: files, path: key.csv, column: n}
          utf16: {connection: files, path: utf16.csv, column: n}
          pipe: {connection: files, path: pipe.csv, column: n}
        kpis: [{id: a, metric: escape, healthy: {min: 0}}, {id: b, metric: key, healthy: {min: 0}},
               {id: c, metric: utf16, healthy: {min: 0}}, {id: d, metric: pipe, healthy: {min: 0}}]
    """)
    got = fetch(config, "files")
    assert "outside the connection's root" in got["escape"].message
    assert "does not look like CSV column names" in got["key"].message
    assert "not UTF-8" in got["utf16"].message
    assert "not a regular file" in got["pipe"].message
    assert not any("PRIVATE KEY" in e.message or "MIIEv" in e.message for e in got.values())
