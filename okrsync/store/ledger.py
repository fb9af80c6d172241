"""The write ledger: what each output wrote, so a re-run sends only what changed and no interleaving of
runs ever sends twice. :class:`okrsync.sdk.delivery.Delivery` drives it; sinks never touch it directly.

Every write is first **claimed**: one row per (namespace, output, target, content fingerprint, base),
inserted atomically before the request (an idempotency key in the store, as Stripe keys requests).
``base`` is the id of the target's last confirmed write when the claim was made, so "write A on top of
B" is one key however many runs try it at once, and A -> B -> A is three different keys. A claim
conflicts with an existing row unless that row failed (or, where asked, is an abandoned claim older than
the lease): the database decides, in one ``INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING``
statement, which run won.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from okrsync.store import tables as t
from okrsync.store.engine import aware, utc

if TYPE_CHECKING:
    from okrsync.store.engine import Database


@dataclass(frozen=True)
class Entry:
    id: int
    fingerprint: str
    state: str  # planned | sent | confirmed | failed | unsure
    run_id: int | None
    updated_at: datetime
    detail: str | None


class Ledger:
    """One namespace's ledger, as seen by one run (``run_id`` is recorded on each row it claims)."""

    def __init__(self, store: Database, namespace: str, run_id: int | None):
        self.store, self.namespace, self.run_id = store, namespace, run_id

    def last_confirmed(self, sink: str, target: str) -> Entry | None:
        """The newest confirmed write to ``target``."""
        c = t.write_ledger.c
        q = (
            sa.select(t.write_ledger)
            .where(c.namespace == self.namespace, c.sink == sink, c.target == target, c.state == "confirmed")
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(1)
        )
        with self.store._tx() as conn:
            return _entry(conn.execute(q).first())

    def first_sent(self, target: str) -> datetime | None:
        """When a write to ``target`` (or to a sink's own target under it, ``target/…``) first left, by any sink:
        the moment a check-in period was published. None when nothing was sent."""
        c = t.write_ledger.c
        q = sa.select(sa.func.min(c.updated_at)).where(
            c.namespace == self.namespace,
            sa.or_(c.target == target, c.target.startswith(f"{target}/")),
            c.state.in_(("sent", "confirmed", "unsure")),
        )
        with self.store._tx() as conn:
            found = conn.execute(q).scalar_one_or_none()
        return aware(found) if found is not None else None

    def entry(self, sink: str, target: str, fp: str, base: int = 0) -> Entry | None:
        c = t.write_ledger.c
        q = sa.select(t.write_ledger).where(
            c.namespace == self.namespace, c.sink == sink, c.target == target, c.fingerprint == fp, c.base == base
        )
        with self.store._tx() as conn:
            return _entry(conn.execute(q).first())

    def claim(
        self,
        sink: str,
        target: str,
        fp: str,
        *,
        base: int,
        state: str,
        now: datetime,
        reclaim_before: datetime | None = None,
    ) -> int | None:
        """Insert the claim in ``state``; its id, or None when another row holds the key. A failed row is
        taken over; so is a planned or sent one last touched before ``reclaim_before`` (an abandoned claim)."""
        c = t.write_ledger.c
        row = dict(
            namespace=self.namespace,
            sink=sink,
            target=target,
            fingerprint=fp,
            base=base,
            state=state,
            run_id=self.run_id,
            updated_at=utc(now),
            detail=None,
        )
        takeover = c.state == "failed"
        if reclaim_before is not None:
            takeover = sa.or_(takeover, sa.and_(c.state.in_(("planned", "sent")), c.updated_at < utc(reclaim_before)))
        insert = self.store._insert(t.write_ledger).values(**row)
        stmt = insert.on_conflict_do_update(
            index_elements=["namespace", "sink", "target", "fingerprint", "base"],
            set_={k: getattr(insert.excluded, k) for k in ("state", "run_id", "updated_at", "detail")},
            where=takeover,
        ).returning(c.id)
        with self.store._tx() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def settle(
        self, entry_id: int, state: str, now: datetime, detail: str | None = None, *, only_from: str = ""
    ) -> bool:
        """Move a claim on (confirmed, failed, unsure). With ``only_from``, only from that state: True when
        this call moved it (so two runs noticing the same thing report it once)."""
        c = t.write_ledger.c
        q = t.write_ledger.update().where(c.id == entry_id)
        if only_from:
            q = q.where(c.state == only_from)
        with self.store._tx() as conn:
            return conn.execute(q.values(state=state, updated_at=utc(now), detail=detail)).rowcount == 1

    def state(self, sink: str, target: str, fp: str, base: int = 0) -> str | None:
        found = self.entry(sink, target, fp, base)
        return found.state if found else None


def _entry(row) -> Entry | None:
    if row is None:
        return None
    return Entry(row.id, row.fingerprint, row.state, row.run_id, aware(row.updated_at), row.detail)
