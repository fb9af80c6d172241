"""Data contracts (expect: {min, max, max_change}): a breaking value is held back, its KRs are suspect,
nothing is written back for them, the value waits in the store, and `okrsync accept` publishes it."""

import csv
import io
import json
from datetime import date

import pytest

from okrsync.config import Cycle, Expect
from okrsync.config.load import load_config
from okrsync.connectors.report import render_csv, render_markdown
from okrsync.errors import ConfigError
from okrsync.okr.contracts import breach
from okrsync.present.digest import run_digest, weekly_digest
from okrsync.present.triggers import fired
from okrsync.store import Store
from okrsync.sync.sequence import reevaluate, sync
from tests.helpers import okrsync, oslo, write_csv

DAY1, DAY2, DAY3 = oslo(2026, 11, 14), oslo(2026, 11, 15), oslo(2026, 11, 16)
CYCLE = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31), timezone="Europe/Oslo")


def test_a_breach_names_the_metric_the_value_and_the_rule():
    both = Expect(min=0, max=100, max_change="50%")
    assert breach("csat", both, 250, 80) == "csat = 250 is above expect.max 100"
    assert breach("csat", both, -3, None) == "csat = -3 is below expect.min 0"
    assert breach("csat", both, 30, 80) == "csat = 30 changed by -62% from 80, more than expect.max_change 50%"
    assert breach("csat", both, 40, 80) is None  # exactly 50 %: kept
    assert breach("csat", both, 99, None) is None  # no last good value: only the bounds
    assert breach("csat", both, 0, None) is None and breach("csat", both, 100, None) is None  # bounds included
    absolute = "x = 101 changed by +21 from 80, more than expect.max_change 20"
    assert breach("x", Expect(max_change=20), 101, 80) == absolute
    assert breach("x", Expect(max_change=20), 100, 80) is None
    assert breach("x", Expect(max_change="10%"), 5, 0) is None  # a share of 0 is undefined: not checked


def test_a_suspect_metric_flags_its_krs_unless_a_lead_set_the_value():
    from okrsync.config import KeyResult, Objective, StatusThresholds
    from okrsync.okr.evaluate import evaluate_kr
    from okrsync.okr.results import MetricState, Override, Point

    kr, objective = KeyResult(id="k", metric="m", start=0, target=100), Objective(id="o", title="O")
    state = MetricState(history=(Point.of(DAY1, 40),), suspect="m = 400 is above expect.max 100")
    flagged = evaluate_kr(kr, objective, state, CYCLE, DAY2, StatusThresholds())
    assert flagged.suspect and flagged.value == 40 and flagged.suspect_reason == "m = 400 is above expect.max 100"
    manual = evaluate_kr(kr, objective, state, CYCLE, DAY2, StatusThresholds(), Override(55))
    assert not manual.suspect and manual.value == 55


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ("{max_change: lots}", "max_change is a number"),
        ("{max_change: -5}", "max_change must be above 0"),
        ("{min: 10, max: 1}", "min 10.0 is above max 1.0"),
        ("{}", "expect needs min, max or max_change"),
        ("{maximum: 3}", "maximum"),
    ],
)
def test_a_broken_contract_in_the_config_is_located(write_config, expect, message):
    path = write_config(f"""
        metrics:
          m: {{formula: "1", expect: {expect}}}
    """)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert message in text and "okrsync.yaml:" in text and "metrics.m.expect" in text


@pytest.fixture
def team(tmp_path, write_config):
    write_csv(tmp_path / "data" / "kpi.csv", "date,csat,tickets\n2026-11-14,80,10\n2026-11-15,250,11\n")
    return write_config("""
        connections:
          files: {type: csv, root: data/}
        metrics:
          csat: {connection: files, path: kpi.csv, column: csat, date_column: date, expect: {min: 0, max: 100}}
          tickets: {connection: files, path: kpi.csv, column: tickets, date_column: date}
          score: {formula: "csat * 2", expect: {max: 500}}
        objectives:
          - id: o
            title: Delight
            key_results:
              - {id: csat, metric: csat, start: 75, target: 90, sheet_cell: B2}
              - {id: score, metric: score, start: 150, target: 180}
              - {id: tickets, metric: tickets, start: 0, target: 20}
        kpis: [{id: csat-kpi, metric: csat, healthy: {min: 70}}]
        outputs: [{type: report, path: out/report.json}]
    """)


