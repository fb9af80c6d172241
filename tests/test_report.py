"""Report outputs: .md/.json/.csv content, and the HTML page rendered by a real headless Chromium."""

import base64
import csv
import hashlib
import html
import io
import itertools
import json
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest

from okrsync.connectors.report import render_csv, render_html, render_json, render_markdown
from okrsync.present.formats import fmt_chance
from tests.helpers import CONTRAST, card_of, open_report


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
    assert md.startswith("# Acme — OKR status 2026-Q4")
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
    for forbidden in ("http://", "https://", "<link", " src=", "<img", "@import", "url("):
        assert forbidden not in html
    assert html.count('class="objective') == 3 and html.count('<svg class="chart') == 13  # 11 KRs, 2 KPIs
    # one inline script, allowed by its hash alone: the policy lets nothing load and nothing else run
    assert html.count("<script") == 1 and html.count("</script>") == 1
    script = html.split("<script>")[1].split("</script>")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    assert f'<meta http-equiv="Content-Security-Policy" content="{policy}">' in html.split("<style>")[0]
    for unsafe in ("eval(", "Function(", "innerHTML", "insertAdjacentHTML", "document.write", "on" + "load="):
        assert unsafe not in script  # text is set as text
    assert not re.search(r"<[a-z]+ [^>]*\bon[a-z]+=", html)  # no inline handler anywhere


@pytest.mark.parametrize("width", [1280, 390])  # a desk and a phone
def test_html_report_renders_in_headless_chromium(synced, tmp_path, width):
    titled = synced.document.model_copy(update={"title": "Acme"})  # the config's title: (the document's title)
    for page in open_report(render_html(titled, synced.history), tmp_path, width):
        assert page.title() == "Acme — OKR status 2026-Q4"
        assert page.locator("section.objective h2").all_inner_texts() == [  # three objectives, in this order
            "Grow recurring revenue to fund 2027",
            "Delight our customers",
            "Launch self-serve and make it stick",
        ]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width  # nothing runs off the screen
        fill = "b => [parseFloat(getComputedStyle(b, '::before').width), b.getBoundingClientRect().width]"
        widths = [b.evaluate(fill) for b in page.locator(".kr .bar").all()]
        assert len(widths) == 11 and max(w for w, _ in widths) > 100 and min(w for w, _ in widths) == 0
        progress = [float(b.get_attribute("aria-valuenow")) for b in page.locator(".kr .bar").all()]
        for (width, whole), percent in zip(widths, progress, strict=True):  # bars drawn to scale
            assert width == pytest.approx(whole * max(0, min(percent, 100)) / 100, abs=0.01 * whole)
        charts = page.locator("svg.chart")
        assert charts.count() == 13 and charts.first.bounding_box()["width"] > 250
        assert page.locator("svg.chart path.values").count() == 13
        months = page.locator("svg.chart use").first.bounding_box()  # shared labels drawn below the plot
        assert months["y"] > charts.first.bounding_box()["y"] + 0.8 * charts.first.bounding_box()["height"]
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
        assert page.locator("#objective-company-growth .aligned li a").get_attribute("href") == "#objective-delight"
        assert page.locator(".note.why").count() == 5  # mrr, new-customers, csat, signups, activation
        assert page.locator("h1").inner_text() == "Acme — OKR status 2026-Q4"


def test_html_report_is_accessible(synced, tmp_path):
    for page in open_report(render_html(synced.document, synced.history), tmp_path, 1280):
        levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3')].map(h => +h.tagName[1])")
        assert levels[0] == 1 and levels.count(1) == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels))
        tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
        images = [  # what Chromium gives a screen reader for each chart: its <title> and its <desc>
            (n["name"]["value"], n.get("description", {}).get("value", ""))
            for n in tree
            if n.get("role", {}).get("value") == "image" and not n.get("ignored")
        ]
        assert len(images) == 13 and all(name and len(said) > 20 for name, said in images)  # each says what it shows
        assert images[0][0] == "MRR from 120k to 180k" and "now 153,175 EUR" in images[0][1]
        assert "likely" in images[0][1]
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


# --------------------------------------------------------------------------- the report for leads (issue 25)


def test_the_heading_names_the_team_by_its_title_else_its_namespace(document):
    plain = render_html(document)  # example.yaml's title: Acme
    assert "<title>Acme — OKR status 2026-Q4</title>" in plain and "<h1>Acme — OKR status 2026-Q4</h1>" in plain
    untitled = render_html(document.model_copy(update={"title": None}))  # the default namespace
    assert "<h1>default — OKR status 2026-Q4</h1>" in untitled
    team = render_html(document.model_copy(update={"namespace": "team-a", "title": None}))
    assert "<h1>team-a — OKR status 2026-Q4</h1>" in team
    titled = render_html(document.model_copy(update={"namespace": "team-a", "title": "Growth <b>team</b>"}))
    assert "<title>Growth &lt;b&gt;team&lt;/b&gt; — OKR status 2026-Q4</title>" in titled
    assert "<h1>Growth &lt;b&gt;team&lt;/b&gt; — OKR status 2026-Q4</h1>" in titled and "<b>team" not in titled


