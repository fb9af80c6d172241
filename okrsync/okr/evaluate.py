"""OKR semantics, pure: values + config + as_of in, results out. No I/O, never reads the clock.

Rules (the README's "Key result kinds and status rules" explains them to users):

* **Window** of a KR: from 00:00 of ``start_date`` (default: cycle start) to the end of the
  ``due`` day (default: cycle end), in the cycle's time zone.
* **Expected progress** = elapsed share of the window, clamped to 0..1. With ``phases`` the
  expected *value* is interpolated linearly between (window start, start), each (end of
  phase date, phase target) and (window end, target), then turned into progress.
  ``start: auto`` counts the window from the day of its first value. A milestone expects 0 until
  a check-point (phase) or its due day has passed, then that check-point's share, 1 past due.
* **Progress** of increase/decrease = (value - start) / (target - start), clamped to 0..1 for
  status; the unclamped ratio is kept as ``progress_raw``. ``start: auto`` is the first value
  inside the KR's window. at_least / at_most / between: 1 while the bound holds, else 0.
  milestone: 1 when value >= target (default target 1, or 100 for percent_done metrics, whose
  percentage counts as progress).
* **Status**: no_data without a value; bound kinds on_track / off_track, never done; done when
  progress >= 1; a milestone past due and not done is off_track; else gap = judged_against
  (expected x 0.7 for aspirational objectives) - progress, on_track / at_risk / off_track by
  the configured thresholds (okrsync.okr.rollup).
* **Stale**: the fetch failed this run (the last value is kept), or the newest value is older
  than the metric's max_age.
* **Forecast**: least-squares line through the values in the window (>= 3 distinct times),
  read at the window end (not for milestones: a done/not-done flag has no trend); an override
  replaces its day's value in the line. With 3 weeks of values its range and the chance of reaching
  the target come from the week-to-week changes (okrsync.okr.confidence); ``status.use_forecast`` then
  judges increase/decrease KRs by that chance; all kept within the metric's bounds. Once the window or
  the cycle has ended the forecast is the value itself: nothing is projected past the last day.
* **Roll-up** (okrsync.okr.rollup): levels stay out of an objective's means and only cap its status.
* **KPIs**: healthy when the latest value lies within the range; trend = latest - previous.
* **Suspect**: the metric's new value broke its contract and is held back (okrsync.okr.contracts): its KRs
  and KPIs keep the last good value and carry the reason.
* **Overrides** replace a KR's value (fresh, not stale, not suspect); which overrides are active is decided
  by the caller (once vs sticky is a store concern).
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from itertools import pairwise
from typing import cast

from okrsync.config.model import BOUND_KINDS, Config, Cycle, KeyResult, Kpi, Objective, StatusThresholds
from okrsync.okr import confidence
from okrsync.okr.calendar import day_end, day_start, elapsed_share, end_of_day, human_duration, kr_window
from okrsync.okr.results import (
    AlignedChild,
    Evaluation,
    Forecast,
    KpiResult,
    KrResult,
    MetricError,
    MetricState,
    Override,
    Point,
    Status,
)
from okrsync.okr.rollup import ASPIRATIONAL_FACTOR, classify, judged_expected, likely_status, roll_up

__all__ = ["ASPIRATIONAL_FACTOR", "classify", "evaluate", "evaluate_kr", "evaluate_kpi", "roll_up"]
__all__ += [
    "day_end",
    "day_start",
    "elapsed_share",
    "end_of_day",
    "human_duration",
    "kr_window",
]  # okrsync.okr.calendar


# --------------------------------------------------------------------------- time


def interpolate(points: Sequence[tuple[datetime, float]], at: datetime) -> float:
    """Piecewise-linear value at ``at`` through time-ordered points; flat outside them."""
    if at <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in pairwise(points):
        if at <= t1:
            span = (t1 - t0).total_seconds()
            return v1 if span <= 0 else v0 + (v1 - v0) * (at - t0).total_seconds() / span
    return points[-1][1]


# --------------------------------------------------------------------------- key results


def effective_kind(kr: KeyResult, start: float | None) -> str:
    if kr.kind not in (None, "increase", "decrease"):
        return kr.kind
    if kr.kind:
        return kr.kind
    if start is None or kr.target is None:
        return "increase"
    return "decrease" if kr.target < start else "increase"


def linear_progress(value: float, start: float, target: float) -> float:
    """Unclamped (value - start) / (target - start); with start == target: reached or not."""
    if target == start:
        return 1.0 if value >= target else 0.0
    return (value - start) / (target - start)


def bound_holds(kind: str, value: float, kr: KeyResult) -> bool:
    # the config requires a target of at_least and at_most, min and max of between (config.model._kind_problem)
    if kind == "at_least":
        return value >= cast(float, kr.target)
    if kind == "at_most":
        return value <= cast(float, kr.target)
    return cast(float, kr.min) <= value <= cast(float, kr.max)


def raw_progress(
    kind: str, value: float, kr: KeyResult, start: float | None, target: float | None, partial: bool = False
) -> float:
    """Unclamped progress. A milestone is 0 or 1, unless ``partial`` (a percent_done metric): then its share."""
    if kind in BOUND_KINDS:
        return 1.0 if bound_holds(kind, value, kr) else 0.0
    if kind == "milestone":
        if partial and target:
            return value / target
        return 1.0 if value >= cast(float, target) else 0.0  # evaluate_kr gives a milestone its default target
    # an increase/decrease KR has a target (config.model._kind_problem); its start is None for `start: auto`
    # with an override and no value in the KR's window yet: that raises TypeError (a known bug, not hidden)
    return linear_progress(value, start, cast(float, target))  # type: ignore[arg-type]  # start: see above


def clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def expected_progress(
    kr: KeyResult, cycle: Cycle, as_of: datetime, start: float | None, kind: str, begin: datetime | None = None
) -> float:
    """Expected progress at ``as_of``; ``begin`` replaces the window's start (``start: auto``: the day of
    the first value)."""
    if kind in BOUND_KINDS:
        return 1.0
    window_begin, end = kr_window(kr, cycle)
    begin = max(begin or window_begin, window_begin)
    if not kr.phases or start is None or kr.target is None or kr.target == start:
        return elapsed_share(as_of, begin, end)
    points = [(begin, start)]
    points += sorted((day_end(p.date, cycle), p.target) for p in kr.phases)
    points.append((end, kr.target))
    return clamp(linear_progress(interpolate(points, as_of), start, kr.target))


def milestone_expected(kr: KeyResult, cycle: Cycle, as_of: datetime, target: float) -> float:
    """A milestone is not expected to move before it is due: 0 until a check-point (a phase) or its due
    day has passed, then the share that check-point asks for, 1 once past due."""
    if as_of >= kr_window(kr, cycle)[1]:
        return 1.0
    passed = [p for p in kr.phases if day_end(p.date, cycle) <= as_of]
    if not passed:
        return 0.0
    checkpoint = max(passed, key=lambda p: p.date)
    return clamp(checkpoint.target / target) if target else 1.0


def milestone_status(
    progress: float, expected: float, past_due: bool, thresholds: StatusThresholds, aspirational: bool
) -> Status:
    """Done when reached; off track once past due; before that on track unless behind a check-point."""
    if progress >= 1.0:
        return Status.DONE
    if past_due:
        return Status.OFF_TRACK
    return classify(progress, expected, thresholds, aspirational)


def least_squares(points: Sequence[Point], at: datetime) -> float | None:
    """The value at ``at`` of the least-squares line through ``points`` (>= 3 distinct times)."""
    return fit_line([p.ts for p in points], [p.value for p in points], at.timestamp())


def fit_line(times: Sequence[float], values: Sequence[float], at: float) -> float | None:
    """Least squares of values over POSIX times, read at ``at``; None with fewer than 3 distinct times."""
    n = len(times)
    if n < 3 or len(set(times)) < 3:
        return None
    t0 = times[0]
    xs = [(t - t0) / 86400 for t in times]  # days: keeps the sums well-conditioned
    mx, my = sum(xs) / n, sum(values) / n
    sxx = sum(map(operator.mul, xs, xs)) - n * mx * mx
    sxy = sum(map(operator.mul, xs, values)) - n * mx * my
    return my + sxy / sxx * ((at - t0) / 86400 - mx)


def kr_status(
    kind: str, progress: float, expected: float, past_due: bool, thresholds: StatusThresholds, aspirational: bool
) -> Status:
    if kind in BOUND_KINDS:
        return Status.ON_TRACK if progress >= 1 else Status.OFF_TRACK
    if kind == "milestone":
        return milestone_status(progress, expected, past_due, thresholds, aspirational)
    return classify(progress, expected, thresholds, aspirational)


def auto_start(metric: MetricState, kr: KeyResult, cycle: Cycle, count: int) -> tuple[float | None, datetime | None]:
    """``start: auto``: the first value inside the KR's window (up to as_of), and the start of its day,
    from which the KR is then expected to move: adopting okrsync mid-cycle starts from there."""
    times, points = metric.series
    first = bisect_left(times, kr_window(kr, cycle)[0].timestamp(), 0, count)
    if first >= count:
        return None, None
    at = points[first].at.astimezone(cycle.tz)
    return points[first].value, day_start(at.date(), cycle)


def evaluate_kr(
    kr: KeyResult,
    objective: Objective,
    metric: MetricState,
    cycle: Cycle,
    as_of: datetime,
    thresholds: StatusThresholds,
    override: Override | None = None,
) -> KrResult:
    as_of = metric.as_of or as_of
    count = metric.count_until(as_of)
    start, begin = auto_start(metric, kr, cycle, count) if kr.start == "auto" else (kr.start, None)
    if kr.start == "auto" and start is None and override is not None:  # the lead's value is the first one known
        start, begin = override.value, day_start(as_of.astimezone(cycle.tz).date(), cycle)
    kind = effective_kind(kr, start)
    target = kr.target
    if kind == "milestone":
        if target is None:
            target = 100.0 if metric.percent else 1.0
        expected = milestone_expected(kr, cycle, as_of, target)
    else:
        expected = expected_progress(kr, cycle, as_of, start, kind, begin)
    aspirational = objective.kind == "aspirational"
    result = partial(
        KrResult,
        id=kr.id, objective_id=objective.id, metric=kr.metric, kind=kind, title=kr.title, weight=kr.weight,
        start=start, target=target, min=kr.min, max=kr.max, expected=expected, due=kr.due, error=metric.error,
        judged_against=expected if kind in BOUND_KINDS else judged_expected(expected, aspirational),
        suspect_reason=metric.suspect if override is None else None,  # a lead's value is not held back
    )  # fmt: skip
    latest = metric.series[1][count - 1] if count else None
    if override is not None:
        value, observed_at, stale_reason = override.value, as_of, None
    elif latest is None or (kr.start == "auto" and start is None):
        reason = f"no value yet: {metric.error}" if metric.error else None
        return result(
            value=None, progress=None, progress_raw=None, status=Status.NO_DATA,
            stale=metric.error is not None, stale_reason=reason,
        )  # fmt: skip
    else:
        value, observed_at = latest.value, latest.observed_at
        stale_reason = stale_because(metric, latest, as_of, cycle)
    raw = raw_progress(kind, value, kr, start, target, partial=metric.percent)
    progress = clamp(raw)
    past_due = as_of >= kr_window(kr, cycle)[1]
    forecast = forecast_kr(kr, kind, cycle, metric, count, start, target, override, as_of)
    status = kr_status(kind, progress, expected, past_due, thresholds, aspirational)
    status = forecast_judged(status, kind, forecast, start, target, thresholds, aspirational, metric.bounds)
    return result(
        value=value, progress=progress, progress_raw=raw, status=status, stale=stale_reason is not None,
        stale_reason=stale_reason, observed_at=observed_at, forecast=forecast, override=override,
    )  # fmt: skip


def forecast_kr(
    kr: KeyResult,
    kind: str,
    cycle: Cycle,
    metric: MetricState,
    count: int,
    start: float | None,
    target: float | None,
    override: Override | None = None,
    as_of: datetime | None = None,
) -> Forecast | None:
    """The window's values projected to its end by least squares, within the metric's bounds (not milestones;
    once the window or cycle has ended: the value itself). An override stands in for its day's value."""
    if kind == "milestone" or (count == 0 and override is None):
        return None
    times, points = metric.series
    begin, end = kr_window(kr, cycle)
    if as_of is not None and as_of >= min(end, day_end(cycle.end, cycle)):
        value = override.value if override is not None else points[count - 1].value
        return Forecast(value, clamp(raw_progress(kind, value, kr, start, target)))
    first = bisect_left(times, begin.timestamp(), 0, count)
    xs, ys = times[first:count], [p.value for p in points[first:count]]
    if override is not None and as_of is not None:
        today = day_start(as_of.astimezone(cycle.tz).date(), cycle).timestamp()
        keep = bisect_left(xs, today)
        xs, ys = [*xs[:keep], as_of.timestamp()], [*ys[:keep], override.value]
    projected = fit_line(xs, ys, end.timestamp())
    if projected is None:
        return None
    point = confidence.clip(projected, metric.bounds)
    progress = clamp(raw_progress(kind, point, kr, start, target))
    moving = kind in ("increase", "decrease") and target is not None  # a level holds or not: no chance of it
    spread = confidence.spread(xs, ys, end.timestamp()) if moving else None
    if spread is None or target is None:  # spread is None unless moving, which needs the target
        return Forecast(point, progress)
    low, high = confidence.central_range(projected, spread.sd, metric.bounds)
    chance = confidence.chance(projected, spread.sd, target, kind == "decrease", metric.bounds)
    return Forecast(point, progress, low, high, chance, spread.sd, projected)


