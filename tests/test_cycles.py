"""Cycle rollover: the next cycle's dates, the config edited in place, the old cycle still queryable and
KPIs going on across the boundary."""

import json
from datetime import date
from pathlib import Path

import pytest

from okrsync.config.cycles import NextCycle, next_cycle, rewrite_cycle
from tests.helpers import okrsync, write_csv


@pytest.mark.parametrize(
    "name, start, end, expected",
    [
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31))),
        ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31), ("2027-Q2", date(2027, 4, 1), date(2027, 6, 30))),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31), ("2027-H1", date(2027, 1, 1), date(2027, 6, 30))),
        ("2027-H1", date(2027, 1, 1), date(2027, 6, 30), ("2027-H2", date(2027, 7, 1), date(2027, 12, 31))),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), ("2027", date(2027, 1, 1), date(2027, 12, 31))),
        ("2027-Q4", date(2027, 10, 1), date(2027, 12, 31), ("2028-Q1", date(2028, 1, 1), date(2028, 3, 31))),
    ],
)
def test_next_cycle_follows_the_calendar(name, start, end, expected):
    assert next_cycle(name, start, end) == NextCycle(*expected)


def test_a_custom_cycle_needs_a_name_and_keeps_its_length():
    with pytest.raises(ValueError, match="give the new name with --name"):
        next_cycle("Sprint 12", date(2026, 11, 2), date(2026, 11, 15))
    assert next_cycle("Sprint 12", date(2026, 11, 2), date(2026, 11, 15), "Sprint 13") == NextCycle(
        "Sprint 13", date(2026, 11, 16), date(2026, 11, 29)
    )


def test_rewrite_keeps_comments_layout_and_time_zone():
    text = (
        "version: 1\n# our quarter\ncycle:\n  name: 2026-Q4   # Q4\n  start: 2026-10-01\n"
        "  end: 2026-12-31\n  timezone: Europe/Oslo\n# metrics follow\nmetrics: {}\n"
    )
    new = rewrite_cycle(text, NextCycle("2027-Q1", date(2027, 1, 1), date(2027, 3, 31)))
    assert new == text.replace("2026-Q4", "2027-Q1").replace("2026-10-01", "2027-01-01").replace(
        "2026-12-31", "2027-03-31"
    )
    with pytest.raises(ValueError, match="no cycle"):
        rewrite_cycle("version: 1\n", NextCycle("x", date(2027, 1, 1), date(2027, 1, 2)))


CONFIG = """\
connections: {files: {type: csv, root: data}}
metrics:
  tickets: {connection: files, path: tickets.csv, column: open}
objectives:
  - {id: o, title: Support, key_results: [{id: backlog, metric: tickets, start: 200, target: 100}]}
kpis: [{id: backlog-kpi, metric: tickets, healthy: {max: 150}}]
"""


def test_rollover_keeps_the_old_cycle_and_carries_kpis_over(tmp_path, write_config):
    config = str(write_config(CONFIG))
    for day, open_tickets in (("2026-12-20", 130), ("2026-12-30", 120)):
        write_csv(tmp_path / "data" / "tickets.csv", f"open\n{open_tickets}\n")
        assert okrsync("-c", config, "run", "--as-of", day, "--future", "-q").returncode == 0
    moved = okrsync("-c", config, "cycle", "next")
    assert moved.returncode == 0 and "2026-Q4 (2026-10-01 to 2026-12-31) -> 2027-Q1" in moved.stdout
    assert (
        "cycle: {name: 2027-Q1, start: 2027-01-01, end: 2027-03-31, timezone: Europe/Oslo}" in Path(config).read_text()
    )
    empty = okrsync("-c", config, "status")
    assert empty.returncode == 1 and "okrsync status --cycle 2026-Q4" in empty.stderr

    write_csv(tmp_path / "data" / "tickets.csv", "open\n110\n")
    assert okrsync("-c", config, "run", "--as-of", "2027-01-04", "--future", "-q").returncode == 0
    doc = json.loads(okrsync("-c", config, "status", "-f", "json").stdout)
    assert doc["cycle"] == "2027-Q1"
    (kpi,) = doc["kpis"]
    assert kpi["value"] == 110 and kpi["trend"] == -10  # against Dec 30's 120: the KPI went on
    old = json.loads(okrsync("-c", config, "status", "-f", "json", "--cycle", "2026-Q4").stdout)
    assert old["cycle"] == "2026-Q4" and old["as_of"].startswith("2026-12-30")
    history = okrsync("-c", config, "history", "backlog", "--cycle", "2026-Q4")
    assert history.returncode == 0 and "2026-12-20" in history.stdout and "2026-12-30" in history.stdout
    runs = json.loads(okrsync("-c", config, "runs", "-f", "json", "--cycle", "2026-Q4").stdout)
    assert [r["day"] for r in runs] == ["2026-12-20", "2026-12-30"]


def test_cycle_next_says_which_metrics_start_again(tmp_path, write_config):
    write_csv(tmp_path / "data" / "deploys.csv", "date,n\n2026-12-30,500\n2027-01-01,3\n")
    write_csv(tmp_path / "data" / "plain.csv", "n\n4\n5\n")
    config = str(
        write_config("""
        connections: {files: {type: csv, root: data}}
        metrics:
          deploys: {connection: files, path: deploys.csv, column: n, date_column: date, aggregate: sum}
          ever: {connection: files, path: deploys.csv, column: n, date_column: date, aggregate: sum, window: all}
          plain: {connection: files, path: plain.csv, column: n, aggregate: sum}
          last: {connection: files, path: plain.csv, column: n}
        objectives:
          - id: o
            title: Ship
            key_results:
              - {id: deploys, metric: deploys, start: 0, target: 600}
              - {id: ever, metric: ever, start: 0, target: 1000}
              - {id: plain, metric: plain, start: 0, target: 10}
              - {id: last, metric: last, kind: at_least, target: 1}
    """)
    )
    moved = okrsync("-c", config, "cycle", "next")
    assert moved.returncode == 0, moved.stderr
    out = moved.stdout
    assert "Metrics that start again in 2027-Q1:\n  deploys: sum over rows dated in the cycle\n" in out
    assert "Metrics that keep counting across cycles:\n  ever: sum over every row (window: all)\n" in out
    assert "  plain: sum over rows without a date (add date_column to start again)\n" in out
    assert "last:" not in out  # the latest row means the same in any cycle
    assert okrsync("-c", config, "run", "--as-of", "2027-01-01", "--future", "-q").returncode == 0
    doc = json.loads(okrsync("-c", config, "status", "-f", "json").stdout)
    values = {k["id"]: k["value"] for o in doc["objectives"] for k in o["key_results"]}
    assert values == {"deploys": 3, "ever": 503, "plain": 9, "last": 5}  # Q1's day one: 3, not 503
