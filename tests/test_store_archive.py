"""`store: {keep_cycles: N}` on SQLite and PostgreSQL: a namespace's older cycles are written to a checked file,
then exactly their rows leave the store; the current cycle, other namespaces and other cycles stay as they were."""

import gzip
import json
from datetime import date

import pytest
import sqlalchemy as sa

from okrsync.config.load import parse_config
from okrsync.errors import StoreError
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.store import Store
from okrsync.store import archive as archiving
from okrsync.store.history import ValueRow
from okrsync.store.notes import checked_note
from okrsync.sync.persist import archive_old_cycles
from tests.helpers import oslo

TEAM = """\
version: 1
namespace: {namespace}
cycle: {{name: {cycle}, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: {store}
metrics: {{m: {{formula: "1"}}, n: {{formula: "2"}}}}
objectives:
  - id: o
    title: O
    key_results: [{{id: k, metric: m, start: 0, target: 10}}, {{id: j, metric: n, start: 0, target: 5}}]
kpis: [{{id: h, metric: m, healthy: {{max: 5}}}}]
"""
# (cycle, first day, days stored): Q2 is the oldest, Q4 the newest by their last synced day
CYCLES = [("Q2", date(2026, 4, 1), 2), ("Q3", date(2026, 7, 1), 3), ("Q4", date(2026, 10, 1), 2)]


def config(namespace="a", cycle="Q4", store="sqlite:///unused.db"):
    return parse_config(TEAM.format(namespace=namespace, cycle=cycle, store=store), "team.yaml")


def fill(store: Store, namespace: str) -> None:
    """Per cycle and day: a finished run, 2 values (m, n), 2 KR results, 1 objective result, 1 KPI result; per
    cycle: a held value and a note on its first day, and a ledger entry of its first run."""
    cfg = config(namespace)
    for cycle, first, days in CYCLES:
        for d in range(days):
            day = date.fromordinal(first.toordinal() + d)
            at = oslo(day.year, day.month, day.day, 6)
            run_id = store.begin_run(namespace, cycle, day, at, "run", at)
            store.save_values(namespace, cycle, run_id, [ValueRow(m, day, at, at, 1.0 + d) for m in ("m", "n")])
            states = {m: MetricState((Point.of(at, 1.0 + d),)) for m in ("m", "n")}
            store.save_evaluation(run_id, evaluate(cfg, states, at))
            store.finish_run(run_id, "ok", {"cycle": cycle, "day": day.isoformat()}, at)
            if d == 0:
                store.save_held(namespace, cycle, run_id, [(ValueRow("m", day, at, at, 99.0), "a jump")])
                store.add_note(namespace, cycle, "k", day, checked_note(f"note {cycle}", "ann"), now=at)
                store.ledger(namespace, run_id).claim("sheet", f"{cycle}/row", "fp", base=0, state="confirmed", now=at)


def counts(store: Store, namespace: str, cycle: str) -> dict[str, int]:
    """The rows of each table that belong to ``namespace`` and ``cycle``."""
    with store.engine.connect() as conn:
        runs = sa.select(archiving.t.runs.c.id).where(
            archiving.t.runs.c.namespace == namespace, archiving.t.runs.c.cycle == cycle
        )
        found = {}
        for table in archiving.BY_CYCLE:
            where = sa.and_(table.c.namespace == namespace, table.c.cycle == cycle)
            found[table.name] = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
        for table in archiving.BY_RUN:
            found[table.name] = conn.execute(sa.select(sa.func.count()).where(table.c.run_id.in_(runs))).scalar_one()
    return found


def expected(days: int) -> dict[str, int]:
    """By hand: a cycle of ``days`` stored days holds these rows (see fill)."""
    return {
        "runs": days,
        "metric_values": 2 * days,
        "held_values": 1,
        "notes": 1,
        "kr_results": 2 * days,
        "objective_results": days,
        "kpi_results": days,
        "metric_errors": 0,
    }


