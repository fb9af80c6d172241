"""The report's charts (okrsync.present.charts) and the page around them, checked in the HTML itself."""

import math
import re
import time
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okrsync.connectors.report import render_html
from okrsync.present.charts import HEIGHT, LEFT, WIDTH, compact, kr_chart, nice_ticks, simplify


def section(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}"')[1].split("</article>")[0]


def test_a_kr_chart_has_dates_values_target_expected_path_and_forecast(document):
    html = render_html(
        document, {"mrr": [["2026-10-08T00:00:00+02:00", 125000], ["2026-11-21T00:00:00+01:00", 153175]]}
    )
    mrr = section(html, "kr-mrr")
    dates = re.search(r'<g class="xl">(.*?)</g>', mrr).group(1)
    assert re.findall(r">(\w+)<", dates) == ["Oct", "Nov", "Dec", "Jan"]
    assert re.findall(r">([^<]+)<", re.search(r'<g class="yl">(.*?)</g>', mrr).group(1)) == [
        "120k",
        "140k",
        "160k",
        "180k",
    ]
    assert "<title>21 Nov 2026: 153,175 EUR</title>" in mrr and "<title>8 Oct 2026: 125,000 EUR</title>" in mrr
    assert "<title>target 180,000 EUR</title>" in mrr
    assert 'class="expected-path"' in mrr and 'class="forecast"' in mrr and 'class="band"' in mrr
    forecast = re.search(
        r'<g><title>([^<]+)</title><polygon class="band" [^>]*/><polyline class="forecast"', mrr
    ).group(1)
    assert forecast.startswith("forecast for 31 Dec: 179,772 EUR (80% range 177,998–181,546 EUR, 43% likely")
    assert "owner ceo@acme.example" in mrr


def test_the_expected_path_goes_through_the_phases(document):
    mrr = document.kr("mrr")  # phases 135k by Oct 31, 155k by Nov 30
    chart = kr_chart(mrr, [["2026-11-21T00:00:00+01:00", 153175]], document)
    xs_ys = [tuple(map(float, p.split(","))) for p in chart.expected.split()]
    assert len(xs_ys) == 4 and xs_ys[0][0] == LEFT and xs_ys[-1][0] == WIDTH - 8
    assert [y for _, y in xs_ys] == sorted((y for _, y in xs_ys), reverse=True)  # rising values: y falls


def test_a_long_history_draws_every_turn_of_the_line_and_30_points_to_hover(document):
    start = date(2026, 10, 1)
    zigzag = [[f"{start + timedelta(days=i)}T00:00:00+00:00", 120000 + i * 300 + (i % 2) * 20000] for i in range(90)]
    chart = kr_chart(document.kr("mrr"), zigzag, document)
    assert len(chart.line.split()) == 90 and len(chart.marks) == 31  # every turn stays; marks: every 3rd and the newest
    assert chart.marks[-1].title == "29 Dec 2026: 166,700 EUR" and chart.marks[1].title == "4 Oct 2026: 140,900 EUR"
    straight = [[at, 120000 + i * 300] for i, (at, _) in enumerate(zigzag)]  # a straight line: its two ends
    chart = kr_chart(
        document.kr("mrr"), straight + [[f"{start + timedelta(days=90)}T00:00:00+00:00", 147000]], document
    )
    assert chart.line.count(" ") + 1 == 2 and len(chart.marks) == 24  # 91 values: every 4th and the newest
    assert chart.marks[-1].title == "30 Dec 2026: 147,000 EUR"


def test_the_line_leaves_out_only_points_within_half_a_unit():
    # (0,0) (1,0.4) (2,0) (3,3) (4,0): 0.4 from the chord (0,0)-(2,0) goes; (3,3) is a turn and stays
    assert simplify([(0, 0), (1, 0.4), (2, 0), (3, 3), (4, 0)], 0.5) == [(0, 0), (2, 0), (3, 3), (4, 0)]
    assert simplify([(0, 0), (1, 0.6), (2, 0)], 0.5) == [(0, 0), (1, 0.6), (2, 0)]


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


def test_kpis_are_drawn_over_their_healthy_band(document):
    html = render_html(
        document, {"tickets_open": [["2026-11-20T00:00:00+01:00", 120], ["2026-11-21T00:00:00+01:00", 117]]}
    )
    backlog = section(html, "kpi-support-backlog")
    assert 'class="healthy"' in backlog and "<title>21 Nov 2026: 117</title>" in backlog
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
