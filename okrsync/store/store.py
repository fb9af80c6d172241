"""The one store: a database URL and every query okrsync runs on it (each group of queries in its module)."""

from __future__ import annotations

from okrsync.store.archive import Archive
from okrsync.store.company import Company
from okrsync.store.engine import Database
from okrsync.store.held import HeldValues
from okrsync.store.history import History
from okrsync.store.ledger import Ledger
from okrsync.store.lock import RunLock
from okrsync.store.notes import Notes, with_notes
from okrsync.store.overrides import Overrides
from okrsync.store.runs import Runs


class Store(RunLock, Runs, History, Company, Archive, HeldValues, Overrides, Notes, Database):
    """One store: a database URL and every query okrsync runs on it."""

    def kr_history(self, namespace: str, cycle: str, kr_id: str) -> list[dict]:
        """One KR's per-day results (History.kr_history), each day with its owners' notes (``notes``); a day
        with notes but no stored result is a row of its own (okrsync.store.notes.with_notes)."""
        rows = History.kr_history(self, namespace, cycle, kr_id)
        return with_notes(rows, self.notes(namespace, cycle, kr_id=kr_id))

    def ledger(self, namespace: str, run_id: int | None) -> Ledger:
        return Ledger(self, namespace, run_id)
