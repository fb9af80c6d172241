"""`okrsync backfill`: past days replayed from the sources that can answer for them, later days evaluated
again (start: auto depends on the earliest value), the newest published once, nothing else published."""

import json

from tests.helpers import okrsync, write_csv

CONFIG = """\
connections: {files: {type: csv, root: data}}
metrics:
  signups: {connection: files, path: signups.csv, column: total, date_column: date}
  headcount: {connection: files, path: headcount.csv, column: n}
  per_head: {formula: "signups / headcount"}
  doubled: {formula: "signups * 2"}
objectives:
  - id: grow
    title: Grow
    key_results:
      - {id: signups, metric: signups, start: auto, target: 200}
      - {id: team, metric: headcount, kind: at_least, target: 1}
      - {id: ratio, metric: per_head, kind: at_least, target: 0}
      - {id: twice, metric: doubled, kind: at_least, target: 0}
outputs: [{type: report, path: out/okr.json}]
"""


def setup(tmp_path, write_config):
    rows = "".join(f"2026-10-{d:02d},{10 * d}\n" for d in range(1, 32)) + "2026-11-20,400\n"
    write_csv(tmp_path / "data" / "signups.csv", "date,total\n" + rows)
    write_csv(tmp_path / "data" / "headcount.csv", "n\n5\n")
    return str(write_config(CONFIG))


def test_backfill_replays_what_can_answer_for_the_past_and_updates_later_days(tmp_path, write_config):
    config = setup(tmp_path, write_config)
    assert okrsync("-c", config, "run", "--as-of", "2026-11-21", "-q").returncode == 0
    before = json.loads((tmp_path / "out" / "okr.json").read_text())
    signups = before["objectives"][0]["key_results"][0]
    assert signups["start"] == 400  # the only value seen so far: auto starts there
    (tmp_path / "out" / "okr.json").unlink()

    result = okrsync("-c", config, "backfill", "--from", "2026-10-05", "--to", "2026-10-19", "--every", "week")
    assert result.returncode == 0, result.stderr
    assert "Replayed 3 day(s), 2026-10-05 to 2026-10-19" in result.stdout
    assert "doubled, signups" in result.stdout  # the dated csv and the formula over it
    assert "skipped headcount: connection files reads only the current value" in result.stderr
    assert "skipped per_head: formula over headcount" in result.stderr
    assert (
        "Evaluated 1 later stored day(s) again" in result.stdout
        and "Published the newest day, 2026-11-21" in result.stdout
    )

    runs = json.loads(okrsync("-c", config, "runs", "-f", "json").stdout)
    assert [(r["day"], r["trigger"]) for r in runs] == [
        ("2026-10-05", "backfill"),
        ("2026-10-12", "backfill"),
        ("2026-10-19", "backfill"),
        ("2026-11-21", "run"),
    ]
    published = json.loads((tmp_path / "out" / "okr.json").read_text())
    assert published["as_of"].startswith("2026-11-21")  # only the newest day reached the output
    now = published["objectives"][0]["key_results"][0]
    assert now["start"] == 50 and now["value"] == 400  # auto now starts at Oct 5's value (10 x 5)
    assert now["progress"] == 1  # 400 against a target of 200, from 50
    oct12 = json.loads(okrsync("-c", config, "status", "-f", "json", "--as-of", "2026-10-12").stdout)
    assert oct12["objectives"][0]["key_results"][0]["value"] == 120  # the csv row of Oct 12


def test_backfill_refuses_future_and_out_of_cycle_days(tmp_path, write_config):
    config = setup(tmp_path, write_config)
    future = okrsync("-c", config, "backfill", "--from", "2026-10-05", "--to", "2099-12-01")
    assert future.returncode == 2 and "in the future" in future.stderr
    outside = okrsync("-c", config, "backfill", "--from", "2026-09-01", "--to", "2026-10-02")
    assert outside.returncode == 2 and "must lie in cycle 2026-Q4" in outside.stderr
    backwards = okrsync("-c", config, "backfill", "--from", "2026-10-09", "--to", "2026-10-02")
    assert backwards.returncode == 2 and "after --to" in backwards.stderr
    assert not (tmp_path / "out").exists()  # nothing published by a refused command


def test_backfill_with_nothing_that_can_answer_for_the_past_stores_nothing(tmp_path, write_config):
    write_csv(tmp_path / "data" / "headcount.csv", "n\n5\n")
    config = str(
        write_config(
            CONFIG.split("metrics:")[0]
            + """metrics:
  headcount: {connection: files, path: headcount.csv, column: n}
kpis: [{id: team, metric: headcount, healthy: {min: 1}}]
"""
        )
    )
    result = okrsync("-c", config, "backfill", "--from", "2026-10-05", "--to", "2026-10-06")
    assert result.returncode == 1 and "Nothing replayed" in result.stderr and "skipped headcount" in result.stderr
    assert okrsync("-c", config, "runs").returncode == 1  # no empty backfill runs were stored


def test_a_run_that_died_is_skipped_when_later_days_are_evaluated_again(tmp_path, write_config):
    """An unfinished run row (a run killed mid-way) before every finished one: re-evaluating from there
    passes over it instead of crashing."""
    from datetime import date

    from okrsync.config.load import load_config
    from okrsync.okr.evaluate import end_of_day
    from okrsync.store import Store
    from okrsync.sync.sequence import refresh, sync
    from tests.helpers import oslo

    config = load_config(setup(tmp_path, write_config))
    store = Store(config.store_url())
    died = end_of_day(date(2026, 10, 5), config.cycle)
    store.begin_run(config.namespace, config.cycle.name, date(2026, 10, 5), died, "run", oslo(2026, 10, 5, 12))
    sync(config, end_of_day(date(2026, 10, 12), config.cycle), now=oslo(2026, 10, 12, 12), store=store)
    again, published = refresh(config, store, date(2026, 10, 1), {date(2026, 10, 1)}, now=oslo(2026, 10, 13))
    assert again == [date(2026, 10, 12)] and published is not None and published.document.day == date(2026, 10, 12)
    store.close()
