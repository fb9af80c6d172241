"""SQL databases through SQLAlchemy: a query per metric that returns exactly one number.

The connection ``url`` is any SQLAlchemy URL (``${ENV}`` references resolved when opened); a
relative SQLite path starts at the config's folder. Queries get the bind parameters
``:cycle_start``, ``:cycle_end`` and ``:as_of`` (dates; as_of is the metric's, offset_days
applied). Every metric of a connection runs on one database connection, opened read-only where
the database supports it: SQLite in ``mode=ro``, PostgreSQL with a read-only transaction;
elsewhere grant the user read rights only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.config.env import resolve_env
from okrsync.connector import ConnectionSettings, Connector, FetchResult, MetricParams, MetricQuery, Observation, Source
from okrsync.errors import SourceError
from okrsync.numbers import parse_number


class SqlConnection(ConnectionSettings):
    type: Literal["sql"]
    url: str


class SqlMetric(MetricParams):
    query: str


class SqlSource(Source[SqlConnection, SqlMetric]):
    def _engine(self) -> sa.Engine:
        raw = resolve_env(self.settings.url, f"connections.{self.name}.url")
        try:
            url = make_url(raw)
        except ArgumentError:
            raise self.error("url is not a valid SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)") from None
        execution: dict = {}
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = (self.base_dir / url.database).resolve()
            if not path.exists():
                raise self.error(f"SQLite database not found: {path}")
            url = url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
        elif url.get_backend_name() == "postgresql":
            execution["postgresql_readonly"] = True
        try:
            return sa.create_engine(url, poolclass=sa.pool.NullPool, execution_options=execution)
        except (NoSuchModuleError, ImportError) as exc:
            raise self.error(f"no database driver for this url: {exc}") from None

    def check(self) -> str:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except SQLAlchemyError as exc:
            raise self.error(f"cannot connect: {_first_line(exc.orig or exc)}") from None
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
            raise self.error(
                f"cannot connect: {type(exc.orig or exc).__name__}: {_first_line(exc.orig or exc)}"
            ) from None
        finally:
            engine.dispose()
        return out

    def _one(self, conn: sa.Connection, q: MetricQuery) -> Observation | SourceError:
        statement = sa.text(q.params.query)
        binds = {"cycle_start": q.cycle.start, "cycle_end": q.cycle.end, "as_of": q.as_of.date()}
        wanted = {k: v for k, v in binds.items() if k in statement.compile().params}
        try:
            rows = conn.execute(statement, wanted).all()
        except SQLAlchemyError as exc:
            return self.error(f"query failed: {_first_line(exc.orig or exc)}", q)
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"{len(rows)} row(s)" + (f" of {len(rows[0])} columns" if rows else "")
            return self.error(f"the query must return one row with one number, it returned {shape}", q)
        try:
            return Observation(parse_number(rows[0][0]))
        except ValueError as exc:
            return self.error(f"query result: {exc}", q)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


connector = Connector("sql", connection=SqlConnection, metric=SqlMetric, source=SqlSource, description="SQL databases")
