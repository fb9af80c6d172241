"""SQLite engines for the store's three ways of opening a file: to write, to read, to try (a dry run).

* **write** (``okrsync run`` and every command that changes the store): the file in WAL mode, every
  transaction beginning with ``BEGIN IMMEDIATE`` and DDL inside it, so a migration is all or nothing.
* **read** (``status``, ``history``, ``runs``, ``report``): the file opened read-only, transactions
  deferred, so a reading command never waits for a sync's write lock, works on a store it may not
  write (a read-only folder or file), and never creates it. See :func:`reader`.
* **scratch** (``run --dry-run``, and a reading command on a store whose schema is older than this
  okrsync's): an in-memory copy, migrated there; nothing on disk changes. See :func:`memory_copy`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

BUSY_TIMEOUT_MS = 30_000  # a first migration of a new store on a loaded machine took over 5 s


def writer(url: sa.URL, **engine_args) -> sa.Engine:
    engine = sa.create_engine(url, **engine_args)
    sa.event.listen(engine, "connect", _writer_pragmas)
    sa.event.listen(engine, "begin", begin_immediate)
    return engine


def reader(path: Path, **engine_args) -> sa.Engine:
    """The file read-only. ``mode=ro`` takes part in WAL's locking as any reader does (it may leave the
    -wal and -shm files a WAL reader needs). Where it cannot (the folder is not ours to write and no
    writer has created them), the file is opened ``immutable=1``: then no writer can be at work either,
    since a writer needs that folder to create its -wal file."""
    wal = path.with_name(path.name + "-wal").exists()
    how = "mode=ro" if wal or os.access(path.parent, os.W_OK) else "immutable=1"
    uri = f"{path.resolve().as_uri()}?{how}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.isolation_level = None
        return conn

    engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool, **engine_args)
    sa.event.listen(engine, "begin", begin_deferred)
    return engine


def memory_copy(path: Path, **engine_args) -> sa.Engine:
    """An in-memory SQLite database holding a copy of ``path`` (empty when there is no such file),
    read through SQLite's backup API with the file opened read-only. One connection serves every
    thread (StaticPool): an in-memory database lives in its connection."""
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
    memory.isolation_level = None  # okrsync opens its transactions itself, as on disk
    memory.execute("PRAGMA foreign_keys=ON")
    engine = sa.create_engine("sqlite://", creator=lambda: memory, poolclass=sa.pool.StaticPool, **engine_args)
    sa.event.listen(engine, "begin", begin_immediate)
    return engine


def _writer_pragmas(dbapi_conn, _record) -> None:
    # pysqlite would run DDL (the migrations' CREATE TABLEs) outside any transaction and open its own
    # transactions lazily; okrsync opens them itself instead (SQLAlchemy's documented recipe, "Serializable
    # isolation / Savepoints / Transactional DDL" in its SQLite dialect docs), so a migration is atomic.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: switching to WAL takes a lock too
    cur.execute("PRAGMA foreign_keys=ON")
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # WAL stays in the file once set
        _to_wal(cur)
    cur.close()


def _to_wal(cur) -> None:
    """Switch a new store to WAL. SQLite answers "database is locked" at once, without waiting out
    busy_timeout, when several first connections switch together (12 threads opening a new store: about
    one round in 40 failed), so the switch is retried for as long as busy_timeout would have waited."""
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

    locked = retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e))
    for attempt in Retrying(retry=locked, stop=stop_after_delay(30), wait=wait_random(0.005, 0.05), reraise=True):
        with attempt:
            cur.execute("PRAGMA journal_mode=WAL")


def begin_immediate(conn: sa.Connection) -> None:
    """Every writing transaction takes SQLite's write lock up front: two processes that both read and
    then write would otherwise deadlock (SQLITE_BUSY at once, busy_timeout not applied), and two first
    opens of a new store would both try to create its tables."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def begin_deferred(conn: sa.Connection) -> None:
    """A reading transaction: a consistent snapshot, no write lock (a sync may write meanwhile)."""
    conn.exec_driver_sql("BEGIN")
