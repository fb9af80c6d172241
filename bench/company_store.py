"""Benchmark: a year of history at company scale (issue 26) — every command a lead runs, timed on one shared store.

    .venv/bin/python bench/company_store.py                          # 100 teams x 200 KRs x 365 days, both backends
    .venv/bin/python bench/company_store.py --teams 20 --backend sqlite   # a smaller shape
    .venv/bin/python bench/company_store.py --keep /tmp/company.db --backend sqlite  # keep the SQLite file (reused)
    .venv/bin/python bench/company_store.py --pg-keep c20 --backend postgres  # keep database okrsync_bench_c20

The store holds N teams (namespaces) of K key results on K metrics, one cycle of D days, and for every team and
day: a finished run with its status document (a real one, built by the evaluation), every KR's result and every
metric's value — D x N runs, D x N x K values and as many KR results. The setup is bulk-loaded through the
driver (sqlite3 executemany, PostgreSQL COPY) into a store at schema 0010 (before the indexes of 0011): it is
setup, not what is measured. Opening it to write then migrates it (timed: 0011 on a year of history). Then each
lead's command runs as a whole process (``okrsync -c team.yaml …``, output to a pipe), best and median of
``--repeat`` runs, beside ``okrsync --help`` (the interpreter and CLI start-up every command pays), and the reads
in process, best of ``--repeat``: what ``okrsync run`` reads before it evaluates (read_stored, its history, the
other namespaces' objectives beside every other document read whole as before), and the reads behind
``status --all``, ``history`` and ``checkin``. Figures are printed as measured; they go to bench/RESULTS.md by
hand, with the command. A kept PostgreSQL database is dropped by hand (``DROP DATABASE okrsync_bench_NAME``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from okrsync.config import Config
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.okr.status import build_document
from okrsync.store import Store
from okrsync.store.history import _kr_row

TZ = ZoneInfo("Europe/Oslo")
START = date(2026, 1, 1)
OKRSYNC = [sys.executable, "-m", "okrsync"]
BEFORE = "0010"  # the schema a store is loaded at: the newest before the indexes of issue 26 (0011)
KINDS = [
    {"start": 0, "target": 100},
    {"start": 100, "target": 10},
    {"kind": "at_least", "target": 50},
    {"kind": "between", "min": 20, "max": 80},
    {"kind": "milestone"},
]


def team_config(team: int, n_krs: int, days: int) -> dict:
    """One team's config: K KRs of five kinds on K csv metrics, five to an objective, one cycle of ``days`` days."""
    objectives = [
        {
            "id": f"o{o}",
            "title": f"Objective {o} of team {team}",
            "owner": f"owner{o % 7}@t{team}",
            "key_results": [
                {"id": f"kr{o * 5 + i}", "metric": f"m{o * 5 + i}", "title": f"Key result {o * 5 + i}", **KINDS[i]}
                for i in range(5)
            ],
        }
        for o in range(n_krs // 5)
    ]
    end = START + timedelta(days=days - 1)
    return {
        "version": 1,
        "namespace": f"t{team:03d}",
        "cycle": {"name": "FY", "start": START.isoformat(), "end": end.isoformat(), "timezone": "Europe/Oslo"},
        "connections": {"c": {"type": "csv"}},
        "metrics": {f"m{i}": {"connection": "c", "path": "x.csv", "column": "v"} for i in range(n_krs)},
        "objectives": objectives,
    }


def moment(day: date) -> datetime:
    """A run's as-of: 06:00 of its day in the cycle's zone, in UTC."""
    return datetime.combine(day, datetime.min.time().replace(hour=6), tzinfo=TZ).astimezone(UTC)


def value(team: int, metric: int, d: int) -> float:
    return float(d * (1 + metric % 5) + team + (d * 7919 + metric) % 13)


def team_rows(team: int, n_krs: int, days: int) -> tuple[str, list[dict]]:
    """The team's status document (JSON text, a real one: the evaluation of its last day over a month of values)
    and its KR results' rows, both reused for each of its days."""
    config = Config.model_validate(team_config(team, n_krs, days))
    last = START + timedelta(days=days - 1)
    as_of = moment(last)
    states = {
        f"m{m}": MetricState(
            tuple(Point.of(moment(last - timedelta(days=30 - d)), value(team, m, days - 31 + d)) for d in range(31)),
            as_of=as_of,
        )
        for m in range(n_krs)
    }
    evaluation = evaluate(config, states, as_of)
    document = build_document(evaluation, config).to_dict()
    return json.dumps(document, allow_nan=False), [_kr_row(kr) for kr in evaluation.key_results()]


def _sqlite_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, teams: int, n_krs: int, days: int) -> None:
    """Every team's runs, values and KR results in one transaction, through sqlite3 (SQLAlchemy's text formats)."""
    import sqlite3

    conn = sqlite3.connect(path)
    kr_cols = None
    run_id = 0
    with conn:
        for team in range(teams):
            document, krs = team_rows(team, n_krs, days)
            kr_cols = kr_cols or list(krs[0])
            ns = f"t{team:03d}"
            runs, values, results = [], [], []
            for d in range(days):
                run_id += 1
                day = START + timedelta(days=d)
                at = _sqlite_time(moment(day))
                runs.append((run_id, ns, "FY", day.isoformat(), at, at, at, "run", "ok", 1, document))
                values += [
                    (ns, "FY", f"m{m}", day.isoformat(), at, at, value(team, m, d), run_id) for m in range(n_krs)
                ]
                for row in krs:
                    obs = row["observed_at"]
                    results.append((run_id, *(row[c] for c in kr_cols if c != "observed_at"), obs and at))
            conn.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", runs)
            conn.executemany(
                "INSERT INTO metric_values (namespace, cycle, metric_id, day, as_of, observed_at, value, run_id) "
                "VALUES (?,?,?,?,?,?,?,?)",
                values,
            )
            cols = ["run_id", *(c for c in kr_cols if c != "observed_at"), "observed_at"]
            conn.executemany(
                f"INSERT INTO kr_results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", results
            )
    conn.close()


