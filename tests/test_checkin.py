"""`okrsync checkin` (docs/checkin.md): a known week synced by hand into a SQLite store, owners' notes written
between the syncs, and the check-in compared with figures worked out by hand in the comments.

The week: cycle 2026-Q4 (Oct 1 to Dec 31, 92 days, Europe/Oslo) synced on Oct 19, Oct 26, Nov 2 and every day
from Nov 9 to Nov 16. Expected progress at the end of Nov 9 is 40/92 = 0.434783, of Nov 16 47/92 = 0.510870. The
status thresholds are the defaults (on track within 0.10 of expected, at risk within 0.25)."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.sync.sequence import sync
from tests.helpers import okrsync, oslo

NOV = [date(2026, 11, d) for d in range(9, 17)]
DAYS = [date(2026, 10, 19), date(2026, 10, 26), date(2026, 11, 2), *NOV]
VALUES = {  # one csv row per synced day; nps.csv is gone before Nov 16 (its source fails), csat's 250 is held
    "signups": [100, 200, 300, 400, 420, 450, 470, 480, 480, 480, 480],
    "deploys": [5, 12, 20, 25, 26, 27, 28, 28, 29, 30, 30],
    "csat": [72, 75, 77, 78, 77, 77, 76, 75, 75, 74, 250],
    "nps": [30] * 10,
}
HOSTILE = "Survey changed <script>alert(1)</script> | *rows* [link](http://x) `code` [bold]markup[/bold]"
NOTES = {  # day synced last before the note -> (kr, text, confidence, author, written at)
    date(2026, 11, 9): [("signups", "Campaign launched", "on_track", "ana", oslo(2026, 11, 9, 10))],
    date(2026, 11, 12): [("csat", HOSTILE, "8", "bo", oslo(2026, 11, 12, 15))],
    date(2026, 11, 16): [
        ("signups", "Flat since Thursday: the form broke", None, "ana", oslo(2026, 11, 16, 18)),
        ("deploys", "Release train paused", "at_risk", "cy", oslo(2026, 11, 16, 18, 5)),
    ],
}
CONFIG = """\
version: 1
namespace: team
title: Support team
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: sqlite:///store.db
connections: {files: {type: csv, root: data}}
metrics:
  signups: {connection: files, path: signups.csv, column: n, date_column: date}
  deploys: {connection: files, path: deploys.csv, column: n, date_column: date}
  csat: {connection: files, path: csat.csv, column: n, date_column: date, max_age: 8d, expect: {min: 0, max: 100}}
  nps: {connection: files, path: nps.csv, column: n, date_column: date, max_age: 8d}
objectives:
  - id: grow
    title: Grow self-serve
    owner: ana
    key_results:
      - {id: signups, title: Signups to 600, metric: signups, start: 0, target: 600}
      - {id: deploys, title: "Deploys | *to* 100 <b>", metric: deploys, start: 0, target: 100}
  - id: delight
    title: Delight customers
    owner: bo
    key_results:
      - {id: csat, title: CSAT from 70 to 90, metric: csat, start: 70, target: 90}
      - {id: nps, title: NPS to 50, metric: nps, start: 0, target: 50}
checkin:
  prompts:
    at_risk: ["What is blocking {kr}?"]
    off_track: ["Why is {kr} off track?", "What would move {kr} by next week?"]
"""


def write_note(path, kr, text, confidence, author, at):
    args = ["-c", str(path), "note", kr, text, "--author", author]
    args += ["--confidence", confidence] if confidence else []
    with mock.patch("okrsync.clock.now", lambda config: at):  # the moment written, as the CLI reads it
        ran = okrsync(*args, cwd=path.parent)
    assert ran.returncode == 0, ran.stderr


def week_files(root):
    """The week's csv files and config in ``root``; the config's path."""
    (root / "data").mkdir()
    for name, values in VALUES.items():
        rows = "".join(f"{day},{value}\n" for day, value in zip(DAYS, values, strict=False))
        (root / "data" / f"{name}.csv").write_text("date,n\n" + rows)
    path = root / "team.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    root = tmp_path_factory.mktemp("week")
    path = week_files(root)
    config = load_config(path)
    for day in DAYS:
        if day == date(2026, 11, 16):
            (root / "data" / "nps.csv").unlink()
        sync(config, end_of_day(day, config.cycle), now=oslo(day.year, day.month, day.day, 6))
        for note in NOTES.get(day, []):
            write_note(path, *note)
    return path


def checkin(path, *args: str):
    ran = okrsync("-c", str(path), "checkin", *args, cwd=path.parent)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def checkin_json(path, *args: str) -> dict:
    return json.loads(checkin(path, "-f", "json", *args))


def stored_chance(path, day: str, kr_id: str) -> float:
    """The chance of target the day's stored status document holds (an input of the check-in, not its output)."""
    doc = json.loads(okrsync("-c", str(path), "status", "--as-of", day, "-f", "json", cwd=path.parent).stdout)
    kr = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == kr_id)
    return kr["forecast"]["probability"]


