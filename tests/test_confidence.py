"""Forecast confidence (okrsync.okr.confidence): cases worked out by hand, then properties with hypothesis."""

import math
from datetime import date, timedelta
from statistics import NormalDist

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from okrsync.config import KeyResult, Objective, StatusThresholds
from okrsync.okr import confidence
from okrsync.okr.evaluate import evaluate_kr
from okrsync.okr.results import Status
from tests.helpers import CYCLE, HALFWAY, THRESHOLDS, state

DAY, WEEK = 86400.0, 7 * 86400.0


def test_weekly_changes_read_the_series_at_weekly_steps_back_from_the_newest_value():
    times = [0, WEEK, 2 * WEEK, 3 * WEEK]
    assert confidence.weekly_changes(times, [0, 10, 20, 36]) == [10, 10, 16]
    # daily values in between do not add changes; a half week at the start is left out
    daily = [i * DAY for i in range(0, 25)]
    assert confidence.weekly_changes(daily, [t / DAY * 2 for t in daily]) == pytest.approx([14, 14, 14])
    # a gap is interpolated: 10 on day 1, 38 on day 15 -> 24 on day 8, 14 a week
    assert confidence.weekly_changes([DAY, 15 * DAY], [10, 38]) == pytest.approx([14, 14])
    assert confidence.value_at([DAY, 15 * DAY], [10, 38], 8 * DAY) == pytest.approx(24)


def test_the_spread_by_hand():
    # changes 10, 10, 16: mean 12, sample variance ((-2)^2 + (-2)^2 + 4^2) / 2 = 12
    # two weeks left of k = 3: variance 12 * 2 * (1 + 2/3) = 40
    times = [0, WEEK, 2 * WEEK, 3 * WEEK]
    spread = confidence.spread(times, [0, 10, 20, 36], due=5 * WEEK)
    assert spread.sd == pytest.approx(math.sqrt(40))
    assert (spread.weeks_of_history, spread.weeks_left) == (3, 2)
    low, high = confidence.central_range(60, spread.sd)
    assert (low, high) == pytest.approx((60 - 1.28155 * math.sqrt(40), 60 + 1.28155 * math.sqrt(40)), abs=1e-3)
    assert confidence.chance(60, spread.sd, 60, decrease=False) == pytest.approx(0.5)
    assert confidence.chance(60, spread.sd, low, decrease=False) == pytest.approx(0.9)  # 90 % end above low
    assert confidence.chance(60, spread.sd, low, decrease=True) == pytest.approx(0.1)
    assert confidence.chance(10, 0.5, 10.5, decrease=False) == pytest.approx(0.158655, abs=1e-6)  # one sd short
    assert confidence.chance(10, 0.5, 9.5, decrease=True) == pytest.approx(0.158655, abs=1e-6)


def test_no_range_without_three_weeks_or_once_due():
    assert confidence.spread([0, WEEK, 2 * WEEK], [0, 1, 2], due=9 * WEEK) is None  # 2 changes only
    assert confidence.spread([0, 20 * DAY], [0, 1], due=9 * WEEK) is None
    assert confidence.spread([0, WEEK, 2 * WEEK, 3 * WEEK], [0, 1, 2, 4], due=3 * WEEK) is None  # due: known
    assert confidence.spread([], [], due=WEEK) is None


def test_an_even_pace_is_certain_either_way():
    sd = confidence.spread([0, WEEK, 2 * WEEK, 3 * WEEK], [0, 5, 10, 15], due=4 * WEEK).sd
    assert sd == 0
    assert confidence.chance(20, sd, 20, decrease=False) == 1.0
    assert confidence.chance(20, sd, 20.5, decrease=False) == 0.0
    assert confidence.chance(20, sd, 20, decrease=True) == 1.0  # at the target counts as reached
    assert confidence.chance(20, sd, 19.5, decrease=True) == 0.0


def weekly(*values):
    """Values a week apart ending at HALFWAY (Nov 16; all after the October DST change)."""
    n = len(values)
    return state(*[(HALFWAY - timedelta(weeks=n - 1 - i), v) for i, v in enumerate(values)])


