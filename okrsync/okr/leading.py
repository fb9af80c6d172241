"""Leading indicators: does a KPI's weekly change move with a key result's, some weeks earlier? Pure.

The rule (docs/okr-semantics.md, "Leading indicators", explains it to users with a worked example):

* **Weeks** are 7-day blocks ending on the as-of day D: week 0 is D-6..D, week -1 is D-13..D-7, and so on
  (days are synced days, in the cycle's time zone; days after D are ignored). A week's **value** is the
  value of its newest synced day. A week without a synced value has no value: nothing is interpolated.
* A **weekly change** is the week's value minus the previous week's; it needs both weeks, so a missing week
  takes out the change into it and the change out of it.
* At **lag** L (0..4 weeks) a **pair** is (the leading series' change in week t, the key result's change in
  week t + L), for every t where both changes exist. Over those pairs, r is Pearson's correlation; it is
  undefined when either side does not vary (every change equal, to within 1e-12 times the series'
  largest weekly value, so that the rounding of decimals such as 0.1 is not taken for movement).
* A lag counts with at least 8 pairs and a defined r. The reported lag is the one with the largest |r|
  (|r| equal to within 1e-9: the smaller lag), and only when that |r| >= 0.6; otherwise "not enough evidence
  yet", with the reason. The wording says "leads by" or "moves with", never that one causes the other.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

MAX_LAG_WEEKS = 4
MIN_PAIRS = 8
MIN_ABS_R = 0.6
TIE = 1e-9  # |r| closer than this is a tie (floating-point noise), and the threshold allows the same
FLAT = 1e-12  # changes spread less than this share of the series' largest weekly value do not vary
NOT_ENOUGH_EVIDENCE = "not enough evidence yet"


@dataclass(frozen=True)
class LagCorrelation:
    """The correlation at one lag: how many weekly pairs there are, and r (None: fewer than 2 pairs, or one
    side does not vary)."""

    lag_weeks: int
    pairs: int
    r: float | None


@dataclass(frozen=True)
class Lead:
    """Evidence that the leading series moves with the key result ``lag_weeks`` later: r over ``pairs``."""

    lag_weeks: int
    r: float
    pairs: int
    text: str


@dataclass(frozen=True)
class NoEvidence:
    """Not enough evidence yet; ``reason`` says why. False in a boolean context, like None."""

    reason: str
    text: str = NOT_ENOUGH_EVIDENCE

    def __bool__(self) -> bool:
        return False


def week_of(day: date, as_of: date) -> int:
    """The week ``day`` falls in: 0 for as_of-6..as_of, -1 for the 7 days before, and so on."""
    return -((as_of - day).days // 7)


def weekly_values(series: Mapping[date, float], as_of: date) -> dict[int, float]:
    """Week -> the value of its newest synced day, for the days up to ``as_of``."""
    newest: dict[int, date] = {}
    for day in series:
        if day <= as_of:
            week = week_of(day, as_of)
            if week not in newest or day > newest[week]:
                newest[week] = day
    return {week: series[day] for week, day in sorted(newest.items())}


def weekly_changes(weekly: Mapping[int, float]) -> dict[int, float]:
    """Week -> its value minus the previous week's, where both weeks have a value."""
    return {week: value - weekly[week - 1] for week, value in sorted(weekly.items()) if week - 1 in weekly}


def correlation(xs: list[float], ys: list[float], x_scale: float = 0.0, y_scale: float = 0.0) -> float | None:
    """Pearson's r of the pairs, within [-1, 1]; None with fewer than 2 pairs or when a side does not vary
    (its spread at most FLAT times its scale: the largest weekly value of its series)."""
    if len(xs) < 2 or _flat(xs, x_scale) or _flat(ys, y_scale):
        return None
    try:
        r = statistics.correlation(xs, ys)
    except statistics.StatisticsError:  # the squared deviations underflowed: no usable spread
        return None
    return max(-1.0, min(1.0, r))


def _flat(changes: list[float], scale: float) -> bool:
    return max(changes) - min(changes) <= FLAT * scale