def test_the_known_week_by_hand(week):
    got = checkin_json(week)  # default: until = Nov 16 (the latest stored day), since = Nov 16 - 7 days = Nov 9
    assert (got["since"], got["until"], got["from_day"], got["period_note"]) == (
        "2026-11-09",
        "2026-11-16",
        "2026-11-09",
        None,
    )
    assert (got["namespace"], got["title"], got["cycle"]) == ("team", "Support team", "2026-Q4")
    krs = {k["id"]: k for k in got["key_results"]}
    figures = ("objective", "owner", "value_from", "value_to", "progress_change", "status_from", "status_to")
    # signups 400 -> 480 of 600: 0.666667 -> 0.8 (+0.133333); on track both days (ahead of 0.434783, 0.510870)
    assert [krs["signups"][f] for f in figures] == ["grow", "ana", 400, 480, 0.133333, "on_track", "on_track"]
    # deploys 25 -> 30 of 100: 0.25 -> 0.30 (+0.05); gaps 0.184783 and 0.210870: at risk both days
    assert [krs["deploys"][f] for f in figures] == ["grow", "ana", 25, 30, 0.05, "at_risk", "at_risk"]
    # csat 78 -> 74 (Nov 16's 250 is held back: the last good value stands): (78-70)/20 = 0.4 -> 0.2 (-0.2);
    # gap 0.034783 on track, then 0.310870 off track
    assert [krs["csat"][f] for f in figures] == ["delight", "bo", 78, 74, -0.2, "on_track", "off_track"]
    # nps 30 of 50 both days (Nov 16 keeps the last value of its failed fetch): 0.6, on track
    assert [krs["nps"][f] for f in figures] == ["delight", "bo", 30, 30, 0, "on_track", "on_track"]
    for kr_id in ("signups", "deploys", "csat", "nps"):  # the stored chances' difference, six digits
        before, after = stored_chance(week, "2026-11-09", kr_id), stored_chance(week, "2026-11-16", kr_id)
        assert krs[kr_id]["chance_change"] == round(after - before, 6), kr_id
    objectives = {o["id"]: o for o in got["objectives"]}
    # grow: mean of (0.666667, 0.25) = 0.458333 -> mean of (0.8, 0.3) = 0.55: +0.091667, on track both days
    grow = objectives["grow"]
    assert (grow["progress_from"], grow["progress_to"], grow["progress_change"]) == (0.458333, 0.55, 0.091667)
    # delight: mean of (0.4, 0.6) = 0.5 -> mean of (0.2, 0.6) = 0.4 (-0.1); gap 0.110870 on Nov 16: at risk
    delight = objectives["delight"]
    assert (delight["progress_change"], delight["status_from"], delight["status_to"]) == (-0.1, "on_track", "at_risk")
    assert grow["key_results"] == ["signups", "deploys"] and delight["owner"] == "bo"


def test_stalled_days_count_calendar_days_back_to_where_the_value_last_moved(week):
    krs = {k["id"]: k for k in checkin_json(week)["key_results"]}
    # signups 480 on Nov 13, 14, 15, 16 (470 on Nov 12): 3 days without movement, the same value since Nov 13
    assert (krs["signups"]["stalled_days"], krs["signups"]["stalled_since"]) == (3, "2026-11-13")
    # deploys 30 on Nov 15 and 16 (29 on Nov 14): 1 day
    assert (krs["deploys"]["stalled_days"], krs["deploys"]["stalled_since"]) == (1, "2026-11-15")
    # csat 74 on Nov 15, and on Nov 16 the held value leaves the last good one, 74: 1 day
    assert (krs["csat"]["stalled_days"], krs["csat"]["stalled_since"]) == (1, "2026-11-15")
    # nps 30 on every stored day, from Oct 19 (the first) to Nov 16: 28 calendar days, though only 11 synced days
    assert (krs["nps"]["stalled_days"], krs["nps"]["stalled_since"]) == (28, "2026-10-19")
    until_nov_12 = {k["id"]: k for k in checkin_json(week, "--since", "2026-11-05")["key_results"]}
    assert until_nov_12["signups"]["stalled_days"] == 3  # --since does not change it: it counts up to until


