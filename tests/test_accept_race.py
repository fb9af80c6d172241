"""`okrsync accept METRIC` accepts what it listed: a value held back by a run that finishes while accept
waits for the run lock was never reviewed, so it stays held and is reported."""

import threading
from datetime import date

import pytest

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.store import Store
from okrsync.sync import fetch as fetch_stage
from okrsync.sync.accept import accept_held
from okrsync.sync.sequence import sync
from tests.helpers import oslo, write_csv

pytestmark = pytest.mark.reliability
CYCLE = "2026-Q4"


def test_accept_takes_only_what_was_held_when_it_started(tmp_path, write_config, monkeypatch):
    data = tmp_path / "data" / "csat.csv"
    write_csv(data, "date,score\n2026-11-05,80\n2026-11-10,155\n")
    config = load_config(
        write_config("""
        connections: {files: {type: csv, root: data}}
        metrics: {csat: {connection: files, path: csat.csv, column: score, date_column: date, expect: {max: 100}}}
        objectives: [{id: o, title: O, key_results: [{id: csat, metric: csat, kind: at_least, target: 85}]}]
    """)
    )
    sync(config, end_of_day(date(2026, 11, 10), config.cycle), now=oslo(2026, 11, 10, 12))  # holds 155
    write_csv(data, "date,score\n2026-11-05,80\n2026-11-10,155\n2026-11-11,999\n")

    in_fetch, listed = threading.Event(), threading.Event()
    real_fetch = fetch_stage.fetch

    def fetch_while_accept_waits(sync_plan, on_event=None):
        in_fetch.set()  # the run holds the lock now
        assert listed.wait(10), "accept never listed"
        return real_fetch(sync_plan, on_event)

    monkeypatch.setattr(fetch_stage, "fetch", fetch_while_accept_waits)
    run = threading.Thread(
        target=sync, args=(config, end_of_day(date(2026, 11, 11), config.cycle)), kwargs={"now": oslo(2026, 11, 11, 12)}
    )
    run.start()
    assert in_fetch.wait(10)

    store = Store(config.store_url())
    real_held = store.held

    def held_then_signal(*args, **kwargs):
        rows = real_held(*args, **kwargs)
        listed.set()  # what accept showed the lead: from here on it waits for the run's lock
        return rows

    monkeypatch.setattr(store, "held", held_then_signal)
    done = accept_held(config, store, "csat", now=oslo(2026, 11, 11, 13), wait=30)
    run.join(10)
    assert [(r.day.isoformat(), r.value) for r in done.rows] == [("2026-11-10", 155)]
    assert [(r.day.isoformat(), r.value) for r in done.held_since] == [("2026-11-11", 999)]
    assert [(r.day.isoformat(), r.value) for r in real_held(config.namespace, CYCLE)] == [("2026-11-11", 999)]
    store.close()