def test_keeping_two_cycles_archives_the_oldest_then_removes_exactly_its_rows(store_url, tmp_path):
    store = Store(store_url)
    fill(store, "a")
    fill(store, "b")
    assert counts(store, "a", "Q2") == expected(2)  # what the store held before
    done = archive_old_cycles(
        store, config(store=f"{{url: x, keep_cycles: 2, archive: {tmp_path / 'old'}}}"), now=oslo(2026, 12, 1)
    )
    assert [(a.namespace, a.cycle, a.rows) for a in done] == [("a", "Q2", expected(2))]
    assert done[0].path == tmp_path / "old" / "a--Q2.jsonl.gz"
    with gzip.open(done[0].path, "rt") as lines:
        header, *rows = [json.loads(line) for line in lines]
    assert header["namespace"] == "a" and header["cycle"] == "Q2" and header["rows"] == expected(2)
    assert sorted(r["row"]["day"] for r in rows if r["table"] == "runs") == ["2026-04-01", "2026-04-02"]
    assert {r["row"]["document"]["cycle"] for r in rows if r["table"] == "runs"} == {"Q2"}
    assert {r["row"]["cycle"] for r in rows if r["table"] in ("metric_values", "held_values", "notes")} == {"Q2"}
    assert counts(store, "a", "Q2") == dict.fromkeys(expected(2), 0)
    assert counts(store, "a", "Q3") == expected(3) and counts(store, "a", "Q4") == expected(2)
    assert [counts(store, "b", c) for c, _, days in CYCLES] == [expected(days) for _, _, days in CYCLES]
    with store.engine.connect() as conn:
        ledger = conn.execute(sa.select(archiving.t.write_ledger.c.target, archiving.t.write_ledger.c.run_id)).all()
    assert len(ledger) == 6  # 3 cycles x 2 namespaces: delivered stays delivered
    assert [run for target, run in ledger if target == "Q2/row"].count(None) == 1  # a's Q2 run is gone, b's is not
    assert archive_old_cycles(store, config(store="{url: x, keep_cycles: 2}"), now=oslo(2026, 12, 2)) == []
    store.close()


def test_the_current_cycle_stays_even_when_it_is_not_the_newest(store_url, tmp_path):
    """keep_cycles: 1 with the config on Q3 (Q4 was synced later): Q2 and Q4 go, Q3 stays."""
    store = Store(store_url)
    fill(store, "a")
    cfg = config(cycle="Q3", store=f"{{url: x, keep_cycles: 1, archive: {tmp_path}}}")
    done = archive_old_cycles(store, cfg, now=oslo(2026, 12, 1))
    assert [a.cycle for a in done] == ["Q2", "Q4"]
    assert counts(store, "a", "Q3") == expected(3)
    assert counts(store, "a", "Q4") == dict.fromkeys(expected(2), 0)
    store.close()


def test_nothing_is_removed_when_the_file_cannot_be_written_or_read_back(store_url, tmp_path, monkeypatch):
    store = Store(store_url)
    fill(store, "a")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(StoreError, match="cannot create the folder"):
        store.archive_cycle("a", "Q2", blocked / "archive", oslo(2026, 12, 1))
    assert counts(store, "a", "Q2") == expected(2)
    monkeypatch.setattr(archiving, "_read_back", lambda path: ({"runs": 1}, "0" * 64))
    with pytest.raises(StoreError, match="differs from the rows written; nothing removed"):
        store.archive_cycle("a", "Q2", tmp_path, oslo(2026, 12, 1))
    assert counts(store, "a", "Q2") == expected(2)
    store.close()


def test_an_archive_is_never_overwritten(store_url, tmp_path):
    store = Store(store_url)
    fill(store, "a")
    (tmp_path / "a--Q2.jsonl.gz").write_bytes(b"kept")
    done = store.archive_cycle("a", "Q2", tmp_path, oslo(2026, 12, 1))
    assert done.path == tmp_path / "a--Q2.2.jsonl.gz" and (tmp_path / "a--Q2.jsonl.gz").read_bytes() == b"kept"
    store.close()