def test_a_kr_forecast_gets_its_range_and_probability():
    # OLS through (0, 0), (7, 10), (14, 20), (21, 36) days: slope 413/245 a day, mean (10.5, 16.5);
    # the window ends 46 days after HALFWAY (day 67): 16.5 + 413/245 * 56.5
    kr = KeyResult(id="k", metric="m", start=0, target=100)
    result = evaluate_kr(kr, Objective(id="o", title="O"), weekly(0, 10, 20, 36), CYCLE, HALFWAY, THRESHOLDS)
    projected = 16.5 + 413 / 245 * 56.5
    h = 46 / 7
    sd = math.sqrt(12 * h * (1 + h / 3))
    f = result.forecast
    assert f.value == pytest.approx(projected)
    assert f.sd == pytest.approx(sd)
    assert (f.low, f.high) == pytest.approx((projected - 1.2815516 * sd, projected + 1.2815516 * sd))
    assert f.probability == pytest.approx(NormalDist().cdf((projected - 100) / sd))
    assert 0.76 < f.probability < 0.78


def test_a_decrease_kr_counts_reaching_at_or_below():
    kr = KeyResult(id="k", metric="m", start=100, target=40)
    result = evaluate_kr(kr, Objective(id="o", title="O"), weekly(100, 90, 80, 64), CYCLE, HALFWAY, THRESHOLDS)
    f = result.forecast
    assert f.value == pytest.approx(100 - 16.5 - 413 / 245 * 56.5)
    assert f.probability == pytest.approx(NormalDist(f.value, f.sd).cdf(40))


def test_levels_milestones_and_short_histories_get_no_probability():
    objective = Objective(id="o", title="O")
    history = weekly(0, 10, 20, 36)
    level = KeyResult(id="l", metric="m", kind="at_least", target=30)
    milestone = KeyResult(id="ms", metric="m", kind="milestone", target=50)
    assert evaluate_kr(level, objective, history, CYCLE, HALFWAY, THRESHOLDS).forecast.probability is None
    assert evaluate_kr(milestone, objective, history, CYCLE, HALFWAY, THRESHOLDS).forecast is None
    short = KeyResult(id="k", metric="m", start=0, target=100)
    assert evaluate_kr(short, objective, weekly(0, 10, 20), CYCLE, HALFWAY, THRESHOLDS).forecast.probability is None


def test_use_forecast_judges_by_the_chance_and_is_off_by_default():
    # 0 -> 12 in three weeks, target 100, half the quarter gone: 12 % vs 50 % expected is off track by time...
    kr = KeyResult(id="k", metric="m", start=0, target=100)
    objective = Objective(id="o", title="O")
    steady = weekly(0, 1, 2, 12)
    assert evaluate_kr(kr, objective, steady, CYCLE, HALFWAY, THRESHOLDS).status == Status.OFF_TRACK
    judged = StatusThresholds(use_forecast=True)
    result = evaluate_kr(kr, objective, steady, CYCLE, HALFWAY, judged)
    assert result.forecast.probability < 0.3
    assert result.status == Status.OFF_TRACK
    # ...while a late start that is now racing ahead is likely to make it: on track by its chance
    racing = weekly(0, 10, 22, 35)  # weekly changes 10, 12, 13: projected 111, sd 7
    by_time = evaluate_kr(kr, objective, racing, CYCLE, HALFWAY, THRESHOLDS)
    by_chance = evaluate_kr(kr, objective, racing, CYCLE, HALFWAY, judged)
    assert by_time.status == Status.AT_RISK  # 40 % vs 50 %: 35 % vs 50 %: gap 0.15
    assert by_chance.forecast.probability >= 0.7
    assert by_chance.status == Status.ON_TRACK
    demanding = StatusThresholds(use_forecast=True, likely=0.99, unlikely=0.5)
    assert evaluate_kr(kr, objective, racing, CYCLE, HALFWAY, demanding).status == Status.AT_RISK


def test_use_forecast_in_an_aspirational_objective_asks_for_70_percent_of_the_way():
    kr = KeyResult(id="k", metric="m", start=10, target=110)
    history = weekly(10, 20, 30, 40)  # even: projected 10 + 10/7 a day * 67 days = 105.7, sd 0
    judged = StatusThresholds(use_forecast=True, likely=0.9, unlikely=0.5)
    stretch = KeyResult(id="k", metric="m", start=10, target=145)  # 105.7 >= 10 + 0.7 * 135 = 104.5: certain
    aspirational = Objective(id="o", title="O", kind="aspirational")
    assert evaluate_kr(stretch, aspirational, history, CYCLE, HALFWAY, judged).status == Status.ON_TRACK
    assert evaluate_kr(stretch, Objective(id="o", title="O"), history, CYCLE, HALFWAY, judged).status == (
        Status.OFF_TRACK
    )
    beyond = KeyResult(id="k", metric="m", start=10, target=150)  # 105.7 < 10 + 0.7 * 140 = 108: not reached
    assert evaluate_kr(beyond, aspirational, history, CYCLE, HALFWAY, judged).status == Status.OFF_TRACK
    assert evaluate_kr(kr, aspirational, history, CYCLE, HALFWAY, judged).forecast.probability == 0.0  # of 110


