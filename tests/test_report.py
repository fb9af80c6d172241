"""Report outputs: .md/.json/.csv content, and the HTML page rendered by a real headless Chromium."""

import csv
import io
import itertools
import json
import os

import pytest

from okrsync.connectors.report import render_csv, render_html, render_json, render_markdown
from tests.helpers import CONTRAST, open_report


def test_json_report_is_the_status_document(document):
    doc = json.loads(render_json(document))
    assert set(doc) >= {"cycle", "as_of", "objectives", "kpis", "errors"} and "history" not in doc
    kr = doc["objectives"][0]["key_results"][0]
    assert set(kr) >= {
        "id",
        "metric",
        "kind",
        "value",
        "start",
        "target",
        "progress",
        "expected",
        "status",
        "stale",
        "error",
        "observed_at",
        "forecast",
    }
    assert 0 <= kr["progress"] <= 1 and kr["forecast"]["value"] > 0


def test_markdown_and_csv_reports(document):
    md = render_markdown(document)
    assert md.startswith("# OKR status — 2026-Q4")
    assert "## Delight our customers (aligned to company-growth)" in md and "⚠ stale" in md
    rows = list(csv.DictReader(io.StringIO(render_csv(document))))
    krs, kpis = [r for r in rows if r["kind"] != "kpi"], [r for r in rows if r["kind"] == "kpi"]
    assert len(krs) == 11 and krs[0]["kr_id"] == "mrr" and len(kpis) == len(document.kpis) == 2
    assert {r["status"] for r in krs} >= {"on_track", "at_risk", "off_track", "done"}
    latency = next(r for r in krs if r["kr_id"] == "latency")
    assert (latency["kind"], latency["min"], latency["max"]) == ("between", "120.0", "250.0")  # bounds kept
    aspirational = {o.id for o in document.objectives if o.kind == "aspirational"}
    for r in krs:
        factor = 0.7 if r["objective_id"] in aspirational and r["kind"] not in ("at_least", "at_most", "between") else 1
        assert float(r["judged_against"]) == pytest.approx(factor * float(r["expected"]), abs=1e-6), r["kr_id"]
    assert aspirational and any(r["objective_id"] in aspirational for r in krs)
    assert {r["status"] for r in kpis} <= {"healthy", "unhealthy"} and all(r["value"] for r in kpis)


def test_html_is_self_contained_and_deterministic(synced):
    html = render_html(synced.document, synced.history)
    assert html == render_html(synced.document, synced.history)
    for forbidden in ("<script", "http://", "https://", "<link"):
        assert forbidden not in html
    assert html.count('class="objective') == 3 and html.count('<svg class="chart') == 13  # 11 KRs, 2 KPIs


@pytest.mark.parametrize("width", [1280, 390])  # a desk and a phone
def test_html_report_renders_in_headless_chromium(synced, tmp_path, width):
    for page in open_report(render_html(synced.document, synced.history), tmp_path, width):
        assert page.title() == "OKR status — 2026-Q4"
        assert page.locator("section.objective h2").all_inner_texts() == [  # three objectives, in this order
            "Grow recurring revenue to fund 2027",
            "Delight our customers",
            "Launch self-serve and make it stick",
        ]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width  # nothing runs off the screen
        widths = [b.bounding_box()["width"] for b in page.locator(".kr .bar .fill").all()]
        assert len(widths) == 11 and max(widths) > 100 and min(widths) == 0  # bars drawn to scale
        charts = page.locator("svg.chart")
        assert charts.count() == 13 and charts.first.bounding_box()["width"] > 250
        assert page.locator("svg.chart polyline.values").count() == 13
        assert page.locator("svg.chart polyline.forecast").count() >= 5 and page.locator("svg.chart .band").count() >= 5
        child_box = page.locator("#objective-delight").bounding_box()
        parent_box = page.locator("#objective-company-growth").bounding_box()
        assert child_box["x"] > parent_box["x"]  # the aligned objective is indented under its parent
        colour = "e => getComputedStyle(e).backgroundColor"
        stale = page.locator("#kr-uptime .pill")  # uptime's value is old: its badge says so, in grey
        assert (stale.inner_text(), stale.evaluate(colour)) == ("⚠ stale · off track", "rgb(110, 119, 129)")
        fresh = page.locator(".kr .pill.s-on_track").first  # a fresh KR keeps its status colour: green
        assert fresh.evaluate(colour) == "rgb(26, 127, 55)"
        for when in page.locator("time").all():  # dates never wrap mid-word
            assert when.evaluate("e => e.getClientRects().length") == 1, when.inner_text()
        assert page.evaluate(CONTRAST) == []  # WCAG AA: 4.5:1 for every text on its background


