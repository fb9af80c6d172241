"""History a lead can trust: no future runs by accident, past days never overwrite what was published,
`okrsync runs` lists and deletes, `status --as-of` shows a past day (the real CLI in a subprocess)."""

import json
from datetime import date, timedelta

import sqlalchemy as sa

from okrsync.store import Store
from tests.helpers import okrsync

FUTURE = (date.today() + timedelta(days=40)).isoformat()


def report_day(example) -> str:
    return json.loads((example.parent.parent / "reports" / "okr.json").read_text())["as_of"][:10]


def test_a_future_as_of_is_refused_unless_asked(example):
    refused = okrsync("-c", str(example), "run", "--as-of", FUTURE)
    assert refused.returncode == 2 and "is in the future" in refused.stderr and "--future" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (
        not (example.parent.parent / ".okrsync" / "example.db").exists()
        or okrsync("-c", str(example), "runs").returncode == 1
    )  # nothing stored
    outside = okrsync("-c", str(example), "run", "--as-of", "2026-09-20", "-q")
    assert outside.returncode in (0, 1) and "lies outside cycle 2026-Q4" in outside.stderr  # 1: no data then


def test_a_past_day_is_stored_but_not_published_over_a_newer_one(example):
    assert okrsync("-c", str(example), "run", "--as-of", "2026-11-21", "-q").returncode == 0
    assert report_day(example) == "2026-11-21"
    before = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    backfill = okrsync("-c", str(example), "run", "--as-of", "2026-11-10", "-q")
    assert backfill.returncode == 0 and "outputs not written: the store already holds 2026-11-21" in backfill.stderr
    assert "Evaluated 1 later stored day(s) again; published the newest." in backfill.stderr
    assert report_day(example) == "2026-11-21"  # the report still shows the newest day
    status = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    assert status["as_of"].startswith("2026-11-21")
    nov10 = json.loads(okrsync("-c", str(example), "status", "-f", "json", "--as-of", "2026-11-10").stdout)

    def activation(doc):  # start: auto, so Nov 21 now starts from the earlier value that arrived
        return next(kr for o in doc["objectives"] for kr in o["key_results"] if kr["id"] == "activation")

    assert activation(before)["start"] == activation(before)["value"]  # its only value: a start of its own
    assert activation(status)["start"] == activation(nov10)["value"] != activation(before)["start"]
    past = json.loads(okrsync("-c", str(example), "status", "-f", "json", "--as-of", "2026-11-15").stdout)
    assert past["as_of"].startswith("2026-11-10")  # the run that was current on Nov 15
    forced = okrsync("-c", str(example), "run", "--as-of", "2026-11-10", "--publish", "-q")
    assert forced.returncode == 0 and report_day(example) == "2026-11-10"


def test_runs_lists_and_deletes_one_day_with_its_values(example):
    for day in ("2026-11-10", "2026-11-21"):
        assert okrsync("-c", str(example), "run", "--as-of", day, "-q").returncode == 0
    listed = json.loads(okrsync("-c", str(example), "runs", "-f", "json").stdout)
    assert [r["day"] for r in listed] == ["2026-11-10", "2026-11-21"] and listed[0]["outcome"] == "ok"
    db = example.parent.parent / ".okrsync" / "example.db"
    store = Store(f"sqlite:///{db}")
    before = store.count_rows()
    asked = okrsync("-c", str(example), "runs", "delete", "2026-11-21")  # no terminal to confirm on
    assert asked.returncode == 1 and "Nothing deleted" in asked.stderr
    deleted = okrsync("-c", str(example), "runs", "delete", "2026-11-21", "--yes")
    assert deleted.returncode == 0 and "now shows 2026-11-10" in deleted.stdout
    removed = int(deleted.stdout.split("Deleted the run of 2026-11-21: ")[1].split(" values")[0])
    with store.engine.connect() as conn:
        orphans = conn.execute(sa.text("select count(*) from metric_values where run_id not in (select id from runs)"))
        assert orphans.scalar_one() == 0
    counts = store.count_rows()
    assert removed > 0 and counts["metric_values"] == before["metric_values"] - removed  # the others kept
    assert counts["runs"] == 1 and counts["write_ledger"] == before["write_ledger"]  # deliveries stay recorded
    assert counts["kr_results"] == 11
    store.close()
    status = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    assert status["as_of"].startswith("2026-11-10")
    missing = okrsync("-c", str(example), "runs", "delete", "2026-11-21", "--yes")
    assert missing.returncode == 1 and "No run of 2026-Q4 on 2026-11-21" in missing.stderr
    bad = okrsync("-c", str(example), "runs", "delete", "yesterday", "--yes")
    assert bad.returncode == 2 and "not a date" in bad.stderr and "Traceback" not in bad.stderr
