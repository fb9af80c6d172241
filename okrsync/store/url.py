"""An offline check of a store URL for ``okrsync validate``, without importing SQLAlchemy (which costs
a fifth of a second): the dialect is known and its driver is installed. Opening the store checks the
rest (:func:`okrsync.store.engine.check_url`)."""

from __future__ import annotations

import importlib.util
import re

_URL = re.compile(r"^(?P<dialect>[A-Za-z][A-Za-z0-9_]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")
# SQLAlchemy 2.0's default driver for each dialect it ships, and the module each driver imports
DEFAULT_DRIVER = {"sqlite": "pysqlite", "postgresql": "psycopg2", "mysql": "mysqldb", "mariadb": "mysqldb",
                  "oracle": "cx_oracle", "mssql": "pyodbc"}  # fmt: skip
DRIVER_MODULE = {"pysqlite": "sqlite3", "mysqldb": "MySQLdb", "mysqlconnector": "mysql.connector",
                 "cx_oracle": "cx_Oracle"}  # fmt: skip
EXAMPLE = "e.g. sqlite:///okrsync.db or postgresql+psycopg://user@host/db"


def _plugin_dialects() -> set[str]:
    """Dialects third-party packages register with SQLAlchemy (entry points "sqlalchemy.dialects", named
    "dialect" or "dialect.driver"): read from package metadata, without importing SQLAlchemy."""
    from importlib.metadata import entry_points

    return {ep.name.split(".")[0].lower() for ep in entry_points(group="sqlalchemy.dialects")}


def store_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a store, or None."""
    m = _URL.match(url)
    if not m:
        return f"store is not a database URL ({EXAMPLE})"
    dialect = m.group("dialect").lower()
    if dialect not in DEFAULT_DRIVER:
        if dialect in _plugin_dialects():  # a dialect installed as a SQLAlchemy plugin: opening it decides
            return None
        return f"store: {dialect!r} is not a database okrsync knows ({EXAMPLE})"
    driver = (m.group("driver") or DEFAULT_DRIVER[dialect]).lower()
    module = DRIVER_MODULE.get(driver, driver)
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return (
            f"store: the database driver {module!r} is not installed; use postgresql+psycopg://… (installed with "
            "okrsync) or install the driver"
        )
    return None
