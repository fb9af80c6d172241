"""The store's database: one SQLAlchemy engine, Alembic migrations, transactions, error mapping.

The schema is migrated with Alembic the first time a store is opened (under an advisory lock on
PostgreSQL, so several workers starting at once migrate once). Every driver error leaves through
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

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from okrsync.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x6F6B7273  # "okrs"


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


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


class Database:
    """The engine and its schema; the store's other parts add their queries to it.

    ``read_only`` (``okrsync run --dry-run``) writes nothing anywhere: a SQLite store is copied into
    memory (a missing one starts empty there), so no file, schema or lock file appears and an older
    schema is migrated only in the copy; a PostgreSQL store is read in read-only transactions and must
    already be at the newest revision."""

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = check_url(url)
        self.read_only = read_only
        sqlite = self.url.get_backend_name() == "sqlite"
        on_disk = sqlite and self.url.database not in (None, "", ":memory:")
        with translate_errors(self.url):
            if on_disk and read_only:
                self.engine = _memory_copy(Path(self.url.database))
            else:
                if on_disk:
                    _make_folder(Path(self.url.database).parent)
                self.engine = _engine(self.url, read_only)
        if on_disk and not read_only:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if sqlite:
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest revision; cheap when it already is."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with translate_errors(self.url), self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            if self.read_only and self.engine.dialect.name == "postgresql":
                raise StoreError(
                    f"store {self.url.render_as_string(hide_password=True)} is at schema revision {current}, "
                    f"okrsync needs {head}; a dry run changes nothing: run once without --dry-run to migrate"
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

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

    def _insert(self, table: sa.Table):
        """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite >= 3.24 alike)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _upsert(self, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> sa.Insert:
        stmt = self._insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: getattr(stmt.excluded, c) for c in update}
        )


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocked} is a file, not a folder" if blocked else exc.strerror
        raise StoreError(f"store: cannot create the folder {folder}: {why}") from None


def _engine(url: sa.URL, read_only: bool) -> sa.Engine:
    # allow_nan=False: a non-finite number must fail loudly, never become a document that strict
    # JSON parsers (and PostgreSQL's json type) reject; values are checked at the boundary anyway
    args = {}
    if read_only and url.get_backend_name() == "postgresql":
        args["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_strict_json, **args)


def _memory_copy(path: Path) -> sa.Engine:
    """An in-memory SQLite database holding a copy of ``path`` (empty when there is no such file),
    read through SQLite's backup API with the file opened read-only.
    One connection serves every thread (StaticPool): an in-memory database lives in its connection."""
    import sqlite3

    memory = sqlite3.connect(":memory:", check_same_thread=False)
    if path.exists():
        # without a -wal file beside it the file is the whole database: immutable=1 reads it without
        # creating the -wal and -shm files a read-only connection to a WAL database would otherwise leave
        wal = path.with_name(path.name + "-wal").exists()
        source = sqlite3.connect(f"{path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}", uri=True)
        try:
            source.backup(memory)
        finally:
            source.close()
    memory.isolation_level = None  # okrsync opens its transactions itself, as on disk (_sqlite_pragmas)
    memory.execute("PRAGMA foreign_keys=ON")
    return sa.create_engine(
        "sqlite://", creator=lambda: memory, poolclass=sa.pool.StaticPool, json_serializer=_strict_json
    )


def _strict_json(value) -> str:
    return json.dumps(value, allow_nan=False)


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # pysqlite would run DDL (the migrations' CREATE TABLEs) outside any transaction and open its own
    # transactions lazily; okrsync opens them itself instead (SQLAlchemy's documented recipe, "Serializable
    # isolation / Savepoints / Transactional DDL" in its SQLite dialect docs), so a migration is atomic.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # first: switching to WAL takes a lock too; 30 s because a first migration of a new store on a
    # loaded machine took over 5 s, and a waiting store operation is better than a failed night
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # WAL stays in the file once set
        _to_wal(cur)
    cur.close()


def _to_wal(cur) -> None:
    """Switch a new store to WAL. SQLite answers "database is locked" at once, without waiting out
    busy_timeout, when several first connections switch together (12 threads opening a new store: about
    one round in 40 failed), so the switch is retried for as long as busy_timeout would have waited."""
    import sqlite3

    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

    locked = retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e))
    for attempt in Retrying(retry=locked, stop=stop_after_delay(30), wait=wait_random(0.005, 0.05), reraise=True):
        with attempt:
            cur.execute("PRAGMA journal_mode=WAL")


def _sqlite_begin(conn: sa.Connection) -> None:
    """Every transaction takes SQLite's write lock up front: two processes that both read and then
    write would otherwise deadlock (SQLITE_BUSY at once, busy_timeout not applied), and two first
    opens of a new store would both try to create its tables."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")