def test_stalled_days_do_not_depend_on_the_order_the_days_were_stored(tmp_path):
    """The KR values of each stored day are read in day order, whatever order the runs were written in: the
    weeks of Oct 19 to Nov 2 synced after Nov 9-16 count as in order (nps 30 from Oct 19: 28 days; signups
    480 from Nov 13: 3 days). Reading by run, or by the order rows come, would count from the last one written."""
    path = week_files(tmp_path)
    config = load_config(path)
    for day in [*NOV, *DAYS[:3]]:  # the three weeks of October and early November last
        sync(config, end_of_day(day, config.cycle), now=oslo(2026, 11, 16, 6))
    krs = {k["id"]: k for k in checkin_json(path)["key_results"]}
    assert (krs["nps"]["stalled_days"], krs["nps"]["stalled_since"]) == (28, "2026-10-19")
    assert (krs["signups"]["stalled_days"], krs["signups"]["stalled_since"]) == (3, "2026-11-13")


def test_stalled_worked_example_of_the_docs():
    from okrsync.present.checkin import stalled

    days = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 13), date(2026, 11, 16)]
    series = list(zip(days, [40.0, 52.0, 55.0, 55.0, 55.0], strict=True))
    assert stalled(series, date(2026, 11, 16)) == (6, date(2026, 11, 10))  # 55 since Nov 10: 16 - 10 = 6 days
    assert stalled(series[:2], date(2026, 11, 9)) == (0, date(2026, 11, 9))  # moved on the last day
    assert stalled([(date(2026, 11, 16), None)], date(2026, 11, 16)) == (None, None)  # no value, nothing to say
    assert stalled(series[:3], date(2026, 11, 16)) == (None, None)  # no result stored for until itself


@given(st.lists(st.sampled_from([1.0, 2.0, None]), min_size=1, max_size=12), st.lists(st.integers(1, 9), max_size=12))
def test_stalled_is_the_span_of_the_last_run_of_equal_values(values, gaps):
    from okrsync.present.checkin import stalled

    days, day = [], date(2026, 10, 1)
    for i in range(len(values)):
        days.append(day)
        day += timedelta(days=gaps[i] if i < len(gaps) else 1)
    until = days[-1]
    days_, since = stalled(list(zip(days, values, strict=True)), until)
    if values[-1] is None:
        assert (days_, since) == (None, None)
        return
    first = len(values) - 1  # by hand: walk back while the value is the last one
    while first > 0 and values[first - 1] == values[-1]:
        first -= 1
    assert since == days[first] and days_ == (until - days[first]).days


def test_prompts_only_for_at_risk_and_off_track(week):
    krs = {k["id"]: k for k in checkin_json(week)["key_results"]}
    assert krs["signups"]["prompts"] == [] and krs["nps"]["prompts"] == []  # on track: nothing to ask
    assert krs["deploys"]["prompts"] == ["What is blocking Deploys | *to* 100 <b>?"]  # at risk, {kr} = its title
    assert krs["csat"]["prompts"] == [
        "Why is CSAT from 70 to 90 off track?",
        "What would move CSAT from 70 to 90 by next week?",
    ]


def test_notes_of_the_period_and_the_confidence_flag(week):
    krs = {k["id"]: k for k in checkin_json(week)["key_results"]}
    # Nov 9's note belongs to the previous check-in (the period is after Nov 9 up to Nov 16)
    assert [n["text"] for n in krs["signups"]["notes"]] == ["Flat since Thursday: the form broke"]
    assert krs["signups"]["notes"][0]["day"] == "2026-11-16" and krs["signups"]["notes"][0]["author"] == "ana"
    assert krs["signups"]["notes"][0]["written_at"] == "2026-11-16T18:00:00+01:00"
    # ... but its confidence still stands: the latest given up to until; on track agrees with on track and 100 %
    assert krs["signups"]["confidence"] == {
        "given": "on_track",
        "label": "on_track",
        "day": "2026-11-09",
        "author": "ana",
    }
    assert krs["signups"]["confidence_flag"] is None
    # csat: 8/10 reads on track (7-10); the data says off track (status) and 26 % (below unlikely, 0.3)
    csat_chance = stored_chance(week, "2026-11-16", "csat")
    assert 0.255 <= csat_chance < 0.265
    assert krs["csat"]["confidence_flag"] == "owner: 8/10 (on track) · data: off track, 26% likely"
    assert krs["csat"]["notes"][0]["day"] == "2026-11-12" and krs["csat"]["notes"][0]["text"] == HOSTILE
    # deploys: the owner agrees with the status (at risk) but not with the chance (below 1 %: off track)
    assert stored_chance(week, "2026-11-16", "deploys") < 0.005
    assert krs["deploys"]["confidence_flag"] == "owner: at risk · data: at risk, <1% likely"
    assert krs["nps"]["confidence"] is None and krs["nps"]["confidence_flag"] is None
    assert krs["csat"]["status_to"] == "off_track"  # a question for the meeting, never a change of status


