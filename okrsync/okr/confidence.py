"""How sure a forecast is: its 80 % range at the due date and the chance of reaching the target. Pure.

The method (docs/okr-semantics.md, "Key result kinds and status rules", explains it to users):

* The **point** stays the least-squares projection (:func:`okrsync.okr.forecast.forecast_kr`).
* The **spread** comes from the KR's own week-to-week changes. The series inside the KR's window is
  read at weekly steps back from its newest value (interpolated between stored days), giving ``k``
  weekly changes with sample standard deviation ``s``. With ``h`` weeks left until the due date the
  final value's standard deviation is ``s * sqrt(h * (1 + h / k))``: the random-walk-with-drift
  interval (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., §5.5 "drift
  method"), whose ``h`` term is the weeks still to come and whose ``h²/k`` term the uncertainty of a
  trend estimated from ``k`` weeks. It widens with the horizon and narrows as weeks of history come in.
* **Why this and not a regression's prediction interval**: KR metrics are cumulative (deals won,
  tickets closed), so successive residuals around a line are strongly correlated and a prediction
  interval built on independent residuals narrows with every daily value — a year of daily points
  would claim near certainty. Weekly changes are close to independent; their spread is what the
  remaining weeks can add up to.
* The final value is taken as normal around the point: ``low``/``high`` are its 10th/90th
  percentiles; ``probability`` is the chance that it reaches the target (at or above for an increase,
  at or below for a decrease). With a spread of 0 (every week moved alike) it is 1 or 0.
* **Enough history** is 3 weekly changes (21 days of values in the window); before that there is no
  range and no probability. Once the due date or the cycle's end has passed the outcome is known, not
  forecast: the forecast is the KR's value itself (okrsync.okr.forecast), with no range and no probability.
* **Bounds**: a metric's values cannot leave ``[lo, hi]``: its ``expect:`` min/max when declared, at
  least 0 for a ``count`` aggregate, 0..100 for ``percent_done``; where both apply the tighter bound
  wins on each side (should they cross, the declared ones stand alone). The final value is then the
  normal *censored* at the bounds: ``Y = min(hi, max(lo, X))``, the normal's mass beyond a bound
  sitting at the bound. So the point, ``low`` and ``high`` are the normal's median and 10th/90th
  percentiles clipped to the bounds (clipping keeps percentiles: they are exactly ``Y``'s), and the
  chance of reaching ``level`` is ``Y``'s:

  - increase, P(Y >= level): 0 when ``level > hi``; 1 when ``level <= lo``; else the normal's
    P(X >= level) (at ``level == hi``: the mass censored at ``hi``);
  - decrease, P(Y <= level): 0 when ``level < lo``; 1 when ``level >= hi``; else P(X <= level) (at
    ``level == lo``: the mass censored at ``lo``).

  Example: open incidents (a count, so lo = 0) projected at -35 with sd 20, decrease KR. The forecast
  is 0, not -35; the range -60.6..-9.4 is 0..0; a target of -5 has chance 0 (a count cannot end
  below 0); a target of 0 has P(X <= 0) = Phi(35 / 20) = 0.960, the mass censored at 0.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from okrsync.config.model import Expect

WEEK = 7 * 86400.0
MIN_WEEKS = 3
Z_80 = NormalDist().inv_cdf(0.9)  # 1.2816: low..high hold the central 80 %
Bounds = tuple[float | None, float | None]  # (lo, hi) a metric's values cannot leave; None: open
UNBOUNDED: Bounds = (None, None)
IMPLIED: dict[str, Bounds] = {"count": (0.0, None), "percent_done": (0.0, 100.0)}


@dataclass(frozen=True)
class Spread:
    """The uncertainty of a projection at the due date: the normal's standard deviation, and from what."""

    sd: float
    weeks_of_history: int
    weeks_left: float


def value_at(times: Sequence[float], values: Sequence[float], at: float) -> float:
    """Piecewise-linear value at ``at``, a moment within times[0]..times[-1] (time-ordered points)."""
    i = bisect_left(times, at)
    if times[i] == at:
        return values[i]
    t0, t1 = times[i - 1], times[i]
    return values[i - 1] + (values[i] - values[i - 1]) * (at - t0) / (t1 - t0)


def weekly_changes(times: Sequence[float], values: Sequence[float]) -> list[float]:
    """The changes over whole weeks counted back from the newest point, oldest first."""
    if not times:
        return []
    weeks = int((times[-1] - times[0]) // WEEK)
    samples = [value_at(times, values, times[-1] - j * WEEK) for j in range(weeks, -1, -1)]
    return [b - a for a, b in pairwise(samples)]


def spread(times: Sequence[float], values: Sequence[float], due: float) -> Spread | None:
    """The standard deviation of the value at ``due`` (POSIX seconds); None without enough history or
    once the newest point is at or past ``due``."""
    changes = weekly_changes(times, values)
    if len(changes) < MIN_WEEKS or times[-1] >= due:
        return None
    weeks_left = (due - times[-1]) / WEEK
    k = len(changes)
    sd = statistics.stdev(changes) * math.sqrt(weeks_left * (1 + weeks_left / k))
    return Spread(sd, k, weeks_left)


def metric_bounds(aggregate: str | None, expect: Expect | None) -> Bounds:
    """The bounds a metric's values cannot leave: the tighter of its ``expect:`` min/max and the ones its
    aggregate implies (a count is >= 0, a percent_done 0..100); crossing ones leave the declared alone."""
    implied_lo, implied_hi = IMPLIED.get(aggregate or "", UNBOUNDED)
    declared = (expect.min, expect.max) if expect is not None else UNBOUNDED
    lows = [x for x in (implied_lo, declared[0]) if x is not None]
    highs = [x for x in (implied_hi, declared[1]) if x is not None]
    lo, hi = (max(lows) if lows else None), (min(highs) if highs else None)
    if lo is not None and hi is not None and lo > hi:
        return declared
    return lo, hi


def clip(x: float, bounds: Bounds) -> float:
    """``x`` moved inside the bounds."""
    lo, hi = bounds
    if lo is not None and x < lo:
        return lo
    if hi is not None and x > hi:
        return hi
    return x


def chance(projected: float, sd: float, level: float, decrease: bool, bounds: Bounds = UNBOUNDED) -> float:
    """P(final value reaches ``level``): at or above it, or at or below it for a decrease; the final value
    censored at ``bounds`` (a level past the bound it moves towards is out of reach, one at or behind the
    other bound is certain)."""
    lo, hi = bounds
    beyond, behind = (lo, hi) if decrease else (hi, lo)
    if beyond is not None and (level < beyond if decrease else level > beyond):
        return 0.0
    if behind is not None and (level >= behind if decrease else level <= behind):
        return 1.0
    if sd <= 0:
        return 1.0 if (projected <= level if decrease else projected >= level) else 0.0
    shortfall = (projected - level) if decrease else (level - projected)
    # the normal's upper tail beyond the shortfall, by erfc: 1 - cdf (or NormalDist.cdf, which uses erf)
    # rounds a far tail to exactly 0, and "0% likely" would claim a certainty the method does not have
    return 0.5 * math.erfc(shortfall / (sd * math.sqrt(2)))


def central_range(projected: float, sd: float, bounds: Bounds = UNBOUNDED) -> tuple[float, float]:
    """The 10th and 90th percentiles of the final value (censored at ``bounds``: clipped to them)."""
    return clip(projected - Z_80 * sd, bounds), clip(projected + Z_80 * sd, bounds)
