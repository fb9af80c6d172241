"""How sure a forecast is: its 80 % range at the due date and the chance of reaching the target. Pure.

The method (the README's "Forecast confidence" explains it to users):

* The **point** stays the least-squares projection (:func:`okrsync.evaluate.forecast_kr`).
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
* **Enough history** is 3 weekly changes (21 days of values in the window); before that, and once
  the due date has passed (the outcome is known, not forecast), there is no range and no probability.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import NormalDist

WEEK = 7 * 86400.0
MIN_WEEKS = 3
Z_80 = NormalDist().inv_cdf(0.9)  # 1.2816: low..high hold the central 80 %


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


def chance(projected: float, sd: float, level: float, decrease: bool) -> float:
    """P(final value reaches ``level``): at or above it, or at or below it for a decrease."""
    if sd <= 0:
        return 1.0 if (projected <= level if decrease else projected >= level) else 0.0
    shortfall = (projected - level) if decrease else (level - projected)
    # the normal's upper tail beyond the shortfall, by erfc: 1 - cdf (or NormalDist.cdf, which uses erf)
    # rounds a far tail to exactly 0, and "0% likely" would claim a certainty the method does not have
    return 0.5 * math.erfc(shortfall / (sd * math.sqrt(2)))


def central_range(projected: float, sd: float) -> tuple[float, float]:
    """The 10th and 90th percentiles of the final value."""
    return projected - Z_80 * sd, projected + Z_80 * sd
