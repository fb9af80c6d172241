"""Forecasts stay possible: point and 80 % range clipped to the metric's bounds, the chance of reaching the
target taken on the normal censored at them, and no projection past the last day. Every figure is worked
out by hand in a comment; the properties then hold for any series and bounds.

The series are weekly values ending at HALFWAY (Nov 16, day 21 of the fit); the window ends on Jan 1
00:00, 46 days later (day 67). For x = 0, 7, 14, 21 days: mean x 10.5, Sxx = 2 * (10.5² + 3.5²) = 245,
slope = (-10.5 y0 - 3.5 y1 + 3.5 y2 + 10.5 y3) / 245, projection = mean y + slope * 56.5. The spread:
h = 46/7 weeks left of k = 3 weekly changes with sample variance s², sd = sqrt(s² * h * (1 + h / 3)).
"""

import math
from datetime import date, timedelta
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okrsync.config import KeyResult, Objective, StatusThresholds
from okrsync.config.load import parse_config
from okrsync.config.model import Expect
from okrsync.okr.confidence import metric_bounds
from okrsync.okr.evaluate import evaluate_kr
from okrsync.okr.results import Forecast, MetricState, Override, Point, Status
from okrsync.sync.compute import metric_states
from okrsync.sync.plan import compile_plan
from tests.helpers import CYCLE, HALFWAY, THRESHOLDS, oslo

Z = NormalDist().inv_cdf(0.9)  # 1.2816
H = 46 / 7  # weeks from HALFWAY to the window's end
OBJ = Objective(id="o", title="O")


def weekly(*values, bounds=(None, None)) -> MetricState:
    n = len(values)
    points = tuple(Point.of(HALFWAY - timedelta(weeks=n - 1 - i), v) for i, v in enumerate(values))
    return MetricState(history=points, bounds=bounds)


def kr_of(start, target, **kw):
    return KeyResult(id="k", metric="m", start=start, target=target, **kw)


# open incidents, a count: 12, 11, 7, 7 -> mean 9.25; slope (-126 - 38.5 + 24.5 + 73.5) / 245 = -66.5/245
# = -19/70 a day; projection 9.25 - 19/70 * 56.5 = -213/35 = -6.0857. Changes -1, -4, 0: mean -5/3,
# s² = ((2/3)² + (7/3)² + (5/3)²) / 2 = 13/3; sd = sqrt(13/3 * H * (1 + H/3)) = 9.5317
INCIDENTS = (12, 11, 7, 7)
COUNT = (0.0, None)
INCIDENTS_AT = -213 / 35
INCIDENTS_SD = math.sqrt(13 / 3 * H * (1 + H / 3))


def test_a_falling_count_stops_at_zero():
    f = evaluate_kr(kr_of(12, 2), OBJ, weekly(*INCIDENTS, bounds=COUNT), CYCLE, HALFWAY, THRESHOLDS).forecast
    assert f.value == 0  # not -6.09: a count cannot go below 0
    assert f.progress == 1  # (0 - 12) / (2 - 12) = 1.2, clamped
    assert f.low == 0  # -6.0857 - 1.2816 * 9.5317 = -18.30, clipped
    assert f.high == pytest.approx(INCIDENTS_AT + Z * INCIDENTS_SD)  # -6.0857 + 12.2153 = 6.1296, inside
    assert f.high == pytest.approx(6.1296, abs=1e-4)
    assert f.sd == pytest.approx(9.5317, abs=1e-4)


def test_a_target_below_zero_is_out_of_reach_for_a_count():
    # the unbounded normal says P(X <= -1) = Phi((-1 + 6.0857) / 9.5317) = Phi(0.5336) = 0.703
    below = evaluate_kr(kr_of(12, -1), OBJ, weekly(*INCIDENTS, bounds=COUNT), CYCLE, HALFWAY, THRESHOLDS)
    assert below.forecast.probability == 0.0
    # with use_forecast the 0.703 would be "likely" (on track): the clipped chance 0 is below unlikely 0.3
    judged = StatusThresholds(use_forecast=True)
    assert evaluate_kr(kr_of(12, -1), OBJ, weekly(*INCIDENTS, bounds=COUNT), CYCLE, HALFWAY, judged).status == (
        Status.OFF_TRACK
    )


