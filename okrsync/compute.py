"""The compute step of a sync, pure: fetched values + stored history + overrides -> results.

Formulas are computed from this run's values in the plan's order, each metric's history gets
this run's value (replacing the stored one of the same local day), the OKR evaluation runs, and
the typed status document is built. No I/O and no clock: everything arrives as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from okrsync import formula
from okrsync.alignment import aligned_children, parent_notes
from okrsync.connector import FetchResult, Observation, local_day
from okrsync.errors import SourceError
from okrsync.evaluate import day_end, day_start, evaluate
from okrsync.plan import SyncPlan
from okrsync.results import Evaluation, MetricState, Override, Point
from okrsync.status import StatusDocument, build_document


@dataclass(frozen=True)
class Stored:
    """What the store knows before this run: each metric's history and the active overrides."""

    history: Mapping[str, list[Point]] = field(default_factory=dict)
    overrides: Mapping[str, Override] = field(default_factory=dict)
    others: Mapping[str, StatusDocument] = field(default_factory=dict)  # other namespaces' latest documents


@dataclass(frozen=True)
class Computed:
    values: dict[str, Observation]  # this run's values, formulas included, each with its time
    errors: dict[str, SourceError]
    evaluation: Evaluation
    document: StatusDocument
    history: dict[str, list]  # metric -> [[iso time, value]]: report charts


def compute(plan: SyncPlan, fetched: FetchResult, stored: Stored, *, formulas: bool = True) -> Computed:
    """Evaluate this run. ``formulas=False`` keeps formula metrics at their stored values (a
    re-evaluation after an override fetches nothing, so it has nothing new to compute from)."""
    values, errors = split_results(plan, fetched, formulas=formulas)
    states = metric_states(plan, stored.history, values, errors)
    aligned = aligned_children(plan.config, stored.others)
    notes = parent_notes(plan.config, stored.others)
    evaluation = evaluate(plan.config, states, plan.as_of, stored.overrides, aligned, notes)
    document = build_document(evaluation, plan.config)
    return Computed(values, errors, evaluation, document, chart_history(plan, states))


def split_results(
    plan: SyncPlan, fetched: FetchResult, *, formulas: bool = True
) -> tuple[dict[str, Observation], dict[str, SourceError]]:
    """Separate values from errors, compute formula metrics, give every value its time."""
    values = {m: v for m, v in fetched.items() if isinstance(v, Observation)}
    errors = {m: e for m, e in fetched.items() if isinstance(e, SourceError)}
    wanted = {m: plan.config.metrics[m].formula for m in plan.formulas} if formulas else {}
    computed, failed = formula.resolve_all(
        wanted, {m: o.value for m, o in values.items()}, {m: e.message for m, e in errors.items()}
    )
    for metric_id, value in computed.items():
        values[metric_id] = Observation(value)
    for metric_id, message in failed.items():
        errors[metric_id] = SourceError(message, metric=metric_id)
    return {m: _timed(plan, m, o) for m, o in values.items()}, errors


def _timed(plan: SyncPlan, metric_id: str, obs: Observation) -> Observation:
    if obs.observed_at is not None:
        return obs
    return Observation(obs.value, plan.metric_as_of.get(metric_id, plan.as_of))


def metric_states(
    plan: SyncPlan,
    history: Mapping[str, list[Point]],
    values: Mapping[str, Observation],
    errors: Mapping[str, SourceError],
) -> dict[str, MetricState]:
    cycle = plan.config.cycle
    states = {}
    for metric_id in plan.metrics:
        metric = plan.config.metrics[metric_id]
        points = list(history.get(metric_id, ()))  # oldest first, as the store returns them
        if metric_id in values:  # this run's value replaces the stored one of the same (local) day
            obs = values[metric_id]
            day = local_day(obs.observed_at, cycle)
            begin, end = day_start(day, cycle).timestamp(), day_end(day, cycle).timestamp()
            points = [p for p in points if not begin <= p.ts < end]
            points.append(Point.of(obs.observed_at, obs.value))
        err = errors.get(metric_id)
        states[metric_id] = MetricState(
            history=tuple(points),
            as_of=plan.metric_as_of[metric_id],
            max_age=metric.max_age,
            error=err.message if err else None,
            connection=(err.connection if err else None) or metric.connection,
            percent=metric.aggregate == "percent_done",
        )
    return states


def chart_history(plan: SyncPlan, states: Mapping[str, MetricState]) -> dict[str, list]:
    tz = plan.config.cycle.tz
    return {
        m: [[datetime.fromtimestamp(p.ts, tz).isoformat(), round(p.value, 6)] for p in s.ordered()]
        for m, s in states.items()
    }