def test_without_keep_cycles_or_on_a_read_only_store_nothing_is_archived(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    fill(store, "a")
    store.close()
    assert (
        archive_old_cycles(Store(url), config(store=f"{{url: x, archive: {tmp_path / 'x'}}}"), now=oslo(2026, 12, 1))
        == []
    )
    reader = Store(url, access="read")
    cfg = config(store=f"{{url: x, keep_cycles: 1, archive: {tmp_path / 'x'}}}")
    assert archive_old_cycles(reader, cfg, now=oslo(2026, 12, 1)) == []
    reader.close()
    assert not (tmp_path / "x").exists()
    assert counts(Store(url), "a", "Q2") == expected(2)


NIGHTLY = """\
version: 1
namespace: a
cycle: {{name: {cycle}, start: {start}, end: {end}, timezone: Europe/Oslo}}
store: {{url: "{url}", keep_cycles: 1, archive: old}}
metrics: {{m: {{formula: "3"}}}}
objectives: [{{id: o, title: O, key_results: [{{id: k, metric: m, start: 0, target: 10}}]}}]
"""


def test_a_sync_of_the_new_cycle_archives_the_previous_one_with_keep_cycles_1(store_url, tmp_path):
    """Two syncs of Q3, then the first sync of Q4 (keep_cycles: 1): Q3 is in old/a--Q3.jsonl.gz, not in the store."""
    from okrsync.config.load import load_config
    from okrsync.sync.sequence import sync

    path = tmp_path / "okrsync.yaml"
    nights = [("Q3", oslo(2026, 9, 7, 6)), ("Q3", oslo(2026, 9, 8, 6)), ("Q4", oslo(2026, 10, 1, 6))]
    spans = {"Q3": ("2026-07-01", "2026-09-30"), "Q4": ("2026-10-01", "2026-12-31")}
    for cycle, at in nights:
        start, end = spans[cycle]
        path.write_text(NIGHTLY.format(cycle=cycle, start=start, end=end, url=store_url))
        sync(load_config(path), at, now=at)
    store = Store(store_url)
    assert counts(store, "a", "Q3")["runs"] == 0 and counts(store, "a", "Q4")["runs"] == 1
    with gzip.open(tmp_path / "old" / "a--Q3.jsonl.gz", "rt") as lines:
        header = json.loads(next(lines))
    assert header["rows"]["runs"] == 2 and header["rows"]["metric_values"] == 2 and header["rows"]["kr_results"] == 2
    store.close()


def test_a_sync_whose_archive_fails_is_stored_and_keeps_the_old_cycle(tmp_path, caplog):
    """The archive folder is a file: the Q4 run is stored and published as usual, Q3 stays whole, a warning says so."""
    from okrsync.config.load import load_config
    from okrsync.sync.sequence import sync

    url = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "old").write_text("a file, not a folder")
    path = tmp_path / "okrsync.yaml"
    for cycle, start, end, at in (
        ("Q3", "2026-07-01", "2026-09-30", oslo(2026, 9, 7, 6)),
        ("Q4", "2026-10-01", "2026-12-31", oslo(2026, 10, 1, 6)),
    ):
        path.write_text(NIGHTLY.format(cycle=cycle, start=start, end=end, url=url))
        result = sync(load_config(path), at, now=at)
    assert result.run_id is not None and result.document.objectives[0].progress == 0.3  # by hand: 3 of 10
    store = Store(url)
    assert counts(store, "a", "Q3")["runs"] == 1 and counts(store, "a", "Q4")["runs"] == 1
    assert store.latest_run("a", "Q4").document is not None  # finished
    store.close()
    assert "keep_cycles: Q3 was not archived, and stays in the store" in caplog.text
