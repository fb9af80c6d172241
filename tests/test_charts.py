"""The report's charts (okrsync.present.charts) and the page around them, checked in the HTML itself and, for
the hover readout of the page's script, in headless Chromium."""

import gc
import math
import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okrsync.connectors.report import render_html
from okrsync.okr.results import Point
from okrsync.present.charts import (
    HEIGHT,
    LEFT,
    WIDTH,
    Chart,
    Frame,
    chart_points,
    compact,
    hover_data,
    hover_step,
    kpi_chart,
    kr_chart,
    nice_ticks,
    relative_path,
    shared_axes,
    simplify,
    unit_suffix,
)
from tests.helpers import open_report


def section(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}"')[1].split("</article>")[0]


def axis_labels(html: str, chart: str) -> list[str]:
    """The month labels a chart shows: its own, or the page's shared ones it references."""
    shared = re.search(r'<use href="#(x\d+)"/>', chart)
    labels = re.search(rf'<g class="xl" id="{shared.group(1)}"[^>]*>(.*?)</g>', html) if shared else None
    return re.findall(r">(\w+)<", (labels or re.search(r'<g class="xl">(.*?)</g>', chart)).group(1))


def test_a_kr_chart_has_dates_values_target_expected_path_and_forecast(document):
    html = render_html(
        document, {"mrr": [["2026-10-08T00:00:00+02:00", 125000], ["2026-11-21T00:00:00+01:00", 153175]]}
    )
    mrr = section(html, "kr-mrr")
    assert axis_labels(html, mrr) == ["Oct", "Nov", "Dec", "Jan"]
    assert re.findall(r">([^<]+)<", re.search(r'<g class="yl">(.*?)</g>', mrr).group(1)) == [
        "120k",
        "140k",
        "160k",
        "180k",
    ]
    # the cycle starts 1 Oct and the KR is due 31 Dec: 92 days; 8 Oct is day 7, 21 Nov 44 days later
    assert 'data-v="2026-10-01 92 +7 125,000 +44 153,175" data-u=" EUR"' in mrr
    assert '<circle class="newest" cx="193" cy="57"><title>21 Nov 2026: 153,175 EUR</title></circle>' in mrr
    assert "<title>MRR from 120k to 180k</title><desc>2 value(s) from 8 Oct to 21 Nov, now 153,175 EUR;" in mrr
    assert '<path class="target" d="M46 17H312"/>' in mrr and "target 180,000 EUR" in mrr  # its figure: the card
    assert 'class="expected-path"' in mrr and 'class="forecast"' in mrr and 'class="band"' in mrr
    assert "forecast 179,772 EUR (177,998–181,546 EUR, 43% likely)" in mrr
    assert "owner ceo@acme.example" in mrr


def test_the_expected_path_goes_through_the_phases(document):
    mrr = document.kr("mrr")  # phases 135k by Oct 31, 155k by Nov 30
    chart = kr_chart(mrr, [["2026-11-21T00:00:00+01:00", 153175]], document)
    xs_ys = [tuple(map(float, p.split(","))) for p in chart.expected.split()]
    assert len(xs_ys) == 4 and xs_ys[0][0] == LEFT and xs_ys[-1][0] == WIDTH - 8
    assert [y for _, y in xs_ys] == sorted((y for _, y in xs_ys), reverse=True)  # rising values: y falls


def test_a_long_history_draws_every_turn_of_the_line_and_a_value_to_hover_every_10_units(document):
    start = date(2026, 10, 1)
    zigzag = [[f"{start + timedelta(days=i)}T00:00:00+00:00", 120000 + i * 300 + (i % 2) * 20000] for i in range(90)]
    chart = kr_chart(document.kr("mrr"), zigzag, document)
    assert len(re.findall(r"-?\d+", chart.line)) == 2 * 90  # every turn stays: a move and 89 steps
    # days 0 to 89 of 92 span 46 to 303.3: 25 slots 10 units wide, so every 4th value (0, 4, …, 88) and the
    # newest (89, a day after 88); the even days carry no zigzag: 120,000 + 300 x day
    hover = chart.hover.split()
    assert hover[:8] == ["2026-10-01", "92", "+0", "120,000", "+4", "121,200", "122,400", "123,600"]
    assert hover[-4:] == ["145,200", "146,400", "+1", "166,700"] and len(hover) == 2 + 2 + 1 + 22 + 2
    assert chart.newest.title == "29 Dec 2026: 166,700 EUR" and chart.unit == " EUR"
    straight = [[at, 120000 + i * 300] for i, (at, _) in enumerate(zigzag)]  # a straight line: its two ends
    chart = kr_chart(
        document.kr("mrr"), straight + [[f"{start + timedelta(days=90)}T00:00:00+00:00", 147000]], document
    )
    assert len(re.findall(r"-?\d+", chart.line)) == 4 and chart.newest.title == "30 Dec 2026: 147,000 EUR"
    assert chart.hover.split()[-4:] == ["145,200", "146,400", "+2", "147,000"]  # day 88, then the newest, 90


