"""OKR semantics: worked examples checked by hand, and properties checked by hypothesis."""

from datetime import date, timedelta

import pytest

from okrsync.config import Config, KeyResult, Kpi, Objective
from okrsync.okr.evaluate import (
    Override,
    Point,
    Status,
    evaluate,
    evaluate_kpi,
    expected_progress,
    least_squares,
    roll_up,
)
from tests.helpers import COMMITTED, CYCLE, HALFWAY, THRESHOLDS, kr, level, moving, oslo, run, state

ASPIRATIONAL = Objective(id="o", title="O", kind="aspirational")


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


def test_milestone_is_on_track_until_due_and_off_track_once_past_due():
    m = kr(kind="milestone", due=date(2026, 11, 15))
    assert run(m, state((oslo(2026, 11, 10), 1)), at=oslo(2026, 11, 10)).status == Status.DONE
    weeks_before = run(m, state((oslo(2026, 10, 20), 0)), at=oslo(2026, 10, 20))
    assert (weeks_before.status, weeks_before.expected, weeks_before.progress) == (Status.ON_TRACK, 0, 0)
    last_day = oslo(2026, 11, 15, 23, 59)  # the due day is inclusive
    assert run(m, state((last_day, 0)), at=last_day).status == Status.ON_TRACK
    past_due = run(m, state((oslo(2026, 11, 16), 0)), at=oslo(2026, 11, 16))
    assert (past_due.status, past_due.expected) == (Status.OFF_TRACK, 1)
    done_late = run(m, state((oslo(2026, 11, 20), 1)), at=oslo(2026, 11, 20))
    assert done_late.status == Status.DONE


def test_percent_milestone_uses_its_share_and_its_check_points():
    m = kr(kind="milestone", due=date(2026, 12, 15), phases=[{"date": date(2026, 10, 31), "target": 50}])
    at = oslo(2026, 11, 2)

    def status_at(value, when=at, objective=COMMITTED):
        return run(m, state((when, value), percent=True), at=when, objective=objective)

    early = status_at(10, oslo(2026, 10, 20))
    assert (early.target, early.progress, early.expected, early.status) == (100, 0.1, 0, Status.ON_TRACK)
    assert status_at(45).expected == 0.5 and status_at(45).status == Status.ON_TRACK  # gap 0.05
    assert status_at(40).status == Status.ON_TRACK  # gap 0.10 exactly: on the boundary, on track
    assert status_at(30).status == Status.AT_RISK  # gap 0.20
    assert status_at(25).status == Status.AT_RISK  # gap 0.25 exactly
    assert status_at(20).status == Status.OFF_TRACK  # gap 0.30
    aspirational = status_at(20, objective=ASPIRATIONAL)  # judged against 0.7 x 0.5: gap 0.15
    assert (aspirational.status, aspirational.judged_against) == (Status.AT_RISK, pytest.approx(0.35))
    assert status_at(100).status == Status.DONE
    assert status_at(90, oslo(2026, 12, 16)).status == Status.OFF_TRACK  # past due and not done


def test_binary_milestone_misses_a_check_point():
    m = kr(kind="milestone", phases=[{"date": date(2026, 11, 1), "target": 1}])  # due by 11-01, tracked to the end
    assert run(m, state((oslo(2026, 11, 1, 12), 0)), at=oslo(2026, 11, 1, 12)).status == Status.ON_TRACK
    missed = run(m, state((oslo(2026, 11, 2), 0)), at=oslo(2026, 11, 2))
    assert (missed.expected, missed.status) == (1, Status.OFF_TRACK)


def test_aspirational_expects_seventy_percent():
    k = kr(start=0, target=100)
    end = oslo(2027, 1, 1)
    assert run(k, state((end, 70)), at=end, objective=ASPIRATIONAL).status == Status.ON_TRACK
    assert run(k, state((end, 70)), at=end, objective=COMMITTED).status == Status.OFF_TRACK


def test_start_auto_is_the_first_value_in_the_window():
    k = kr(start="auto", target=45)
    result = run(k, state((oslo(2026, 10, 2), 30), (oslo(2026, 11, 1), 35), (HALFWAY, 37.5)))
    assert result.start == 30 and result.progress == pytest.approx(0.5)
    assert result.expected == pytest.approx(45 / 91)  # counted from Oct 2, the day of the first value
    assert run(k, state()).status == Status.NO_DATA
    late = kr(start="auto", target=45, start_date=date(2026, 11, 1))  # values before the window do not count
    in_window = run(late, state((oslo(2026, 10, 2), 30), (oslo(2026, 11, 1, 6), 35), (HALFWAY, 40)))
    assert in_window.start == 35 and in_window.progress == pytest.approx(0.5)
    before_window = run(late, state((oslo(2026, 10, 2), 30)), at=oslo(2026, 10, 20))
    assert before_window.status == Status.NO_DATA and before_window.start is None


