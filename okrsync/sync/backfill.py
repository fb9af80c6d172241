"""`okrsync backfill`: replay the sources that can answer for past days, then bring later days up to date.

For each day (every day or every week from ``--from`` to ``--to``, inside the cycle and not in the
future): a plan as of 00:00 of that day, cut to the metrics that can answer for the past
(``MetricParams.answers_for_past``: csv with ``date_column``, sql with ``:as_of``, JQL, HubSpot,
Salesforce or API texts with ``{as_of}``; formulas over those only), fetched, evaluated on the history
up to that day without today's manual values, and stored as a ``backfill`` run. Nothing is published
meanwhile. At the end every stored run after the first replayed day is evaluated again from the stored
history (a ``start: auto``, a forecast or a KPI trend may depend on the new values), each with the manual
values its own document shows, and only the newest run is published, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from okrsync.config import Config
from okrsync.okr import formula
from okrsync.okr.evaluate import end_of_day
from okrsync.store import HeldRow, Store
from okrsync.sync.pipeline import (
    SyncResult,
    compute,
    fetch,
    finish,
    persist,
    plan,
    read_stored,
    reevaluate_run,
)
from okrsync.sync.plan import SyncPlan


@dataclass
class BackfillReport:
    days: list[date]
    replayed: list[str] = field(default_factory=list)  # metrics read for the past days
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> why it cannot answer for the past
    failed: dict[date, int] = field(default_factory=dict)  # day -> metrics that failed that day
    reevaluated: list[date] = field(default_factory=list)  # later stored days brought up to date
    published: SyncResult | None = None  # the newest run, published once at the end


def days_between(first: date, last: date, every: int) -> list[date]:
    """``first``, then every ``every`` days up to ``last``; ``last`` itself always ends the list."""
    days = [first + timedelta(days=i) for i in range(0, (last - first).days + 1, every)]
    return days if days[-1] == last else [*days, last]


def replayable(sync_plan: SyncPlan) -> tuple[SyncPlan, dict[str, str]]:
    """The plan cut to the metrics that can answer for a past day, and why each other one cannot."""
    skipped: dict[str, str] = {}
    queries = {}
    for name, qs in sync_plan.queries.items():
        kept = tuple(q for q in qs if q.params.answers_for_past())
        for q in qs:
            if q not in kept:
                skipped[q.metric_id] = f"connection {name} reads only the current value (no {{as_of}} or dated rows)"
        if kept:
            queries[name] = kept
    known = {q.metric_id for qs in queries.values() for q in qs}
    formulas = []
    for metric_id in sync_plan.formulas:  # in dependency order: inputs are decided first
        expression = cast(str, sync_plan.config.metrics[metric_id].formula)  # plan.formulas: formula metrics only
        missing = sorted(formula.names(expression) - known)
        if missing:
            skipped[metric_id] = f"formula over {', '.join(missing)}, which cannot answer for the past"
        else:
            formulas.append(metric_id)
            known.add(metric_id)
    return dataclasses.replace(sync_plan, queries=queries, formulas=tuple(formulas)), skipped


def backfill(
    config: Config,
    days: list[date],
    *,
    now: datetime,
    store: Store,
    wait: float,
    on_day: Callable[[date], None] | None = None,
) -> BackfillReport:
    """Replay ``days`` (oldest first), re-evaluate the later stored runs, publish the newest one."""
    report = BackfillReport(days)
    first, report.skipped = replayable(plan(config, end_of_day(days[0], config.cycle)))
    if not first.queries and not first.formulas:  # nothing can answer for the past: store no empty days
        report.days = []
        return report
    with store.run_lock(config.namespace, config.cycle.name, wait=wait):
        for day in days:
            sync_plan, report.skipped = replayable(plan(config, end_of_day(day, config.cycle)))
            computed = compute(sync_plan, fetch(sync_plan), _without_overrides(store, sync_plan))
            result = SyncResult(persist(store, sync_plan, computed, now=now, trigger="backfill"), computed)
            finish(store, result, now=now)
            report.replayed = sorted({q.metric_id for qs in sync_plan.queries.values() for q in qs}
                                     | set(sync_plan.formulas))  # fmt: skip
            if computed.errors:
                report.failed[day] = len(computed.errors)
            if on_day:
                on_day(day)
        report.reevaluated, report.published = _refresh(config, store, days[0], set(days), now=now)
    return report


def refresh_later(
    config: Config, store: Store, day: date, *, now: datetime, wait: float
) -> tuple[list[date], SyncResult | None]:
    """After a run stored an earlier ``day`` than the newest (``run --as-of`` a past day): evaluate the later
    stored days again on the new history and publish the newest once. (days evaluated again, newest)"""
    with store.run_lock(config.namespace, config.cycle.name, wait=wait):
        return _refresh(config, store, day, {day}, now=now)


@dataclass
class Accepted:
    """What `okrsync accept METRIC` did: the values accepted, the days evaluated again, the newest day as
    published, and the values held meanwhile (by a run that finished while accept waited), left for review."""

    rows: list[HeldRow]
    again: list[date] = field(default_factory=list)
    published: SyncResult | None = None
    held_since: list[HeldRow] = field(default_factory=list)


def accept_held(config: Config, store: Store, metric_id: str, *, now: datetime, wait: float) -> Accepted:
    """`okrsync accept`: the metric's held-back values join its history (they were right after all); the
    stored days from the first of them on are evaluated again and the newest is published. What is
    accepted is what was held when the command started: a value held by a run that finished while this
    waited for the run lock was never reviewed, so it is reported and left waiting."""
    ns, cycle = config.namespace, config.cycle.name
    listed = store.held(ns, cycle, metric_id)
    with store.run_lock(ns, cycle, wait=wait):
        rows = store.accept_held(ns, cycle, metric_id, now, listed=listed) if listed else []
        accepted = {(r.day, r.value) for r in rows}
        done = Accepted(
            rows, held_since=[r for r in store.held(ns, cycle, metric_id) if (r.day, r.value) not in accepted]
        )
        if rows:
            done.again, done.published = _refresh(config, store, min(r.day for r in rows), set(), now=now)
    return done


def _refresh(
    config: Config, store: Store, first: date, replayed: set[date], *, now: datetime
) -> tuple[list[date], SyncResult | None]:
    # finished runs only: a run that died left a row without a document, nothing to evaluate again
    stored = [r for r in store.list_runs(config.namespace, config.cycle.name) if r.day >= first and r.outcome]
    again: list[date] = []
    published = None
    for index, info in enumerate(stored):
        newest = index == len(stored) - 1
        if info.day in replayed and not newest:
            continue  # computed in order, on the history before it
        run = store.run_on(config.namespace, config.cycle.name, info.day)  # with its document
        if run is None:  # cannot be: info is a finished run of that day
            raise AssertionError(f"no finished run on {info.day}")
        result = reevaluate_run(config, store, run, now=now, publish_it=newest)
        again += [] if info.day in replayed else [info.day]
        published = result if newest else None
    return again, published


def _without_overrides(store: Store, sync_plan: SyncPlan):
    """What the store knew up to that day; today's manual values do not belong to a past day."""
    return dataclasses.replace(read_stored(store, sync_plan), overrides={})
