"""SQL databases through SQLAlchemy: a query per metric that returns exactly one number.

The connection ``url`` is any SQLAlchemy URL (``${ENV}`` references resolved when opened); a
relative SQLite path starts at the config's folder. Queries get the bind parameters
``:cycle_start``, ``:cycle_end`` and ``:as_of`` (dates; as_of is the metric's day D, offset_days
applied), and beside each ``_start`` (00:00 of that day) and ``_end`` (the first instant after it),
aware in the cycle's time zone: a run as of D reads as of the end of D (docs/okr-semantics.md, "What a
day means"), so ``ts < :as_of_end`` or ``day <= :as_of`` counts D itself, and a ``timestamptz`` column compares in
the cycle's zone, not at midnight UTC. Every metric of a connection runs on one database
connection, opened read-only where the database supports it: SQLite in ``mode=ro``, PostgreSQL
with a read-only transaction; elsewhere grant the user read rights only.

A query is one SELECT (or WITH … SELECT) statement, checked when the config loads: a second
statement (``commit; delete …``) could leave the read-only transaction. SQLite connections also get
an authorizer that allows reading only (no ATTACH, VACUUM INTO, PRAGMA writes). Each statement has
``statement_timeout`` seconds (default 60: PostgreSQL's statement_timeout, SQLite's progress
handler); a slower query fails its metric, the others go on.

The models live here and the source, which needs SQLAlchemy, in :mod:`okrsync.connectors.sql_engine`: loading
or validating a config does not import a database library.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from okrsync.sdk.connector import ConnectionSettings, Connector, MetricParams


class SqlConnection(ConnectionSettings):
    type: Literal["sql"]
    url: str
    statement_timeout: float = Field(60.0, gt=0, le=3600, description="seconds one query may run")


class SqlMetric(MetricParams):
    query: str

    def answers_for_past(self) -> bool:
        """A query that binds ``:as_of`` (or ``:as_of_start``/``:as_of_end``) can answer for a past day."""
        return re.search(r":as_of(_start|_end)?\b", self.query) is not None

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


connector = Connector(
    "sql",
    connection=SqlConnection,
    metric=SqlMetric,
    source="okrsync.connectors.sql_engine:SqlSource",
    description="SQL databases",
)
