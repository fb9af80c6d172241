"""The sql source beyond SQLite and PostgreSQL: MariaDB for real, and what every other dialect gets.

MariaDB/MySQL tests read OKRSYNC_TEST_MYSQL_URL (e.g. mysql+pymysql://root@127.0.0.1:3306/test, a user that
may create databases and users). Unset, they skip with a reason; under OKRSYNC_REQUIRE_MYSQL=1 an unset or
unusable URL is a failure, not a skip. The module makes a throwaway database okrsync_<random> and a user that
may only SELECT in it, and drops both afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
import time
import types
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sdk.connector import Observation
from okrsync.sync.fetch import fetch_connection, open_source
from okrsync.sync.plan import compile_plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.helpers import SECRET, oslo

MYSQL_ENV = "OKRSYNC_TEST_MYSQL_URL"
AS_OF = oslo(2026, 11, 15)
ATTACK = "/*! delete from deals where 1 or (*/ select 1 /*!)*/"  # one SELECT to a text check, a DELETE to MySQL


def mysql_base_url() -> sa.URL:
    """OKRSYNC_TEST_MYSQL_URL, reachable; else a skip with the reason (a failure under OKRSYNC_REQUIRE_MYSQL=1)."""
    required = os.environ.get("OKRSYNC_REQUIRE_MYSQL") == "1"
    raw = os.environ.get(MYSQL_ENV)
    if not raw:
        if required:
            pytest.fail(f"{MYSQL_ENV} is not set but OKRSYNC_REQUIRE_MYSQL=1: MariaDB/MySQL tests must run here")
        pytest.skip(f"MariaDB/MySQL tests need {MYSQL_ENV} (e.g. mysql+pymysql://root@127.0.0.1:3306/test)")
    try:
        engine = sa.create_engine(raw, poolclass=sa.pool.NullPool)
        with engine.connect():
            pass
    except (ImportError, SQLAlchemyError) as exc:
        why = f"{MYSQL_ENV} is set but unusable: {type(exc).__name__}: {exc} (PyMySQL: pip install 'okrsync[mysql]')"
        if required:
            pytest.fail(why)
        pytest.skip(why)
    return sa.engine.make_url(raw)


@dataclasses.dataclass
class Throwaway:
    root: sa.Engine  # the URL's own user, on the throwaway database: sets it up and checks it afterwards
    root_url: str
    reader_url: str  # a user granted SELECT on the throwaway database and nothing else
    password: str


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Throwaway]:
    base = mysql_base_url()
    name, user, password = f"okrsync_{uuid.uuid4().hex[:12]}", f"okr_{uuid.uuid4().hex[:8]}", secrets.token_hex(12)
    server = sa.create_engine(base, poolclass=sa.pool.NullPool)
    root = sa.create_engine(base.set(database=name), poolclass=sa.pool.NullPool)
    try:
        with server.begin() as conn:  # '%%': PyMySQL formats the text of exec_driver_sql
            conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
            conn.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
            conn.exec_driver_sql(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%%'")
        with root.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE deals (closed_on DATE, closed_at DATETIME, status VARCHAR(8), amount DECIMAL(12, 2))"
            )
            conn.exec_driver_sql(
                "INSERT INTO deals VALUES ('2026-09-30', '2026-09-30 12:00', 'won', 5),"
                " ('2026-10-02', '2026-10-02 09:00', 'won', 10), ('2026-11-01', '2026-11-01 10:00', 'won', 1000.50),"
                " ('2026-11-15', '2026-11-15 23:30', 'won', 7), ('2026-11-20', '2026-11-20 08:00', 'won', 7),"
                " ('2026-10-05', '2026-10-05 11:00', 'lost', 3)"
            )
        reader = base.set(username=user, password=password, database=name)
        yield Throwaway(root, base.set(database=name).render_as_string(False), reader.render_as_string(False), password)
    finally:
        root.dispose()
        with server.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        server.dispose()


def table_as_root(db: Throwaway) -> tuple:
    """What the deals table holds, read by the database's own user: rows, their sum, and the tables there."""
    with db.root.connect() as conn:
        rows, total = conn.exec_driver_sql("SELECT count(*), sum(amount) FROM deals").one()
        tables = sorted(r[0] for r in conn.exec_driver_sql("SHOW TABLES"))
    return rows, float(total), tables


INTACT = (6, 1032.5, ["deals"])  # 5 + 10 + 1000.50 + 7 + 7 + 3


