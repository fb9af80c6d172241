"""The sql source's engine side: SQLAlchemy connections, read-only and with a statement deadline.

What each database gets, and the vendor page each rule follows:

- SQLite: the file opened ``mode=ro`` and an authorizer that allows reading only; ``statement_timeout`` by a
  progress handler (SQLite has no statement timeout).
- PostgreSQL: a read-only transaction (``postgresql_readonly``) and ``statement_timeout`` as a libpq
  ``-c`` option (https://www.postgresql.org/docs/current/runtime-config-client.html).
- MySQL and MariaDB (``okrsync[mysql]``, PyMySQL): before every query ``SET SESSION TRANSACTION READ ONLY``
  and ``START TRANSACTION READ ONLY`` (https://dev.mysql.com/doc/refman/8.4/en/set-transaction.html,
  https://dev.mysql.com/doc/refman/8.4/en/commit.html, https://mariadb.com/kb/en/start-transaction/). Both,
  because a DDL statement commits the open transaction first and then runs in the session's own mode: measured
  on MariaDB 10.11, ``START TRANSACTION READ ONLY; DROP TABLE t`` drops the table unless the session is read-only
  too, while DML gets error 1792 either way. The timeout differs: MariaDB's ``max_statement_time`` is in seconds
  and stops any statement (https://mariadb.com/kb/en/aborting-statements/), MySQL's ``max_execution_time`` is in
  milliseconds and stops read-only SELECTs only
  (https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_max_execution_time); the server's
  version string (SQLAlchemy's ``is_mariadb``) says which one it is. A url whose ``client_flag`` allows several
  statements per query is refused.
- Amazon Redshift (``okrsync[redshift]``, redshift_connector): ``START TRANSACTION READ ONLY``
  (https://docs.aws.amazon.com/redshift/latest/dg/r_BEGIN.html) opened by okrsync, so the driver is put in
  autocommit (its own BEGIN would come first; ``redshift+psycopg2`` gets psycopg2's own ``BEGIN READ ONLY``), and
  ``SET statement_timeout`` in milliseconds (https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html).
- SQL Server (``okrsync[mssql]``, pymssql): no read-only session exists; the login's grants are the guard
  (``db_datareader``, https://learn.microsoft.com/sql/relational-databases/security/authentication-access/database-level-roles).
  The engine has no statement timeout of its own: the client cancels a query after its query timeout
  (https://learn.microsoft.com/troubleshoot/sql/database-engine/performance/troubleshoot-query-timeouts), pymssql's
  ``timeout`` (pyodbc's ``Connection.timeout``); ``SET LOCK_TIMEOUT`` bounds a wait for locks
  (https://learn.microsoft.com/sql/t-sql/statements/set-lock-timeout-transact-sql). The T-SQL check of
  :func:`okrsync.connectors.sql_source.one_tsql_select` runs before every query.
- Snowflake (``okrsync[snowflake]``): the session parameters ``STATEMENT_TIMEOUT_IN_SECONDS`` and
  ``MULTI_STATEMENT_COUNT`` = 1 (https://docs.snowflake.com/en/sql-reference/parameters); no read-only
  transaction exists, the role's grants are the guard.
- BigQuery (``okrsync[bigquery]``): each query job gets ``jobTimeoutMs``
  (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfiguration); reading only is IAM's
  (``roles/bigquery.dataViewer`` and ``roles/bigquery.jobUser``, https://cloud.google.com/bigquery/docs/access-control).

A url whose dialect or driver is not installed names the extra that installs it. The connection and metric
models, and the rules they check when a config loads, are in :mod:`okrsync.connectors.sql_source`.
"""

from __future__ import annotations

import importlib
import math
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.config.env import resolve_env
from okrsync.connectors.sql_source import SqlConnection, SqlMetric, one_mysql_select, one_tsql_select
from okrsync.errors import SourceError
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import FetchResult, MetricQuery, Observation, Source

# SQLite authorizer: reading is allowed, everything else (writes, ATTACH, PRAGMA, VACUUM, DDL) is denied
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}

