"""OKR semantics, pure: values + config + as_of in, results out. No I/O, never reads the clock.

Rules (docs/okr-semantics.md, "Key result kinds and status rules", explains them to users). Progress and
expected progress are computed in okrsync.okr.progress, the forecast in okrsync.okr.forecast:

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

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import cast

from okrsync.config.model import BOUND_KINDS, Config, Cycle, KeyResult, Kpi, Objective, StatusThresholds
from okrsync.okr.calendar import day_end, day_start, elapsed_share, end_of_day, human_duration, kr_window
from okrsync.okr.forecast import fit_line, forecast_judged, forecast_kr, least_squares
from okrsync.okr.progress import (
    clamp,
    effective_kind,
    expected_progress,
    interpolate,
    linear_progress,
    milestone_expected,
    raw_progress,
)
from okrsync.okr.results import (
    AlignedChild,
    Evaluation,
    KpiResult,
    KrResult,
    MetricError,
    MetricState,
    Override,
    Point,
    Status,
)
from okrsync.okr.rollup import ASPIRATIONAL_FACTOR, classify, judged_expected, roll_up

__all__ = ["ASPIRATIONAL_FACTOR", "classify", "evaluate", "evaluate_kr", "evaluate_kpi", "roll_up"]
__all__ += ["MetricState", "Override", "Point", "Status"]  # okrsync.okr.results
__all__ += ["day_end", "day_start", "elapsed_share", "end_of_day", "human_duration", "kr_window"]  # .calendar
__all__ += ["expected_progress", "interpolate", "linear_progress"]  # okrsync.okr.progress
__all__ += ["fit_line", "forecast_kr", "least_squares"]  # okrsync.okr.forecast


def milestone_status(
    progress: float, expected: float, past_due: bool, thresholds: StatusThresholds, aspirational: bool
) -> Status:
    """Done when reached; off track once past due; before that on track unless behind a check-point."""
    if progress >= 1.0:
        return Status.DONE
    if past_due:
        return Status.OFF_TRACK
    return classify(progress, expected, thresholds, aspirational)


def progress_status(
    kind: str, progress: float, expected: float, past_due: bool, thresholds: StatusThresholds, aspirational: bool
) -> Status:
    """A KR's status from its progress against the expected progress, by its kind (before any forecast)."""
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


def kr_start(
    kr: KeyResult, metric: MetricState, cycle: Cycle, count: int, as_of: datetime, override: Override | None
) -> tuple[float | None, datetime | None]:
    """The KR's start value and, for ``start: auto``, the start of the day it became known (its window
    counts from there): the first value in the window, else a lead's override, the first value known."""
    if kr.start != "auto":
        return kr.start, None
    start, begin = auto_start(metric, kr, cycle, count)
    if start is None and override is not None:
        return override.value, day_start(as_of.astimezone(cycle.tz).date(), cycle)
    return start, begin


def kr_target(kr: KeyResult, kind: str, percent: bool) -> float | None:
    """The configured target; a milestone without one is done at 1 (at 100 for a percent_done metric)."""
    if kind == "milestone" and kr.target is None:
        return 100.0 if percent else 1.0
    return kr.target


def kr_expected(
    kr: KeyResult,
    kind: str,
    cycle: Cycle,
    as_of: datetime,
    start: float | None,
    begin: datetime | None,
    target: float | None,
) -> float:
    if kind == "milestone":
        return milestone_expected(kr, cycle, as_of, cast(float, target))  # kr_target gives a milestone one
    return expected_progress(kr, cycle, as_of, start, kind, begin)


