"""The sql source's engine side: SQLAlchemy connections, read-only and with a statement deadline.

The connection and metric models, and the rules they check when a config loads, are in
:mod:`okrsync.connectors.sql_source`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.config.env import resolve_env
from okrsync.connectors.sql_source import SqlConnection, SqlMetric
from okrsync.errors import SourceError
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import FetchResult, MetricQuery, Observation, Source

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
        binds = q.bind_parameters()
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