# SQLAlchemy backend -> the okrsync extra that installs its dialect and driver, and the url that driver takes
EXTRAS: dict[str, tuple[str, str]] = {
    "mysql": ("mysql", "mysql+pymysql://USER:PASSWORD@HOST:3306/DATABASE"),
    "mariadb": ("mysql", "mariadb+pymysql://USER:PASSWORD@HOST:3306/DATABASE"),
    "mssql": ("mssql", "mssql+pymssql://USER:PASSWORD@HOST:1433/DATABASE"),
    "snowflake": ("snowflake", "snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ROLE"),
    "bigquery": ("bigquery", "bigquery://PROJECT/DATASET?credentials_path=/path/key.json"),
    "redshift": ("redshift", "redshift+redshift_connector://USER:PASSWORD@HOST:5439/DATABASE"),
}
_MULTI_STATEMENTS = 1 << 16  # CLIENT_MULTI_STATEMENTS of the MySQL client protocol


def _authorize(action: int, *_args) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY


@dataclass
class Guard:
    """What one database gets: create_engine's arguments, what runs on each new DBAPI connection and at the
    start of each transaction, a text check before each query, and whether the server itself refuses writes
    (else only the login's grants do)."""

    execution: dict[str, Any] = field(default_factory=dict)
    connect: dict[str, Any] = field(default_factory=dict)
    on_connect: Callable[[Any, Any], None] | None = None
    on_begin: Callable[[sa.Connection], None] | None = None
    text_check: Callable[[str], str] | None = None
    refuses_writes: bool = True


def _run(dbapi_conn: Any, *statements: str) -> None:
    """Session settings on a new DBAPI connection, committed: the driver's next transaction starts clean."""
    cursor = dbapi_conn.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
    finally:
        cursor.close()
    dbapi_conn.commit()


def _postgresql(url: URL, seconds: float) -> Guard:
    connect: dict[str, Any] = {}
    if url.get_driver_name() in ("psycopg", "psycopg2"):  # libpq options: per-session setting
        given = url.query.get("options", "")  # keep the URL's own options (e.g. a search_path)
        timeout = f"-c statement_timeout={int(seconds * 1000)}"
        connect["options"] = f"{given} {timeout}".strip() if isinstance(given, str) else timeout
    return Guard(execution={"postgresql_readonly": True}, connect=connect)


def _mysql(url: URL, seconds: float) -> Guard:
    flags = url.query.get("client_flag", "0")
    if isinstance(flags, str) and flags.isdigit() and int(flags) & _MULTI_STATEMENTS:
        raise ValueError("its client_flag allows several statements in one query: remove CLIENT_MULTI_STATEMENTS")

    def begin(conn: sa.Connection) -> None:
        if getattr(conn.dialect, "is_mariadb", False):
            limit = f"SET SESSION max_statement_time = {seconds:.6f}"  # seconds, any statement
        else:
            limit = f"SET SESSION max_execution_time = {math.ceil(seconds * 1000)}"  # milliseconds, SELECTs
        for statement in ("SET SESSION TRANSACTION READ ONLY", limit, "START TRANSACTION READ ONLY"):
            conn.exec_driver_sql(statement)

    return Guard(on_begin=begin, text_check=one_mysql_select)


def _redshift(url: URL, seconds: float) -> Guard:
    own_begin = url.get_driver_name() == "redshift_connector"  # it sends BEGIN itself unless in autocommit

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if own_begin:
            dbapi_conn.autocommit = True  # okrsync opens each transaction itself, read-only
        _run(dbapi_conn, f"SET statement_timeout TO {math.ceil(seconds * 1000)}")

    def begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("START TRANSACTION READ ONLY")

    if own_begin:
        return Guard(on_connect=on_connect, on_begin=begin)
    return Guard(execution={"postgresql_readonly": True}, on_connect=on_connect)  # redshift+psycopg2: BEGIN READ ONLY


def _mssql(url: URL, seconds: float) -> Guard:
    whole = max(1, math.ceil(seconds))
    driver = url.get_driver_name()

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if driver == "pyodbc":
            dbapi_conn.timeout = whole  # pyodbc's query timeout, in seconds
        _run(dbapi_conn, f"SET LOCK_TIMEOUT {math.ceil(seconds * 1000)}")

    connect = {"timeout": whole} if driver == "pymssql" else {}
    return Guard(connect=connect, on_connect=on_connect, text_check=one_tsql_select, refuses_writes=False)