def correlations(
    leading: Mapping[date, float], key_result: Mapping[date, float], as_of: date
) -> tuple[LagCorrelation, ...]:
    """The correlation of the weekly changes at each lag 0..MAX_LAG_WEEKS: the leading series' change in
    week t against the key result's in week t + lag."""
    lead_weekly, kr_weekly = weekly_values(leading, as_of), weekly_values(key_result, as_of)
    lead_changes, kr_changes = weekly_changes(lead_weekly), weekly_changes(kr_weekly)
    lead_scale = max((abs(v) for v in lead_weekly.values()), default=0.0)
    kr_scale = max((abs(v) for v in kr_weekly.values()), default=0.0)
    found = []
    for lag in range(MAX_LAG_WEEKS + 1):
        weeks = [t for t in lead_changes if t + lag in kr_changes]
        xs, ys = [lead_changes[t] for t in weeks], [kr_changes[t + lag] for t in weeks]
        found.append(LagCorrelation(lag, len(weeks), correlation(xs, ys, lead_scale, kr_scale)))
    return tuple(found)


def strongest(candidates: tuple[LagCorrelation, ...]) -> LagCorrelation | None:
    """The lag with at least MIN_PAIRS pairs and the largest |r| (ties: the smaller lag); None without one."""
    best: LagCorrelation | None = None
    for c in sorted(candidates, key=lambda c: c.lag_weeks):
        if c.pairs >= MIN_PAIRS and c.r is not None and (best is None or abs(c.r) > abs(best.r or 0.0) + TIE):
            best = c
    return best


def describe(leading_name: str, kr_name: str, lag_weeks: int, r: float) -> str:
    """The English line shown beside the key result: how the two move together, never why."""
    shown = f"r = {r:.2f}"
    if lag_weeks == 0:
        together = "moves with" if r > 0 else "moves opposite to"
        return f"{leading_name} {together} {kr_name} in the same week, {shown}"
    weeks = "1 week" if lag_weeks == 1 else f"{lag_weeks} weeks"
    inversely = "" if r > 0 else ", inversely"
    return f"{leading_name} leads {kr_name} by {weeks}{inversely}, {shown}"


def leading_indicator(
    leading: Mapping[date, float],
    key_result: Mapping[date, float],
    as_of: date,
    *,
    leading_name: str,
    kr_name: str,
) -> Lead | NoEvidence:
    """The lag (0..4 weeks) at which the leading series' weekly changes correlate best with the key result's,
    when the evidence is enough: at least MIN_PAIRS weekly pairs and |r| >= MIN_ABS_R.

    ``leading`` and ``key_result`` map synced days (in the cycle's time zone) to the value stored for that
    day; days after ``as_of`` are ignored. The names are put in the text as given (escaping is the
    presenter's)."""
    found = correlations(leading, key_result, as_of)
    best = strongest(found)
    if best is None or best.r is None:
        return NoEvidence(_why_none(found))
    if abs(best.r) < MIN_ABS_R - TIE:
        where = f"lag {best.lag_weeks}, {best.pairs} weekly pairs"
        return NoEvidence(f"the strongest correlation, r = {_below(best.r)} ({where}), is below {MIN_ABS_R}")
    return Lead(best.lag_weeks, best.r, best.pairs, describe(leading_name, kr_name, best.lag_weeks, best.r))


def _below(r: float) -> str:
    """r with 2 decimals, or as many more as it takes not to look like the threshold (0.5996 is 0.5996)."""
    for decimals in range(2, 10):
        if round(abs(r), decimals) < MIN_ABS_R:
            break
    return f"{r:.{decimals}f}"


def _why_none(found: tuple[LagCorrelation, ...]) -> str:
    most = max(found, key=lambda c: (c.pairs, -c.lag_weeks))
    if most.pairs < MIN_PAIRS:
        lag = f" (lag {most.lag_weeks})" if most.pairs else ""
        return f"fewer than {MIN_PAIRS} weekly pairs at every lag: at most {most.pairs}{lag}"
    return f"the weekly changes do not vary at any lag with {MIN_PAIRS} or more pairs, so they cannot correlate"