def test_start_auto_adopted_mid_cycle_is_on_track_on_its_first_day():
    """Adopting okrsync on Nov 16 with start: auto: the KR is expected to move from that day on."""
    k = kr(start="auto", target=100)
    first_day = run(k, state((HALFWAY + timedelta(hours=6), 40)), at=HALFWAY + timedelta(hours=6))
    assert (first_day.start, first_day.status) == (40, Status.ON_TRACK) and first_day.expected < 0.01
    week_later = HALFWAY + timedelta(days=23)  # half of the 46 days from Nov 16 to the end
    result = run(k, state((HALFWAY, 40), (week_later, 70)), at=week_later)
    assert result.expected == pytest.approx(0.5) and result.progress == pytest.approx(0.5)


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


def test_an_override_before_any_value_is_the_start_of_an_auto_kr():
    """start: auto with no value in the window yet: the lead's 5 is the first value known, so the KR
    starts there today (progress 0, expected from today's start: a few hours of 46 days, on track)."""
    result = run(kr(start="auto", target=10), state(), at=HALFWAY + timedelta(hours=12), override=Override(5.0))
    assert (result.value, result.start, result.progress, result.status) == (5.0, 5.0, 0.0, Status.ON_TRACK)
    assert result.expected == pytest.approx(0.5 / 46)  # 12 hours of the 46 days from Nov 16 to Dec 31


def test_forecast_goes_through_the_override():
    """Values 0, 10, 20 on Oct 2, 12, 22; the lead overrides Nov 1's 5 (a wrong fetch) with 30: the line
    is one unit a day again, so 91 at the end (Jan 1 lies 91 days after Oct 2) instead of a bent one."""
    k = kr(start=0, target=91)
    days = [oslo(2026, 10, 2) + timedelta(days=d) for d in (0, 10, 20, 30)]
    metric = state(*zip(days, (0, 10, 20, 5), strict=True))
    plain = run(k, metric, at=days[3])
    overridden = run(k, metric, at=days[3], override=Override(30))
    assert plain.forecast.value < 60
    assert overridden.forecast.value == pytest.approx(91, abs=0.1)  # the DST hour bends it a little


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


def test_levels_do_not_enter_progress_or_expected():
    """Day 4 of the quarter: one KR at 3 % (expected 3.3 %) and two holding levels. The objective expects
    3.3 %, not 43 %, and is on track."""
    day4 = oslo(2026, 10, 4)
    o = Objective(id="o", title="O")
    (result,) = roll_up([o], {"o": [moving("a", 3, at=day4), level("u", True), level("l", True)]}, THRESHOLDS)
    assert result.expected == pytest.approx(3 / 92) and result.progress == pytest.approx(0.03)
    assert result.status == Status.ON_TRACK and not result.levels_only


def test_a_broken_level_caps_at_at_risk_but_never_sinks_an_objective():
    o = Objective(id="o", title="O")
    on_track = roll_up([o], {"o": [moving("a", 50), moving("b", 45), level("u", False)]}, THRESHOLDS)[0]
    assert on_track.status == Status.AT_RISK and on_track.progress == pytest.approx(0.475)
    done = roll_up([o], {"o": [moving("a", 100), level("u", False)]}, THRESHOLDS)[0]
    assert done.status == Status.AT_RISK  # not done while a level is broken
    assert roll_up([o], {"o": [moving("a", 100), level("u", True)]}, THRESHOLDS)[0].status == Status.DONE
    off = roll_up([o], {"o": [moving("a", 0), level("u", False)]}, THRESHOLDS)[0]
    assert off.status == Status.OFF_TRACK  # off track by its moving KR, not by the level


def test_objective_of_levels_only_and_its_parent():
    parent, child = Objective(id="p", title="P"), Objective(id="c", title="C", parent="p", weight=3)
    statuses = {}
    for held in (2, 1, 0):
        levels = [level("x", held >= 1), level("y", held >= 2)]
        res = {r.id: r for r in roll_up([parent, child], {"p": [moving("a", 50)], "c": levels}, THRESHOLDS)}
        statuses[held] = res["c"].status
        assert res["c"].levels_only and res["c"].expected == 1 and res["c"].progress == held / 2
        assert res["p"].progress == pytest.approx(0.5) and res["p"].expected == pytest.approx(0.5)  # a level to p
        assert res["p"].status == (Status.ON_TRACK if held == 2 else Status.AT_RISK)
    assert statuses == {2: Status.ON_TRACK, 1: Status.AT_RISK, 0: Status.OFF_TRACK}


def test_aspirational_objective_reports_what_it_is_judged_against():
    o = Objective(id="o", title="O", kind="aspirational")
    end = oslo(2027, 1, 1)
    (result,) = roll_up([o], {"o": [run(kr(start=0, target=100), state((end, 60)), at=end, objective=o)]}, THRESHOLDS)
    assert (result.expected, result.judged_against) == (1, pytest.approx(0.7))
    assert result.status == Status.ON_TRACK  # 0.7 - 0.6 = 0.10: the boundary is on track
    (kr_result,) = result.key_results
    assert kr_result.judged_against == pytest.approx(0.7) and kr_result.expected == 1
    committed = roll_up([COMMITTED], {"o": [run(kr(start=0, target=100), state((end, 60)), at=end)]}, THRESHOLDS)
    assert committed[0].status == Status.OFF_TRACK and committed[0].judged_against == 1


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