def evaluate_kr(
    kr: KeyResult,
    objective: Objective,
    metric: MetricState,
    cycle: Cycle,
    as_of: datetime,
    thresholds: StatusThresholds,
    override: Override | None = None,
) -> KrResult:
    """One KR at ``as_of``: its start, expected progress, value (an override's, else the metric's newest),
    progress, forecast and status."""
    as_of = metric.as_of or as_of
    if kr.manual and override is not None and override.set_at is not None:
        if override.set_at.astimezone(cycle.tz).date() > as_of.astimezone(cycle.tz).date():
            override = None  # a manual value counts from the day it was set (its day's run too), not before
    count = metric.count_until(as_of)
    start, begin = kr_start(kr, metric, cycle, count, as_of, override)
    kind = effective_kind(kr, start)
    target = kr_target(kr, kind, metric.percent)
    expected = kr_expected(kr, kind, cycle, as_of, start, begin, target)
    aspirational = objective.kind == "aspirational"
    result = _kr_result(kr, objective.id, metric, kind, start, target, expected, aspirational, override)
    latest = metric.series[1][count - 1] if count else None
    if override is not None and kr.manual:
        value, (observed_at, stale_reason) = override.value, manual_age(kr, override, as_of, cycle)
    elif override is not None:
        value, observed_at, stale_reason = override.value, as_of, None
    elif latest is None or (kr.start == "auto" and start is None):
        return _no_data(result, metric.error)
    else:
        value, observed_at = latest.value, latest.observed_at
        stale_reason = stale_because(metric, latest, as_of, cycle)
    raw = raw_progress(kind, value, kr, start, target, partial=metric.percent)
    past_due = as_of >= kr_window(kr, cycle)[1]
    forecast = forecast_kr(kr, kind, cycle, metric, count, start, target, override, as_of)
    status = progress_status(kind, clamp(raw), expected, past_due, thresholds, aspirational)
    status = forecast_judged(status, kind, forecast, start, target, thresholds, aspirational, metric.bounds)
    return result(
        value=value,
        progress=clamp(raw),
        progress_raw=raw,
        status=status,
        stale=stale_reason is not None,
        stale_reason=stale_reason,
        observed_at=observed_at,
        forecast=forecast,
        override=override,
    )


MANUAL_MAX_AGE = timedelta(days=8)  # a manual value is renewed at the weekly check-in; a day's grace


def manual_age(kr: KeyResult, override: Override, as_of: datetime, cycle: Cycle) -> tuple[datetime, str | None]:
    """A manual key result's value is observed when it was set, and stale once older than the KR's
    ``max_age`` (8 days unless it says otherwise), like a fetched value older than its metric's."""
    set_at = override.set_at or as_of
    limit = kr.max_age or MANUAL_MAX_AGE
    if as_of.astimezone(UTC) - set_at.astimezone(UTC) <= limit:  # elapsed time: a DST change is no hour more
        return set_at, None
    day = set_at.astimezone(cycle.tz).date()
    return set_at, f"set by hand on {day}, older than max_age {human_duration(limit)}: set it again (okrsync override)"


def _kr_result(
    kr: KeyResult,
    objective_id: str,
    metric: MetricState,
    kind: str,
    start: float | None,
    target: float | None,
    expected: float,
    aspirational: bool,
    override: Override | None,
) -> partial[KrResult]:
    """The fields of a KR's result known before its value is read."""
    return partial(
        KrResult,
        id=kr.id,
        objective_id=objective_id,
        metric=kr.metric,
        kind=kind,
        title=kr.title,
        weight=kr.weight,
        start=start,
        target=target,
        min=kr.min,
        max=kr.max,
        expected=expected,
        due=kr.due,
        error=metric.error,
        judged_against=expected if kind in BOUND_KINDS else judged_expected(expected, aspirational),
        suspect_reason=metric.suspect if override is None else None,  # a lead's value is not held back
    )


def _no_data(result: partial[KrResult], error: str | None) -> KrResult:
    """No value yet (for ``start: auto``: none in the window): no progress, stale when the fetch failed."""
    reason = f"no value yet: {error}" if error else None
    return result(
        value=None,
        progress=None,
        progress_raw=None,
        status=Status.NO_DATA,
        stale=error is not None,
        stale_reason=reason,
    )


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
        id=kpi.id,
        metric=kpi.metric,
        title=kpi.title,
        min=kpi.healthy.min,
        max=kpi.healthy.max,
        error=metric.error,
        suspect_reason=metric.suspect,
    )
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
            kr,
            objective,
            metrics.get(kr.metric, empty) if kr.metric else empty,
            config.cycle,
            as_of,
            config.status,
            overrides.get(kr.id),
        )
        per_objective.setdefault(objective.id, []).append(result)
    objectives = roll_up(config.objectives, per_objective, config.status, aligned, parent_notes)
    kpis = [evaluate_kpi(k, metrics.get(k.metric, empty), as_of, config.cycle) for k in config.kpis]
    errors = [MetricError(mid, m.connection, m.error) for mid, m in metrics.items() if m.error]
    return Evaluation(config.cycle.name, as_of, tuple(objectives), tuple(kpis), tuple(errors))
