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
from okrsync.store import Store
from okrsync.sync.plan import SyncPlan, compile_plan
from okrsync.sync.result import SyncResult
from okrsync.sync.sequence import Day, Stages, refresh, sync_day


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
    stages: Stages | None = None,
) -> BackfillReport:
    """Replay ``days`` (oldest first), evaluate the later stored runs again, publish the newest one."""
    stages = stages or Stages.plain()
    report = BackfillReport(days)
    first, report.skipped = replayable(compile_plan(config, end_of_day(days[0], config.cycle)))
    if not first.queries and not first.formulas:  # nothing can answer for the past: store no empty days
        report.days = []
        return report
    report.replayed = sorted({q.metric_id for qs in first.queries.values() for q in qs} | set(first.formulas))
    with store.run_lock(config.namespace, config.cycle.name, wait=wait) as lock:
        for day in days:
            result = sync_day(config, store, lock, end_of_day(day, config.cycle), now=now, stages=stages, day=REPLAY)
            if result.errors:
                report.failed[day] = len(result.errors)
            if on_day:
                on_day(day)
        report.reevaluated, report.published = refresh(config, store, days[0], set(days), now=now, stages=stages)
    return report


def _replayed_plan(sync_plan: SyncPlan) -> SyncPlan:
    return replayable(sync_plan)[0]


# a past day replayed: cut to what can answer for it, without today's manual values, not published
REPLAY = Day(trigger="backfill", publish="never", manual_values=False, cut=_replayed_plan)
