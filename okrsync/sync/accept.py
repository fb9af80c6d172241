"""`okrsync accept METRIC`: values a data contract held back join the history after all.

The metric's held-back values are accepted, the stored days from the first of them on are evaluated
again (:func:`okrsync.sync.sequence.refresh`) and the newest is published, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from okrsync.config import Config
from okrsync.store import HeldRow, Store
from okrsync.sync.result import SyncResult
from okrsync.sync.sequence import refresh


@dataclass
class Accepted:
    """What `okrsync accept METRIC` did: the values accepted, the days evaluated again, the newest day as
    published, and the values held meanwhile (by a run that finished while accept waited), left for review."""

    rows: list[HeldRow]
    again: list[date] = field(default_factory=list)
    published: SyncResult | None = None
    held_since: list[HeldRow] = field(default_factory=list)


def accept_held(config: Config, store: Store, metric_id: str, *, now: datetime, wait: float) -> Accepted:
    """The metric's held-back values join its history; the stored days from the first of them on are
    evaluated again and the newest is published. What is accepted is what was held when the command
    started: a value held by a run that finished while this waited for the run lock was never reviewed,
    so it is reported and left waiting."""
    ns, cycle = config.namespace, config.cycle.name
    listed = store.held(ns, cycle, metric_id)
    with store.run_lock(ns, cycle, wait=wait):
        rows = store.accept_held(ns, cycle, metric_id, now, listed=listed) if listed else []
        accepted = {(r.day, r.value) for r in rows}
        since = [r for r in store.held(ns, cycle, metric_id) if (r.day, r.value) not in accepted]
        done = Accepted(rows, held_since=since)
        if rows:
            done.again, done.published = refresh(config, store, min(r.day for r in rows), set(), now=now)
    return done