def test_a_breaking_value_is_held_back_and_its_krs_are_suspect(team, store_url):
    config = load_config(team)
    store = Store(store_url)
    sync(config, DAY1, now=DAY1, store=store)
    result = sync(config, DAY2, now=DAY2, store=store)
    csat = result.document.kr("csat")
    assert csat.suspect and csat.value == 80 and not csat.stale  # the last good value, not stale
    assert csat.suspect_reason == "csat = 250 is above expect.max 100"
    assert csat.status == "at_risk"  # judged on the last good value (250 would make it done)
    score = result.document.kr("score")  # a formula over a held value is held too
    assert score.suspect and score.value == 160 and "computed from held-back csat" in score.suspect_reason
    assert not result.document.kr("tickets").suspect and result.document.kr("tickets").value == 11
    assert result.document.kpis[0].suspect and result.document.kpis[0].value == 80
    assert result.exit_code == 0  # a held value is the contract working, not a failure
    history = store.load_history(config.namespace, "2026-Q4", DAY2.date())
    assert [p.value for p in history["csat"]] == [80] and [p.value for p in history["tickets"]] == [10, 11]
    (held,) = store.held(config.namespace, "2026-Q4", "csat")
    assert (held.metric_id, held.value, held.day.isoformat()) == ("csat", 250, "2026-11-15")
    assert {h.metric_id for h in store.held(config.namespace, "2026-Q4", day=DAY2.date())} == {"csat", "score"}
    row = next(r for r in csv.DictReader(io.StringIO(render_csv(result.document))) if r["kr_id"] == "csat")
    assert row["suspect"] == csat.suspect_reason and row["value"] == "80.0"
    written = json.loads((team.parent / "out" / "report.json").read_text())
    assert next(k for k in written["objectives"][0]["key_results"] if k["id"] == "csat")["suspect"] is True
    # a re-evaluation (after an override of another KR) keeps the verdict
    store.add_override(config.namespace, "tickets", 12, False, None, DAY2)
    again = reevaluate(config, store, now=DAY2)
    assert again.document.kr("csat").suspect and again.document.kr("tickets").value == 12
    # a re-run of the same day that now reads a good value clears it
    write_csv(team.parent / "data" / "kpi.csv", "date,csat,tickets\n2026-11-14,80,10\n2026-11-15,82,11\n")
    fixed = sync(config, DAY2, now=DAY2, store=store)
    assert not fixed.document.kr("csat").suspect and fixed.document.kr("csat").value == 82
    assert store.held(config.namespace, "2026-Q4") == []
    store.close()


def test_suspect_krs_announce_only_that_they_wait(team):
    config = load_config(team)
    first = sync(config, DAY1, now=DAY1)
    second = sync(config, DAY2, now=DAY2)
    csat, before = second.document.kr("csat"), first.document.kr("csat")
    assert fired(csat, before, ["status_change", "done", "stale", "suspect", "every_run"]) == {"suspect"}
    assert fired(csat, csat, ["suspect", "every_run"]) == set()  # once, when it starts
    digest = run_digest(second.document, first.document, ["status_change", "suspect"])
    held = next(s for s in digest.sections if s.title.startswith("Held back"))
    assert held.lines == ["csat: csat = 250 is above expect.max 100", "score: score is computed from held-back csat"]
    assert "csat" not in " ".join(line for s in digest.sections if s is not held for line in s.lines)
    weekly = [line for s in weekly_digest(second.document, []).sections for line in s.lines]
    assert any(line.startswith("🟠 csat: 33%") and line.endswith("⏸ held back for review") for line in weekly)
    assert "| csat | 80 | 90 | 33% | 49% | at risk ⏸ held back |" in render_markdown(second.document)


