"""Property tests of the OKR rules (hypothesis): bounds, monotony, symmetry, roll-ups and levels."""

from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from okrsync.config import Objective
from okrsync.okr.evaluate import Status, expected_progress, linear_progress, roll_up
from tests.helpers import CYCLE, HALFWAY, THRESHOLDS, kr, level, moving, oslo, run, state

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


@given(
    members=st.lists(st.tuples(finite, st.floats(min_value=0.1, max_value=10)), min_size=1, max_size=6),
    levels=st.lists(st.tuples(st.booleans(), st.floats(min_value=0.1, max_value=10)), min_size=1, max_size=4),
    aspirational=st.booleans(),
)
def test_levels_never_move_the_means_and_only_cap_the_status(members, levels, aspirational):
    """Adding levels to an objective with moving KRs leaves progress and expected alone; all holding they
    change nothing, any broken one gives at most at_risk (never worse than the moving KRs alone)."""
    o = Objective(id="o", title="O", kind="aspirational" if aspirational else "committed")
    krs = [moving(f"k{i}", v, w) for i, (v, w) in enumerate(members)]
    lv = [level(f"l{i}", held, w) for i, (held, w) in enumerate(levels)]
    alone = roll_up([o], {"o": krs}, THRESHOLDS)[0]
    mixed = roll_up([o], {"o": krs + lv}, THRESHOLDS)[0]
    assert (mixed.progress, mixed.expected) == (alone.progress, alone.expected)
    order = [Status.DONE, Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK]
    if all(held for held, _ in levels):
        assert mixed.status == alone.status
    else:
        assert mixed.status == max(alone.status, Status.AT_RISK, key=order.index)


@given(value=st.floats(min_value=0, max_value=100), day=st.integers(min_value=0, max_value=91))
def test_a_milestone_is_never_off_track_before_its_due_date_without_check_points(value, day):
    at = oslo(2026, 10, 1) + timedelta(days=day, hours=12)
    m = kr(kind="milestone", due=date(2026, 12, 1))
    result = run(m, state((at, value), percent=True), at=at)
    if at < oslo(2026, 12, 2):
        assert result.status in (Status.ON_TRACK, Status.DONE) and result.expected == 0
    else:
        assert result.status == (Status.DONE if value >= 100 else Status.OFF_TRACK) and result.expected == 1