def _reads(chance: float) -> str:
    """How a chance reads, by use_forecast's default thresholds (docs/okr-semantics.md)."""
    return "on_track" if chance >= 0.7 else "at_risk" if chance >= 0.3 else "off_track"


def test_a_line_says_why_exactly_where_status_and_chance_disagree(document):
    html = render_html(document)
    for _, kr in document.key_results():
        chance = kr.forecast.probability if kr.forecast else None
        status = "on_track" if kr.status == "done" else kr.status
        disagree = chance is not None and _reads(chance) != status
        assert ('class="note why"' in card_of(html, f"kr-{kr.id}")) == disagree, kr.id
    assert html.count('class="note why"') == 5
    # mrr: (153,175 - 120,000) / 60,000 = 55 % done, the phases expect 47 %: on track; 43 % likely reads at risk
    assert (
        "Why: On track by the calendar (55% done, 47% expected by today); the chance (43%) carries the pace of recent "
        "weeks to the due date, and the status does not use it (status: use_forecast is off)."
    ) in card_of(html, "kr-mrr")
    assert "Why: On track for an aspirational objective, where 70% of the target counts as success" in card_of(
        html, "kr-signups"
    ) and "0.7 × 67%); &lt;1% is the chance of reaching the whole target" in card_of(html, "kr-signups")
    assert 'class="note why"' not in card_of(html, "kr-p1")  # on track and 93 % likely agree


@pytest.mark.parametrize(
    ("status", "chance", "line"),
    [
        ("on_track", 0.7, None),  # likely from 0.7: agrees
        ("on_track", 0.699999, "On track by the calendar"),
        ("at_risk", 0.3, None),
        ("at_risk", 0.299999, "At risk by the calendar"),
        ("off_track", 0.75, "Off track by the calendar"),
        ("done", 0.2, "Why: The target was reached, and a reached key result stays done"),
        ("done", 0.9, None),
    ],
)
def test_the_why_line_follows_the_thresholds(document, status, chance, line):
    mrr = document.kr("mrr")
    kr = mrr.model_copy(update={"status": status, "forecast": mrr.forecast.model_copy(update={"probability": chance})})
    o = document.objectives[0].model_copy(update={"key_results": [kr]})
    section = card_of(render_html(document.model_copy(update={"objectives": [o]})), "kr-mrr")
    assert (line in section) if line else 'class="note why"' not in section


def test_an_aspirational_kr_judged_by_its_chance_says_so(document):
    rules = type("Rules", (), {"use_forecast": True, "likely": 0.7, "unlikely": 0.3})()
    html = render_html(document.model_copy(update={"status_rules": rules}))
    assert "On track for an aspirational objective, judged by the chance of getting 70% of the way" in card_of(
        html, "kr-signups"
    )


def test_times_are_shown_in_the_zone_named(document):
    from tests.helpers import oslo

    html = render_html(document.model_copy(update={"as_of": oslo(2026, 11, 21, 5, 19)}))
    assert "As of <time>2026-11-21 05:19</time>" in html and 'times in <span class="nowrap">Europe/Oslo</span>' in html
    assert "UTC+" not in html
    offset = datetime(2026, 11, 21, 5, 19, tzinfo=timezone(timedelta(hours=1)))  # as a stored document holds it
    older = render_html(document.model_copy(update={"as_of": offset, "timezone": None}))
    assert "As of <time>2026-11-21 05:19 UTC+01:00</time>" in older and "times in" not in older  # no zone stored


def test_a_manual_kr_has_its_own_badge(document):
    from okrsync.okr.status import OverrideDoc

    csat = document.kr("csat").model_copy(update={"manual": True})
    p1 = document.kr("p1").model_copy(update={"manual": True, "override": OverrideDoc(value=9, sticky=True, note="x")})
    delight = next(o for o in document.objectives if o.id == "delight")
    krs = [csat if k.id == "csat" else p1 if k.id == "p1" else k for k in delight.key_results]
    objectives = [o.model_copy(update={"key_results": krs}) if o.id == "delight" else o for o in document.objectives]
    html = render_html(document.model_copy(update={"objectives": objectives}))
    assert '<article class="kr manual" id="kr-csat">' in html and "✍ manual KR" in card_of(html, "kr-csat")
    assert '<article class="kr overridden manual" id="kr-p1">' in html
    assert "✍ manual KR" in card_of(html, "kr-p1") and "✎ manual</span>" not in card_of(html, "kr-p1")
    assert "✎ manual value: x" in card_of(html, "kr-p1")  # the owner's note on the value stays
    assert html.count("✍ manual KR") == 2 and "✍ manual KR" not in render_html(document)


