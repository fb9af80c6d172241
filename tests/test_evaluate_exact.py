"""Worked examples compared field by field: every number and flag of a result is what the rules of docs/okr-semantics.md
give by hand, so a rule changed anywhere (a bound, a field, a threshold) fails here. Kept apart from
test_evaluate.py, which shows one rule per test."""

import dataclasses
from datetime import date, timedelta

import pytest

from okrsync.config import Config, KeyResult, Kpi, Objective, StatusThresholds
from okrsync.okr.evaluate import evaluate, evaluate_kpi, evaluate_kr, human_duration, roll_up
from okrsync.okr.results import (
    AlignedChild,
    Forecast,
    KpiResult,
    KrResult,
    MetricError,
    ObjectiveResult,
    Override,
    Status,
)
from tests.helpers import CYCLE, HALFWAY, THRESHOLDS, oslo, state  # HALFWAY: 46 of 92 days, expected exactly 0.5


def line(*values):
    """Values 5 days apart ending at HALFWAY (all after the October DST change: evenly spaced)."""
    n = len(values)
    return state(*[(HALFWAY - timedelta(days=5 * (n - 1 - i)), v) for i, v in enumerate(values)])


def test_an_increase_kr_field_by_field():
    kr = KeyResult(id="k", title="Signups", metric="m", start=0, target=100, weight=2)
    result = evaluate_kr(kr, Objective(id="o", title="O"), line(25, 30, 35, 40), CYCLE, HALFWAY, THRESHOLDS)
    assert result.forecast.value == pytest.approx(86)  # 1 a day from 25 on Nov 1: 86 on Jan 1
    assert result.forecast.progress == pytest.approx(0.86)
    assert dataclasses.replace(result, forecast=None) == KrResult(
        id="k",
        objective_id="o",
        metric="m",
        kind="increase",
        title="Signups",
        weight=2,
        value=40,
        start=0,
        target=100,
        min=None,
        max=None,
        progress=0.4,
        progress_raw=0.4,
        expected=0.5,
        status=Status.ON_TRACK,
        stale=False,
        stale_reason=None,
        error=None,
        observed_at=HALFWAY,
        due=None,
        forecast=None,
        override=None,
        judged_against=0.5,
    )  # gap exactly 0.10: on track


def test_a_failed_fetch_with_an_override_and_a_level():
    level = KeyResult(id="lat", metric="m", kind="between", min=120, max=250, due=date(2026, 12, 15))
    failed = state((HALFWAY - timedelta(hours=2), 260), error="HTTP 503", connection="api")
    result = evaluate_kr(level, Objective(id="o", title="O", kind="aspirational"), failed, CYCLE, HALFWAY, THRESHOLDS)
    assert result == KrResult(
        id="lat",
        objective_id="o",
        metric="m",
        kind="between",
        title=None,
        weight=1,
        value=260,
        start=None,
        target=None,
        min=120,
        max=250,
        progress=0,
        progress_raw=0,
        expected=1,
        status=Status.OFF_TRACK,
        stale=True,
        stale_reason="fetch failed, showing the value from 2026-11-15: HTTP 503",
        error="HTTP 503",
        observed_at=HALFWAY - timedelta(hours=2),
        due=date(2026, 12, 15),
        forecast=None,
        override=None,
        judged_against=1,
    )  # a level is judged against holding, never 0.7 of it
    manual = evaluate_kr(
        KeyResult(id="k", metric="m", start=0, target=10),
        Objective(id="o", title="O"),
        failed,
        CYCLE,
        HALFWAY,
        THRESHOLDS,
        Override(9, "from finance"),
    )
    assert (manual.value, manual.stale, manual.stale_reason, manual.observed_at, manual.status) == (
        9,
        False,
        None,
        HALFWAY,
        Status.DONE if 9 >= 10 else Status.ON_TRACK,
    )
    nothing = evaluate_kr(level, Objective(id="o", title="O"), state(error="timeout"), CYCLE, HALFWAY, THRESHOLDS)
    assert (nothing.status, nothing.stale, nothing.stale_reason, nothing.value) == (
        Status.NO_DATA,
        True,
        "no value yet: timeout",
        None,
    )
    quiet = evaluate_kr(level, Objective(id="o", title="O"), state(), CYCLE, HALFWAY, THRESHOLDS)
    assert (quiet.stale, quiet.stale_reason) == (False, None)


