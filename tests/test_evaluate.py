"""OKR semantics: worked examples checked by hand, and properties checked by hypothesis."""

from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from okrsync.config import Config, Cycle, KeyResult, Kpi, Objective, StatusThresholds
from okrsync.evaluate import (
    MetricState,
    Override,
    Point,
    Status,
    evaluate,
    evaluate_kpi,
    evaluate_kr,
    expected_progress,
    least_squares,
    linear_progress,
    roll_up,
)
from tests.conftest import oslo

CYCLE = Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31), timezone="Europe/Oslo")
THRESHOLDS = StatusThresholds()
COMMITTED = Objective(id="o", title="O")
ASPIRATIONAL = Objective(id="o", title="O", kind="aspirational")
# 2026-10-01 00:00 .. 2027-01-01 00:00 Oslo is 92 days; day 46 (2026-11-16 00:00) is exactly halfway.
HALFWAY = oslo(2026, 11, 16)


def kr(**kw) -> KeyResult:
    return KeyResult(id=kw.pop("id", "k"), metric="m", **kw)


def state(*points, **kw) -> MetricState:
    return MetricState(history=tuple(Point.of(at, v) for at, v in points), **kw)


def run(k: KeyResult, metric: MetricState, at=HALFWAY, objective=COMMITTED, override=None):
    return evaluate_kr(k, objective, metric, CYCLE, at, THRESHOLDS, override)


# --------------------------------------------------------------------------- worked examples


def test_expected_progress_is_the_elapsed_share_of_the_window():
    k = kr(start=0, target=100)
    assert expected_progress(k, CYCLE, oslo(2026, 10, 1), 0, "increase") == 0
    assert expected_progress(k, CYCLE, HALFWAY, 0, "increase") == pytest.approx(0.5)
    assert expected_progress(k, CYCLE, oslo(2027, 1, 1), 0, "increase") == 1
    assert expected_progress(k, CYCLE, oslo(2026, 9, 1), 0, "increase") == 0
    assert expected_progress(k, CYCLE, oslo(2027, 3, 1), 0, "increase") == 1
    # due 2026-10-10 inclusive: the window is 10 days, on Oct 6 00:00 five have passed
    assert expected_progress(
        kr(start=0, target=1, due=date(2026, 10, 10)), CYCLE, oslo(2026, 10, 6), 0, "increase"
    ) == pytest.approx(0.5)
    assert expected_progress(kr(kind="at_least", target=5), CYCLE, HALFWAY, None, "at_least") == 1


def test_phases_interpolate_the_expected_value():
    # start 100 -> 130 by the end of Oct 31 (31 days), then -> 200 by the end of the cycle.
    k = kr(start=100, target=200, phases=[{"date": date(2026, 10, 31), "target": 130}])
    # Oct 16 00:00 is 15/31 of phase one: expected value 100 + 30*15/31 = 114.516 -> progress 0.14516
    assert expected_progress(k, CYCLE, oslo(2026, 10, 16), 100, "increase") == pytest.approx(0.14516, abs=1e-4)
    assert expected_progress(k, CYCLE, oslo(2026, 11, 1), 100, "increase") == pytest.approx(0.30)
    result = run(k, state((oslo(2026, 11, 1), 128)), at=oslo(2026, 11, 1))
    assert result.status == Status.ON_TRACK  # 0.28 vs 0.30: on track by phase, off track by plain time (0.337)


def test_increase_progress_and_statuses():
    k = kr(start=75, target=90)

    def at_value(v):
        return run(k, state((HALFWAY, v)))

    assert at_value(82.5).progress == pytest.approx(0.5) and at_value(82.5).status == Status.ON_TRACK
    assert at_value(81).status == Status.ON_TRACK  # gap 0.1 is still on track
    assert at_value(79).status == Status.AT_RISK  # 0.2667: gap 0.233
    assert at_value(78).status == Status.OFF_TRACK  # 0.2: gap 0.3
    assert at_value(90).status == Status.DONE
    over = at_value(95)
    assert over.progress == 1 and over.progress_raw == pytest.approx(4 / 3)
    under = at_value(70)
    assert under.progress == 0 and under.progress_raw == pytest.approx(-1 / 3)


def test_decrease_is_inferred_from_start_and_target():
    result = run(kr(start=40, target=5), state((HALFWAY, 22.5)))
    assert result.kind == "decrease" and result.progress == pytest.approx(0.5) and result.status == Status.ON_TRACK
    assert run(kr(start=40, target=5), state((HALFWAY, 5))).status == Status.DONE


