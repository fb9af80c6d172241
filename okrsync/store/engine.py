"""The store's database: one SQLAlchemy engine, Alembic migrations, transactions, error mapping.

A new database gets the newest schema at once: the tables as ``tables.py`` declares them and the newest
revision stamped, as Alembic's "building an up to date database from scratch" advises (tests/test_store_schema.py
holds that schema equal to the migrations' on SQLite and PostgreSQL). An existing one is migrated with Alembic
the first time it is opened. Both happen under the store's write lock (an advisory lock on PostgreSQL), so
several workers starting at once create or migrate it once. Every driver error leaves through
:func:`translate_errors` as a :class:`StoreError` naming the database but never its password.
Times are stored in UTC and returned aware.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.errors import StoreError
from okrsync.store import sqlite

if TYPE_CHECKING:  # the dialects load when a store of theirs is opened
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite as sqlite_dialect

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x6F6B7273  # "okrs"
# Alembic's own table for the revision, as it creates it (alembic.runtime.migration)
_ALEMBIC_VERSION = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@contextlib.contextmanager
def translate_errors(url: sa.URL | None) -> Iterator[None]:
    """Map driver errors to StoreError at one boundary, naming the database without credentials."""
    try:
        yield
    except SQLAlchemyError as exc:
        where = url.render_as_string(hide_password=True) if url is not None else "the store"
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"store {where}: {detail}") from exc


def check_url(url: str) -> sa.URL:
    """The store URL parsed, with its driver installed; StoreError saying what to change otherwise.
    No connection is made (``okrsync validate`` calls this without network)."""
    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise StoreError(
            "store is not a valid SQLAlchemy URL (e.g. sqlite:///okrsync.db or postgresql+psycopg://user@host/db)"
        ) from None
    module = {"pysqlite": "sqlite3"}.get(dialect.driver, dialect.driver)
    if importlib.util.find_spec(module) is None:
        raise StoreError(
            f"store: the database driver {module!r} is not installed; use postgresql+psycopg://… (installed with "
            "okrsync) or install the driver"
        )
    return parsed


Access = Literal["write", "read", "scratch"]


class Database:
    """The engine and its schema; the store's other parts add their queries to it.

    ``access`` says what the command may do to the store (okrsync.store.sqlite explains the SQLite side):
    ``write`` creates and migrates it; ``read`` (status, history, runs, report) reads it as it is, never
    creating a file or waiting for a sync's write lock, and sees an older schema through an in-memory
    copy; ``scratch`` (``run --dry-run``) works on an in-memory copy, so nothing on disk changes (no
    file, schema or lock file). On PostgreSQL ``read`` and ``scratch`` run read-only transactions and
    need the schema at the newest revision."""

    def __init__(self, url: str, *, access: Access = "write"):
        self.url = check_url(url)
        self.access = access
        path = _sqlite_file(self.url)
        with translate_errors(self.url):
            if path is not None and access == "write":
                _make_folder(path.parent)
                self.engine = sqlite.writer(self.url, **ENGINE_ARGS)
            elif path is not None and (access == "scratch" or not path.exists()):
                self.engine = sqlite.memory_copy(path, **ENGINE_ARGS)
            elif path is not None:
                self.engine = sqlite.reader(path, **ENGINE_ARGS)
            else:
                self.engine = _engine(self.url, read_only=access != "write")
        self.migrate()

    @property
    def read_only(self) -> bool:
        """Nothing this store object does reaches the database on disk."""
        return self.access != "write"

    def migrate(self) -> None:
        """Bring the schema to the newest revision; cheap when it already is (one query; Alembic, about a
        quarter of a read command's imports, is not loaded). A reading SQLite store with an older schema is
        read through a migrated in-memory copy instead."""
        head = newest_revision()
        current = self._revision()
        if current == head or (current is None and self._create(head)):
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.runtime.migration import MigrationContext

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        path = _sqlite_file(self.url)  # None for SQLite in memory, which is migrated in place like a scratch store
        if self.access == "read" and path is not None:
            self.engine.dispose()
            self.access, self.engine = "scratch", sqlite.memory_copy(path, **ENGINE_ARGS)
        with translate_errors(self.url), self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql" and not self.read_only:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            if self.read_only and self.engine.dialect.name == "postgresql":
                raise StoreError(
                    f"store {self.url.render_as_string(hide_password=True)} is at schema revision {current}, "
                    f"okrsync needs {head}; this command changes nothing: run `okrsync run` once to migrate"
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _create(self, head: str) -> bool:
        """A database without okrsync's tables gets the newest schema at once (0.1 s and Alembic's import saved
        on a store's first open); False when it has some of them (another process created it meanwhile, or
        tables of an older okrsync without a revision), which Alembic then takes as any other."""
        from okrsync.store.tables import metadata

        if self.access == "read" or (self.read_only and self.engine.dialect.name == "postgresql"):
            return False  # a reader creates nothing, nor a read-only transaction: migrate() says what happens
        with translate_errors(self.url), self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            present = set(sa.inspect(conn).get_table_names())
            if present & {*metadata.tables, _ALEMBIC_VERSION.name}:
                return False
            metadata.create_all(conn)
            _ALEMBIC_VERSION.create(conn)
            conn.execute(_ALEMBIC_VERSION.insert().values(version_num=head))
        return True

    def _revision(self) -> str | None:
        """The schema revision the database is at; None for a new one (no alembic_version table)."""
        with translate_errors(self.url), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with translate_errors(self.url), self.engine.begin() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite_dialect.Insert:
        """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite >= 3.24 alike)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _upsert(self, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> sa.Insert:
        stmt = self._insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: getattr(stmt.excluded, c) for c in update}
        )


def newest_revision() -> str:
    """The newest migration's revision: the migrations are numbered in order (``0011_….py`` is revision
    0011, revising 0010; tests/test_store.py holds Alembic's head to it)."""
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocked} is a file, not a folder" if blocked else exc.strerror
        raise StoreError(f"store: cannot create the folder {folder}: {why}") from None


def _engine(url: sa.URL, *, read_only: bool) -> sa.Engine:
    if read_only and url.get_backend_name() == "postgresql":  # beside the URL's own options (a search_path)
        options = " ".join(filter(None, [str(url.query.get("options", "")), "-c default_transaction_read_only=on"]))
        url = url.update_query_dict({"options": options})
    engine = sa.create_engine(url, pool_pre_ping=True, **ENGINE_ARGS)
    if url.get_backend_name() == "sqlite":  # in memory: transactions as on disk
        sa.event.listen(engine, "begin", sqlite.begin_immediate)
    return engine


def _sqlite_file(url: sa.URL) -> Path | None:
    """The database file of a SQLite URL; None for other databases and SQLite in memory."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _strict_json(value) -> str:
    return json.dumps(value, allow_nan=False)


# allow_nan=False: a non-finite number must fail loudly, never become a document that strict JSON
# parsers (and PostgreSQL's json type) reject; values are checked at the boundary anyway
ENGINE_ARGS = {"json_serializer": _strict_json}


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
