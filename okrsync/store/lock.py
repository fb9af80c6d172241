"""One run at a time per config: a lock per (namespace, cycle), held for the whole sync.

Two runs of the same config at once (a cron run next to a manual one, two workers) would fetch,
store and deliver twice; the second run waits for the first and then finds nothing new to write.
Runs of different configs (other namespaces or cycles) do not wait for each other.

PostgreSQL: a session-level advisory lock on a connection of its own: ``pg_try_advisory_lock``, and
when it is held, ``pg_advisory_lock`` under a ``statement_timeout`` of the wait (no polling); the server releases it
when the connection ends, so a killed run never leaves it behind.

SQLite: ``flock`` on a small lock file next to the database file. SQLite serves one machine, the
kernel releases the lock when the process dies, and unlike an exclusive transaction it does not
block the run's own writes through other connections. An in-memory database needs no lock. The lock
file is opened without following a symlink; a folder or an unwritable file in its place is a StoreError
naming the path.

A held lock can be lost: the server ends the PostgreSQL session (``pg_terminate_backend``, a restart,
``idle_session_timeout`` — which the lock session turns off for itself), or someone deletes the lock
file and the next run creates a new one. :meth:`HeldLock.check` tells; the sync checks before it stores
and before it publishes, and stops with :class:`~okrsync.errors.RunLockLostError` (exit 3).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from okrsync.errors import RunLockedError, RunLockLostError, StoreError
from okrsync.store.engine import Database, _sqlite_file, translate_errors

POLL_SECONDS = 0.1  # how often a waiting SQLite run retries the file lock


def lock_key(namespace: str, cycle: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, stable across processes and machines."""
    digest = hashlib.blake2b(f"okrsync-run/{namespace}/{cycle}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class HeldLock:
    """A run lock while it is held: ``check(stage)`` raises RunLockLostError once it is not."""

    def __init__(self, namespace: str, cycle: str, lost: Callable[[], str | None] = lambda: None):
        self.namespace, self.cycle, self._lost = namespace, cycle, lost

    def check(self, stage: str) -> None:
        if why := self._lost():
            raise RunLockLostError(self.namespace, self.cycle, why, stage)


class RunLock(Database):
    @contextlib.contextmanager
    def run_lock(self, namespace: str, cycle: str, *, wait: float) -> Iterator[HeldLock]:
        """Hold the run lock of (namespace, cycle); RunLockedError after ``wait`` seconds."""
        backend = self.engine.dialect.name
        if self.read_only:  # a dry run writes nothing, so it has nothing to serialise
            yield HeldLock(namespace, cycle)
        elif backend == "postgresql":
            with self._pg_lock(lock_key(namespace, cycle), namespace, cycle, wait) as held:
                yield held
        elif backend == "sqlite" and (db := _sqlite_file(self.url)) is not None:
            with self._file_lock(db, namespace, cycle, wait) as held:
                yield held
        else:
            yield HeldLock(namespace, cycle)

    @contextlib.contextmanager
    def _pg_lock(self, key: int, namespace: str, cycle: str, wait: float) -> Iterator[HeldLock]:
        with translate_errors(self.url):
            conn = self.engine.connect()
        acquired = False
        try:
            acquired = self._pg_acquire(conn, key, wait)
            if not acquired:
                raise RunLockedError(namespace, cycle, wait)
            yield HeldLock(namespace, cycle, lambda: _pg_session_lost(conn))
        finally:
            self._pg_release(conn, key, acquired)

    @staticmethod
    def _pg_acquire(conn: sa.Connection, key: int, wait: float) -> bool:
        # the lock lives as long as this session: a server-side idle timeout must not end it mid-run
        conn.exec_driver_sql("SET idle_session_timeout = 0")
        conn.exec_driver_sql("SET idle_in_transaction_session_timeout = 0")
        conn.commit()
        if conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
            conn.commit()
            return True
        if wait <= 0:
            return False
        try:
            conn.exec_driver_sql(f"SET statement_timeout = {max(1, int(wait * 1000))}")
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.exec_driver_sql("SET statement_timeout = 0")
            conn.commit()
            return True
        except OperationalError as exc:  # QueryCanceled: the wait ran out
            if "statement timeout" not in str(exc.orig):
                raise
            return False

    @staticmethod
    def _pg_release(conn: sa.Connection, key: int, acquired: bool) -> None:
        """Unlock and hand the connection back clean; when that fails, close the session itself, which
        releases the lock (a pooled session must never keep a lock or a statement_timeout)."""
        try:
            conn.rollback()
            if acquired:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.exec_driver_sql("SET statement_timeout = 0")
            conn.commit()
        except SQLAlchemyError:
            conn.invalidate()
        finally:
            conn.close()

    @contextlib.contextmanager
    def _file_lock(self, db: Path, namespace: str, cycle: str, wait: float) -> Iterator[HeldLock]:
        name = hashlib.blake2b(f"{namespace}/{cycle}".encode(), digest_size=6).hexdigest()
        path = db.parent / f".{db.name}.run-{name}.lock"
        fd = _open_lock_file(path)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RunLockedError(namespace, cycle, wait) from None
                    time.sleep(POLL_SECONDS)
            try:
                yield HeldLock(namespace, cycle, lambda: _lock_file_lost(path, fd))
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _open_lock_file(path: Path) -> int:
    """The lock file, created if need be; never through a symlink (O_NOFOLLOW), never a folder."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if path.is_symlink():
            why = "it is a symbolic link; okrsync does not follow one there"
        elif path.is_dir():
            why = "it is a folder"
        else:
            why = exc.strerror or type(exc).__name__
        raise StoreError(
            f"store: cannot use the run lock file {path}: {why} (remove it, or fix its permissions)"
        ) from None


def _lock_file_lost(path: Path, fd: int) -> str | None:
    try:
        if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
            return None
    except FileNotFoundError:
        pass
    return f"its lock file {path} was removed or replaced"


def _pg_session_lost(conn: sa.Connection) -> str | None:
    """Why the lock's PostgreSQL session is gone, or None while it lives (and so holds the lock)."""
    try:
        conn.exec_driver_sql("SELECT 1")
        conn.commit()
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"its PostgreSQL session ended: {detail}"
    return None