def test_bound_kinds_keep_a_level_and_are_never_done():
    up = run(kr(kind="at_least", target=99.9), state((HALFWAY, 99.95)))
    assert (up.progress, up.status, up.expected) == (1, Status.ON_TRACK, 1)
    assert run(kr(kind="at_least", target=99.9), state((HALFWAY, 99.8))).status == Status.OFF_TRACK
    assert run(kr(kind="at_most", target=2), state((HALFWAY, 2))).status == Status.ON_TRACK
    assert run(kr(kind="at_most", target=2), state((HALFWAY, 2.1))).status == Status.OFF_TRACK
    between = kr(kind="between", min=120, max=250)
    assert [run(between, state((HALFWAY, v))).status for v in (119, 120, 250, 251)] == [
        Status.OFF_TRACK,
        Status.ON_TRACK,
        Status.ON_TRACK,
        Status.OFF_TRACK,
    ]


def test_milestone_is_binary_and_percent_metrics_need_100():
    m = kr(kind="milestone")
    assert run(m, state((HALFWAY, 1))).status == Status.DONE
    assert run(m, state((oslo(2026, 10, 2), 0)), at=oslo(2026, 10, 2)).status == Status.ON_TRACK
    assert run(m, state((HALFWAY, 0))).status == Status.OFF_TRACK
    percent = state((HALFWAY, 60), percent=True)
    assert run(m, percent).target == 100 and run(m, percent).status == Status.OFF_TRACK
    assert run(m, state((HALFWAY, 100), percent=True)).status == Status.DONE


def test_aspirational_expects_seventy_percent():
    k = kr(start=0, target=100)
    end = oslo(2027, 1, 1)
    assert run(k, state((end, 70)), at=end, objective=ASPIRATIONAL).status == Status.ON_TRACK
    assert run(k, state((end, 70)), at=end, objective=COMMITTED).status == Status.OFF_TRACK


def test_start_auto_is_the_first_value_in_the_cycle():
    k = kr(start="auto", target=45)
    result = run(k, state((oslo(2026, 10, 2), 30), (oslo(2026, 11, 1), 35), (HALFWAY, 37.5)))
    assert result.start == 30 and result.progress == pytest.approx(0.5)
    assert run(k, state()).status == Status.NO_DATA


def test_no_data_stale_and_failed_fetch():
    k = kr(start=0, target=10)
    assert run(k, state()).status == Status.NO_DATA
    failed_first = run(k, state(error="HTTP 401"))
    assert failed_first.status == Status.NO_DATA and failed_first.stale and "HTTP 401" in failed_first.stale_reason
    old = run(k, state((HALFWAY - timedelta(hours=37), 5)))
    assert old.stale and old.value == 5 and "older than max_age 36h" in old.stale_reason
    assert not run(k, state((HALFWAY - timedelta(hours=35), 5))).stale
    failing = run(k, state((HALFWAY - timedelta(hours=1), 5), error="timeout"))
    assert failing.stale and failing.value == 5 and failing.status == Status.ON_TRACK
    assert "fetch failed" in failing.stale_reason and failing.error == "timeout"


def test_offset_days_evaluates_at_the_metrics_own_as_of():
    k = kr(start=0, target=92)
    shifted = state((HALFWAY - timedelta(days=10), 36), as_of=HALFWAY - timedelta(days=10))
    result = run(k, shifted)
    assert result.expected == pytest.approx(36 / 92) and not result.stale and result.status == Status.ON_TRACK


def test_forecast_by_least_squares_needs_three_points():
    k = kr(start=0, target=92)
    two = state((oslo(2026, 10, 11), 10), (oslo(2026, 10, 21), 20))
    assert run(k, two).forecast is None
    # one unit a day since Oct 1: 92 at the end of the cycle -> done by the due date (the points are
    # 24 wall-clock hours apart, so the DST change on Oct 25 bends the line by about an hour)
    line = state(*[(oslo(2026, 10, 1) + timedelta(days=d), float(d)) for d in (10, 20, 30, 40)])
    forecast = run(k, line).forecast
    assert forecast.value == pytest.approx(92, abs=0.15) and forecast.progress == pytest.approx(1, abs=2e-3)
    noisy = [Point.of(oslo(2026, 10, 2), 1), Point.of(oslo(2026, 10, 3), 3), Point.of(oslo(2026, 10, 4), 2)]
    # x = 0, 1, 2 days, y = 1, 3, 2: slope 0.5 through the mean (1, 2); at x = 3: 2 + 0.5 * 2 = 3
    assert least_squares(noisy, oslo(2026, 10, 5)) == pytest.approx(3.0)


def test_overrides_replace_the_value():
    result = run(kr(start=0, target=10), state((HALFWAY, 1)), override=Override(9, "from finance", sticky=True))
    assert result.value == 9 and result.override.note == "from finance" and not result.stale