def test_kpi_bounds_are_inclusive_and_fields_exact():
    kpi = Kpi(id="q", metric="m", title="Queue", healthy={"min": 10, "max": 20})
    earlier, now = HALFWAY - timedelta(days=1), HALFWAY
    for value, healthy in ((10, True), (20, True), (9.99, False), (20.01, False)):
        got = evaluate_kpi(kpi, state((earlier, 15), (now, value)), HALFWAY, CYCLE)
        assert got == KpiResult(
            id="q",
            metric="m",
            title="Queue",
            value=value,
            healthy=healthy,
            trend=pytest.approx(value - 15),
            min=10,
            max=20,
            stale=False,
            stale_reason=None,
            error=None,
            observed_at=now,
        )
    old = evaluate_kpi(kpi, state((HALFWAY - timedelta(days=2), 12)), HALFWAY, CYCLE)
    assert (old.stale, old.stale_reason, old.trend) == (
        True,
        "newest value is from 2026-11-14, older than max_age 36h",
        None,
    )
    failing = evaluate_kpi(kpi, state(error="boom"), HALFWAY, CYCLE)
    assert failing == KpiResult(
        id="q",
        metric="m",
        title="Queue",
        value=None,
        healthy=None,
        trend=None,
        min=10,
        max=20,
        stale=True,
        error="boom",
    )
    assert evaluate_kpi(kpi, state(), HALFWAY, CYCLE).stale is False


def test_max_age_is_written_back_as_the_config_spells_it():
    spelt = {129600: "36h", 691200: "8d", 5400: "90m", 90: "90s", 86400: "1d", 3600: "1h", 60: "1m"}
    assert {seconds: human_duration(timedelta(seconds=seconds)) for seconds in spelt} == spelt


def test_a_whole_config_with_thresholds_children_aligned_and_errors():
    config = Config(
        version=1,
        cycle=CYCLE,
        status=StatusThresholds(on_track_within=0.05, at_risk_within=0.2),
        metrics={},
        objectives=[
            Objective(id="p", title="P", key_results=[KeyResult(id="a", metric="up", start=0, target=100)]),
            Objective(
                id="c",
                title="C",
                parent="p",
                weight=3,
                key_results=[
                    KeyResult(id="b", metric="gone", start=0, target=10),
                    KeyResult(id="d", metric="manual", start=0, target=10),
                ],
            ),
        ],
        kpis=[Kpi(id="h", metric="up", healthy={"max": 50})],
    )
    metrics = {"up": state((HALFWAY, 40)), "manual": state((HALFWAY, 1)), "gone": state(error="401", connection="crm")}
    aligned = {"p": [AlignedChild("team/x", 1, 0.5, 0.5, "on_track")]}
    result = evaluate(config, metrics, HALFWAY, {"d": Override(2)}, aligned, {"c": "parent note"})
    assert (result.cycle, result.as_of) == ("Q4", HALFWAY)
    assert result.errors == (MetricError("gone", "crm", "401"),)
    assert result.kpis[0].healthy is True and result.kpis[0].value == 40
    p, c = result.objectives
    assert [kr.value for kr in c.key_results] == [None, 2]  # the override, and a KR of a failed metric
    assert (c.progress, c.expected, c.status, c.parent_note) == (0.2, 0.5, Status.OFF_TRACK, "parent note")
    # p: a (0.4, weight 1), c (0.2, weight 3), team/x (0.5, weight 1) -> 1.5 / 5 = 0.3 against 0.5: gap 0.2
    assert (p.progress, p.expected, p.status) == (pytest.approx(0.3), 0.5, Status.AT_RISK)
    assert p.children == ("c", "team/x") and p.key_results[0].status == Status.AT_RISK  # 0.1 > 0.05
    with pytest.raises(ValueError, match="^as_of must be timezone-aware$"):
        evaluate(config, {}, HALFWAY.replace(tzinfo=None))


