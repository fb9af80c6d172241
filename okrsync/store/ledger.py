"""The write ledger: what each output wrote, so a re-run sends only what changed and a retry never
sends twice. :class:`okrsync.delivery.Delivery` drives it; sinks never touch it directly."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from okrsync.store import tables as t
from okrsync.store.engine import utc

if TYPE_CHECKING:
    from okrsync.store.engine import Database


class Ledger:
    """What each output wrote, so a re-run sends only what changed and a retry never sends twice.

    A write moves planned -> sent -> confirmed (or failed). ``planned`` is recorded before the
    request; a crash after it leaves the entry 'planned' or 'sent', which a sink can check
    against the destination (e.g. look for its marker in a comment) before writing again.
    """

    def __init__(self, store: Database, namespace: str, run_id: int | None):
        self.store, self.namespace, self.run_id = store, namespace, run_id

    def last_confirmed(self, sink: str, target: str) -> str | None:
        c = t.write_ledger.c
        q = (
            sa.select(c.fingerprint)
            .where(c.namespace == self.namespace, c.sink == sink, c.target == target, c.state == "confirmed")
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(1)
        )
        with self.store._tx() as conn:
            return conn.execute(q).scalar_one_or_none()

    def last_confirmed_entry(self, sink: str, target: str) -> tuple[str, str | None] | None:
        """(fingerprint, detail) of the newest confirmed write to ``target``."""
        c = t.write_ledger.c
        q = (
            sa.select(c.fingerprint, c.detail)
            .where(c.namespace == self.namespace, c.sink == sink, c.target == target, c.state == "confirmed")
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(1)
        )
        with self.store._tx() as conn:
            row = conn.execute(q).first()
        return (row.fingerprint, row.detail) if row else None

    def state(self, sink: str, target: str, fp: str) -> str | None:
        c = t.write_ledger.c
        q = sa.select(c.state).where(
            c.namespace == self.namespace, c.sink == sink, c.target == target, c.fingerprint == fp
        )
        with self.store._tx() as conn:
            return conn.execute(q).scalar_one_or_none()

    def mark(self, sink: str, target: str, fp: str, state: str, now: datetime, detail: str | None = None) -> None:
        row = dict(
            namespace=self.namespace,
            sink=sink,
            target=target,
            fingerprint=fp,
            state=state,
            run_id=self.run_id,
            updated_at=utc(now),
            detail=detail,
        )
        stmt = self.store._upsert(
            t.write_ledger,
            ("namespace", "sink", "target", "fingerprint"),
            ("state", "run_id", "updated_at", "detail"),
        )
        with self.store._tx() as conn:
            conn.execute(stmt, [row])