def test_held_back_and_failing_sources(week):
    got = checkin_json(week)
    krs = {k["id"]: k for k in got["key_results"]}
    assert krs["csat"]["held_back"] == [
        {"metric": "csat", "day": "2026-11-16", "value": 250, "reason": "csat = 250 is above expect.max 100"}
    ]
    [failing] = krs["nps"]["failing"]
    assert (failing["metric"], failing["connection"]) == ("nps", "files") and "nps.csv" in failing["message"]
    assert got["failing"] == [failing] and krs["nps"]["stale"].startswith("fetch failed")
    assert all(krs[k]["held_back"] == [] and krs[k]["failing"] == [] for k in ("signups", "deploys"))


def test_since_before_the_first_stored_day_and_between_stored_days(week):
    early = checkin_json(week, "--since", "2026-10-01")
    assert (early["since"], early["from_day"]) == ("2026-10-01", "2026-10-19")
    assert early["period_note"] == (
        "nothing is stored on or before 2026-10-01: the figures start from the first stored day, 2026-10-19"
    )
    krs = {k["id"]: k for k in early["key_results"]}
    assert (krs["signups"]["value_from"], krs["signups"]["progress_change"]) == (100, 0.633333)  # 100/600 -> 0.8
    assert [n["day"] for n in krs["signups"]["notes"]] == ["2026-11-09", "2026-11-16"]  # both after Oct 1
    between = checkin_json(week, "--since", "2026-11-05")  # Nov 2 is the nearest stored day on or before it
    assert between["from_day"] == "2026-11-02" and "nearest stored day before it" in between["period_note"]
    assert "the figures start from the first stored day, 2026-10-19" in checkin(week, "--since", "2026-10-01")
    later = okrsync("-c", str(week), "checkin", "--since", "2026-11-17", cwd=week.parent)
    assert later.returncode == 2 and "after the latest stored day, 2026-11-16" in later.stderr
    bad = okrsync("-c", str(week), "checkin", "--since", "last week", cwd=week.parent)
    assert bad.returncode == 2 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr


def test_markdown_escapes_user_text(week):
    page = checkin(week, "--format", "markdown")
    assert "<script>" not in page and "<b>" not in page
    assert "Survey changed &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*rows\\* \\[link\\](http://x) \\`code\\`" in page
    assert "### Deploys \\| \\*to\\* 100 &lt;b&gt;" in page
    assert "- **ask**: What is blocking Deploys \\| \\*to\\* 100 &lt;b&gt;?" in page
    # no user text leaves an unescaped *, | or < anywhere: only the labels' own **bold** and the <br> line breaks
    for line in page.splitlines():
        bare = line.replace("**", "").replace("<br>", "")
        assert not re.search(r"(?<!\\)[*|]|<", bare), line
    assert "- **question**: owner: 8/10 (on track) · data: off track, 26% likely" in page


def test_text_shows_markup_as_written_and_the_same_facts(week):
    text = checkin(week)
    assert "[bold]markup[/bold]" in text and "<script>alert(1)</script>" in text  # shown as written, not obeyed
    assert "Check-in: Support team · 2026-Q4 · 2026-11-09 → 2026-11-16" in text
    assert "stalled: 28 days without movement (the same value since 2026-10-19)" in text
    assert "progress: 40% → 20% (-20 pts)" in text and "ask: Why is CSAT from 70 to 90 off track?" in text
    page = checkin(week, "--format", "markdown")
    for fact in ("stalled**: 28 days without movement", "progress**: 40% → 20% (-20 pts)", "held back**: csat = 250"):
        assert fact in page