def forecast_judged(
    status: Status, kind: str, forecast: Forecast | None, start: float | None, target: float | None,
    thresholds: StatusThresholds, aspirational: bool, bounds: confidence.Bounds = confidence.UNBOUNDED,
) -> Status:  # fmt: skip
    """``status: {use_forecast: true}``: a moving KR with a probability is judged by its chance of reaching
    the target (in an aspirational objective: 70 % of the way there, by the same censored chance)."""
    if not thresholds.use_forecast or status == Status.DONE or forecast is None or forecast.center is None:
        return status
    # only a moving KR's forecast has a centre, and then an sd: forecast_kr needs its start and target for it
    center, sd = forecast.center, cast(float, forecast.sd)
    goal, begin = cast(float, target), cast(float, start)
    level = begin + ASPIRATIONAL_FACTOR * (goal - begin) if aspirational else goal
    chance = confidence.chance(center, sd, level, kind == "decrease", bounds)
    return likely_status(chance, thresholds)


def stale_because(metric: MetricState, latest: Point, as_of: datetime, cycle: Cycle) -> str | None:
    """Why the latest value should not be trusted as current, or None: judged on the source's own time of
    the value (a csv row's date), not on the day it was synced."""
    day = latest.observed_at.astimezone(cycle.tz).date().isoformat()
    if metric.error:
        return f"fetch failed, showing the value from {day}: {metric.error}"
    if as_of - latest.observed_at > metric.max_age:
        return f"newest value is from {day}, older than max_age {human_duration(metric.max_age)}"
    return None