def test_a_line_is_written_as_steps_from_its_first_point():
    assert relative_path([(46, 96), (53, 94), (60, 94)]) == "M46 96l7-2 7 0"  # a minus separates by itself
    assert relative_path([(46, 96), (50, 100), (53, 97), (60, 97)]) == "M46 96l4 4 3-3 7 0"
    assert relative_path([(46, 96)]) == "M46 96"


def test_the_figures_to_hover_are_days_and_figures_with_a_step_written_once():
    frame = Frame(date(2026, 10, 1), 92, [0, 200000])
    assert hover_data(frame, [(date(2026, 10, 8), 125000.0), (date(2026, 11, 21), 153175.0)]) == (
        "2026-10-01 92 +7 125,000 +44 153,175"  # 8 Oct is 7 days after 1 Oct, 21 Nov 44 after 8 Oct
    )
    regular = [(date(2026, 10, 1), 0.25), (date(2026, 10, 5), 12.0), (date(2026, 10, 9), -3.5)]
    assert hover_data(frame, regular) == "2026-10-01 92 +0 0.25 +4 12 -3.5"  # 5 and 9 Oct: both 4 days on
    assert [unit_suffix(u) for u in ("%", "EUR", None)] == ["%", " EUR", ""]  # as in "12%", "153,175 EUR"


def test_values_to_hover_lie_about_10_units_apart():
    assert hover_step(120, 207.0) == 6  # 20 slots of 10 units: every 6th of 120 values
    assert hover_step(10, 300.0) == 1  # values 30 units apart: all of them
    assert hover_step(2, 5.0) == 2  # closer than 10 units: the first (and, always, the newest)


def test_charts_due_the_same_day_share_their_month_labels(document):
    mrr = document.kr("mrr")
    cycle = kr_chart(mrr, [], document), kpi_chart(document.kpis[0], [], document)  # both end on 31 Dec
    november = kr_chart(mrr.model_copy(update={"due": date(2026, 11, 30)}), [], document)
    empty = Chart("no values", "No values yet.")
    # 92 days to 31 Dec: 1 Nov (day 31) at 46 + 266 x 31 / 92 = 135.6; 61 days to 30 Nov: 46 + 266 x 31 / 61
    assert shared_axes([*cycle, november, empty]) == [
        ("x0", [(46, "Oct"), (136, "Nov"), (222, "Dec"), (312, "Jan")]),
        ("x1", [(46, "Oct"), (181, "Nov"), (312, "Dec")]),
    ]
    assert [c.x_axis for c in (*cycle, november, empty)] == ["x0", "x0", "x1", ""]


def test_a_forecast_range_under_a_unit_tall_draws_as_its_line(document):
    mrr = document.kr("mrr")
    tight = mrr.model_copy(update={"forecast": mrr.forecast.model_copy(update={"low": 179771, "high": 179773})})
    values = [["2026-11-21T00:00:00+01:00", 153175]]
    assert kr_chart(tight, values, document).band == "" and kr_chart(tight, values, document).forecast
    assert kr_chart(mrr, values, document).band  # 177,998 to 181,546: some units tall


def test_the_line_leaves_out_only_points_within_half_a_unit():
    # (0,0) (1,0.4) (2,0) (3,3) (4,0): 0.4 from the chord (0,0)-(2,0) goes; (3,3) is a turn and stays
    assert simplify([(0, 0), (1, 0.4), (2, 0), (3, 3), (4, 0)], 0.5) == [(0, 0), (2, 0), (3, 3), (4, 0)]
    assert simplify([(0, 0), (1, 0.6), (2, 0)], 0.5) == [(0, 0), (1, 0.6), (2, 0)]
    # a point that does not lie right of the one before (x 3, then 1) ends the segment: both kept
    assert simplify([(0, 0), (3, 0), (1, 0), (4, 0)], 0.5) == [(0, 0), (3, 0), (1, 0), (4, 0)]