def test_a_target_at_the_bound_gets_the_censored_mass():
    # a decrease to 0 with min 0: every X <= 0 ends at 0, so P(Y <= 0) = P(X <= 0) = Phi(6.0857 / 9.5317)
    # = Phi(0.63846) = 0.7384; half a unit below the bound nothing ends there: 0
    at = evaluate_kr(kr_of(12, 0), OBJ, weekly(*INCIDENTS, bounds=COUNT), CYCLE, HALFWAY, THRESHOLDS).forecast
    assert (at.value, at.low) == (0, 0)
    assert at.probability == pytest.approx(NormalDist().cdf(213 / 35 / INCIDENTS_SD))
    assert at.probability == pytest.approx(0.7384, abs=1e-4)
    beyond = evaluate_kr(kr_of(12, -0.5), OBJ, weekly(*INCIDENTS, bounds=COUNT), CYCLE, HALFWAY, THRESHOLDS)
    assert beyond.forecast.probability == 0.0


# percent done: 40, 44, 60, 67 -> mean 52.75; slope (-420 - 154 + 210 + 703.5) / 245 = 339.5/245 = 97/70 a
# day; projection 52.75 + 97/70 * 56.5 = 131.0429. Changes 4, 16, 7: mean 9, s² = (25 + 49 + 4) / 2 = 39;
# sd = sqrt(39 * H * (1 + H/3)) = 28.5950
PERCENT = (0.0, 100.0)
DONE_AT = 52.75 + 97 / 70 * 56.5
DONE_SD = math.sqrt(39 * H * (1 + H / 3))


def test_percent_done_projecting_131_ends_at_100():
    f = evaluate_kr(kr_of(0, 100), OBJ, weekly(40, 44, 60, 67, bounds=PERCENT), CYCLE, HALFWAY, THRESHOLDS).forecast
    assert (f.value, f.progress, f.high) == (100, 1, 100)  # 131.04 and 131.04 + 36.65 = 167.69, clipped
    assert f.low == pytest.approx(DONE_AT - Z * DONE_SD)  # 131.0429 - 1.2816 * 28.5950 = 94.397, inside
    assert f.low == pytest.approx(94.397, abs=1e-3)
    # 100 itself: the mass censored at 100, P(X >= 100) = Phi(31.0429 / 28.5950) = Phi(1.0856) = 0.8612
    assert f.probability == pytest.approx(0.8612, abs=1e-4)
    beyond = evaluate_kr(kr_of(0, 101), OBJ, weekly(40, 44, 60, 67, bounds=PERCENT), CYCLE, HALFWAY, THRESHOLDS)
    assert beyond.forecast.probability == 0.0  # the unbounded normal says Phi(30.0429 / 28.5950) = 0.853


def test_use_forecast_reads_the_unclipped_centre_at_its_own_level():
    # target 110 is past 100: chance 0, off track (unbounded: Phi(21.0429 / 28.5950) = 0.769, on track)
    judged = StatusThresholds(use_forecast=True)
    history = weekly(40, 44, 60, 67, bounds=PERCENT)
    assert evaluate_kr(kr_of(40, 110), OBJ, history, CYCLE, HALFWAY, judged).status == Status.OFF_TRACK
    # aspirational: 70 % of the way, 40 + 0.7 * 70 = 89, inside; P(X >= 89) around the centre 131.04, not
    # the clipped 100: Phi(42.0429 / 28.5950) = Phi(1.4703) = 0.929 >= 0.7 likely (from 100: 0.65, at risk)
    stretch = Objective(id="o", title="O", kind="aspirational")
    assert evaluate_kr(kr_of(40, 110), stretch, history, CYCLE, HALFWAY, judged).status == Status.ON_TRACK


def test_expect_min_and_max_clip_the_range():
    # 0, 10, 20, 36: slope 413/245 a day, mean 16.5 -> 16.5 + 413/245 * 56.5 = 111.7429; changes 10, 10,
    # 16: s² = 12, sd = sqrt(12 * H * (1 + H/3)) = 15.8616; range 111.7429 -+ 20.3280 = 91.415..132.070
    bounds = metric_bounds(None, Expect(min=95, max=120))
    assert bounds == (95, 120)
    f = evaluate_kr(kr_of(0, 100), OBJ, weekly(0, 10, 20, 36, bounds=bounds), CYCLE, HALFWAY, THRESHOLDS).forecast
    assert f.value == pytest.approx(111.7429, abs=1e-4)  # inside: unchanged
    assert (f.low, f.high) == (95, 120)
    # 125 lies past max 120: out of reach (unbounded: Phi((111.7429 - 125) / 15.8616) = 0.2016)
    past = evaluate_kr(kr_of(0, 125), OBJ, weekly(0, 10, 20, 36, bounds=bounds), CYCLE, HALFWAY, THRESHOLDS)
    assert past.forecast.probability == 0.0


