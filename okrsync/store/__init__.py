"""Persistence only: sync runs, metric history, results, errors, overrides and the write ledger.

engine     the SQLAlchemy engine, Alembic migrations, transactions, driver errors -> StoreError
runs       one run per namespace, cycle and day, with its status document
history    metric values per day and per-run results
overrides  manual KR values
held       values held back by their data contracts, until accepted
ledger     what each output wrote (planned -> sent -> confirmed | failed)
notes      owners' notes and confidence on key results; each KR's values per day (the check-in's reads)
tables     the schema (SQLAlchemy Core); migrations/ creates it
"""

from __future__ import annotations

from okrsync.store.engine import Database, StoreError, aware, translate_errors, utc
from okrsync.store.held import HeldRow, HeldValues
from okrsync.store.history import History
from okrsync.store.ledger import Ledger
from okrsync.store.lock import RunLock
from okrsync.store.notes import CheckedNote, NoteRow, Notes, with_notes
from okrsync.store.overrides import OverrideRow, Overrides
from okrsync.store.runs import RunInfo, Runs


class Store(RunLock, Runs, History, HeldValues, Overrides, Notes, Database):
    """One store: a database URL and every query okrsync runs on it."""

    def kr_history(self, namespace: str, cycle: str, kr_id: str) -> list[dict]:
        """One KR's per-day results (History.kr_history), each day with its owners' notes (``notes``); a day
        with notes but no stored result is a row of its own (okrsync.store.notes.with_notes)."""
        rows = History.kr_history(self, namespace, cycle, kr_id)
        return with_notes(rows, self.notes(namespace, cycle, kr_id=kr_id))

    def ledger(self, namespace: str, run_id: int | None) -> Ledger:
        return Ledger(self, namespace, run_id)


__all__ = ["CheckedNote", "Database", "HeldRow", "Ledger", "NoteRow", "OverrideRow", "RunInfo", "Store", "StoreError"]
__all__ += ["aware", "translate_errors", "utc"]
