"""The cost of issue 13's additions at scale: forecast confidence in the evaluation, and the HTML report.

A 2,000-KR organisation (bench_store.make_config) with a value every day from the cycle start
(2026-08-01) to the as-of day (2026-11-28: 120 days, 240,000 points). Printed, each against a baseline
measured in the same run: the evaluation with confidence against the same evaluation with it switched
off; the HTML page (2,000 charts of 120 values) against the JSON document of the same status. Wall time
is the best of three; peak memory is Python's allocations during the step (tracemalloc).

    .venv/bin/python -m bench.report_bench
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

from bench.bench_store import START, TZ, make_config
from okrsync.connectors.report import render_html, render_json
from okrsync.okr import confidence
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.okr.status import build_document

N_KRS, DAYS = 2000, 120


def best_of(step, runs: int = 3) -> tuple[float, float, object]:
    """(best wall seconds, peak MB of the first run, result)."""
    tracemalloc.start()
    result = step()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
    return min(walls), peak, result


def open_in_chromium(page_path: Path, runs: int = 3) -> tuple[float, float | None]:
    """(best seconds from navigation to the load event, seconds for the first chart's first hover readout;
    None for a page without one, as before the page had its script)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        loads = []
        for _ in range(runs):
            t0 = time.perf_counter()
            page.goto(page_path.as_uri(), wait_until="load")
            loads.append(time.perf_counter() - t0)
        hover = None
        if page.locator("script").count():
            box = page.locator("svg.chart").first.bounding_box()
            t0 = time.perf_counter()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.locator("svg.chart .hv text").first.wait_for(state="visible")
            hover = time.perf_counter() - t0
        browser.close()
    return min(loads), hover


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, help="also write the page here")
    parser.add_argument("--chromium", action="store_true", help="also time the page in headless Chromium")
    args = parser.parse_args()
    config = make_config(N_KRS)
    days = [datetime.combine(START, datetime.min.time(), TZ) + timedelta(days=d, hours=6) for d in range(DAYS)]
    states = {
        f"m{i}": MetricState(history=tuple(Point.of(at, 10 + d * 0.5 + (i * d) % 7) for d, at in enumerate(days)))
        for i in range(N_KRS)
    }
    as_of = days[-1]
    with_confidence, peak_eval, evaluation = best_of(lambda: evaluate(config, states, as_of))
    with mock.patch.object(confidence, "spread", return_value=None):
        without, _, _ = best_of(lambda: evaluate(config, states, as_of))
    doc = build_document(evaluation, config)
    likely = sum(kr.forecast is not None and kr.forecast.probability is not None for _, kr in doc.key_results())
    history = {m: [[at.isoformat(), p.value] for at, p in zip(days, s.history, strict=True)] for m, s in states.items()}
    html_wall, html_peak, html = best_of(lambda: render_html(doc, history))
    json_wall, _, text = best_of(lambda: render_json(doc))
    print(f"{N_KRS} KRs, {DAYS} daily values each; {likely} KRs with a probability")
    print(f"evaluate with confidence   {with_confidence:6.2f} s  peak {peak_eval:6.1f} MB")
    print(f"evaluate without (baseline){without:6.2f} s  ratio {with_confidence / without:4.2f}x")
    size = len(str(html).encode())
    page = f"{size / 1e6:5.2f} MB page ({size} bytes)"
    print(f"HTML report                {html_wall:6.2f} s  peak {html_peak:6.1f} MB  {page}")
    ratio = html_wall / json_wall
    print(f"JSON document (baseline)   {json_wall:6.2f} s  ratio {ratio:4.1f}x  {len(text) / 1e6:5.1f} MB")
    if args.html or args.chromium:
        page_path = args.html or Path(tempfile.mkdtemp()) / "report.html"
        page_path.write_text(str(html), encoding="utf-8")
        if args.chromium:
            load, hover = open_in_chromium(page_path)
            readout = "none on this page" if hover is None else f"{hover:5.3f} s"
            print(f"Chromium: load event {load:5.2f} s (best of 3), first hover readout {readout}")


if __name__ == "__main__":
    main()