def test_declared_and_implied_bounds_combine_to_the_tighter():
    assert metric_bounds("count", None) == (0, None)
    assert metric_bounds("percent_done", None) == (0, 100)
    assert metric_bounds("sum", None) == (None, None)  # a sum may go negative (refunds)
    assert metric_bounds("count", Expect(min=-5, max=40)) == (0, 40)  # max(0, -5), min(None, 40)
    assert metric_bounds("percent_done", Expect(min=10, max_change=5)) == (10, 100)
    assert metric_bounds("percent_done", Expect(min=150)) == (150, None)  # crossing: the declared stand


def test_compute_fills_the_bounds_from_the_config():
    config = parse_config("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
connections: {files: {type: csv, root: data}}
metrics:
  incidents: {connection: files, path: i.csv, column: id, date_column: date, aggregate: count, expect: {max: 40}}
  done: {connection: files, path: d.csv, column: pct, date_column: date, aggregate: percent_done}
  latency: {connection: files, path: l.csv, column: ms, expect: {min: 10, max: 900}}
  revenue: {connection: files, path: r.csv, column: usd, date_column: date, aggregate: sum}
objectives:
  - id: o
    title: O
    key_results:
      - {id: a, metric: incidents, start: 12, target: 0}
      - {id: b, metric: done, start: 0, target: 100}
      - {id: c, metric: latency, start: 800, target: 200}
      - {id: d, metric: revenue, start: 0, target: 100}
""")
    states = metric_states(compile_plan(config, HALFWAY), {}, {}, {})
    assert {m: s.bounds for m, s in states.items()} == {
        "incidents": (0, 40),
        "done": (0, 100),
        "latency": (10, 900),
        "revenue": (None, None),
    }


def test_after_the_due_date_the_forecast_is_the_value():
    # due Nov 10, values on Oct 26, Nov 2, 9, 16: the line read at Nov 11 would say 16.5 + 413/245 * 5.5
    # = 25.77; the KR's value is 36, progress 36 / 100
    late = evaluate_kr(kr_of(0, 100, due=date(2026, 11, 10)), OBJ, weekly(0, 10, 20, 36), CYCLE, HALFWAY, THRESHOLDS)
    assert late.forecast == Forecast(36, 0.36)
    overridden = evaluate_kr(
        kr_of(0, 100, due=date(2026, 11, 10)), OBJ, weekly(0, 10, 20, 36), CYCLE, HALFWAY, THRESHOLDS, Override(50)
    )
    assert overridden.forecast == Forecast(50, 0.5)  # the lead's value is the value


def test_once_the_cycle_has_ended_nothing_is_projected():
    # Dec 7, 14, 21, 28: 10, 30, 35, 60, as of Jan 1 00:00 (the window's end, day 25): the line would run on
    # to 33.75 + (-105 - 105 + 122.5 + 630) / 245 * (25 - 10.5) = 65.86 with a range; the forecast is 60
    points = tuple(Point.of(oslo(2026, 12, d), v) for d, v in ((7, 10), (14, 30), (21, 35), (28, 60)))
    ended = evaluate_kr(kr_of(0, 100), OBJ, MetricState(history=points), CYCLE, oslo(2027, 1, 1), THRESHOLDS)
    assert ended.forecast == Forecast(60, 0.6)


bound = st.none() | st.floats(-300, 300)


@given(
    st.lists(st.floats(-50, 50), min_size=3, max_size=12),
    bound,
    bound,
    st.floats(-300, 300),
    st.floats(-300, 300),
    st.booleans(),
)
def test_the_forecast_stays_within_the_bounds(steps, a, b, start, target, aspirational):
    if a is not None and b is not None:
        a, b = sorted((a, b))
    values = [0.0]
    for step in steps:
        values.append(values[-1] + step)
    judged = StatusThresholds(use_forecast=True)
    objective = Objective(id="o", title="O", kind="aspirational" if aspirational else "committed")
    result = evaluate_kr(kr_of(start, target), objective, weekly(*values, bounds=(a, b)), CYCLE, HALFWAY, judged)
    f = result.forecast
    lo, hi = -math.inf if a is None else a, math.inf if b is None else b
    assert lo <= f.low <= f.value <= f.high <= hi
    assert 0 <= f.probability <= 1
    assert 0 <= f.progress <= 1
