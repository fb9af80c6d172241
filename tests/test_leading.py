"""Leading indicators (okrsync.okr.leading, docs/okr-semantics.md "Leading indicators"): weekly values and
changes, the pairs at each lag, Pearson's r, the evidence rule and its wording. Every expected r is worked
out by hand below, with the arithmetic written out; the properties are checked with hypothesis."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from okrsync.okr.leading import (
    NOT_ENOUGH_EVIDENCE,
    LagCorrelation,
    Lead,
    NoEvidence,
    correlations,
    describe,
    leading_indicator,
    week_of,
    weekly_changes,
    weekly_values,
)
from tests.helpers import REPO

AS_OF = date(2026, 12, 10)  # a Thursday: the weeks end on Thursdays

# The worked example of the docs: weekly values on the Thursdays Oct 1 .. Dec 10 (weeks -10 .. 0)
TRAFFIC = [2, 14, 23, 36, 46, 57, 65, 79, 90, 101, 112]
SIGNUPS = [1, 11, 21, 33, 42, 53, 61, 72, 80, 92, 101]


def on_thursdays(values: list[float], as_of: date = AS_OF) -> dict[date, float]:
    """Weekly values, oldest first, each stored on the last day of its week (the newest on ``as_of``)."""
    n = len(values)
    return {as_of - timedelta(days=7 * (n - 1 - i)): v for i, v in enumerate(values)}


def running(changes: list[float], start: float = 0) -> list[float]:
    """The weekly values that start at ``start`` and move by ``changes``."""
    values = [start]
    for change in changes:
        values.append(values[-1] + change)
    return values


def find(lead: dict[date, float], kr: dict[date, float]) -> Lead | NoEvidence:
    return leading_indicator(lead, kr, AS_OF, leading_name="traffic", kr_name="signups")


# --- weeks and changes --------------------------------------------------------------------------------------


def test_weeks_are_seven_day_blocks_ending_on_the_as_of_day():
    assert week_of(date(2026, 12, 10), AS_OF) == 0
    assert week_of(date(2026, 12, 4), AS_OF) == 0  # Dec 4..Dec 10
    assert week_of(date(2026, 12, 3), AS_OF) == -1  # Nov 27..Dec 3
    assert week_of(date(2026, 11, 27), AS_OF) == -1
    assert week_of(date(2026, 11, 26), AS_OF) == -2


def test_a_weeks_value_is_its_newest_synced_day_and_later_days_are_not_read():
    daily = {date(2026, 12, d): float(d) for d in range(1, 13)}  # Dec 1..12, the value is the day
    del daily[date(2026, 12, 10)]  # the as-of day's run is missing: the week's value is Dec 9's
    assert weekly_values(daily, AS_OF) == {0: 9.0, -1: 3.0}  # Dec 11 and 12 lie after the as-of day


def test_a_missing_week_takes_out_the_change_into_it_and_out_of_it():
    weekly = {-4: 10.0, -3: 13.0, -1: 20.0, 0: 26.0}  # week -2 has no value: nothing is interpolated
    assert weekly_changes(weekly) == {-3: 3.0, 0: 6.0}


# --- worked examples ----------------------------------------------------------------------------------------


def test_the_worked_example_by_hand():
    """Weekly changes (weeks -9..0): traffic 12, 9, 13, 10, 11, 8, 14, 11, 11, 11; signups 10, 10, 12, 9, 11,
    8, 11, 8, 12, 9. At every lag below the means are whole: traffic 11, signups 10.

    lag 2 (8 pairs): traffic weeks -9..-2 = 12 9 13 10 11 8 14 11 (sum 88, mean 11), deviations
    1 -2 2 -1 0 -3 3 0 (squares 1+4+4+1+0+9+9+0 = 28); signups weeks -7..0 = 12 9 11 8 11 8 12 9 (sum 80, mean
    10), deviations 2 -1 1 -2 1 -2 2 -1 (squares 4+1+1+4+1+4+4+1 = 20); products 2+2+2+2+0+6+6+0 = 20:
    r = 20 / sqrt(28 * 20) = 20 / sqrt(560) = 0.8452.
    lag 1 (9 pairs): traffic weeks -9..-1 = 12 9 13 10 11 8 14 11 11 (sum 99, mean 11), deviations
    1 -2 2 -1 0 -3 3 0 0 (squares 28); signups weeks -8..0 = 10 12 9 11 8 11 8 12 9 (sum 90, mean 10),
    deviations 0 2 -1 1 -2 1 -2 2 -1 (squares 0+4+1+1+4+1+4+4+1 = 20); products 0-4-2-1+0-3-6+0+0 = -16:
    r = -16 / sqrt(560) = -0.6761.
    lag 0 (10 pairs): traffic deviations 1 -2 2 -1 0 -3 3 0 0 0 (squares 28); signups 10 10 12 9 11 8 11 8 12 9
    (sum 100, mean 10), deviations 0 0 2 -1 1 -2 1 -2 2 -1 (squares 20); products 0+0+4+1+0+6+3+0+0+0 = 14:
    r = 14 / sqrt(560) = 0.5916.
    lags 3 and 4: 10 - 3 = 7 and 10 - 4 = 6 pairs, too few to count.
    The largest |r| among the lags that count is lag 2's, and 0.8452 >= 0.6."""
    found = correlations(on_thursdays(TRAFFIC), on_thursdays(SIGNUPS), AS_OF)
    assert [c.pairs for c in found] == [10, 9, 8, 7, 6]
    assert found[0].r == pytest.approx(14 / math.sqrt(560))
    assert found[1].r == pytest.approx(-16 / math.sqrt(560))
    assert found[2].r == pytest.approx(20 / math.sqrt(560))
    result = find(on_thursdays(TRAFFIC), on_thursdays(SIGNUPS))
    assert result == Lead(2, pytest.approx(20 / math.sqrt(560)), 8, "traffic leads signups by 2 weeks, r = 0.85")


