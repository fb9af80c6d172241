"""Benchmark: evaluate and store 10,000 KRs with 90 days of history each, then read `status`.

    make bench                                  # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/bench_store.py --krs 10000 --days 90 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints wall time and the process's peak resident memory per phase, and a baseline in the same run: a plain
executemany INSERT of the same history rows, to show what the upsert costs. Results go to
bench/RESULTS.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from okrsync.config import Config
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.okr.status import build_document
from okrsync.store import Store
from okrsync.store import tables as t
from okrsync.store.history import ValueRow

TZ = ZoneInfo("Europe/Oslo")
START = date(2026, 8, 1)


def make_config(n_krs: int) -> Config:
    kinds = [
        {"start": 0, "target": 100},
        {"start": 100, "target": 10},
        {"kind": "at_least", "target": 50},
        {"kind": "between", "min": 20, "max": 80},
        {"kind": "milestone"},
    ]
    objectives = []
    for o in range(n_krs // 5):
        krs = [{"id": f"kr{o * 5 + i}", "metric": f"m{o * 5 + i}", **kinds[i]} for i in range(5)]
        objectives.append(
            {
                "id": f"o{o}",
                "title": f"Objective {o}",
                "owner": f"owner{o % 50}@x",
                "parent": f"o{o // 10}" if o >= 10 else None,
                "key_results": krs,
            }
        )
    return Config.model_validate(
        {
            "version": 1,
            "cycle": {"name": "bench", "start": START.isoformat(), "end": "2026-12-31", "timezone": "Europe/Oslo"},
            "connections": {"c": {"type": "csv"}},
            "metrics": {f"m{i}": {"connection": "c", "path": "x.csv", "column": "v"} for i in range(n_krs)},
            "objectives": objectives,
        }
    )


@contextmanager
def phase(name: str, results: list, extra: str = ""):
    """Wall time of the block, and the process's peak resident memory after it (a high-water mark)."""
    gc.collect()
    t0 = time.perf_counter()
    yield
    wall = time.perf_counter() - t0
    results.append((name, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, extra))


def past_runs(store: Store, evaluation, as_of: datetime, days: int, results: list) -> None:
    """A year of nightly runs before today's: one run row and every KR's result per day (bulk-loaded,
    like the history: setup, not a nightly phase)."""
    from okrsync.store.history import _kr_row

    krs = [_kr_row(kr) for kr in evaluation.key_results()]
    with phase(f"setup: {days - 1} past runs x {len(krs):,} KR results", results):
        with store.engine.begin() as conn:
            for d in range(days - 1):
                day = as_of - timedelta(days=days - 1 - d)
                run_id = conn.execute(
                    t.runs.insert().values(
                        namespace="bench",
                        cycle="bench",
                        day=day.date(),
                        as_of=day,
                        started_at=day,
                        finished_at=day,
                        trigger="run",
                        outcome="ok",
                        document={"objectives": []},
                    )
                ).inserted_primary_key[0]
                rows = [{**row, "run_id": run_id} for row in krs]
                for i in range(0, len(rows), 5000):
                    conn.execute(t.kr_results.insert(), rows[i : i + 5000])


def run(url: str, label: str, n_krs: int, days: int, runs: bool = False) -> list:
    results: list = []
    config = make_config(n_krs)
    as_of = datetime.combine(START + timedelta(days=days - 1), datetime.min.time(), tzinfo=TZ)
    history_rows = [
        ValueRow(
            f"m{i}",
            START + timedelta(days=d),
            at := datetime.combine(START + timedelta(days=d), datetime.min.time(), tzinfo=TZ),
            at,
            float(d + i % 7),
        )
        for i in range(n_krs)
        for d in range(days - 1)
    ]
    store = Store(url)

    baseline_rows = [
        dict(namespace="baseline", cycle="bench", metric_id=m, day=d, as_of=a, observed_at=at, value=v)
        for m, d, a, at, v in history_rows
    ]
    with phase(f"baseline: plain INSERT of {len(baseline_rows):,} history rows", results):
        with store.engine.begin() as conn:
            for i in range(0, len(baseline_rows), 2000):
                conn.execute(t.metric_values.insert(), baseline_rows[i : i + 2000])
    del baseline_rows
    with phase(f"store.save_values: upsert of {len(history_rows):,} history rows", results):
        store.save_values("bench", "bench", None, history_rows)
    del history_rows

    with phase(f"store.load_history ({n_krs:,} metrics x {days - 1} days)", results):
        history = store.load_history("bench", "bench", as_of.date())
    states = {
        f"m{i}": MetricState(tuple(history.get(f"m{i}", ())) + (Point.of(as_of, float(days + i % 7)),), as_of=as_of)
        for i in range(n_krs)
    }
    del history
    with phase(f"evaluate {n_krs:,} KRs (pure; forecasts over {days} points)", results):
        evaluation = evaluate(config, states, as_of)
    with phase("build status document", results):
        document = build_document(evaluation, config).to_dict()
    now = as_of
    with phase(f"store: run + today's {n_krs:,} values + {n_krs:,} KR results + document", results):
        run_id = store.begin_run("bench", "bench", as_of.date(), as_of, "run", now)
        store.save_values(
            "bench",
            "bench",
            run_id,
            [ValueRow(f"m{i}", as_of.date(), as_of, as_of, float(days + i % 7)) for i in range(n_krs)],
        )
        store.save_evaluation(run_id, evaluation)
        store.finish_run(run_id, "ok", document, now)
    if runs:
        past_runs(store, evaluation, as_of, days, results)
        with phase(f"history KR: one KR over {days} runs", results):
            assert len(store.kr_history("bench", "bench", "kr0")) == days
    with phase("status: read the latest run's document", results):
        latest = store.latest_run("bench", "bench")
        assert len(latest.document["objectives"]) == n_krs // 5
    total = sum(store.count_rows()[k] for k in ("metric_values",))
    store.close()
    print(f"\n## {label}: {n_krs:,} KRs, {days} days, metric_values rows in store: {total:,}\n")
    print("| phase | wall (s) | process peak RSS after it (MiB) |\n|---|---:|---:|")
    for name, wall, peak, _ in results:
        print(f"| {name} | {wall:.3f} | {peak:.1f} |")
    ratio = results[1][1] / results[0][1]
    print(f"\nupsert / plain insert, same rows, same run: {ratio:.2f}x")
    return results


def status_command(url: str) -> float:
    """Wall time of the whole `okrsync status --format json` process against the big store."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text("version: 1\nnamespace: bench\ncycle: {name: bench, start: 2026-08-01, end: 2026-12-31}\n")
        env = {**os.environ, "OKRSYNC_STORE_URL": url}
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "okrsync", "-c", str(cfg), "status", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        assert out.returncode == 0, out.stderr
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "okrsync", "--help"], capture_output=True)
        startup = time.perf_counter() - t0
    print(
        f"\n`okrsync status --format json` whole process: {wall:.2f} s "
        f"(of which Python + CLI start-up, measured by `okrsync --help`: {startup:.2f} s)"
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--krs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", action="store_true", help="also a run and KR results for every past day")
    parser.add_argument(
        "--pg", default=os.environ.get("OKRSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        run(url, "SQLite", args.krs, args.days, args.runs)
        status_command(url)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = sa.create_engine(args.pg)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        print(f"\nPostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return
    pg = f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}"
    try:
        run(pg, "PostgreSQL", args.krs, args.days, args.runs)
        status_command(pg)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


if __name__ == "__main__":
    main()