def load_postgres(engine: sa.Engine, teams: int, n_krs: int, days: int) -> None:
    """The same rows through COPY, then VACUUM ANALYZE (what autovacuum does to a table loaded at once)."""
    raw = engine.raw_connection()
    pg = raw.driver_connection
    run_id = 0
    kr_cols = None
    with pg.cursor() as cur:
        for team in range(teams):
            document, krs = team_rows(team, n_krs, days)
            kr_cols = kr_cols or list(krs[0])
            ns = f"t{team:03d}"
            first = run_id + 1
            with cur.copy(
                "COPY runs (id, namespace, cycle, day, as_of, started_at, finished_at, trigger, outcome, attempts, "
                "document) FROM STDIN"
            ) as copy:
                for d in range(days):
                    run_id += 1
                    day = START + timedelta(days=d)
                    at = moment(day)
                    copy.write_row((run_id, ns, "FY", day, at, at, at, "run", "ok", 1, document))
            with cur.copy(
                "COPY metric_values (namespace, cycle, metric_id, day, as_of, observed_at, value, run_id) FROM STDIN"
            ) as copy:
                for d in range(days):
                    day = START + timedelta(days=d)
                    at = moment(day)
                    for m in range(n_krs):
                        copy.write_row((ns, "FY", f"m{m}", day, at, at, value(team, m, d), first + d))
            cols = ["run_id", *kr_cols]
            with cur.copy(f"COPY kr_results ({', '.join(cols)}) FROM STDIN") as copy:
                for d in range(days):
                    at = moment(START + timedelta(days=d))
                    for row in krs:
                        copy.write_row((first + d, *(row[c] if c != "observed_at" else row[c] and at for c in kr_cols)))
        cur.execute("SELECT setval(pg_get_serial_sequence('runs', 'id'), %s)", (run_id,))
    pg.commit()
    pg.autocommit = True
    pg.execute("VACUUM ANALYZE")
    raw.close()


