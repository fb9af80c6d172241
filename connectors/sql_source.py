"""SQL databases through SQLAlchemy: a query per metric that returns exactly one number.

The connection ``url`` is any SQLAlchemy URL (``${ENV}`` references resolved when opened); a
relative SQLite path starts at the config's folder. Queries get the bind parameters
``:cycle_start``, ``:cycle_end`` and ``:as_of`` (dates; as_of is the metric's day D, offset_days
applied), and beside each ``_start`` (00:00 of that day) and ``_end`` (the first instant after it),
aware in the cycle's time zone: a run as of D reads as of the end of D (docs/okr-semantics.md, "What a
day means"), so ``ts < :as_of_end`` or ``day <= :as_of`` counts D itself, and a ``timestamptz`` column compares in
the cycle's zone, not at midnight UTC. Every metric of a connection runs on one database
connection, opened read-only where the database supports it: SQLite in ``mode=ro``, PostgreSQL and
Redshift in a read-only transaction, MySQL and MariaDB in a read-only session and transaction; SQL
Server, Snowflake and BigQuery have no read-only session, so there the login's grants are the guard
(docs/sources/sql.md says which to give).

A query is one SELECT (or WITH … SELECT) statement, checked when the config loads: a second
statement (``commit; delete …``) could leave the read-only transaction. The text check is never the
only guard: MySQL and MariaDB run the text of an executable comment (``/*! … */``, ``/*M! … */``)
as SQL, so ``/*! delete from t where 1 or (*/ select 1 /*!)*/`` reads as one SELECT here and is a
DELETE there (https://dev.mysql.com/doc/refman/8.4/en/comments.html,
https://mariadb.com/kb/en/comment-syntax/): such comments are refused here, and the read-only
transaction refuses the write on the server anyway. Those databases and BigQuery also quote and comment otherwise
(``\'``, ``#``, backticks, ``--`` only before a space), so before each query there the text is read their way
too (:func:`one_mysql_select`). T-SQL needs no ``;`` between statements
(https://learn.microsoft.com/sql/t-sql/language-elements/transact-sql-syntax-conventions-transact-sql),
so on SQL Server :func:`one_tsql_select` also refuses the reserved words that begin another statement.
SQLite connections also get an authorizer that allows reading only (no ATTACH, VACUUM INTO, PRAGMA
writes). Each statement has ``statement_timeout`` seconds (default 60; how each database enforces it
is in :mod:`okrsync.connectors.sql_engine`); a slower query fails its metric, the others go on.

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
# MySQL runs /*!…*/ and /*!50700 …*/, MariaDB also /*M!…*/: refused anywhere in the text, literals included
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!", re.I)


def one_select(query: str) -> str:
    """``query`` when it is a single SELECT / WITH statement (a trailing ``;`` is fine); else ValueError."""
    if _EXECUTABLE_COMMENT.search(query):
        raise ValueError(
            "a query must not hold an executable comment ('/*!' or '/*M!'): MySQL and MariaDB run its text as SQL"
        )
    body = _one_statement(_SKIP.sub(" ", query))  # literals, quoted names and comments cannot end a statement
    first = body.split(None, 1)[0].lower() if body else ""
    if first not in ("select", "with"):
        raise ValueError(f"a query must be a SELECT (or WITH … SELECT), not {first.upper() or 'empty'}")
    return query


def _one_statement(code: str) -> str:
    """``code`` (a query, its literals, quoted names and comments blanked) without a trailing ``;``; ValueError
    when a ``;`` is left in it."""
    body = code.strip().rstrip(";").strip()
    if ";" in body:
        raise ValueError("a query must be one statement: remove the ';' between statements")
    return body


# MySQL, MariaDB and BigQuery read a text otherwise than _SKIP: a backslash escapes a quote inside a literal, `…`
# quotes a name, '#' starts a comment and MySQL's '--' only before a space; '$a$' is a name there, no quoting
# (https://dev.mysql.com/doc/refman/8.4/en/string-literals.html, https://dev.mysql.com/doc/refman/8.4/en/comments.html,
# https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical). Read so, `select 1 --1; delete from t`
# is two statements there, one to _SKIP.
_MYSQL_SKIP = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`]|``)*`|#[^\n]*|--\s[^\n]*|/\*.*?\*/", re.S
)


def one_mysql_select(query: str) -> str:
    """``query`` when MySQL's (and BigQuery's) reading of it finds one statement too; else ValueError. Checked before
    every query on those databases, beside :func:`one_select`'s standard reading when the config loads."""
    _one_statement(_MYSQL_SKIP.sub(" ", query))
    return query


# T-SQL: string literals, "quoted" and [bracketed] names, comments (no $-quoting: a$b$ is a name there)
_TSQL_SKIP = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[(?:[^\]]|\]\])*\]|--[^\n]*|/\*.*?\*/", re.S)
# Reserved keywords (learn.microsoft.com/sql/t-sql/language-elements/reserved-keywords-transact-sql) that begin
# a statement, or turn a SELECT into a write (SELECT … INTO makes a table): none can stand unquoted in one SELECT.
_TSQL_STATEMENTS = frozenset((
    "alter", "backup", "begin", "bulk", "checkpoint", "commit", "create", "dbcc", "declare", "delete", "deny",
    "drop", "exec", "execute", "grant", "insert", "into", "kill", "merge", "print", "raiserror", "readtext",
    "reconfigure", "restore", "revert", "revoke", "rollback", "save", "set", "setuser", "shutdown", "truncate",
    "update", "updatetext", "use", "waitfor", "writetext",
))  # fmt: skip


def one_tsql_select(query: str) -> str:
    """``query`` when no second T-SQL statement hides in it (SQL Server needs no ';' between two); else ValueError."""
    words = re.findall(r"[\w@#$]+", _TSQL_SKIP.sub(" ", query).lower())  # whole names: set1, @set are not SET
    found = next((word for word in words[1:] if word in _TSQL_STATEMENTS), None)
    if found:
        raise ValueError(
            f"a query must be one SELECT: {found.upper()} begins another statement or writes on SQL Server "
            "(quote a column of that name as [name])"
        )
    return query


connector = Connector(
    "sql",
    connection=SqlConnection,
    metric=SqlMetric,
    source="okrsync.connectors.sql_engine:SqlSource",
    description="SQL databases",
)
