"""A new store gets the newest schema at once (okrsync.store.engine.Database._create: tables.py and the revision
stamped); it must be the schema the migrations build step by step, on SQLite and PostgreSQL, and Alembic must
take it from there. Two processes opening a new store at once create it once."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from okrsync.store import Store
from okrsync.store.engine import newest_revision
from tests.helpers import fresh_pg_schema, migrate_to


def schema(engine: sa.Engine) -> dict:
    """Every table's columns, keys, constraints and indexes as the database reports them (column order aside:
    a migration appends a column where tables.py may declare it earlier; okrsync names columns)."""
    inspector = sa.inspect(engine)
    shape: dict = {}
    for table in sorted(inspector.get_table_names()):
        columns = {
            c["name"]: (str(c["type"]), c["nullable"], _default(c.get("default"))) for c in inspector.get_columns(table)
        }
        shape[table] = {
            "columns": columns,
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"], fk.get("options"))
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted((u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted(_index(engine, table, i) for i in inspector.get_indexes(table)),
        }
    return shape


def _default(default: str | None) -> str | None:
    return None if default is None else re.sub(r"[\s()']", "", default)


def _index(engine: sa.Engine, table: str, index: Any) -> tuple:
    """An index with its WHERE (partial indexes), read from the database's own definition."""
    if engine.dialect.name == "sqlite":
        query, key = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n", index["name"]
    else:
        query, key = (
            "SELECT indexdef FROM pg_indexes WHERE indexname = :n AND schemaname = current_schema()",
            index["name"],
        )
    with engine.connect() as conn:
        definition = conn.execute(sa.text(query), {"n": key}).scalar_one_or_none() or ""
    where = definition.upper().partition(" WHERE ")[2]
    return index["name"], tuple(index["column_names"]), bool(index["unique"]), re.sub(r"[\s()]", "", where)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_urls(request, tmp_path):
    """A new store's URL and another, to build by the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}", f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with fresh_pg_schema() as migrated:
        yield request.getfixturevalue("pg_url"), migrated


def test_a_new_store_has_the_schema_the_migrations_build(two_urls):
    new_url, migrated_url = two_urls
    migrated = sa.create_engine(migrated_url)
    with migrated.begin() as conn:
        migrate_to(conn, "head")  # every migration, one after the other, as an older store was built
    with Store(new_url) as store:
        new = schema(store.engine)
        with store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == newest_revision()  # Alembic's view
    assert new == schema(migrated)
    assert "alembic_version" in new and "ix_runs_finished" in {i[0] for i in new["runs"]["indexes"]}
    migrated.dispose()


def test_a_new_store_opened_by_two_at_once_is_created_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    start, failures = threading.Barrier(2), []

    def open_it() -> None:
        start.wait()
        try:
            Store(url).close()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with Store(url) as store, store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [newest_revision()]


def test_a_dry_run_on_a_new_postgresql_store_says_to_run_once(pg_url):
    """A dry run's read-only transaction creates nothing: the message of a store that needs migrating."""
    from okrsync.errors import StoreError

    with pytest.raises(StoreError, match="run `okrsync run` once"):
        Store(pg_url, access="scratch")