def test_a_synced_manual_kr_shows_its_badge_with_or_without_a_value(tmp_path, write_config):
    from okrsync.config.load import load_config
    from okrsync.sync.sequence import sync
    from tests.helpers import DAY1, DAY2, cli, write_csv

    write_csv(tmp_path / "d.csv", "n\n40\n")
    path = write_config("""
        connections: {files: {type: csv, root: .}}
        metrics: {n: {connection: files, path: d.csv, column: n}}
        objectives:
          - id: grow
            title: Grow
            key_results:
              - {id: signups, title: Signups, metric: n, start: 0, target: 100}
              - {id: partners, title: Partners signed, start: 0, target: 10}
    """)
    config = load_config(path)
    before = render_html(sync(config, DAY1, now=DAY1).document)
    assert "✍ manual KR" in card_of(before, "kr-partners") and "no data" in card_of(before, "kr-partners")
    with mock.patch("okrsync.clock.now", lambda config: DAY1):  # typed on DAY1: it counts from that day on
        assert cli(["-c", str(path), "override", "partners", "4", "--note", "two <signed>"])[0] == 0
    after = render_html(sync(config, DAY2, now=DAY2).document)
    partners = card_of(after, "kr-partners")
    assert '<article class="kr overridden manual" id="kr-partners">' in after and "✍ manual KR" in partners
    assert "✎ manual value: two &lt;signed&gt;" in partners and "✎ manual</span>" not in partners
    assert "now <b>4</b>" in partners and "40% (expected" in partners  # (4 - 0) / (10 - 0)
    assert "manual KR" not in card_of(after, "kr-signups")


def test_a_kpi_that_leads_a_key_result_shows_the_lag_beside_it(document):
    """docs/okr-semantics.md's worked example: weeks ending on Thursdays 1 October .. 10 December (the as-of
    day); traffic's weekly changes 12 9 13 10 11 8 14 11 11 11, signups' 10 10 12 9 11 8 11 8 12 9. At lag 2
    the 8 pairs give r = 20 / sqrt(28 x 20) = 0.845, the largest |r| with 8 pairs or more."""
    objective, kr = next(document.key_results())
    kpi = document.kpis[0].model_copy(update={"title": "traffic", "leads": [kr.id], "metric": "traffic"})
    led = kr.model_copy(update={"title": "signups", "metric": "signups"})
    as_of = datetime(2026, 12, 10, 23, 59, tzinfo=timezone(timedelta(hours=1)))
    objectives = [objective.model_copy(update={"key_results": [led]})]
    doc = document.model_copy(update={"as_of": as_of, "kpis": [kpi], "objectives": objectives})
    days = [datetime(2026, 10, 1, 12, tzinfo=UTC) + timedelta(weeks=w) for w in range(11)]
    traffic = list(itertools.accumulate([12, 9, 13, 10, 11, 8, 14, 11, 11, 11], initial=100))
    signups = list(itertools.accumulate([10, 10, 12, 9, 11, 8, 11, 8, 12, 9], initial=50))
    history = {
        "traffic": [[d.isoformat(), v] for d, v in zip(days, traffic, strict=True)],
        "signups": [[d.isoformat(), v] for d, v in zip(days, signups, strict=True)],
    }
    html = render_html(doc, history)
    assert "Leading indicator: traffic leads signups by 2 weeks, r = 0.85" in html
    short = {name: series[-5:] for name, series in history.items()}  # 4 weekly changes: no lag has 8 pairs
    assert "Leading indicator: traffic: not enough evidence yet (" in render_html(doc, short)
    assert "Leading indicator" not in render_html(document, history)  # no KPI says leads


def test_a_card_shows_the_owners_latest_note_and_a_confidence_the_data_disagrees_with(document):
    from okrsync.okr.status import NoteDoc

    objective, kr = next((o, k) for o, k in document.key_results() if k.status == "at_risk")
    said = NoteDoc(
        day="2026-11-20",
        written_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author="Ana",
        text="Ads <b>paused</b>\nback Monday",
    )
    noted = kr.model_copy(update={"owner_note": said, "owner_confidence": "on_track", "confidence_disagrees": True})
    krs = [noted if k.id == kr.id else k for k in objective.key_results]
    objectives = [o.model_copy(update={"key_results": krs}) if o.id == objective.id else o for o in document.objectives]
    card = card_of(render_html(document.model_copy(update={"objectives": objectives})), f"kr-{kr.id}")
    assert '💬 <span class="said">Ads &lt;b&gt;paused&lt;/b&gt;\nback Monday</span>' in card and "<b>paused" not in card
    assert "— Ana, 2026-11-20" in card
    chance = kr.forecast.probability if kr.forecast else None
    data = "at risk" + ("" if chance is None else f", {fmt_chance(chance)} likely")
    assert f"❓ Confidence: owner: on track · data: {html.escape(data)}</p>" in card  # "&lt;1% likely"
