"""Values held back by their metric's data contract (okrsync.okr.contracts), kept for review.

A held value never enters ``metric_values`` (history) until `okrsync accept` copies it there, for the
synced day that held it back and no other; a later check of the same day replaces it; deleting that
day's run deletes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from okrsync.store import tables as t
from okrsync.store.engine import Database, aware, utc
from okrsync.store.history import KEY, ValueRow


@dataclass(frozen=True)
class HeldRow:
    metric_id: str
    day: date  # the synced day that held it back
    as_of: datetime
    observed_at: datetime
    value: float
    reason: str
    run_id: int | None


class HeldValues(Database):
    def save_held(self, namespace: str, cycle: str, run_id: int, rows: Iterable[tuple[ValueRow, str]]) -> None:
        """This run's held values (each with why) replace what its earlier attempt held (a value that now
        passes is no longer waiting) and any earlier verdict on the same metric and day."""
        h = t.held_values.c
        owner = dict(namespace=namespace, cycle=cycle, run_id=run_id, accepted_at=None)
        records = [
            {**owner, **row._asdict(), "as_of": utc(row.as_of), "observed_at": utc(row.observed_at), "reason": why}
            for row, why in rows
        ]
        with self._tx() as conn:
            conn.execute(t.held_values.delete().where(h.run_id == run_id, h.accepted_at.is_(None)))
            if records:
                update = ("as_of", "observed_at", "value", "reason", "run_id", "accepted_at")
                conn.execute(self._upsert(t.held_values, KEY, update), records)

    def held(self, namespace: str, cycle: str, metric_id: str | None = None, day: date | None = None) -> list[HeldRow]:
        """Values waiting for review, oldest first: of one metric, or of the run stored for ``day``."""
        h = t.held_values.c
        q = sa.select(h.metric_id, h.day, h.as_of, h.observed_at, h.value, h.reason, h.run_id).where(
            h.namespace == namespace, h.cycle == cycle, h.accepted_at.is_(None)
        )
        if metric_id is not None:
            q = q.where(h.metric_id == metric_id)
        if day is not None:
            r = t.runs.c
            q = q.join(t.runs, r.id == h.run_id).where(r.day == day)
        with self._tx() as conn:
            rows = conn.execute(q.order_by(h.day, h.metric_id)).all()
        return [HeldRow(m, d, aware(a), aware(at), v, why, run) for m, d, a, at, v, why, run in rows]

    def accept_held(
        self, namespace: str, cycle: str, metric_id: str, now: datetime, listed: Iterable[HeldRow] | None = None
    ) -> list[HeldRow]:
        """Publish the metric's held values into its history, each for the synced day that held it (never
        for a later day: those keep what their own runs read), marked accepted. With ``listed``, only those
        of them still held as listed (same day, same value): what the lead reviewed, nothing held since."""
        rows = self.held(namespace, cycle, metric_id)
        if listed is not None:
            reviewed = {(r.day, r.value) for r in listed}
            rows = [r for r in rows if (r.day, r.value) in reviewed]
        if not rows:
            return []
        h = t.held_values.c
        values = [
            dict(
                namespace=namespace,
                cycle=cycle,
                metric_id=r.metric_id,
                day=r.day,
                as_of=utc(r.as_of),
                observed_at=utc(r.observed_at),
                value=r.value,
                run_id=r.run_id,
            )
            for r in rows
        ]
        upsert = self._upsert(t.metric_values, KEY, ("as_of", "observed_at", "value", "run_id"))
        waiting = [h.namespace == namespace, h.cycle == cycle, h.metric_id == metric_id, h.accepted_at.is_(None)]
        waiting.append(h.day.in_([r.day for r in rows]))
        with self._tx() as conn:
            conn.execute(upsert, values)
            conn.execute(t.held_values.update().where(*waiting).values(accepted_at=utc(now)))
        return rows