def test_the_worked_example_without_the_week_ending_nov_19():
    """No synced day Nov 13..19 (week -3) in either series: the changes of weeks -3 and -2 are gone. Lag 0 keeps
    weeks -9..-4, -1, 0 (8 pairs); lag 1 the t in -9..-5 and -1 (6); lags 2..4 four each.
    Lag 0's pairs: traffic 12 9 13 10 11 8 11 11, signups 10 10 12 9 11 8 12 9.
    sum x = 85, sum y = 81, sum xy = 120+90+156+90+121+64+132+99 = 872,
    sum x^2 = 144+81+169+100+121+64+121+121 = 921, sum y^2 = 100+100+144+81+121+64+144+81 = 835.
    r = (8*872 - 85*81) / sqrt((8*921 - 85^2) * (8*835 - 81^2)) = (6976 - 6885) / sqrt((7368 - 7225) * (6680 -
    6561)) = 91 / sqrt(143 * 119) = 91 / sqrt(17017) = 0.6976."""
    lead, kr = on_thursdays(TRAFFIC), on_thursdays(SIGNUPS)
    del lead[date(2026, 11, 19)], kr[date(2026, 11, 19)]
    assert [c.pairs for c in correlations(lead, kr, AS_OF)] == [8, 6, 4, 4, 4]
    r = 91 / math.sqrt(17017)
    assert find(lead, kr) == Lead(0, pytest.approx(r), 8, "traffic moves with signups in the same week, r = 0.70")


def test_a_series_shifted_by_two_weeks_is_found_at_lag_2_with_r_1():
    lead_changes = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]  # weeks -11..0
    kr_changes = lead_changes[:-2]  # weeks -9..0: the lead's change of week t comes back in week t + 2
    result = find(on_thursdays(running(lead_changes, 100)), on_thursdays(running(kr_changes, 7)))
    assert result == Lead(2, pytest.approx(1.0), 10, "traffic leads signups by 2 weeks, r = 1.00")


def test_fewer_than_8_pairs_is_not_enough_evidence_however_strong():
    changes = [3, 1, 4, 1, 5, 9, 2]  # 7 weekly changes in each series: 7 pairs at lag 0, fewer at the others
    result = find(on_thursdays(running(changes)), on_thursdays(running(changes)))
    assert result == NoEvidence("fewer than 8 weekly pairs at every lag: at most 7 (lag 0)")
    assert not result and result.text == NOT_ENOUGH_EVIDENCE == "not enough evidence yet"


def test_no_values_at_all_is_not_enough_evidence():
    assert find({}, {}) == NoEvidence("fewer than 8 weekly pairs at every lag: at most 0")


def test_a_correlation_below_0_6_is_not_enough_evidence():
    """8 changes each, so only lag 0 has 8 pairs. Both means are 0; x = 1 -1 1 -1 1 -1 1 -1 (squares 8),
    y = 1 -1 1 -1 1 1 -1 -1 (squares 8); products 1+1+1+1+1-1-1+1 = 4: r = 4 / sqrt(8 * 8) = 0.5."""
    x = [1, -1, 1, -1, 1, -1, 1, -1]
    y = [1, -1, 1, -1, 1, 1, -1, -1]
    result = find(on_thursdays(running(x, 50)), on_thursdays(running(y, 50)))
    assert result == NoEvidence("the strongest correlation, r = 0.50 (lag 0, 8 weekly pairs), is below 0.6")