def timed(argv: list[str], env: dict, repeat: int) -> tuple[float, float, str]:
    """Best and median wall time of a whole ``okrsync`` process, and its last output's first line."""
    walls, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {out.stderr[-2000:]}")
    first = (out.stdout.strip().splitlines() or [""])[0][:60] if out else ""
    return min(walls), statistics.median(walls), first


def commands(url: str, folder: Path, n_krs: int, days: int, repeat: int) -> None:
    """Each lead's command as a whole process, printed as measured."""
    cfg = folder / "team.yaml"
    cfg.write_text(json.dumps(team_config(0, n_krs, days)))
    env = {**os.environ, "OKRSYNC_STORE_URL": url, "COLUMNS": "160"}
    c = [*OKRSYNC, "-c", str(cfg)]
    runs = [
        ("okrsync --help (start-up alone)", [*OKRSYNC, "--help"]),
        ("status", [*c, "status"]),
        ("status --format json", [*c, "status", "--format", "json"]),
        ("status --all", [*c, "status", "--all"]),
        ("history kr0", [*c, "history", "kr0"]),
        ("report -o team.html", [*c, "report", "-o", str(folder / "team.html")]),
        ("checkin", [*c, "checkin"]),
        ("runs", [*c, "runs"]),
    ]
    print("\n| command (whole process) | best (s) | median (s) | first line of output |\n|---|---:|---:|---|")
    for name, argv in runs:
        best, median, first = timed(argv, env, repeat)
        print(f"| {name} | {best:.2f} | {median:.2f} | {first.replace('|', '/')} |", flush=True)


def best_of(repeat: int, read) -> tuple[float, object]:
    """The best wall time of ``read()`` over ``repeat`` calls (the first warms the connection and the cache)."""
    walls, found = [], None
    for _ in range(max(repeat, 2)):
        t0 = time.perf_counter()
        found = read()
        walls.append(time.perf_counter() - t0)
    return min(walls), found


def sync_reads(url: str, n_krs: int, days: int, repeat: int) -> None:
    """What a team's nightly sync reads from the store before it evaluates (okrsync.sync.persist.read_stored),
    its parts, and the other reads the lead's commands make, in process, printed as measured."""
    from okrsync.okr.status import StatusDocument
    from okrsync.sync.persist import other_documents, read_stored
    from okrsync.sync.plan import compile_plan

    config = Config.model_validate(team_config(0, n_krs, days))
    last = START + timedelta(days=days - 1)
    plan = compile_plan(config, moment(last))
    ns = config.namespace
    store = Store(url, access="read")

    def whole_documents() -> dict:  # what other_documents read before issue 26: every document whole
        runs = store.latest_runs("FY", until_day=last)
        return {n: StatusDocument.from_dict(r.document) for n, r in runs.items() if n != ns}

    reads = [
        ("read_stored (the sync's reads)", lambda: read_stored(store, plan), lambda s: _values(s.history)),
        ("load_history, the whole cycle", lambda: store.load_history(ns, "FY", last, plan.metrics), _values),
        ("other_documents (objectives only)", lambda: other_documents(store, config, until=last), len),
        ("every other document whole (the read before)", whole_documents, len),
        ("latest_runs (status --all, report --all)", lambda: store.latest_runs("FY"), len),
        ("latest_run (status)", lambda: store.latest_run(ns, "FY"), lambda run: int(run is not None)),
        ("kr_history kr0 (history)", lambda: store.kr_history(ns, "FY", "kr0"), len),
        ("kr_series (checkin)", lambda: store.kr_series(ns, "FY", last), _values),
    ]
    print("\n| in process | best (s) | rows or documents read |\n|---|---:|---:|")
    with store:
        for name, read, size in reads:
            wall, found = best_of(repeat, read)
            print(f"| {name} | {wall:.3f} | {size(found):,} |", flush=True)


