"""Persistence only: sync runs, metric history, results, errors, overrides and the write ledger.

engine     the SQLAlchemy engine, Alembic migrations, transactions, driver errors -> StoreError
runs       one run per namespace, cycle and day, with its status document
history    metric values per day and per-run results
overrides  manual KR values
held       values held back by their data contracts, until accepted
ledger     what each output wrote (planned -> sent -> confirmed | failed)
tables     the schema (SQLAlchemy Core); migrations/ creates it
"""

from __future__ import annotations

from okrsync.store.engine import Database, StoreError, aware, translate_errors, utc
from okrsync.store.held import HeldRow, HeldValues
from okrsync.store.history import History
from okrsync.store.ledger import Ledger
from okrsync.store.lock import RunLock
from okrsync.store.overrides import OverrideRow, Overrides
from okrsync.store.runs import RunInfo, Runs


class Store(RunLock, Runs, History, HeldValues, Overrides, Database):
    """One store: a database URL and every query okrsync runs on it."""

    def ledger(self, namespace: str, run_id: int | None) -> Ledger:
        return Ledger(self, namespace, run_id)


__all__ = ["Database", "HeldRow", "Ledger", "OverrideRow", "RunInfo", "Store", "StoreError"]
__all__ += ["aware", "translate_errors", "utc"]
