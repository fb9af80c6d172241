"""One run at a time per config: a lock per (namespace, cycle), held for the whole sync.

Two runs of the same config at once (a cron run next to a manual one, two workers) would fetch,
store and deliver twice; the second run waits for the first and then finds nothing new to write.
Runs of different configs (other namespaces or cycles) do not wait for each other.

PostgreSQL: a session-level advisory lock on a connection of its own: ``pg_try_advisory_lock``, and
when it is held, ``pg_advisory_lock`` under a ``statement_timeout`` of the wait (no polling); the server releases it
when the connection ends, so a killed run never leaves it behind.

SQLite: ``flock`` on a small lock file next to the database file. SQLite serves one machine, the
kernel releases the lock when the process dies, and unlike an exclusive transaction it does not
block the run's own writes through other connections. An in-memory database needs no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from okrsync.errors import RunLockedError
from okrsync.store.engine import Database, translate_errors

POLL_SECONDS = 0.1  # how often a waiting SQLite run retries the file lock


def lock_key(namespace: str, cycle: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, stable across processes and machines."""
    digest = hashlib.blake2b(f"okrsync-run/{namespace}/{cycle}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class RunLock(Database):
    @contextlib.contextmanager
    def run_lock(self, namespace: str, cycle: str, *, wait: float) -> Iterator[None]:
        """Hold the run lock of (namespace, cycle); RunLockedError after ``wait`` seconds."""
        backend = self.engine.dialect.name
        if self.read_only:  # a dry run writes nothing, so it has nothing to serialise
            yield
        elif backend == "postgresql":
            with self._pg_lock(lock_key(namespace, cycle), namespace, cycle, wait):
                yield
        elif backend == "sqlite" and self.url.database not in (None, "", ":memory:"):
            with self._file_lock(namespace, cycle, wait):
                yield
        else:
            yield

    @contextlib.contextmanager
    def _pg_lock(self, key: int, namespace: str, cycle: str, wait: float) -> Iterator[None]:
        with translate_errors(self.url):
            conn = self.engine.connect()
        acquired = False
        try:
            acquired = self._pg_acquire(conn, key, wait)
            if not acquired:
                raise RunLockedError(namespace, cycle, wait)
            yield
        finally:
            self._pg_release(conn, key, acquired)

    @staticmethod
    def _pg_acquire(conn: sa.Connection, key: int, wait: float) -> bool:
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
    def _file_lock(self, namespace: str, cycle: str, wait: float) -> Iterator[None]:
        db = Path(self.url.database)
        name = hashlib.blake2b(f"{namespace}/{cycle}".encode(), digest_size=6).hexdigest()
        path = db.parent / f".{db.name}.run-{name}.lock"
        deadline = time.monotonic() + wait
        with path.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RunLockedError(namespace, cycle, wait) from None
                    time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
