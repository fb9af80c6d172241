"""Persistence only: sync runs, metric history, results, errors, overrides and the write ledger.

engine     the SQLAlchemy engine, Alembic migrations, transactions, driver errors -> StoreError
runs       one run per namespace, cycle and day, with its status document
history    metric values per day and per-run results
overrides  manual KR values
held       values held back by their data contracts, until accepted
ledger     what each output wrote (planned -> sent -> confirmed | failed)
notes      owners' notes and confidence on key results; each KR's values per day (the check-in's reads)
tables     the schema (SQLAlchemy Core); migrations/ creates it
store      Store, every query above on one database

The names below load their module on first use (PEP 562): ``okrsync.store.url``, which ``okrsync validate`` reads,
needs neither SQLAlchemy nor Alembic, and importing the package must not bring them (tests/test_startup_imports.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from okrsync.store.engine import Database, StoreError, aware, translate_errors, utc
    from okrsync.store.held import HeldRow
    from okrsync.store.ledger import Ledger
    from okrsync.store.notes import CheckedNote, NoteRow
    from okrsync.store.overrides import OverrideRow
    from okrsync.store.runs import RunInfo
    from okrsync.store.store import Store

_WHERE = {
    "Database": "engine",
    "StoreError": "engine",
    "aware": "engine",
    "translate_errors": "engine",
    "utc": "engine",
    "HeldRow": "held",
    "Ledger": "ledger",
    "CheckedNote": "notes",
    "NoteRow": "notes",
    "OverrideRow": "overrides",
    "RunInfo": "runs",
    "Store": "store",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"okrsync.store.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'okrsync.store' has no attribute {name!r}")


__all__ = ["CheckedNote", "Database", "HeldRow", "Ledger", "NoteRow", "OverrideRow", "RunInfo", "Store", "StoreError"]
__all__ += ["aware", "translate_errors", "utc"]
