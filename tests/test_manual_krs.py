"""Manual key results (issue 25): a key result without ``metric:`` takes its value from ``okrsync override``
(always kept: there is no fetch to replace it), is marked manual in the status document, and goes stale
once its value is older than its ``max_age`` (8 days by default), like a fetched value older than its
metric's. Every figure below is worked out by hand from the config."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest

from okrsync.config.load import load_config
from okrsync.errors import ConfigError
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.helpers import cli, oslo, write_csv

CONFIG = """\
version: 1
namespace: acme
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{store}"
connections: {{files: {{type: csv, root: .}}}}
metrics: {{signups: {{connection: files, path: signups.csv, column: n}}}}
objectives:
  - id: grow
    title: Grow
    key_results:
      - {{id: signups, title: Signups, metric: signups, start: 0, target: 100}}
      - {{id: partners, title: Partners signed, start: 0, target: 10{extra}}}
      - {{id: launch, title: Launch the beta, kind: milestone}}
"""


def team(tmp_path, store_url: str, extra: str = ""):
    write_csv(tmp_path / "signups.csv", "n\n40\n")
    path = tmp_path / "okrsync.yaml"
    path.write_text(CONFIG.format(store=store_url, extra=extra))
    return path


def kr(result, kr_id: str):
    return result.document.kr(kr_id)


def test_a_manual_kr_has_no_data_until_set_then_keeps_its_value(tmp_path, store_url):
    path = team(tmp_path, store_url)
    config = load_config(path)
    first = sync(config, oslo(2026, 11, 2, 23), now=oslo(2026, 11, 2, 23))
    assert kr(first, "partners").status == "no_data" and kr(first, "partners").manual is True
    assert kr(first, "partners").metric is None and kr(first, "signups").manual is False
    code, output = cli(["-c", str(path), "override", "partners", "4"])  # no --sticky: a manual KR keeps it anyway
    assert code == 0 and "sticky until --clear" in output, output
    set_at = Store(store_url).active_overrides("acme")["partners"].created_at
    as_of = set_at + timedelta(days=3)
    later = sync(config, as_of, now=as_of)  # a fetch does not replace a manual KR's value
    partners = kr(later, "partners")
    assert partners.value == 4 and partners.progress == pytest.approx(0.4)  # (4 - 0) / (10 - 0)
    assert partners.stale is False and partners.observed_at == set_at
    assert later.document.to_dict()["objectives"][0]["key_results"][1]["manual"] is True


def test_a_manual_milestone_is_done_when_its_owner_says_so(tmp_path, store_url):
    config = load_config(team(tmp_path, store_url))
    now = oslo(2026, 11, 10, 9)
    Store(store_url).add_override("acme", "launch", 1, True, "shipped to 20 customers", now)
    result = sync(config, now, now=now)
    assert kr(result, "launch").status == "done" and kr(result, "launch").value == 1


@pytest.mark.parametrize(
    ("extra", "days", "stale"),
    [("", 7, False), ("", 8, True), (", max_age: 30d", 29, False), (", max_age: 30d", 30, True)],
)
def test_a_manual_value_goes_stale_after_max_age(tmp_path, extra, days, stale):
    """Judged at the end of the as-of day, as every value is: set on 20 October at 09:00 summer time, the value is
    just under 7 days 16 hours old at the end of 27 October (fresh under 8 days; the clocks went back an hour on
    the 25th) and just under 8 days 16 hours at the end of the 28th."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = load_config(team(tmp_path, store_url, extra))
    set_at = oslo(2026, 10, 20, 9)
    Store(store_url).add_override("acme", "partners", 6, True, None, set_at)
    as_of = set_at + timedelta(days=days)
    partners = kr(sync(config, as_of, now=as_of), "partners")
    assert partners.value == 6 and partners.stale is stale
    if stale:
        limit = "30d" if extra else "8d"
        assert (
            partners.stale_reason
            == f"set by hand on 2026-10-20, older than max_age {limit}: set it again (okrsync override)"
        )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (", metric: signups, max_age: 3d", "max_age belongs to the metric here: set metrics.signups.max_age instead"),
        (", metric: nope", "unknown metric 'nope'"),
    ],
)
def test_manual_kr_keys_are_checked_where_they_are_written(tmp_path, extra, words):
    path = team(tmp_path, "sqlite:///x.db", extra)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.line == 12 and words in problem.message, problem