def test_use_forecast_judges_decreases_keeps_done_and_needs_a_chance():
    objective = Objective(id="o", title="O")
    judged = StatusThresholds(use_forecast=True, likely=1.0, unlikely=0.0)  # the bounds count as reached
    falling = weekly(100, 90, 80, 70)  # even: 70 - 10/7 * 46 days = 4.3 by the end, sd 0
    to_10, to_2 = (KeyResult(id="k", metric="m", start=100, target=target) for target in (10, 2))
    assert evaluate_kr(to_10, objective, falling, CYCLE, HALFWAY, judged).status == Status.ON_TRACK  # 1.0 = likely
    assert evaluate_kr(to_2, objective, falling, CYCLE, HALFWAY, judged).status == Status.AT_RISK  # 0.0 = unlikely
    done = KeyResult(id="k", metric="m", start=100, target=70)
    assert evaluate_kr(done, objective, falling, CYCLE, HALFWAY, judged).status == Status.DONE
    short = KeyResult(id="k", metric="m", start=0, target=100)  # two weeks: no chance, the gap rule
    assert evaluate_kr(short, objective, weekly(0, 10, 20), CYCLE, HALFWAY, judged).status == Status.OFF_TRACK
    milestone = KeyResult(id="k", metric="m", kind="milestone", due=date(2026, 12, 31))
    assert evaluate_kr(milestone, objective, weekly(0, 0, 0, 0), CYCLE, HALFWAY, judged).status == Status.ON_TRACK


def test_thresholds_are_ordered():
    with pytest.raises(ValueError, match="unlikely must be <= likely"):
        StatusThresholds(likely=0.3, unlikely=0.6)


# weekly changes as okrsync's values make them: finite and within ±1e15 (numbers.LIMIT), and either none
# or at least 1e-6, so that shifting a series by up to 1,000 cannot absorb its spread in float rounding
# (a step of 6.6e-189 vanishes in 1.0 + 6.6e-189; no KR metric moves by that)
changes = st.lists(
    st.floats(-50, 50, allow_nan=False).filter(lambda x: x == 0 or abs(x) >= 1e-6), min_size=3, max_size=20
)


def series(steps):
    values = [0.0]
    for step in steps:
        values.append(values[-1] + step)
    return [i * WEEK for i in range(len(values))], values


@given(changes, st.floats(0.1, 30), st.floats(-500, 500), st.floats(-500, 500))
def test_the_range_holds_the_projection_and_the_chance_is_a_probability(steps, weeks, projected, level):
    times, values = series(steps)
    spread = confidence.spread(times, values, times[-1] + weeks * WEEK)
    low, high = confidence.central_range(projected, spread.sd)
    assert low <= projected <= high
    for decrease in (False, True):
        assert 0 <= confidence.chance(projected, spread.sd, level, decrease) <= 1


@given(changes, st.floats(0.1, 30), st.floats(0.1, 30))
def test_further_away_is_less_certain(steps, a, b):
    times, values = series(steps)
    near, far = sorted((a, b))
    sd_near = confidence.spread(times, values, times[-1] + near * WEEK).sd
    sd_far = confidence.spread(times, values, times[-1] + far * WEEK).sd
    assert sd_near <= sd_far + 1e-9


@given(changes, st.floats(-1000, 1000), st.floats(-100, 100), st.floats(-100, 100))
def test_shifting_every_value_shifts_the_range_and_keeps_the_chance(steps, shift, projected, level):
    times, values = series(steps)
    due = times[-1] + 4 * WEEK
    sd = confidence.spread(times, values, due).sd
    assert confidence.spread(times, [v + shift for v in values], due).sd == pytest.approx(sd, abs=1e-6)
    assume(sd > 0 or abs(projected - level) > 1e-6)  # an exact tie at sd 0 is float rounding, not a chance
    moved = confidence.chance(projected + shift, sd, level + shift, decrease=False)
    assert moved == pytest.approx(confidence.chance(projected, sd, level, decrease=False), abs=1e-6)


@given(changes, st.floats(-100, 100), st.floats(-100, 100), st.floats(-100, 100))
def test_an_easier_target_is_never_less_likely(steps, projected, a, b):
    times, values = series(steps)
    sd = confidence.spread(times, values, times[-1] + 4 * WEEK).sd
    easy, hard = sorted((a, b))
    assert confidence.chance(projected, sd, easy, decrease=False) >= confidence.chance(projected, sd, hard, False)
    assert confidence.chance(projected, sd, hard, decrease=True) >= confidence.chance(projected, sd, easy, True)