def test_html_report_is_accessible(synced, tmp_path):
    for page in open_report(render_html(synced.document, synced.history), tmp_path, 1280):
        levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3')].map(h => +h.tagName[1])")
        assert levels[0] == 1 and levels.count(1) == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels))
        names = page.evaluate(
            "[...document.querySelectorAll('svg.chart')].map(s => s.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' '))"
        )
        assert len(names) == 13 and all(len(n) > 20 for n in names)  # each chart says what it shows
        assert "now 153,175 EUR" in names[0] and "likely" in names[0]
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("[role=progressbar]:not([aria-valuenow])").count() == 0


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_reports_follow_the_umask_and_keep_an_existing_mode(tmp_path, umask, mode):
    """A report is for people and web servers: not 0600 whatever the umask (mkstemp's default)."""
    from okrsync.connectors.report import write_if_changed

    old = os.umask(umask)
    try:
        write_if_changed(tmp_path / "okr.html", "<p>one</p>")
        assert (tmp_path / "okr.html").stat().st_mode & 0o777 == mode
        os.chmod(tmp_path / "okr.html", 0o664)  # someone opened it to a group
        write_if_changed(tmp_path / "okr.html", "<p>two</p>")
        assert (tmp_path / "okr.html").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_stale_key_results_are_never_shown_green(document):
    html = render_html(document)
    stale = [kr for _, kr in document.key_results() if kr.stale]
    assert stale and html.count('class="pill stale-pill"') == len(stale) + 1  # each stale KR's badge, a summary chip
    assert f"⚠ {len(stale)} stale" in html
    for kr in stale:
        section = html.split(f'id="kr-{kr.id}"')[1].split("<svg")[0]  # the KR's text and badge, before its chart
        assert "status-on_track" not in section and "status-done" not in section


def test_kpi_trends_read_like_values(document):
    from okrsync.present.formats import fmt_trend

    assert [fmt_trend(x) for x in (13.0, -0.3, 1250.0, 0.0, None)] == ["+13", "-0.3", "+1,250", "+0", "–"]
    assert ".00</td>" not in render_html(document) and "| +0.30 |" not in render_markdown(document)


def test_every_display_says_how_likely_the_target_is(document):
    from okrsync.connectors.google_sheets.sink import STATUS_HEADER, status_rows
    from okrsync.present.digest import weekly_digest
    from okrsync.present.formats import forecast_text

    mrr = document.kr("mrr")  # five syncs over six weeks: enough weekly changes for a range
    f = mrr.forecast
    assert f.low < f.value < f.high and 0 < f.probability < 1
    assert document.kr("latency").forecast.probability is None  # a level holds or not
    likely = f"{f.probability * 100:.0f}% likely"
    assert forecast_text(mrr).endswith(f", {likely})") and likely in render_html(document, {})
    assert likely in render_markdown(document)
    row = next(r for r in csv.DictReader(io.StringIO(render_csv(document))) if r["kr_id"] == "mrr")
    assert float(row["forecast_probability"]) == f.probability and float(row["forecast_low"]) == f.low
    table = dict(zip(STATUS_HEADER, next(r for r in status_rows(document) if r[1] == mrr.title), strict=True))
    assert table["Chance of target"] == f"{f.probability * 100:.0f}%"
    lines = [line for s in weekly_digest(document, []).sections for line in s.lines]
    assert any(mrr.title in line and likely in line for line in lines)
    assert document.kr("signups").forecast.probability == 1e-6  # a far tail (1e-75): tiny, never a certain 0
    assert "<1% likely" in forecast_text(document.kr("signups"))
    tiny = document.kr("new-customers").forecast.probability
    assert 0 < tiny < 0.005 and "<1% likely" in forecast_text(document.kr("new-customers"))