def test_objective_before_any_data_expects_the_mean_of_its_moving_members():
    o = Objective(id="o", title="O")
    krs = [
        evaluate_kr(KeyResult(id="a", metric="m", start=0, target=1), o, state(), CYCLE, HALFWAY, THRESHOLDS),
        evaluate_kr(
            KeyResult(id="b", metric="m", start=0, target=1, due=date(2026, 11, 16)),
            o,
            state(),
            CYCLE,
            HALFWAY,
            THRESHOLDS,
        ),
        evaluate_kr(KeyResult(id="l", metric="m", kind="at_least", target=1), o, state(), CYCLE, HALFWAY, THRESHOLDS),
    ]
    (result,) = roll_up([o], {"o": krs}, THRESHOLDS)
    assert result == ObjectiveResult(
        "o",
        "O",
        None,
        "committed",
        None,
        None,
        pytest.approx((0.5 + 46 / 47) / 2),
        Status.NO_DATA,
        tuple(krs),
        (),
        1.0,
        None,
        pytest.approx((0.5 + 46 / 47) / 2),
        False,
    )  # the level's 100 % stays out; no members with data: not levels_only either
    (levels,) = roll_up([o], {"o": krs[2:]}, THRESHOLDS)
    assert (levels.expected, levels.progress, levels.status) == (0.0, None, Status.NO_DATA)
    assert Forecast(1, 1) == Forecast(1.0, 1.0)


def test_interpolate_is_flat_outside_its_points():
    from okrsync.okr.evaluate import interpolate

    t = [oslo(2026, 10, 1), oslo(2026, 10, 11), oslo(2026, 10, 21)]
    points = [(t[0], 0.0), (t[1], 10.0), (t[2], 30.0)]
    before, after = t[0] - timedelta(days=1), t[2] + timedelta(days=1)
    assert [interpolate(points, at) for at in (before, t[0], t[1], t[2], after)] == [0, 0, 10, 30, 30]
    assert interpolate(points, oslo(2026, 10, 16)) == 20


def test_kinds_inferred_and_degenerate_targets():
    o = Objective(id="o", title="O")

    def one(kr, metric):
        return evaluate_kr(kr, o, metric, CYCLE, HALFWAY, THRESHOLDS)

    assert one(KeyResult(id="k", metric="m", start="auto", target=5), state()).kind == "increase"  # no start yet
    flat = KeyResult(id="k", metric="m", start=5, target=5)
    assert [(r.kind, r.progress_raw) for r in (one(flat, line(v)) for v in (4, 5, 6))] == [
        ("increase", 0),
        ("increase", 1),
        ("increase", 1),
    ]
    assert one(KeyResult(id="k", metric="m", start=5, target=4), line(5)).kind == "decrease"
    held = one(KeyResult(id="k", metric="m", kind="at_least", target=1), line(1, 2, 3))
    assert (held.progress_raw, held.forecast.progress) == (1, 1)  # a level's forecast: will it still hold
    done = one(KeyResult(id="k", metric="m", kind="milestone"), line(3))
    assert (done.progress_raw, done.status) == (1, Status.DONE)  # a binary milestone counts 1, not 3
    flat_phases = KeyResult(id="k", metric="m", start=10, target=10, phases=[{"date": date(2026, 11, 1), "target": 10}])
    assert one(flat_phases, line(10)).expected == 0.5  # nothing to interpolate: the elapsed share


def test_phases_run_to_the_target_after_the_last_check_point():
    kr = KeyResult(id="k", metric="m", start=0, target=100, phases=[{"date": date(2026, 10, 31), "target": 60}])
    late = evaluate_kr(kr, Objective(id="o", title="O"), line(80), CYCLE, HALFWAY, THRESHOLDS)
    # Nov 1 00:00 (60) to Jan 1 00:00 (100): 15 of 61 days later -> 60 + 40 x 15/61
    assert late.expected == pytest.approx((60 + 40 * 15 / 61) / 100)


def test_milestone_check_points_take_the_latest_passed_one():
    o = Objective(id="o", title="O")
    phases = [{"date": date(2026, 11, 1), "target": 60}, {"date": date(2026, 10, 15), "target": 30}]
    kr = KeyResult(id="k", metric="m", kind="milestone", phases=phases)
    result = evaluate_kr(kr, o, state((HALFWAY, 55), percent=True), CYCLE, HALFWAY, THRESHOLDS)
    assert (result.expected, result.progress, result.status) == (0.6, 0.55, Status.ON_TRACK)
    zero = KeyResult(id="z", metric="m", kind="milestone", target=0, phases=[{"date": date(2026, 10, 15), "target": 0}])
    assert evaluate_kr(zero, o, state((HALFWAY, 0)), CYCLE, HALFWAY, THRESHOLDS).expected == 1