def _snowflake(url: URL, seconds: float) -> Guard:
    params = {"STATEMENT_TIMEOUT_IN_SECONDS": max(1, math.ceil(seconds)), "MULTI_STATEMENT_COUNT": 1}
    return Guard(connect={"session_parameters": params}, refuses_writes=False)


def _bigquery(url: URL, seconds: float) -> Guard:
    bigquery = importlib.import_module("google.cloud.bigquery")  # only with okrsync[bigquery]
    config = bigquery.QueryJobConfig(job_timeout_ms=math.ceil(seconds * 1000))
    return Guard(execution={"job_config": config}, text_check=one_mysql_select, refuses_writes=False)


_GUARDS: dict[str, Callable[[URL, float], Guard]] = {
    "postgresql": _postgresql,
    "mysql": _mysql,
    "mariadb": _mysql,
    "redshift": _redshift,
    "mssql": _mssql,
    "snowflake": _snowflake,
    "bigquery": _bigquery,
}


def guard_for(url: URL, seconds: float) -> Guard:
    """The guard of ``url``'s database; one okrsync knows nothing about is guarded by its grants alone."""
    make = _GUARDS.get(url.get_backend_name())
    return make(url, seconds) if make else Guard(refuses_writes=False)


def no_driver(url: URL, exc: BaseException) -> str:
    """What to install when ``url``'s dialect or driver cannot load."""
    why = _message(exc)
    extra = EXTRAS.get(url.get_backend_name())
    if extra is None:
        return f"no SQLAlchemy dialect or driver for {url.drivername} is installed ({why}): install the one for it"
    name, example = extra
    missing = f"the dialect or driver of {url.drivername} is not installed ({why})"
    return f"{missing}: pip install 'okrsync[{name}]' (url: {example})"


