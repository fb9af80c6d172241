"""SQL databases through SQLAlchemy: a query per metric that returns exactly one number.

The connection ``url`` is any SQLAlchemy URL (``${ENV}`` references resolved when opened); a
relative SQLite path starts at the config's folder. Queries get the bind parameters
``:cycle_start``, ``:cycle_end`` and ``:as_of`` (dates; as_of is the metric's, offset_days
applied). Every metric of a connection runs on one database connection, opened read-only where
the database supports it: SQLite in ``mode=ro``, PostgreSQL with a read-only transaction;
elsewhere grant the user read rights only.

A query is one SELECT (or WITH … SELECT) statement, checked when the config loads: a second
statement (``commit; delete …``) could leave the read-only transaction. SQLite connections also get
an authorizer that allows reading only (no ATTACH, VACUUM INTO, PRAGMA writes). Each statement has
``statement_timeout`` seconds (default 60: PostgreSQL's statement_timeout, SQLite's progress
handler); a slower query fails its metric, the others go on.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.config.env import resolve_env
from okrsync.connector import ConnectionSettings, Connector, FetchResult, MetricParams, MetricQuery, Observation, Source
from okrsync.errors import SourceError
from okrsync.numbers import parse_number


class SqlConnection(ConnectionSettings):
    type: Literal["sql"]
    url: str
    statement_timeout: float = Field(60.0, gt=0, le=3600, description="seconds one query may run")


class SqlMetric(MetricParams):
    query: str

    @field_validator("query")
    @classmethod
    def _one_select(cls, query: str) -> str:
        return one_select(query)


_SKIP = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$", re.S)


def one_select(query: str) -> str:
    """``query`` when it is a single SELECT / WITH statement (a trailing ``;`` is fine); else ValueError."""
    code = _SKIP.sub(" ", query)  # literals, quoted names and comments cannot end a statement
    body = code.strip().rstrip(";").strip()
    if ";" in body:
        raise ValueError("a query must be one statement: remove the ';' between statements")
    first = body.split(None, 1)[0].lower() if body else ""
    if first not in ("select", "with"):
        raise ValueError(f"a query must be a SELECT (or WITH … SELECT), not {first.upper() or 'empty'}")
    return query


# SQLite authorizer: reading is allowed, everything else (writes, ATTACH, PRAGMA, VACUUM, DDL) is denied
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _authorize(action: int, *_args) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY


class SqlSource(Source[SqlConnection, SqlMetric]):
    _deadline = float("inf")  # SQLite: when the running statement must stop (set before each query)

    def _engine(self) -> sa.Engine:
        raw = resolve_env(self.settings.url, f"connections.{self.name}.url")
        try:
            url = make_url(raw)
        except ArgumentError:
            raise self.error("url is not a valid SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)") from None
        execution: dict = {}
        connect: dict = {}
        backend = url.get_backend_name()
        if backend == "sqlite" and url.database and url.database != ":memory:":
            path = (self.base_dir / url.database).resolve()
            if not path.exists():
                raise self.error(f"SQLite database not found: {path}")
            url = url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
        elif backend == "postgresql":
            execution["postgresql_readonly"] = True
            if url.get_driver_name() in ("psycopg", "psycopg2"):  # libpq options: per-session setting
                given = url.query.get("options", "")  # keep the URL's own options (e.g. a search_path)
                timeout = f"-c statement_timeout={int(self.settings.statement_timeout * 1000)}"
                connect["options"] = f"{given} {timeout}".strip() if isinstance(given, str) else timeout
        try:
            engine = sa.create_engine(
                url, poolclass=sa.pool.NullPool, execution_options=execution, connect_args=connect
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise self.error(f"no database driver for this url: {exc}") from None
        if backend == "sqlite":
            sa.event.listen(engine, "connect", self._sqlite_guard)
        return engine

    def _sqlite_guard(self, dbapi_conn, _record) -> None:
        """Read-only by authorizer, and a deadline by progress handler (SQLite has no statement timeout)."""
        dbapi_conn.set_authorizer(_authorize)
        dbapi_conn.set_progress_handler(lambda: int(time.monotonic() > self._deadline), 10_000)

    def check(self) -> str:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except SQLAlchemyError as exc:
            raise self.error(f"cannot connect: {_first_line(getattr(exc, 'orig', None) or exc)}") from None
        finally:
            engine.dispose()
        return f"connected ({engine.dialect.name}, read-only)"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        engine = self._engine()
        out: FetchResult = {}
        try:
            with engine.connect() as conn:
                for q in queries:
                    out[q.metric_id] = self._one(conn, q)
                    conn.rollback()
        except SQLAlchemyError as exc:
            # the message of a driver error can quote the URL: name the connection, not the URL
            cause = getattr(exc, "orig", None) or exc
            raise self.error(f"cannot connect: {type(cause).__name__}: {_first_line(cause)}") from None
        finally:
            engine.dispose()
        return out

    def _one(self, conn: sa.Connection, q: MetricQuery) -> Observation | SourceError:
        statement = sa.text(q.params.query)
        binds = {"cycle_start": q.cycle.start, "cycle_end": q.cycle.end, "as_of": q.as_of.date()}
        wanted = {k: v for k, v in binds.items() if k in statement.compile().params}
        self._deadline = time.monotonic() + self.settings.statement_timeout
        try:
            rows = conn.execute(statement, wanted).all()
        except SQLAlchemyError as exc:
            return self.error(f"query failed: {_explain(_first_line(getattr(exc, 'orig', None) or exc))}", q)
        finally:
            self._deadline = float("inf")
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"{len(rows)} row(s)" + (f" of {len(rows[0])} columns" if rows else "")
            return self.error(f"the query must return one row with one number, it returned {shape}", q)
        try:
            return Observation(parse_number(rows[0][0]))
        except ValueError as exc:
            return self.error(f"query result: {exc}", q)


def _explain(message: str) -> str:
    if message == "interrupted" or "statement timeout" in message:
        return f"{message}: it ran longer than statement_timeout (make it faster, or raise the limit)"
    if message in ("authorization denied", "not authorized"):
        return f"{message}: the sql source only reads (no writes, ATTACH, PRAGMA or VACUUM)"
    return message


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


connector = Connector("sql", connection=SqlConnection, metric=SqlMetric, source=SqlSource, description="SQL databases")