@given(st.lists(st.floats(0, 100), min_size=2, max_size=40))
def test_a_simplified_line_stays_within_half_a_unit_of_every_value(ys):
    points = [(float(i), y) for i, y in enumerate(ys)]
    kept = simplify(points, 0.5)
    assert kept[0] == points[0] and kept[-1] == points[-1] and set(kept) <= set(points)
    for x, y in points:  # the segment between the kept points around x passes within 0.5 of (x, y)
        (ax, ay), (bx, by) = max(p for p in kept if p[0] <= x), min(p for p in kept if p[0] >= x)
        ends = min(math.dist((x, y), (ax, ay)), math.dist((x, y), (bx, by)))
        across = abs((bx - ax) * (y - ay) - (by - ay) * (x - ax)) / math.dist((ax, ay), (bx, by)) if bx > ax else ends
        assert min(ends, across) <= 0.5 + 1e-9


@given(st.lists(st.tuples(st.floats(0.01, 5), st.floats(-50, 50)), min_size=2, max_size=60))
def test_a_simplified_series_stays_within_half_a_unit_upright_at_any_spacing(steps):
    """Uneven spacing in x (days with and without values), values anywhere: every point left out lies within
    0.5 upright of the segment between the kept points around it; never more points than given."""
    points, x = [], 0.0
    for gap, y in steps:
        x += gap
        points.append((x, y))
    kept = simplify(points, 0.5)
    assert kept[0] == points[0] and kept[-1] == points[-1] and len(kept) <= len(points)
    for x, y in points:
        (ax, ay), (bx, by) = max(p for p in kept if p[0] <= x), min(p for p in kept if p[0] >= x)
        on_segment = ay if bx == ax else ay + (by - ay) * (x - ax) / (bx - ax)
        assert abs(y - on_segment) <= 0.5 + 1e-9


@given(
    st.floats(-40, 400),
    st.lists(st.tuples(st.floats(-50, 500), st.floats(-1e6, 1e6)), min_size=1, max_size=30),
)
def test_a_frame_places_a_series_exactly_where_it_places_each_point(span, pairs):
    """Frame.place (a year of 200 charts at once) against x() and y() one point at a time: the same floats,
    so the same whole units once rounded; days before the origin or past the span stay on the edge."""
    frame = Frame(date(2026, 1, 1), span, [v for _, v in pairs])
    assert frame.place(pairs) == [(frame.x(d), frame.y(v)) for d, v in pairs]


def test_chart_points_are_local_iso_times_and_values_to_six_places():
    """Stored POSIX seconds become ISO times in the cycle's zone, across the spring change of Oslo's clocks
    (29 March 2026, 01:00 UTC): 04:00 UTC is 05:00 +01:00 on the 28th and 06:00 +02:00 on the 29th."""
    before = datetime(2026, 3, 28, 4, tzinfo=UTC).timestamp()
    history = {"a": [Point(before, 1.23456789)], "b": [Point(before, 2.0), Point(before + 86_400, -0.0000004)]}
    assert chart_points(history, ZoneInfo("Europe/Oslo")) == {
        "a": [["2026-03-28T05:00:00+01:00", 1.234568]],
        "b": [["2026-03-28T05:00:00+01:00", 2.0], ["2026-03-29T06:00:00+02:00", -0.0]],
    }
    assert gc.isenabled()  # the collector waited while the lists were built, and runs again


def point_at(page, box: dict, x: float) -> None:
    """The pointer over a chart's ``box`` at ``x`` in the drawing's units (320 across), mid-height."""
    page.mouse.move(box["x"] + x * box["width"] / 320, box["y"] + box["height"] / 2)