def test_computed_from_the_store_alone_and_the_same_every_time(week, tmp_path):
    first = checkin(week, "-f", "json")
    data = week.parent / "data"
    data.rename(week.parent / "gone")  # no source can be read: the check-in does not try
    try:
        assert checkin(week, "-f", "json") == first
    finally:
        (week.parent / "gone").rename(data)


def test_nothing_stored_yet(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG)
    ran = okrsync("-c", str(path), "checkin", cwd=tmp_path)
    assert ran.returncode == 1 and "No sync has been stored for 2026-Q4 yet" in ran.stderr
    assert "Traceback" not in ran.stderr
    wrong = okrsync("-c", str(path), "checkin", "--format", "html", cwd=tmp_path)
    assert wrong.returncode == 2


def test_confidence_scores_and_the_data_labels():
    from okrsync.config.model import StatusThresholds
    from okrsync.okr.owners import confidence_label
    from okrsync.okr.status import KrStatus
    from okrsync.present.checkin import confidence_flag

    assert [confidence_label(str(n)) for n in range(11)] == ["off_track"] * 4 + ["at_risk"] * 3 + ["on_track"] * 4
    thresholds = StatusThresholds()

    def kr(status, chance):
        forecast = None if chance is None else {"value": 1.0, "progress": 0.5, "probability": chance}
        fields = dict(id="k", title="K", metric="m", kind="increase", due=date(2026, 12, 31), expected=0.5)
        return KrStatus(**fields, status=status, forecast=forecast)

    # the case: a status on track beside a 12 % chance
    assert confidence_flag("on_track", kr("on_track", 0.12), False, thresholds) == (
        "owner: on track · data: on track, 12% likely"
    )
    assert confidence_flag("7", kr("done", None), False, thresholds) is None  # done reads as on track
    assert confidence_flag("on_track", kr("on_track", 0.7), False, thresholds) is None  # likely from 0.7
    assert confidence_flag("at_risk", kr("at_risk", 0.3), False, thresholds) is None  # unlikely below 0.3
    assert confidence_flag("on_track", kr("no_data", None), False, thresholds) is None  # the data says nothing
    # an aspirational objective expects 70 %, not the whole target: only its status counts
    assert confidence_flag("on_track", kr("on_track", 0.12), True, thresholds) is None
    assert confidence_flag("3", kr("on_track", None), True, thresholds) == "owner: 3/10 (off track) · data: on track"


# --------------------------------------------------------------------------- the terminal tree at 80 columns

LONG = "Reduce customer-reported production incidents affecting enterprise customers before the renewal season"
GUIDES = re.compile(r"^(?:│   |├── |└── |    )*")


def rendered(tree) -> list[str]:
    console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    console.print(tree)
    return console.export_text().splitlines()


def labels_in_order(tree) -> list[str]:
    words = tree.label.plain.split()
    for child in tree.children:
        words += labels_in_order(child)
    return words


def test_the_status_tree_wraps_at_word_boundaries_at_80_columns(week):
    from okrsync.cli.views import company_tree, status_tree
    from okrsync.okr.status import StatusDocument

    raw = json.loads(okrsync("-c", str(week), "status", "-f", "json", cwd=week.parent).stdout)
    for o in raw["objectives"]:
        o["title"], o["owner"] = f"{LONG} ({o['id']})", "someone.with.a.long.address@example.com"
        for k in o["key_results"]:
            k["title"] = f"{LONG} {k['id']}"
    raw["objectives"][1]["parent"], raw["objectives"][0]["children"] = "grow", ["delight"]  # one level deeper
    doc = StatusDocument.from_dict(raw)
    for tree in (status_tree(doc), company_tree({"team": doc})):
        lines = rendered(tree)
        assert max(len(line) for line in lines) <= 80
        shown = [word for line in lines for word in GUIDES.sub("", line).split()]
        assert shown == labels_in_order(tree)  # every word whole, in order: none split, none cut off


def test_the_checkin_tree_wraps_at_word_boundaries_at_80_columns(week):
    from okrsync.cli.checkin_commands import checkin_tree, read_checkin

    tree = checkin_tree(read_checkin(load_config(week), None))
    lines = rendered(tree)
    assert max(len(line) for line in lines) <= 80
    assert [word for line in lines for word in GUIDES.sub("", line).split()] == labels_in_order(tree)