def test_roll_up_is_weighted_and_includes_children():
    parent = Objective(id="p", title="P")
    child = Objective(id="c", title="C", parent="p", weight=2)
    a = run(kr(id="a", start=0, target=10), state((HALFWAY, 10)))  # 1.0
    b = run(kr(id="b", start=0, target=10, weight=3), state((HALFWAY, 2)))  # 0.2
    c = run(kr(id="c1", start=0, target=10), state((HALFWAY, 5)))  # 0.5
    nothing = run(kr(id="n", start=0, target=10), state())
    results = {r.id: r for r in roll_up([parent, child], {"p": [a, b, nothing], "c": [c]}, THRESHOLDS)}
    assert results["c"].progress == pytest.approx(0.5)
    # (1*1.0 + 3*0.2 + 2*0.5) / 6; the no_data KR is left out
    assert results["p"].progress == pytest.approx(2.6 / 6)
    assert results["p"].children == ("c",)
    only_levels = roll_up(
        [Objective(id="x", title="X")], {"x": [run(kr(kind="at_least", target=1), state((HALFWAY, 2)))]}, THRESHOLDS
    )
    assert only_levels[0].status == Status.ON_TRACK


def test_kpi_health_and_trend():
    kpi = Kpi(id="churn", metric="m", healthy={"max": 2.0})
    result = evaluate_kpi(kpi, state((oslo(2026, 10, 1), 1.6), (oslo(2026, 11, 1), 1.9)), oslo(2026, 11, 2), CYCLE)
    assert result.healthy is True and result.trend == pytest.approx(0.3)
    assert evaluate_kpi(kpi, state((HALFWAY, 2.3)), HALFWAY, CYCLE).healthy is False
    assert evaluate_kpi(kpi, state(), HALFWAY, CYCLE).healthy is None


def test_evaluate_whole_config_requires_aware_as_of():
    config = Config(
        version=1,
        cycle=CYCLE,
        objectives=[
            Objective(
                id="o", title="O", key_results=[kr() if False else KeyResult(id="k", metric="m", start=0, target=1)]
            )
        ],
        metrics={},
    )
    result = evaluate(config, {"m": state((HALFWAY, 1))}, HALFWAY)
    assert result.objectives[0].status == Status.DONE
    with pytest.raises(ValueError):
        evaluate(config, {}, HALFWAY.replace(tzinfo=None))


# --------------------------------------------------------------------------- properties

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
moments = st.integers(min_value=-10, max_value=100).map(lambda d: oslo(2026, 10, 1) + timedelta(days=d, hours=7))


@given(start=finite, target=finite, a=finite, b=finite)
def test_progress_is_monotone_in_value_towards_the_target(start, target, a, b):
    assume(start != target)
    lo, hi = sorted((a, b))
    if target > start:
        assert linear_progress(lo, start, target) <= linear_progress(hi, start, target)
    else:
        assert linear_progress(lo, start, target) >= linear_progress(hi, start, target)


@given(start=finite, target=finite, value=finite, at=moments)
def test_progress_and_expected_are_bounded(start, target, value, at):
    assume(start != target)
    result = run(kr(start=start, target=target), state((at, value)), at=at)
    assert 0 <= result.progress <= 1 and 0 <= result.expected <= 1


@given(start=finite, target=finite, value=finite)
def test_direction_symmetry(start, target, value):
    """Mirroring every number around zero turns an increase into a decrease with the same progress."""
    assume(abs(start - target) > 1e-6)
    assert linear_progress(value, start, target) == pytest.approx(linear_progress(-value, -start, -target))
    up = run(kr(start=start, target=target), state((HALFWAY, value)))
    down = run(kr(start=-start, target=-target), state((HALFWAY, -value)))
    assert up.status == down.status and {up.kind, down.kind} == {"increase", "decrease"}


@given(a=moments, b=moments, due=st.integers(min_value=0, max_value=91))
def test_expected_is_monotone_in_time(a, b, due):
    k = kr(start=0, target=1, due=date(2026, 10, 1) + timedelta(days=due))
    early, late = sorted((a, b))
    assert expected_progress(k, CYCLE, early, 0, "increase") <= expected_progress(k, CYCLE, late, 0, "increase")


@given(
    values=st.lists(st.tuples(finite, st.floats(min_value=0.1, max_value=10)), min_size=1, max_size=8),
    child=st.one_of(st.none(), finite),
)
def test_roll_up_lies_within_its_members(values, child):
    objectives = [Objective(id="p", title="P")]
    results = {
        "p": [
            run(kr(id=f"k{i}", start=0, target=100, weight=w), state((HALFWAY, v))) for i, (v, w) in enumerate(values)
        ]
    }
    members = [r.progress for r in results["p"]]
    if child is not None:
        objectives.append(Objective(id="c", title="C", parent="p"))
        results["c"] = [run(kr(id="c0", start=0, target=100), state((HALFWAY, child)))]
        members.append(results["c"][0].progress)
    parent = roll_up(objectives, results, THRESHOLDS)[0]
    assert min(members) - 1e-9 <= parent.progress <= max(members) + 1e-9