class SqlSource(Source[SqlConnection, SqlMetric]):
    _deadline = float("inf")  # SQLite: when the running statement must stop (set before each query)
    _guard = Guard()

    def _url(self) -> URL:
        raw = resolve_env(self.settings.url, f"connections.{self.name}.url")
        try:
            url = make_url(raw)
        except ArgumentError:
            raise self.error("url is not a valid SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)") from None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = (self.base_dir / url.database).resolve()
            if not path.exists():
                raise self.error(f"SQLite database not found: {path}")
            url = url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
        return url

    def _engine(self) -> sa.Engine:
        url = self._url()
        try:
            if url.get_backend_name() == "sqlite":
                guard = Guard(on_connect=self._sqlite_guard)
            else:
                guard = guard_for(url, self.settings.statement_timeout)
            engine = sa.create_engine(
                url, poolclass=sa.pool.NullPool, execution_options=guard.execution, connect_args=guard.connect
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise self.error(no_driver(url, exc)) from None
        except ValueError as exc:
            raise self.error(f"url: {_redact(exc, url)}") from None
        except Exception as exc:  # a dialect's own complaint when it opens (BigQuery's missing credentials, say)
            raise self.error(f"cannot open the connection: {type(exc).__name__}: {_redact(exc, url)}") from None
        self._guard = guard
        if guard.on_connect:
            sa.event.listen(engine, "connect", guard.on_connect)
        if guard.on_begin:
            sa.event.listen(engine, "begin", guard.on_begin)
        return engine

    def _sqlite_guard(self, dbapi_conn, _record) -> None:
        """Read-only by authorizer, and a deadline by progress handler (SQLite has no statement timeout)."""
        dbapi_conn.set_authorizer(_authorize)
        dbapi_conn.set_progress_handler(lambda: int(time.monotonic() > self._deadline), 10_000)

    def _connect(self, engine: sa.Engine) -> sa.Connection:
        """A connection; the TypeError of a driver given a url parameter it does not take, as a plain error."""
        try:
            return engine.connect()
        except TypeError as exc:
            said = _redact(exc, engine.url)
            raise self.error(f"cannot connect: {said}: a parameter in the url that the driver does not take") from None

    def check(self) -> str:
        engine = self._engine()
        try:
            with self._connect(engine) as conn:
                conn.execute(sa.text("select 1"))
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise self.error(f"cannot connect: {_redact(cause, engine.url)}") from None
        finally:
            engine.dispose()
        if self._guard.refuses_writes:
            return f"connected ({engine.dialect.name}, read-only)"
        return f"connected ({engine.dialect.name}; only the login's grants keep it read-only: grant read rights only)"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        engine = self._engine()
        out: FetchResult = {}
        try:
            with self._connect(engine) as conn:
                for q in queries:
                    out[q.metric_id] = self._one(conn, q)
                    conn.rollback()
        except SQLAlchemyError as exc:
            # the message of a driver error can quote the URL: name the connection, not the URL
            cause = getattr(exc, "orig", None) or exc
            raise self.error(f"cannot connect: {type(cause).__name__}: {_redact(cause, engine.url)}") from None
        finally:
            engine.dispose()
        return out

    def _one(self, conn: sa.Connection, q: MetricQuery) -> Observation | SourceError:
        if self._guard.text_check:
            try:
                self._guard.text_check(q.params.query)
            except ValueError as exc:
                return self.error(str(exc), q)
        statement = sa.text(q.params.query)
        binds = q.bind_parameters()
        wanted = {k: v for k, v in binds.items() if k in statement.compile().params}
        self._deadline = time.monotonic() + self.settings.statement_timeout
        try:
            rows = conn.execute(statement, wanted).all()
        except SQLAlchemyError as exc:
            return self.error(f"query failed: {_explain(getattr(exc, 'orig', None) or exc)}", q)
        finally:
            self._deadline = float("inf")
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"{len(rows)} row(s)" + (f" of {len(rows[0])} columns" if rows else "")
            return self.error(f"the query must return one row with one number, it returned {shape}", q)
        try:
            return Observation(parse_number(rows[0][0]))
        except ValueError as exc:
            return self.error(f"query result: {exc}", q)


# what the databases say when statement_timeout stopped a query (SQLite's progress handler: "interrupted";
# PostgreSQL 57014; MariaDB 1969; MySQL 3024; Snowflake 604; Redshift; pymssql's query timeout 20003)
_TIMEOUT_SAYS = (
    "statement timeout",
    "max_statement_time exceeded",
    "maximum statement execution time exceeded",
    "statement or warehouse timeout",
    "canceled on user's request",
    "adaptive server connection timed out",
)
# what they say when a query tried to write: SQLite's authorizer, a read-only transaction, a read-only login
# (MySQL and MariaDB 1142: "DELETE command denied to user …"; a SELECT denied is a missing grant, not a write)
_WRITE_SAYS = re.compile(
    r"authorization denied|not authorized|read-only transaction|read only transaction"
    r"|^(?!select command)[\w, ]+ command denied"
)


def _explain(cause: BaseException) -> str:
    message = _message(cause)
    says = message.lower()
    if message == "interrupted" or any(words in says for words in _TIMEOUT_SAYS):
        return (
            f"statement timeout: {message}: it ran longer than statement_timeout (make it faster, or raise the limit)"
        )
    if _WRITE_SAYS.search(says):
        return f"{message}: the sql source only reads (no writes, ATTACH, PRAGMA or VACUUM)"
    return message


def _message(exc: BaseException) -> str:
    """The first line of a driver's error; PyMySQL's and pymssql's ``(code, text)`` as ``text (error code)``."""
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], (str, bytes)):
        text = args[1].decode(errors="replace") if isinstance(args[1], bytes) else args[1]
        text = " ".join(text.split())[:300]  # pymssql's text spans lines: "DB-Lib error message 20003, …"
        return f"{text or type(exc).__name__} (error {args[0]})"
    return _first_line(str(exc)) or type(exc).__name__


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _redact(exc: BaseException, url: URL) -> str:
    """The driver's message without the url's password, should the driver quote it."""
    message = _message(exc)
    return message.replace(url.password, "***") if url.password else message