def test_start_auto_needs_a_metric(tmp_path):
    path = tmp_path / "okrsync.yaml"
    path.write_text(
        CONFIG.format(store="sqlite:///x.db", extra="").replace("start: 0, target: 10", "start: auto, target: 10")
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert "a manual key result needs a start" in problem.message and problem.line == 12


def test_the_spreadsheet_table_says_a_manual_value_was_set_by_hand(tmp_path):
    from okrsync.present.status_table import STATUS_HEADER, status_rows

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = load_config(team(tmp_path, store_url))
    Store(store_url).add_override("acme", "partners", 4, True, None, oslo(2026, 11, 2, 9, 30))
    rows = status_rows(sync(config, oslo(2026, 11, 3, 23), now=oslo(2026, 11, 3, 23)).document)
    updated = STATUS_HEADER.index("Last updated")
    by_kr = {row[1]: row for row in rows[1:]}
    assert by_kr["Partners signed"][updated] == "2026-11-02 09:30 (set by hand)"  # in the cycle's zone
    assert by_kr["Launch the beta"][updated] == "manual: not set yet"
    assert "by hand" not in by_kr["Signups"][updated]


def test_the_weekly_digest_names_the_team_and_marks_a_manual_value(tmp_path):
    from okrsync.present.digest import weekly_digest

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = load_config(team(tmp_path, store_url))
    Store(store_url).add_override("acme", "partners", 4, True, None, oslo(2026, 11, 2, 9, 30))
    digest = weekly_digest(sync(config, oslo(2026, 11, 3, 23), now=oslo(2026, 11, 3, 23)).document, [])
    text = digest.text()
    assert text.startswith("Weekly OKR check-in — acme, 2026-Q4, week of 2026-11-03")  # no title: the namespace
    partners = next(line for line in text.splitlines() if "Partners signed" in line)
    assert partners.endswith("✍ set by hand") and "✍" not in next(x for x in text.splitlines() if "Signups" in x)


def test_a_manual_value_counts_from_when_it_was_set(tmp_path):
    """Found in review: a value set on 20 October also showed on a sync as of the 15th. Before the day it was set
    the KR has no data (that day's own run, synced at 02:00, takes a value typed at 10:00). And its age is
    elapsed time: set on 20 October at 09:00 summer time (07:00 UTC), it is 8 days old exactly at 08:00 winter
    time on the 28th (07:00 UTC; clocks went back on the 25th), stale a minute later (by the wall clock that
    would be 7 days 23 hours: fresh)."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = load_config(team(tmp_path, store_url))
    Store(store_url).add_override("acme", "partners", 4, True, None, oslo(2026, 10, 20, 9))
    before = kr(sync(config, oslo(2026, 10, 15, 23), now=oslo(2026, 10, 15, 23)), "partners")
    assert before.status == "no_data" and before.value is None and before.override is None
    other = tmp_path / "other"
    other.mkdir()
    url = f"sqlite:///{other / 'store.db'}"
    config = load_config(team(other, url))
    Store(url).add_override("acme", "partners", 4, True, None, oslo(2026, 10, 20, 9))
    at_limit = oslo(2026, 10, 28, 8)
    assert kr(sync(config, at_limit, now=at_limit), "partners").stale is False
    later = at_limit + timedelta(minutes=1)
    assert kr(sync(config, later, now=later), "partners").stale is True


def test_once_bound_to_a_metric_a_manual_value_stops_counting(tmp_path):
    """Found in review: a value recorded while `partners` had no metric (okrsync override, okrsync import) kept
    replacing the fetched one after someone added `metric:`; docs/import.md promises the opposite."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    path = team(tmp_path, store_url)
    with mock.patch("okrsync.clock.now", lambda config: oslo(2026, 11, 2, 9)):
        assert cli(["-c", str(path), "override", "partners", "4"])[0] == 0  # manual: its only value
    bound = path.read_text().replace("title: Partners signed,", "title: Partners signed, metric: signups,")
    path.write_text(bound)
    partners = kr(sync(load_config(path), oslo(2026, 11, 3, 23), now=oslo(2026, 11, 3, 23)), "partners")
    assert partners.value == 40 and partners.override is None and partners.manual is False  # signups.csv's 40
    with mock.patch("okrsync.clock.now", lambda config: oslo(2026, 11, 4, 9)):  # by hand on a bound KR: counts
        assert cli(["-c", str(path), "override", "partners", "7", "--sticky"])[0] == 0
    assert kr(sync(load_config(path), oslo(2026, 11, 5, 23), now=oslo(2026, 11, 5, 23)), "partners").value == 7


def test_a_notes_value_is_a_manual_krs_value(tmp_path):
    """`okrsync note KR TEXT --value V` on a manual key result: the note, and V as its value (the record an
    override makes, so it counts from that day and stops once the KR names a metric); refused on a KR with one."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    path = team(tmp_path, store_url)
    config = load_config(path)
    sync(config, oslo(2026, 11, 2, 23), now=oslo(2026, 11, 2, 23))
    with mock.patch("okrsync.clock.now", lambda config: oslo(2026, 11, 3, 9)):
        code, output = cli(["-c", str(path), "note", "partners", "Signed Contoso", "--value", "5"])
        assert code == 0 and "value 5" in output, output
        refused, said = cli(["-c", str(path), "note", "signups", "a guess", "--value", "5"])
    assert refused == 2 and "signups reads a metric" in said
    partners = kr(sync(config, oslo(2026, 11, 3, 23), now=oslo(2026, 11, 3, 23)), "partners")
    assert partners.value == 5 and partners.progress == pytest.approx(0.5)  # (5 - 0) / (10 - 0)
    assert partners.owner_note is not None and partners.owner_note.text == "Signed Contoso"
