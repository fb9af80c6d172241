"""The compute step of a sync, pure: fetched values + stored history + overrides -> results.

Formulas are computed from this run's values in the plan's order, each metric's history gets
this run's value (replacing the one stored for the same synced day), the OKR evaluation runs, and
the typed status document is built. No I/O and no clock: everything arrives as an argument.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from okrsync.config.model import Cycle
from okrsync.errors import SourceError
from okrsync.okr import confidence, formula
from okrsync.okr.alignment import aligned_children, parent_notes
from okrsync.okr.contracts import breach
from okrsync.okr.evaluate import day_end, day_start, evaluate
from okrsync.okr.results import Evaluation, MetricState, Override, Point
from okrsync.okr.status import NoteDoc, StatusDocument, build_document
from okrsync.present.charts import chart_points
from okrsync.sdk.connector import FetchResult, Observation, local_day
from okrsync.sync.plan import SyncPlan


@dataclass(frozen=True)
class Stored:
    """What the store knows before this run: each metric's history and the active overrides."""

    history: Mapping[str, list[Point]] = field(default_factory=dict)
    overrides: Mapping[str, Override] = field(default_factory=dict)
    others: Mapping[str, StatusDocument] = field(default_factory=dict)  # other namespaces' latest documents
    held: Mapping[str, str] = field(default_factory=dict)  # metric -> why its value of the day waits for review
    notes: Mapping[str, Sequence[NoteDoc]] = field(default_factory=dict)  # KR -> owners' notes up to the day


@dataclass(frozen=True)
class Held:
    """A value that broke its metric's contract: stored for review, not in history, not published."""

    observation: Observation
    reason: str


@dataclass(frozen=True)
class Computed:
    values: dict[str, Observation]  # this run's values, formulas included, each with its time
    errors: dict[str, SourceError]
    evaluation: Evaluation
    document: StatusDocument
    history: dict[str, list]  # metric -> [[iso time, value]]: report charts
    held: dict[str, Held] = field(default_factory=dict)  # values held back by their contracts


def compute(plan: SyncPlan, fetched: FetchResult, stored: Stored, *, formulas: bool = True) -> Computed:
    """Evaluate this run. ``formulas=False`` keeps formula metrics at their stored values (a
    re-evaluation after an override fetches nothing, so it has nothing new to compute from)."""
    values, errors = split_results(plan, fetched, formulas=formulas)
    held = hold_back(plan, values, stored.history)
    values = {m: o for m, o in values.items() if m not in held}
    suspects = {**stored.held, **{m: h.reason for m, h in held.items()}}
    states = metric_states(plan, stored.history, values, errors, suspects)
    aligned = aligned_children(plan.config, stored.others)
    notes = parent_notes(plan.config, stored.others)
    evaluation = evaluate(plan.config, states, plan.as_of, stored.overrides, aligned, notes)
    document = build_document(evaluation, plan.config, stored.notes)
    return Computed(values, errors, evaluation, document, chart_history(plan, states), held)


def split_results(
    plan: SyncPlan, fetched: FetchResult, *, formulas: bool = True
) -> tuple[dict[str, Observation], dict[str, SourceError]]:
    """Separate values from errors, compute formula metrics, give every value its time."""
    values = {m: v for m, v in fetched.items() if isinstance(v, Observation)}
    errors = {m: e for m, e in fetched.items() if isinstance(e, SourceError)}
    # plan.formulas lists formula metrics only, and a formula metric's formula is set
    wanted = {m: cast(str, plan.config.metrics[m].formula) for m in plan.formulas} if formulas else {}
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


def hold_back(plan: SyncPlan, values: Mapping[str, Observation], history: Mapping[str, list[Point]]) -> dict[str, Held]:
    """The values that break their metric's contract (okrsync.okr.contracts), and formulas computed from them.
    ``values`` lists formulas after what they read, as split_results computes them."""
    held: dict[str, Held] = {}
    for metric_id, obs in values.items():
        metric = plan.config.metrics[metric_id]
        from_held = sorted(formula.names(metric.formula) & held.keys()) if metric.formula else []
        if from_held:
            held[metric_id] = Held(obs, f"{metric_id} is computed from held-back {', '.join(from_held)}")
        elif metric.expect is not None:
            at = plan.metric_as_of.get(metric_id, plan.as_of)
            last_good, stored = _before_and_on(history.get(metric_id, ()), at, plan.config.cycle)
            if stored != obs.value and (why := breach(metric_id, metric.expect, obs.value, last_good)):
                held[metric_id] = Held(obs, why)
    return held


def ts_of(point: Point) -> float:
    return point.ts


def same_day(ts: float, at: datetime, cycle: Cycle) -> bool:
    """Whether POSIX time ``ts`` falls on the cycle-local day of ``at`` (a point of that synced day)."""
    day = local_day(at, cycle)
    return day_start(day, cycle).timestamp() <= ts < day_end(day, cycle).timestamp()


def _before_and_on(points, at: datetime, cycle: Cycle) -> tuple[float | None, float | None]:
    """The last stored value before the synced day of ``at``, and the one stored for that day (or None)."""
    day = local_day(at, cycle)
    begin = day_start(day, cycle).timestamp()
    end = day_end(day, cycle).timestamp()
    first, after = bisect_left(points, begin, key=ts_of), bisect_left(points, end, key=ts_of)  # oldest first
    return (points[first - 1].value if first else None), (points[after - 1].value if after > first else None)


def metric_states(
    plan: SyncPlan,
    history: Mapping[str, list[Point]],
    values: Mapping[str, Observation],
    errors: Mapping[str, SourceError],
    suspects: Mapping[str, str] | None = None,
) -> dict[str, MetricState]:
    cycle = plan.config.cycle
    states = {}
    for metric_id in plan.metrics:
        metric = plan.config.metrics[metric_id]
        points = list(history.get(metric_id, ()))  # oldest first, as the store returns them
        if metric_id in values:  # this run's value replaces the one stored for its synced day
            at = plan.metric_as_of[metric_id]
            points = [p for p in points if not same_day(p.ts, at, cycle)]
            points.append(Point.of(at, values[metric_id].value, values[metric_id].observed_at))
        err = errors.get(metric_id)
        states[metric_id] = MetricState(
            history=tuple(points),
            as_of=plan.metric_as_of[metric_id],
            max_age=metric.max_age,
            error=err.message if err else None,
            connection=(err.connection if err else None) or metric.connection,
            percent=metric.aggregate == "percent_done",
            suspect=(suspects or {}).get(metric_id),
            bounds=confidence.metric_bounds(metric.aggregate, metric.expect),
        )
    return states


def chart_history(plan: SyncPlan, states: Mapping[str, MetricState]) -> dict[str, list]:
    return chart_points({m: s.ordered() for m, s in states.items()}, plan.config.cycle.tz)