def test_the_sheet_cell_of_a_suspect_kr_is_not_written(team):
    from okrsync.connectors.google_sheets.sink import status_data

    config = load_config(team)
    good = sync(config, DAY1, now=DAY1).document
    assert [d["range"] for d in status_data(good, "OKR")][1:] == ["'OKR'!B2"]
    doc = sync(config, DAY2, now=DAY2).document
    ranges = [d["range"] for d in status_data(doc, "OKR")]
    assert len(ranges) == 1 and ranges[0].endswith("!A1:O4")  # the table (csat flagged in it), no B2
    table = status_data(doc, "OKR")[0]["values"]
    assert "held back for review: csat = 250" in next(r for r in table if r[1] == "csat")[11]


def test_accept_publishes_the_held_value_and_re_evaluates(team):
    config = ["-c", str(team)]
    assert okrsync(*config, "run", "--as-of", "2026-11-14", "-q").returncode == 0
    assert okrsync(*config, "run", "--as-of", "2026-11-15", "-q").returncode == 0
    listed = okrsync(*config, "accept")
    assert listed.returncode == 0 and "csat" in listed.stdout and "250" in listed.stdout
    waiting = "held back 250: csat = 250 is above expect.max 100 (waiting for `okrsync accept`)"
    days = okrsync(*config, "history", "csat").stdout.splitlines()
    assert waiting in next(line for line in days if "2026-11-15" in line)
    assert "held back" not in next(line for line in days if "2026-11-14" in line)
    unknown = okrsync(*config, "accept", "nps")
    assert unknown.returncode == 2 and "no metric 'nps'" in unknown.stderr and "Traceback" not in unknown.stderr
    accepted = okrsync(*config, "accept", "csat")
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted csat = 250 on 2026-11-15" in accepted.stdout and "published 2026-11-15" in accepted.stdout
    doc = json.loads(okrsync(*config, "status", "-f", "json").stdout)
    csat = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == "csat")
    assert (csat["value"], csat["suspect"], csat["status"]) == (250, False, "done")
    score = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == "score")
    assert score["suspect"] is True  # its own value waits for its own review
    assert json.loads((team.parent / "out" / "report.json").read_text())["objectives"] == doc["objectives"]
    again = okrsync(*config, "accept", "csat")
    assert again.returncode == 1 and "Nothing of csat is held back" in again.stderr
    assert (
        "held back 250: csat = 250 is above expect.max 100 (accepted later)"
        in okrsync(*config, "history", "csat").stdout
    )
    rerun = okrsync(*config, "run", "--as-of", "2026-11-15", "-q")  # the accepted value is not held again,
    assert rerun.returncode == 0  # and score = 500 from it keeps its own contract (max 500)
    assert "Nothing is held back" in okrsync(*config, "accept").stdout
    doc = json.loads(okrsync(*config, "status", "-f", "json").stdout)
    assert not any(k["suspect"] for o in doc["objectives"] for k in o["key_results"])


def test_deleting_a_run_deletes_what_it_held_back(team):
    config = load_config(team)
    store = Store(config.store_url())
    sync(config, DAY1, now=DAY1, store=store)
    sync(config, DAY2, now=DAY2, store=store)
    assert {h.metric_id for h in store.held(config.namespace, "2026-Q4")} == {"csat", "score"}
    assert store.delete_run(config.namespace, "2026-Q4", DAY1.date()) is not None
    assert len(store.held(config.namespace, "2026-Q4")) == 2  # another day's run: kept
    store.delete_run(config.namespace, "2026-Q4", DAY2.date())
    assert store.held(config.namespace, "2026-Q4") == []
    store.close()