def test_hovering_a_chart_reads_out_the_date_and_figure_of_the_nearest_value(document, tmp_path):
    history = {
        "mrr": [
            ["2026-10-08T00:00:00+02:00", 125000],
            ["2026-10-22T00:00:00+02:00", 134851],
            ["2026-11-21T00:00:00+01:00", 153175],
        ]
    }
    for page in open_report(render_html(document, history), tmp_path, 1280, name="hover"):
        chart = page.locator("#kr-mrr svg.chart")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        readout, dot = chart.locator(".hv text"), chart.locator(".hv circle")
        # 92 days from 1 Oct to 31 Dec over x 46 to 312: 8 Oct (day 7) at 66.2, 22 Oct (21) at 106.7, 21 Nov
        # (51) at 193.5
        point_at(page, box, 70)
        assert readout.text_content() == "8 Oct 2026: 125,000 EUR"
        first_y = int(re.match(r"M\d+ (\d+)", chart.locator("path.values").get_attribute("d")).group(1))
        assert float(dot.get_attribute("cx")) == pytest.approx(66.2, abs=0.1)
        assert float(dot.get_attribute("cy")) == pytest.approx(first_y, abs=1)  # on the line
        shown = readout.bounding_box()
        assert box["x"] <= shown["x"] and shown["x"] + shown["width"] <= box["x"] + box["width"]  # all of it
        point_at(page, box, 140)
        assert readout.text_content() == "22 Oct 2026: 134,851 EUR"
        point_at(page, box, 300)  # past the newest value: the newest
        assert readout.text_content() == "21 Nov 2026: 153,175 EUR"
        newest = chart.locator("circle.newest")
        assert float(dot.get_attribute("cy")) == float(newest.get_attribute("cy"))  # the line ends at it
        assert chart.locator(".hv").is_visible()
        page.mouse.move(box["x"] - 30, box["y"] + box["height"] / 2)  # off the chart: the readout goes
        assert not chart.locator(".hv").is_visible()


def test_the_figures_to_hover_are_escaped_like_the_rest_of_the_page(document):
    mrr = document.kr("mrr").model_copy(update={"unit": '"><script>x()</script>'})
    objectives = [o.model_copy(update={"key_results": [mrr]}) for o in document.objectives[:1]]
    page = render_html(
        document.model_copy(update={"objectives": objectives, "kpis": []}),
        {"mrr": [["2026-11-21T00:00:00+01:00", 153175]]},
    )
    assert 'data-u=" &#34;&gt;&lt;script&gt;x()&lt;/script&gt;"' in page and page.count("<script") == 1


def test_kpis_are_drawn_over_their_healthy_band(document):
    html = render_html(
        document, {"tickets_open": [["2026-11-20T00:00:00+01:00", 120], ["2026-11-21T00:00:00+01:00", 117]]}
    )
    backlog = section(html, "kpi-support-backlog")
    assert 'class="healthy"' in backlog and "<title>21 Nov 2026: 117</title>" in backlog
    assert 'data-v="2026-10-01 92 +50 120 +1 117"' in backlog  # no unit: no data-u
    top = float(re.search(r'class="healthy" x="46" y="([\d.]+)"', backlog).group(1))
    assert 0 < top < HEIGHT  # max 150 lies inside the drawing


def test_suspect_stale_and_manual_krs_look_different(document):
    from okrsync.okr.status import OverrideDoc

    krs = {kr.id: kr for _, kr in document.key_results()}
    held = krs["csat"].model_copy(update={"suspect": True, "suspect_reason": "csat = 250 is above expect.max 100"})
    manual = krs["signups"].model_copy(update={"override": OverrideDoc(value=700, sticky=False, note="recount")})
    objectives = [
        o.model_copy(
            update={
                "key_results": [held if k.id == "csat" else manual if k.id == "signups" else k for k in o.key_results]
            }
        )
        for o in document.objectives
    ]
    html = render_html(document.model_copy(update={"objectives": objectives}))
    assert '<article class="kr suspect" id="kr-csat">' in html and '<article class="kr stale" id="kr-uptime">' in html
    assert '<article class="kr overridden" id="kr-signups">' in html
    assert "⏸ held back for review: csat = 250 is above expect.max 100" in section(html, "kr-csat")
    assert "✎ manual value: recount" in section(html, "kr-signups")
    assert "⏸ 1 held back" in html and "✎ 1 manual" in html and "⚠ 1 stale" in html


def test_the_page_is_the_same_in_any_time_zone(synced, monkeypatch):
    first = render_html(synced.document, synced.history)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert render_html(synced.document, synced.history) == first
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"), [(0, 100, [0, 50, 100]), (114, 186, [120, 140, 160, 180]), (0.2, 0.9, [0.2, 0.4, 0.6, 0.8])]
)
def test_axis_ticks_are_round(lo, hi, ticks):
    assert nice_ticks(lo, hi) == pytest.approx(ticks)
    assert [compact(v) for v in (153175, 1500, 2.5e6, 99.9)] == ["153k", "1.5k", "2.5M", "99.9"]