def source_for(write_config, url: str, monkeypatch, timeout: float = 60.0):
    """The sql source of a real config (the url in ${DWH_URL}), and a maker of queries that skip the config
    check, to prove what the database refuses on its own."""
    from okrsync.connectors.sql_source import SqlMetric

    monkeypatch.setenv("DWH_URL", url)
    path = write_config(f"""
        connections: {{db: {{type: sql, url: "${{DWH_URL}}", statement_timeout: {timeout}}}}}
        metrics: {{m: {{connection: db, query: "select 1"}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    plan = compile_plan(load_config(path), AS_OF)
    (template,) = plan.queries["db"]

    def query(text: str, metric: str = "m"):
        return dataclasses.replace(template, metric_id=metric, params=SqlMetric.model_construct(query=text))

    return open_source(plan.config, "db"), query


# --------------------------------------------------------------------------- MariaDB, for real


def test_mariadb_reads_values_with_the_cycle_binds(write_config, mariadb, monkeypatch):
    monkeypatch.setenv("DWH_URL", mariadb.reader_url)
    config = write_config("""
        connections: {dwh: {type: sql, url: "${DWH_URL}"}}
        metrics:
          won: {connection: dwh, query: "select count(*) from deals where status = 'won'
                                          and closed_on between :cycle_start and :as_of"}
          amount: {connection: dwh, query: "select sum(amount) from deals where status = 'won'
                                             and closed_at >= :cycle_start_start and closed_at < :as_of_end"}
          lost: {connection: dwh, query: "select amount from deals where status = 'lost'"}
        kpis: [{id: a, metric: won, healthy: {min: 0}}, {id: b, metric: amount, healthy: {min: 0}},
               {id: c, metric: lost, healthy: {min: 0}}]
    """)
    got = fetch_connection(compile_plan(load_config(config), AS_OF), "dwh")
    values = {m: v.value if isinstance(v, Observation) else v.message for m, v in got.items()}
    # 2026-09-30 is before the cycle, 2026-11-20 after the as-of day; 23:30 on the as-of day counts
    assert values == {"won": 3, "amount": 1017.5, "lost": 3}


def test_mariadb_check_says_read_only(write_config, mariadb, monkeypatch):
    source, _ = source_for(write_config, mariadb.reader_url, monkeypatch)
    assert source.check() == "connected (mysql, read-only)"


WRITES = [
    "delete from deals",
    "update deals set amount = 0",
    "insert into deals (status) values ('x')",
    "replace into deals (status) values ('x')",
    "truncate table deals",
    "drop table deals",
    "create table evil (a int)",
    "alter table deals add column evil int",
    ATTACK,
]


@pytest.mark.parametrize("who", ["reader", "root"])
def test_mariadb_refuses_every_write_even_from_a_user_who_may_write(write_config, mariadb, monkeypatch, who):
    url = mariadb.reader_url if who == "reader" else mariadb.root_url  # root may write: only the session stops it
    source, query = source_for(write_config, url, monkeypatch)
    got = source.fetch([query(text, f"w{i}") for i, text in enumerate(WRITES)])
    for i, text in enumerate(WRITES):
        assert isinstance(got[f"w{i}"], SourceError), (text, got[f"w{i}"])
        assert "the sql source only reads" in got[f"w{i}"].message, (text, got[f"w{i}"].message)
    assert table_as_root(mariadb) == INTACT


def test_the_executable_comment_attack(write_config, mariadb, monkeypatch):
    path = write_config(f"""
        connections: {{db: {{type: sql, url: "{mariadb.root_url}"}}}}
        metrics: {{m: {{connection: db, query: "{ATTACK}"}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    with pytest.raises(ConfigError, match=r"metrics\.m\.query: .*executable comment"):
        load_config(path)  # refused by the text check …
    source, query = source_for(write_config, mariadb.root_url, monkeypatch)
    got = source.fetch([query(ATTACK)])["m"]  # … and, past it, by the read-only transaction (root may delete)
    assert isinstance(got, SourceError) and "READ ONLY transaction (error 1792)" in got.message
    assert table_as_root(mariadb) == INTACT


def test_a_query_cannot_make_the_next_one_writable(write_config, mariadb, monkeypatch):
    """The session is set read-only again before every query: one that sets it read-write changes nothing."""
    source, query = source_for(write_config, mariadb.root_url, monkeypatch)
    got = source.fetch([query("set session transaction read write", "flip"), query("drop table deals", "drop")])
    assert isinstance(got["drop"], SourceError) and "only reads" in got["drop"].message
    assert table_as_root(mariadb) == INTACT


def test_mariadb_statement_timeout_stops_a_slow_query_and_the_next_runs(write_config, mariadb, monkeypatch):
    source, query = source_for(write_config, mariadb.reader_url, monkeypatch, timeout=1)
    started = time.monotonic()
    got = source.fetch([query("select sleep(5)", "slow"), query("select count(*) from deals", "next")])
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"a 1 s statement_timeout let a 5 s query run {elapsed:.1f} s"
    slow = got["slow"]
    assert isinstance(slow, SourceError) and slow.metric == "slow" and slow.connection == "db"
    assert slow.message.startswith("query failed: statement timeout: ") and "max_statement_time" in slow.message
    assert "raise the limit" in slow.message and mariadb.password not in slow.message
    assert got["next"].value == 6


def test_mariadb_url_allowing_several_statements_is_refused(write_config, mariadb, monkeypatch):
    source, query = source_for(write_config, f"{mariadb.reader_url}?client_flag=65536", monkeypatch)
    with pytest.raises(SourceError, match="client_flag allows several statements"):
        source.fetch([query("select 1")])


def test_a_url_parameter_the_driver_does_not_take_is_a_plain_error(write_config, mariadb, monkeypatch):
    source, query = source_for(write_config, f"{mariadb.reader_url}?charst=utf8mb4", monkeypatch)  # charset
    for call in (lambda: source.fetch([query("select 1")]), source.check):
        with pytest.raises(SourceError) as info:
            call()
        said = info.value.message
        assert "cannot connect: " in said and "'charst'" in said and "a parameter in the url" in said, said
        assert mariadb.password not in said


def mariadb_case(db: Throwaway) -> ContractCase:
    wrong = dataclasses.replace(db, reader_url=db.reader_url.replace(db.password, SECRET))
    return ContractCase(
        connection={"type": "sql", "url": "${DWH_URL}"},
        metrics={"won": {"query": "select count(*) from deals where status = 'won' and closed_on >= :cycle_start"}},
        expected={"won": 4.0},
        env={"DWH_URL": db.reader_url},
        broken={"query": "select * from nowhere"},
        rejected_env={"DWH_URL": wrong.reader_url},
    )


class TestMariadbContract(source_contract("sql", lambda *_: None)):  # type: ignore[misc]
    """The connector contract, against the throwaway MariaDB database."""

    @pytest.fixture
    def case(self, mariadb, monkeypatch):
        case = mariadb_case(mariadb)
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
        return case


# --------------------------------------------------------------------------- every dialect, no server needed

BLOCKED = {  # the modules whose absence stands for "not installed", whatever this machine has
    "mysql+pymysql://okr:s3cret-pw@db/kpis": ("mysql", ["pymysql"]),
    "mariadb+pymysql://okr:s3cret-pw@db/kpis": ("mysql", ["pymysql"]),
    "mssql+pymssql://okr:s3cret-pw@db/kpis": ("mssql", ["pymssql"]),
    "snowflake://okr:s3cret-pw@acme/kpis/public?warehouse=wh": ("snowflake", ["snowflake"]),
    "bigquery://acme-project/kpis": ("bigquery", ["sqlalchemy_bigquery", "google.cloud.bigquery"]),
    "redshift+redshift_connector://okr:s3cret-pw@db:5439/kpis": ("redshift", ["sqlalchemy_redshift"]),
}


@pytest.mark.parametrize("url", list(BLOCKED))
def test_a_missing_driver_names_the_extra(write_config, monkeypatch, url):
    extra, modules = BLOCKED[url]
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # import of it raises ImportError
    source, query = source_for(write_config, url, monkeypatch)
    for call in (lambda: source.fetch([query("select 1")]), source.check):
        with pytest.raises(SourceError) as info:
            call()
        assert f"pip install 'okrsync[{extra}]'" in info.value.message
        assert "not installed" in info.value.message and "s3cret-pw" not in info.value.message


def test_an_unknown_dialect_says_so(write_config, monkeypatch):
    source, query = source_for(write_config, "nosuchdb://okr:s3cret-pw@db/kpis", monkeypatch)
    with pytest.raises(SourceError, match="no SQLAlchemy dialect or driver for nosuchdb is installed"):
        source.fetch([query("select 1")])


@pytest.mark.parametrize(
    "query",
    [
        ATTACK,
        "/*M! delete from deals where 1 or (*/ select 1 /*!)*/",
        "select 1 /*!50700 , (select count(*) from deals) */",
        "select '/*! not even in a literal */'",
    ],
)
def test_executable_comments_are_refused_when_the_config_loads(write_config, query):
    path = write_config(f"""
        connections: {{db: {{type: sql, url: "sqlite:///biz.db"}}}}
        metrics: {{m: {{connection: db, query: "{query}"}}}}
        kpis: [{{id: a, metric: m, healthy: {{min: 0}}}}]
    """)
    with pytest.raises(ConfigError, match="executable comment"):
        load_config(path)


def test_plain_comments_and_hints_still_pass():
    from okrsync.connectors.sql_source import one_mysql_select, one_select

    query = "/* why; */ select /*+ MAX_EXECUTION_TIME(100) */ 1 -- a note; more"
    assert one_select(query) == query == one_mysql_select(query)
    mysql = "select count(*) from `a;b` where note like '%\\_x%' or note in ('it''s;', \"\\\";\") # why; because"
    assert one_mysql_select(mysql) == mysql


HIDDEN = [  # one statement to the standard reading of one_select, two to MySQL's and BigQuery's
    "select 1 --1; delete from deals",  # MySQL: '--' without a space after it is two minus signs, not a comment
    "select 'a\\''; delete from deals; select ''",  # MySQL, BigQuery: \' is a quote inside the literal
    "select 1 # '\n; delete from deals; -- '",  # MySQL, BigQuery: '#' starts a comment
    "select `'`; delete from deals; select `'`",  # MySQL, BigQuery: `…` is a quoted name
    "select 1 as $a$; delete from deals; select 2 as $a$",  # MySQL: $a$ is a name, not dollar quoting
]


@pytest.mark.parametrize("query", HIDDEN)
def test_a_second_statement_hidden_from_the_standard_reading_is_refused_as_mysql_reads_it(query):
    """The first two run a DELETE on MariaDB when multi-statements are allowed (checked by hand, 2026-12-07), and
    BigQuery runs several statements of one query as a script: MySQL, MariaDB and BigQuery read the text as
    MySQL does before every query."""
    from okrsync.connectors.sql_source import one_mysql_select, one_select

    assert one_select(query) == query  # the config's check reads it as one statement …
    with pytest.raises(ValueError, match="one statement"):
        one_mysql_select(query)  # … MySQL's reading does not
    for url in ("mysql+pymysql://okr@db/kpis", "mariadb+pymysql://okr@db/kpis"):  # BigQuery's: below
        assert guard(url, 1.0).text_check is one_mysql_select, url


def test_mariadb_refuses_a_second_statement_hidden_from_the_standard_reading(write_config, mariadb, monkeypatch):
    source, query = source_for(write_config, mariadb.root_url, monkeypatch)
    got = source.fetch([query(HIDDEN[0])])["m"]
    assert isinstance(got, SourceError) and "a query must be one statement" in got.message, got
    assert table_as_root(mariadb) == INTACT


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("select 1 delete from deals", "DELETE"),  # two T-SQL statements, no ';' between them
        ("select count(*) from deals\nupdate deals set amount = 0", "UPDATE"),
        ("select * into deals_copy from deals", "INTO"),
        ("select 1 exec sp_configure", "EXEC"),
        ("select 1 waitfor delay '00:10'", "WAITFOR"),
        ("with x as (select 1 a) select a from x drop table deals", "DROP"),
    ],
)
def test_tsql_refuses_a_second_statement(query, word):
    from okrsync.connectors.sql_source import one_tsql_select

    with pytest.raises(ValueError, match=f"{word} begins another statement"):
        one_tsql_select(query)


@pytest.mark.parametrize(
    "query",
    [
        "select [update], [set] from deals",
        "select 'delete from deals' as note",
        "select count(*) from deals -- then delete",
        "select set1, @@rowcount, dataset from deals",
        "with x as (select 1 a) select a from x",
        "select amount from deals order by 1 offset 0 rows fetch next 1 rows only",
    ],
)
def test_tsql_lets_one_select_through(query):
    from okrsync.connectors.sql_source import one_tsql_select

    assert one_tsql_select(query) == query


class Recorder:
    """Stands for a DBAPI connection and a SQLAlchemy connection: records what it is asked to run."""

    def __init__(self, is_mariadb: bool = False):
        self.ran: list[str] = []
        self.dialect = types.SimpleNamespace(is_mariadb=is_mariadb)
        self.autocommit = False
        self.timeout = 0

    def exec_driver_sql(self, statement: str) -> None:
        self.ran.append(statement)

    def cursor(self):
        return types.SimpleNamespace(execute=self.ran.append, close=lambda: None)

    def commit(self) -> None:
        self.ran.append("(commit)")


def guard(url: str, seconds: float):
    from okrsync.connectors.sql_engine import guard_for

    return guard_for(sa.engine.make_url(url), seconds)


@pytest.mark.parametrize(
    ("is_mariadb", "limit"),
    [
        (True, "SET SESSION max_statement_time = 1.500000"),  # MariaDB: seconds
        (False, "SET SESSION max_execution_time = 1500"),  # MySQL: milliseconds
    ],
)
@pytest.mark.parametrize("url", ["mysql+pymysql://okr@db/kpis", "mariadb+pymysql://okr@db/kpis"])
def test_mysql_and_mariadb_each_get_their_own_timeout_before_every_query(is_mariadb, limit, url):
    conn = Recorder(is_mariadb)
    guard(url, 1.5).on_begin(conn)
    assert conn.ran == ["SET SESSION TRANSACTION READ ONLY", limit, "START TRANSACTION READ ONLY"]


def test_redshift_opens_read_only_transactions_with_a_statement_timeout():
    rules = guard("redshift+redshift_connector://okr@db:5439/kpis", 2.5)
    dbapi, conn = Recorder(), Recorder()
    rules.on_connect(dbapi, None)
    rules.on_begin(conn)
    assert dbapi.autocommit is True and dbapi.ran == ["SET statement_timeout TO 2500", "(commit)"]  # milliseconds
    assert conn.ran == ["START TRANSACTION READ ONLY"] and rules.refuses_writes
    psycopg2, dbapi = guard("redshift+psycopg2://okr@db:5439/kpis", 2.5), Recorder()
    psycopg2.on_connect(dbapi, None)  # psycopg2 begins each transaction itself: READ ONLY, as for PostgreSQL
    assert dbapi.autocommit is False and psycopg2.execution == {"postgresql_readonly": True} and not psycopg2.on_begin


def test_sql_server_gets_a_query_timeout_a_lock_timeout_and_the_tsql_check():
    pymssql = guard("mssql+pymssql://okr@db/kpis", 2.5)
    assert pymssql.connect == {"timeout": 3}  # whole seconds, rounded up
    dbapi = Recorder()
    pymssql.on_connect(dbapi, None)
    assert dbapi.ran == ["SET LOCK_TIMEOUT 2500", "(commit)"] and not pymssql.refuses_writes
    pyodbc, dbapi = guard("mssql+pyodbc://okr@dsn", 2.5), Recorder()
    pyodbc.on_connect(dbapi, None)
    assert dbapi.timeout == 3 and pyodbc.connect == {}
    with pytest.raises(ValueError):
        pymssql.text_check("select 1 delete from deals")


def test_snowflake_session_parameters():
    rules = guard("snowflake://okr@acme/kpis/public", 0.2)
    params = {"STATEMENT_TIMEOUT_IN_SECONDS": 1, "MULTI_STATEMENT_COUNT": 1}  # at least one whole second
    assert rules.connect == {"session_parameters": params} and not rules.refuses_writes


def test_bigquery_jobs_get_a_job_timeout(monkeypatch):
    fake = types.SimpleNamespace(QueryJobConfig=lambda **keys: keys)
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", fake)
    from okrsync.connectors.sql_source import one_mysql_select

    rules = guard("bigquery://acme-project/kpis", 2.5)
    assert rules.execution == {"job_config": {"job_timeout_ms": 2500}} and not rules.refuses_writes
    assert rules.text_check is one_mysql_select  # BigQuery reads #, `…` and \' as MySQL does, and runs scripts


def test_what_each_database_says_on_a_timeout_reads_as_statement_timeout():
    from okrsync.connectors.sql_engine import _explain

    said = [
        Exception(1969, "Query execution was interrupted (max_statement_time exceeded)"),  # MariaDB
        Exception(3024, "Query execution was interrupted, maximum statement execution time exceeded"),  # MySQL
        Exception(
            "000604 (57014): Statement reached its statement or warehouse timeout of 1 second(s) and was canceled."
        ),
        Exception("ERROR:  Query (150) canceled on user's request"),  # Redshift's documented example
        Exception(20003, b"DB-Lib error message 20003, severity 6:\nAdaptive Server connection timed out (db)\n"),
        Exception("canceling statement due to statement timeout"),  # PostgreSQL
    ]
    for exc in said:
        assert _explain(exc).startswith("statement timeout: "), exc
    denied = _explain(Exception(1142, "SELECT command denied to user 'okr'@'%' for table `kpis`.`x`"))
    assert denied == "SELECT command denied to user 'okr'@'%' for table `kpis`.`x` (error 1142)"  # a grant is missing