def ten(id, metric):
    return KeyResult(id=id, metric=metric, start=0, target=10)


def test_missing_metrics_and_three_level_trees():
    config = Config(
        version=1,
        cycle=CYCLE,
        metrics={},
        objectives=[
            Objective(id="top", title="Top", owner="ceo"),
            Objective(id="mid", title="Mid", parent="top", owner="vp", key_results=[ten("a", "x")]),
            Objective(id="low", title="Low", parent="mid", key_results=[ten("b", "y")]),
        ],
        kpis=[Kpi(id="k", metric="nowhere", healthy={"min": 0})],
    )
    result = evaluate(config, {"y": state((HALFWAY, 5))}, HALFWAY)
    top, mid, low = result.objectives
    assert mid.key_results[0].status == Status.NO_DATA and result.kpis[0].value is None  # no state: no data
    assert (low.progress, mid.progress, top.progress) == (0.5, 0.5, 0.5)  # through the middle level
    assert (top.owner, top.parent, mid.owner, mid.parent, top.children, mid.children) == (
        "ceo",
        None,
        "vp",
        "top",
        ("mid",),
        ("low",),
    )
    loop = [Objective(id="a", title="A", parent="b"), Objective(id="b", title="B", parent="a")]
    assert [r.id for r in roll_up(loop, {}, THRESHOLDS)] == ["a", "b"]  # a parent loop ends


def test_forecast_reads_only_the_window_and_never_a_milestone():
    o = Objective(id="o", title="O")
    kr = KeyResult(id="k", metric="m", start=0, target=100, start_date=date(2026, 11, 1))
    before = [(oslo(2026, 10, d), 1000.0) for d in (5, 10, 15)]  # wild values before the KR's window
    inside = [(HALFWAY - timedelta(days=5 * (3 - i)), 25.0 + 5 * i) for i in range(4)]  # 1 a day from Nov 1
    result = evaluate_kr(kr, o, state(*before, *inside), CYCLE, HALFWAY, THRESHOLDS)
    assert result.forecast.value == pytest.approx(86)
    milestone = KeyResult(id="m", metric="m", kind="milestone", target=100)
    assert evaluate_kr(milestone, o, line(10, 20, 30, 40), CYCLE, HALFWAY, THRESHOLDS).forecast is None


def test_boundaries_of_max_age_fits_and_aligned_levels():
    from okrsync.okr.evaluate import fit_line

    o = Objective(id="o", title="O")
    kr = KeyResult(id="k", metric="m", start=0, target=10)
    exactly = evaluate_kr(kr, o, state((HALFWAY - timedelta(hours=36), 5)), CYCLE, HALFWAY, THRESHOLDS)
    assert not exactly.stale  # exactly max_age old is still fresh: stale means older
    assert fit_line([0.0, 0.0, 86400.0, 86400.0], [1.0, 1.0, 2.0, 2.0], 2 * 86400.0) is None  # 2 distinct days
    assert fit_line([0.0, 86400.0, 2 * 86400.0], [1.0, 2.0, 3.0], 3 * 86400.0) == pytest.approx(4)
    levels = AlignedChild("team/uptime", 1, 1.0, 1.0, "on_track", levels_only=True)
    moving = evaluate_kr(kr, o, state((HALFWAY, 5)), CYCLE, HALFWAY, THRESHOLDS)
    (result,) = roll_up([o], {"o": [moving]}, THRESHOLDS, {"o": [levels]})
    assert (result.progress, result.expected) == (0.5, 0.5)  # the aligned level stays out of the means


def test_the_same_moment_in_another_zone_gives_the_same_result():
    """A stored run's as_of comes back in UTC; re-evaluating it must not shift expected by the DST hour."""
    config = Config(
        version=1, cycle=CYCLE, metrics={}, objectives=[Objective(id="o", title="O", key_results=[ten("a", "m")])]
    )
    from datetime import UTC

    oslo_time = evaluate(config, {"m": state((HALFWAY, 5))}, HALFWAY)
    utc_time = evaluate(config, {"m": state((HALFWAY, 5))}, HALFWAY.astimezone(UTC))
    assert utc_time.key_results()[0].expected == oslo_time.key_results()[0].expected == 0.5
