"""A key result's forecast: its window's values projected to the window's end by least squares, with the
range and the chance of reaching the target when there is enough history (okrsync.okr.confidence). Pure.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from okrsync.config.model import Cycle, KeyResult, StatusThresholds
from okrsync.okr import confidence
from okrsync.okr.calendar import day_end, day_start, kr_window
from okrsync.okr.progress import clamp, raw_progress
from okrsync.okr.results import Forecast, MetricState, Override, Point, Status
from okrsync.okr.rollup import ASPIRATIONAL_FACTOR, likely_status


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
    status: Status,
    kind: str,
    forecast: Forecast | None,
    start: float | None,
    target: float | None,
    thresholds: StatusThresholds,
    aspirational: bool,
    bounds: confidence.Bounds = confidence.UNBOUNDED,
) -> Status:
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