def company_view(url: str) -> None:
    """``status --all`` in process, in four parts: the store's read, the documents' parse, the tree, its printing."""
    import io

    from rich.console import Console

    from okrsync.cli.views import company_tree
    from okrsync.okr.status import StatusDocument

    t0 = time.perf_counter()
    with Store(url, access="read") as store:
        runs = store.latest_runs("FY")
    t1 = time.perf_counter()
    docs = {ns: StatusDocument.from_dict(r.document) for ns, r in runs.items()}
    t2 = time.perf_counter()
    tree = company_tree(docs)
    t3 = time.perf_counter()
    out = io.StringIO()
    Console(file=out, width=160).print(tree)
    t4 = time.perf_counter()
    lines = out.getvalue().count("\n")
    print(
        f"\nstatus --all in process: read {t1 - t0:.2f} s, parse {t2 - t1:.2f} s, tree {t3 - t2:.2f} s, "
        f"print {t4 - t3:.2f} s ({lines:,} lines, {len(docs)} documents)",
        flush=True,
    )


def _values(found: dict) -> int:
    return sum(map(len, found.values()))


def header(label: str, setup: float, rows: dict) -> None:
    loaded = f"setup (bulk load): {setup:.1f} s" if setup else "setup: the kept store"
    print(f"\n## {label}\n\n{loaded}; rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()), flush=True)


def counts(url: str) -> dict:
    with Store(url, access="read") as store:
        found = store.count_rows()
    return {k: found[k] for k in ("runs", "metric_values", "kr_results")}


def at_revision(url: str, revision: str) -> None:
    """A new store at an older schema ``revision``: loaded there, then migrated to the newest one as a store
    written by an older okrsync is (the migration's time on a year of history is one of the figures)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from okrsync.store.engine import MIGRATIONS

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def migrated(url: str) -> float:
    """Open the store to write (migrating it to the newest schema); the seconds it took."""
    t0 = time.perf_counter()
    Store(url).close()
    return time.perf_counter() - t0


def measure(label: str, url: str, setup: float, args, folder: Path) -> None:
    header(label, setup, counts(url))
    if not args.reads_only:
        commands(url, folder, args.krs, args.days, args.repeat)
    sync_reads(url, args.krs, args.days, args.repeat)
    company_view(url)


def sqlite_backend(args, folder: Path) -> None:
    path = Path(args.keep) if args.keep else folder / "company.db"
    url = f"sqlite:///{path}"
    setup = 0.0
    if not (args.keep and path.exists()):
        at_revision(url, BEFORE)
        t0 = time.perf_counter()
        load_sqlite(path, args.teams, args.krs, args.days)
        setup = time.perf_counter() - t0
    print(f"\nSQLite: opening the store to write (migrations after {BEFORE}): {migrated(url):.1f} s", flush=True)
    size = path.stat().st_size / 2**30
    measure(
        f"SQLite: {args.teams} teams x {args.krs} KRs x {args.days} days ({size:.1f} GiB)", url, setup, args, folder
    )


def postgres_backend(args, folder: Path) -> None:
    database = f"okrsync_bench_{args.pg_keep or uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    url = sa.make_url(args.pg).set(database=database).render_as_string(hide_password=False)
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    except Exception as exc:
        print(f"\nPostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return
    try:
        engine = sa.create_engine(url)
        setup = 0.0
        if not exists:
            at_revision(url, BEFORE)
            t0 = time.perf_counter()
            load_postgres(engine, args.teams, args.krs, args.days)
            setup = time.perf_counter() - t0
        print(f"\nPostgreSQL: opening the store to write (after {BEFORE}): {migrated(url):.1f} s", flush=True)
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one() / 2**30
        engine.dispose()
        label = f"PostgreSQL: {args.teams} teams x {args.krs} KRs x {args.days} days ({size:.1f} GiB)"
        measure(label, url, setup, args, folder)
    finally:
        if not args.pg_keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--krs", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--keep", help="SQLite: keep the store in this file (reused when it exists)")
    parser.add_argument("--reads-only", action="store_true", help="the reads in process, not the commands")
    parser.add_argument("--pg-keep", help="PostgreSQL: keep the store in database okrsync_bench_NAME (reused)")
    parser.add_argument(
        "--pg", default=os.environ.get("OKRSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("sqlite", "both"):
            sqlite_backend(args, Path(tmp))
        if args.backend in ("postgres", "both"):
            postgres_backend(args, Path(tmp))


if __name__ == "__main__":
    main()