def evaluate_kpi(kpi: Kpi, metric: MetricState, as_of: datetime, cycle: Cycle) -> KpiResult:
    as_of = metric.as_of or as_of
    ordered = metric.ordered()[: metric.count_until(as_of)]
    result = partial(
        KpiResult,
        id=kpi.id, metric=kpi.metric, title=kpi.title, min=kpi.healthy.min, max=kpi.healthy.max, error=metric.error,
        suspect_reason=metric.suspect,
    )  # fmt: skip
    if not ordered:
        return result(value=None, healthy=None, trend=None, stale=metric.error is not None)
    latest = ordered[-1]
    lo, hi = kpi.healthy.min, kpi.healthy.max
    healthy = (lo is None or latest.value >= lo) and (hi is None or latest.value <= hi)
    trend = latest.value - ordered[-2].value if len(ordered) >= 2 else None
    reason = stale_because(metric, latest, as_of, cycle)
    return result(
        value=latest.value,
        healthy=healthy,
        trend=trend,
        stale=reason is not None,
        stale_reason=reason,
        observed_at=latest.observed_at,
    )


def evaluate(
    config: Config,
    metrics: Mapping[str, MetricState],
    as_of: datetime,
    overrides: Mapping[str, Override] | None = None,
    aligned: Mapping[str, Sequence[AlignedChild]] | None = None,
    parent_notes: Mapping[str, str] | None = None,
) -> Evaluation:
    """Evaluate every KR, objective and KPI of ``config`` at ``as_of`` (timezone-aware).

    ``aligned``: objectives of other configs that name ours as parent (objective id -> children);
    ``parent_notes``: why an objective's parent in another config is not there (objective id -> note)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.astimezone(config.cycle.tz)  # the same moment gives the same result whatever its zone
    overrides = overrides or {}
    empty = MetricState()
    per_objective: dict[str, list[KrResult]] = {}
    for objective, kr in config.key_results():
        result = evaluate_kr(
            kr, objective, metrics.get(kr.metric, empty), config.cycle, as_of, config.status, overrides.get(kr.id)
        )
        per_objective.setdefault(objective.id, []).append(result)
    objectives = roll_up(config.objectives, per_objective, config.status, aligned, parent_notes)
    kpis = [evaluate_kpi(k, metrics.get(k.metric, empty), as_of, config.cycle) for k in config.kpis]
    errors = [MetricError(mid, m.connection, m.error) for mid, m in metrics.items() if m.error]
    return Evaluation(config.cycle.name, as_of, tuple(objectives), tuple(kpis), tuple(errors))
