"""A KPI that leads a key result (``kpis[].leads``) in the check-in: the same line the report shows, from the
stored values of both metrics, on docs/okr-semantics.md's worked example (weeks ending on Thursdays 1 October
.. 10 December; traffic's weekly changes 12 9 13 10 11 8 14 11 11 11, signups' 10 10 12 9 11 8 11 8 12 9: at
lag 2 the 8 pairs give r = 20 / sqrt(28 x 20) = 0.845)."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.sync.sequence import sync
from tests.helpers import okrsync, oslo, write_csv

CONFIG = """\
version: 1
namespace: growth
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: "sqlite:///store.db"
connections: {files: {type: csv, root: .}}
metrics:
  traffic: {connection: files, path: traffic.csv, column: n, date_column: day, max_age: 30d}
  signups: {connection: files, path: signups.csv, column: n, date_column: day, max_age: 30d}
objectives:
  - id: grow
    title: Grow
    key_results:
      - {id: signups, title: signups, metric: signups, start: 0, target: 500}
kpis:
  - {id: traffic, title: traffic, metric: traffic, healthy: {min: 0}, leads: [signups]}
"""


def test_the_checkin_shows_the_leading_kpi_beside_the_kr(tmp_path):
    days = [date(2026, 10, 1) + timedelta(weeks=w) for w in range(11)]
    traffic = itertools.accumulate([12, 9, 13, 10, 11, 8, 14, 11, 11, 11], initial=100)
    signups = itertools.accumulate([10, 10, 12, 9, 11, 8, 11, 8, 12, 9], initial=50)
    write_csv(tmp_path / "traffic.csv", "day,n\n" + "".join(f"{d},{v}\n" for d, v in zip(days, traffic, strict=True)))
    write_csv(tmp_path / "signups.csv", "day,n\n" + "".join(f"{d},{v}\n" for d, v in zip(days, signups, strict=True)))
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    for day in days:  # a sync each Thursday: one stored value per metric per week
        sync(config, end_of_day(day, config.cycle), now=oslo(day.year, day.month, day.day, 6))
    got = json.loads(okrsync("-c", str(path), "checkin", "-f", "json", cwd=tmp_path).stdout)
    (kr,) = got["key_results"]
    assert kr["leading"] == ["traffic leads signups by 2 weeks, r = 0.85"]
    text = okrsync("-c", str(path), "checkin", cwd=tmp_path).stdout
    assert "traffic leads signups by 2 weeks, r = 0.85" in text
