"""The sync, sequenced once: plan -> fetch -> compute -> persist -> publish, then the later days.

Every sync goes through here: `okrsync run`, the Prefect flow (which hands in the stages wrapped as
tasks: :meth:`Stages.wrapped`), backfill (days replayed, stored, not published), and the commands that
evaluate stored days again (override, accept). The policy lives here once:

- a sync that writes holds the config's run lock throughout, and checks that it still does before it
  stores and before it publishes (RunLockLostError otherwise);
- a failing source or output never stops the others: the run completes as ``partial``;
- a past day (``--as-of``) synced while a newer day is stored is stored but not published (outputs show
  the newest day), unless asked; then the later stored days are evaluated again on the new history (a
  ``start: auto``, a forecast or a KPI trend may depend on it) and the newest is published, once;
- what the outputs heard people write (a note in the Sheets table, a Jira comment) is kept after publishing,
  under the same lock, for the published day, and shows from the next evaluation;
- a dry run writes nothing: no run, no outputs, no later days.

No Prefect import and no clock here: ``as_of`` and ``now`` come from the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from okrsync.config.model import Config
from okrsync.okr.results import Override
from okrsync.okr.status import StatusDocument
from okrsync.sdk.connector import FetchResult
from okrsync.store import RunInfo, Store
from okrsync.store.lock import HeldLock
from okrsync.sync import compute as computing
from okrsync.sync import fetch as fetching
from okrsync.sync import persist as storing
from okrsync.sync import plan as planning
from okrsync.sync import publish as publishing
from okrsync.sync.compute import Computed, Stored
from okrsync.sync.fetch import EventHook
from okrsync.sync.plan import SyncPlan
from okrsync.sync.result import DEFAULT_WAIT, SyncResult


@dataclass(frozen=True)
class Stages:
    """The five stages as the sequencer calls them. :meth:`plain` takes them from their modules when a
    sync starts; the Prefect flow hands in each wrapped as a task, and its own fetch (a task per
    connection)."""

    plan: Callable[[Config, datetime], SyncPlan]
    fetch: Callable[[SyncPlan, EventHook | None], FetchResult]
    compute: Callable[..., Computed]
    persist: Callable[..., int]
    publish: Callable[..., None]

    @classmethod
    def plain(cls) -> Stages:
        return cls(planning.compile_plan, fetching.fetch, computing.compute, storing.persist, publishing.publish)

    def wrapped(self, wrap: Callable[[Callable, str], Callable], **replaced: Callable) -> Stages:
        """Each stage passed through ``wrap(stage, name)``; ``replaced`` stages are taken as given."""
        stages = {f.name: replaced.get(f.name) or wrap(getattr(self, f.name), f.name) for f in dataclasses.fields(self)}
        return Stages(**stages)


@dataclass(frozen=True)
class Day:
    """How one day is synced. A run (the default): the day's manual values count, and it is published
    unless a newer day is stored (``publish="always"``: `run --publish`). A backfill: the plan ``cut`` to
    the metrics that can answer for the past, no manual values (they belong to today), never published
    (the newest day is, once, at the end)."""

    trigger: str = "run"
    publish: Literal["newest", "always", "never"] = "newest"
    manual_values: bool = True
    cut: Callable[[SyncPlan], SyncPlan] | None = None


RUN = Day()


def sync(
    config: Config,
    as_of: datetime,
    *,
    now: datetime,
    stages: Stages | None = None,
    store: Store | None = None,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    wait: float = DEFAULT_WAIT,
    publish_past: bool = False,
) -> SyncResult:
    """One whole sync of ``as_of``'s day, under the run lock (RunLockedError after ``wait`` s), then the
    later stored days when this day was earlier than the newest."""
    stages = stages or Stages.plain()
    own_store = store is None
    store = store or storing.open_store(config, access="scratch" if dry_run else "write")
    day = dataclasses.replace(RUN, publish="always" if publish_past else "newest")
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=wait) as lock:
            result = sync_day(
                config, store, lock, as_of, now=now, stages=stages, day=day, dry_run=dry_run, on_event=on_event
            )
            if result.unpublished and not dry_run:
                synced = result.document.day
                result.later_days, _ = refresh(config, store, synced, {synced}, now=now, stages=stages)
        return result
    finally:
        if own_store:
            store.close()


def sync_day(
    config: Config,
    store: Store,
    lock: HeldLock,
    as_of: datetime,
    *,
    now: datetime,
    stages: Stages,
    day: Day = RUN,
    dry_run: bool = False,
    on_event: EventHook | None = None,
) -> SyncResult:
    """The five stages for one day, the run lock held by the caller."""
    sync_plan = stages.plan(config, as_of)
    if day.cut:
        sync_plan = day.cut(sync_plan)
    fetched = stages.fetch(sync_plan, on_event)
    stored = storing.read_stored(store, sync_plan)
    if not day.manual_values:
        stored = dataclasses.replace(stored, overrides={})
    computed = stages.compute(sync_plan, fetched, stored)
    lock.check("storing anything")
    run_id = None if dry_run else stages.persist(store, sync_plan, computed, now=now, trigger=day.trigger)
    result = SyncResult(run_id, computed, dry_run=dry_run)
    if day.publish == "newest":
        result.unpublished = publishing.newer_day_note(store, sync_plan)
    if day.publish != "never" and result.unpublished is None:
        lock.check("writing the outputs (its values are stored)")
        stages.publish(store, sync_plan, result, now=now)
        if result.heard:  # what people wrote where the outputs write: kept for this day, shown from the next
            lock.check("keeping what people wrote in the outputs")
            publishing.keep_heard(store, sync_plan, result, now=now)
    storing.finish(store, result, now=now)
    return result


def refresh(
    config: Config, store: Store, first: date, synced: set[date], *, now: datetime, stages: Stages | None = None
) -> tuple[list[date], SyncResult | None]:
    """Evaluate the stored days from ``first`` on again, on the stored history, and publish the newest,
    once. Days in ``synced`` were just computed in order and are passed over, unless newest. The run lock
    is held by the caller. Returns (the days evaluated again, the newest as published)."""
    # finished runs only: a run that died left a row without a document, nothing to evaluate again
    runs = [r for r in store.list_runs(config.namespace, config.cycle.name) if r.day >= first and r.outcome]
    again: list[date] = []
    published = None
    for index, info in enumerate(runs):
        newest = index == len(runs) - 1
        if info.day in synced and not newest:
            continue
        run = store.run_on(config.namespace, config.cycle.name, info.day)  # with its document
        if run is None:  # cannot be: info is a finished run of that day
            raise AssertionError(f"no finished run on {info.day}")
        result = reevaluate_run(config, store, run, now=now, publish_it=newest, stages=stages)
        again += [] if info.day in synced else [info.day]
        published = result if newest else None
    return again, published


def reevaluate(
    config: Config, store: Store, *, now: datetime, wait: float = DEFAULT_WAIT, trigger: str = "override"
) -> SyncResult | None:
    """Evaluate the latest run again from stored values (after an override or a note), without fetching."""
    with store.run_lock(config.namespace, config.cycle.name, wait=wait):
        latest = store.latest_run(config.namespace, config.cycle.name)
        return None if latest is None else reevaluate_run(config, store, latest, now=now, trigger=trigger)


def reevaluate_run(
    config: Config,
    store: Store,
    run: RunInfo,
    *,
    now: datetime,
    trigger: str | None = None,
    publish_it: bool = True,
    stages: Stages | None = None,
) -> SyncResult:
    """Evaluate a stored run again from the stored history, without fetching, keeping its failures. The
    latest run after an override (``trigger="override"``) takes today's manual values; an earlier run
    evaluated again after backfill keeps the ones its own document shows."""
    stages = stages or Stages.plain()
    doc = StatusDocument.from_dict(run.document) if run.document else None
    sync_plan = stages.plan(config, run.as_of)
    stored = storing.read_stored(store, sync_plan, fetching=False)
    if trigger is None:  # not the override path: that day's own manual values
        stored = dataclasses.replace(stored, overrides=manual_values_of(doc))
    computed = stages.compute(sync_plan, storing.stored_failures(config, doc), stored, formulas=False)
    run_id = stages.persist(store, sync_plan, computed, now=now, trigger=trigger or run.trigger)
    result = SyncResult(run_id, computed)
    if publish_it:
        stages.publish(store, sync_plan, result, now=now)
        publishing.keep_heard(store, sync_plan, result, now=now)
    storing.finish(store, result, now=now)
    return result


def manual_values_of(doc: StatusDocument | None) -> dict[str, Override]:
    """The manual values a stored document shows, by KR id."""
    key_results = doc.key_results() if doc else ()
    return {
        kr.id: Override(kr.override.value, kr.override.note, kr.override.sticky, kr.override.set_at)
        for _, kr in key_results
        if kr.override
    }


__all__ = [
    "RUN",
    "Day",
    "Stages",
    "Stored",
    "SyncResult",
    "refresh",
    "reevaluate",
    "reevaluate_run",
    "sync",
    "sync_day",
]