def test_a_correlation_of_exactly_0_6_is_evidence():
    """8 changes each, so only lag 0 has 8 pairs. Both means are 0; x = 2 -2 1 -1 0 0 0 0 (squares 4+4+1+1 = 10),
    y = 2 -2 -1 1 0 0 0 0 (squares 4+4+1+1 = 10); products 4+4-1-1 = 6: r = 6 / sqrt(10 * 10) = 0.6."""
    x = [2, -2, 1, -1, 0, 0, 0, 0]
    y = [2, -2, -1, 1, 0, 0, 0, 0]
    result = find(on_thursdays(running(x, 50)), on_thursdays(running(y, 50)))
    assert result == Lead(0, pytest.approx(0.6), 8, "traffic moves with signups in the same week, r = 0.60")


def test_a_constant_series_has_no_correlation():
    lead = on_thursdays(running([5] * 12))  # grows by exactly 5 every week
    kr = on_thursdays(running([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]))
    assert [c.r for c in correlations(lead, kr, AS_OF)] == [None] * 5
    reason = "the weekly changes do not vary at any lag with 8 or more pairs, so they cannot correlate"
    assert find(lead, kr) == NoEvidence(reason)
    assert find(kr, lead) == NoEvidence(reason)


def test_tenths_that_climb_steadily_are_constant_despite_binary_rounding():
    values = [98.0 + k / 10 for k in range(13)]  # 98.0, 98.1, .. 99.2
    changes = [b - a for a, b in zip(values, values[1:], strict=False)]
    assert len(set(changes)) > 1  # in binary floating point the steps are not all the same number
    kr = on_thursdays(running([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]))
    assert [c.r for c in correlations(on_thursdays(values), kr, AS_OF)] == [None] * 5


def test_equal_correlations_go_to_the_shorter_lag():
    """Changes 1 0 -1 0 repeating (13 weeks, -12..0) in both series: at lag 0 the pairs are equal (r = 1); at
    lag 2 each change meets its opposite (r = -1); at lag 4 equal again (r = 1, 9 pairs). |r| = 1 at lags 0, 2
    and 4: lag 0 is shown. At lags 1 and 3 every pair has a 0 on one side, so the raw products add up to 0.
    Lag 1: x = changes of weeks -12..-1 (1 0 -1 0, three times: mean 0), so r = 0.
    Lag 3: x = 1 0 -1 0 1 0 -1 0 1 0 and y = 0 1 0 -1 0 1 0 -1 0 1, both mean 0.1 and squares 5:
    Sxy = 0 - 10 * 0.1 * 0.1 = -0.1, Sxx = Syy = 5 - 10 * 0.1 * 0.1 = 4.9, r = -0.1 / 4.9 = -1/49."""
    changes = [1, 0, -1, 0] * 3 + [1]
    series = on_thursdays(running(changes, 10))
    found = correlations(series, series, AS_OF)
    assert [(c.pairs, c.r) for c in found] == [
        (13, pytest.approx(1.0)),
        (12, pytest.approx(0.0, abs=1e-12)),
        (11, pytest.approx(-1.0)),
        (10, pytest.approx(-1 / 49)),
        (9, pytest.approx(1.0)),
    ]
    assert find(series, series) == Lead(
        0, pytest.approx(1.0), 13, "traffic moves with signups in the same week, r = 1.00"
    )


def test_the_wording_says_how_they_move_never_why():
    assert describe("traffic", "signups", 2, 0.8123) == "traffic leads signups by 2 weeks, r = 0.81"
    assert describe("traffic", "signups", 1, 0.7) == "traffic leads signups by 1 week, r = 0.70"
    assert describe("traffic", "signups", 3, -0.7249) == "traffic leads signups by 3 weeks, inversely, r = -0.72"
    assert describe("traffic", "signups", 0, 0.61) == "traffic moves with signups in the same week, r = 0.61"
    assert describe("churn", "NPS", 0, -0.9) == "churn moves opposite to NPS in the same week, r = -0.90"


def test_a_negative_correlation_is_evidence_too():
    lead_changes = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]  # weeks -11..0; the key result falls as much a week later
    kr_changes = [-c for c in lead_changes[:-1]]  # weeks -10..0: 11 pairs at lag 1
    result = find(on_thursdays(running(lead_changes)), on_thursdays(running(kr_changes, 500)))
    assert result == Lead(1, pytest.approx(-1.0), 11, "traffic leads signups by 1 week, inversely, r = -1.00")


def test_the_docs_worked_example_shows_what_the_rule_gives():
    text = (REPO / "docs" / "okr-semantics.md").read_text(encoding="utf-8")
    section = text[text.index("## Leading indicators") :]
    rows = {
        m[0]: [int(v) for v in m[1].split("|")] for m in re.findall(r"^\| (traffic|signups) \|(.*)\|$", section, re.M)
    }
    assert rows == {"traffic": TRAFFIC, "signups": SIGNUPS}
    flat = " ".join(section.split())
    assert '"traffic leads signups by 2 weeks, r = 0.85"' in flat
    assert "20 / √560 = 0.845" in flat and "−16 / √560 = −0.676" in flat and "14 / √560 = 0.592" in flat
    assert '(8 pairs, r = 0.698) would show "traffic moves with signups in the same week, r = 0.70"' in flat


# --- properties ---------------------------------------------------------------------------------------------

days = st.integers(min_value=0, max_value=125).map(lambda n: AS_OF - timedelta(days=n))
any_values = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)
whole = st.integers(min_value=-10_000, max_value=10_000)
sparse = st.dictionaries(days, any_values, max_size=126)
dense = st.dictionaries(days, whole, min_size=70, max_size=126)  # most weeks have a value: many pairs


def same_r(a: LagCorrelation, b: LagCorrelation) -> bool:
    if a.r is None or b.r is None:
        return a.r is b.r
    return a.r == pytest.approx(b.r, abs=1e-9)


@given(lead=sparse, kr=sparse)
def test_r_is_within_minus_one_and_one(lead, kr):
    for c in correlations(lead, kr, AS_OF):
        assert c.r is None or -1.0 <= c.r <= 1.0
    result = leading_indicator(lead, kr, AS_OF, leading_name="a", kr_name="b")
    assert isinstance(result, NoEvidence) or 0.6 - 1e-9 <= abs(result.r) <= 1.0


@given(
    lead=dense,
    kr=dense,
    scale=st.integers(min_value=1, max_value=1000),
    shift=st.integers(min_value=-(10**6), max_value=10**6),
    which=st.booleans(),
)
def test_r_does_not_change_when_a_series_is_scaled_up_or_shifted(lead, kr, scale, shift, which):
    """Whole numbers scaled by a whole number and shifted stay exact floats: the changes scale exactly."""
    moved = {day: scale * v + shift for day, v in (lead if which else kr).items()}
    before = correlations(lead, kr, AS_OF)
    after = correlations(moved, kr, AS_OF) if which else correlations(lead, moved, AS_OF)
    assert [c.pairs for c in before] == [c.pairs for c in after]
    assert all(map(same_r, before, after)), (before, after)


@given(
    changes=st.lists(whole, min_size=12, max_size=17),
    lag=st.integers(min_value=0, max_value=4),
    start=whole,
)
def test_an_exact_lagged_copy_is_found_at_its_lag(changes, lag, start):
    """The key result's change in week t + lag is the leading series' change in week t: r = 1 at that lag. The
    lag shown is that one, or a shorter one that is exactly as strong (the tie rule)."""
    copied = changes[: len(changes) - lag]  # weeks up to -lag of the lead land on weeks up to 0
    assume(len(set(copied)) > 1)
    lead, kr = on_thursdays(running(changes, start)), on_thursdays(running(copied, -start))
    found = correlations(lead, kr, AS_OF)
    assert found[lag].pairs == len(copied) and found[lag].r == pytest.approx(1.0)
    result = leading_indicator(lead, kr, AS_OF, leading_name="a", kr_name="b")
    assert isinstance(result, Lead) and result.lag_weeks <= lag
    assert abs(result.r) == pytest.approx(1.0)


@given(lead=dense, kr=dense, flip_lead=st.booleans())
def test_turning_a_series_upside_down_flips_the_sign_of_r(lead, kr, flip_lead):
    flipped = {day: -v for day, v in (lead if flip_lead else kr).items()}
    before = correlations(lead, kr, AS_OF)
    after = correlations(flipped, kr, AS_OF) if flip_lead else correlations(lead, flipped, AS_OF)
    assert [(c.pairs, None if c.r is None else -c.r) for c in before] == [(c.pairs, c.r) for c in after]
    first = leading_indicator(lead, kr, AS_OF, leading_name="a", kr_name="b")
    pair = (flipped, kr) if flip_lead else (lead, flipped)
    second = leading_indicator(*pair, AS_OF, leading_name="a", kr_name="b")
    if isinstance(first, Lead):
        assert isinstance(second, Lead) and (second.lag_weeks, second.r) == (first.lag_weeks, -first.r)
    else:
        assert isinstance(second, NoEvidence)


@given(lead=sparse | dense, kr=sparse | dense)
def test_the_result_is_deterministic_and_ignores_the_order_days_come_in(lead, kr):
    result = leading_indicator(lead, kr, AS_OF, leading_name="a", kr_name="b")
    backwards = leading_indicator(
        dict(reversed(lead.items())), dict(reversed(kr.items())), AS_OF, leading_name="a", kr_name="b"
    )
    assert result == backwards == leading_indicator(lead, kr, AS_OF, leading_name="a", kr_name="b")
    assert "caus" not in result.text and "because" not in result.text and "drive" not in result.text
