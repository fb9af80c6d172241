"""Benchmark: a year of history at company scale (issue 26) — every command a lead runs, timed on one shared store.

    .venv/bin/python bench/company_store.py                          # 100 teams x 200 KRs x 365 days, both backends
    .venv/bin/python bench/company_store.py --teams 20 --backend sqlite   # a smaller shape
    .venv/bin/python bench/company_store.py --keep /tmp/company.db --backend sqlite  # keep the SQLite file (reused)
    .venv/bin/python bench/company_store.py --pg-keep c20 --backend postgres  # keep database okrsync_bench_c20
    .venv/bin/python bench/company_store.py --keep /tmp/company.db --against HEAD~1  # commands beside a revision's

The store holds N teams (namespaces) of K key results on K metrics, one cycle of D days, and for every team and
day: a finished run with its status document (a real one, built by the evaluation), every KR's result and every
metric's value — D x N runs, D x N x K values and as many KR results. The setup is bulk-loaded through the
driver (sqlite3 executemany, PostgreSQL COPY) into a store at schema 0010 (before the indexes of 0011): it is
setup, not what is measured. Opening it to write then migrates it (timed: 0011 on a year of history). Then each
lead's command runs as a whole process (``okrsync -c team.yaml …``, output to a pipe), once untimed and then
best and median of ``--repeat`` runs, its bytecode cached as an installed okrsync has it (bench/startup.py's
environment: ``PYTHONDONTWRITEBYTECODE`` dropped, caches in a temporary ``PYTHONPYCACHEPREFIX``), beside
``okrsync --help`` (the interpreter and CLI start-up every command pays), and the reads
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.company_store_load import START, load_postgres, load_sqlite, moment, team_config
from bench.startup import REPO, environment, export
from okrsync.config import Config
from okrsync.store import Store

OKRSYNC = [sys.executable, "-m", "okrsync"]
BEFORE = "0010"  # the schema a store is loaded at: the newest before the indexes of issue 26 (0011)


def timed(argv: list[str], trees: list[tuple[Path, dict]], repeat: int) -> list[tuple[float, float, str]]:
    """Best and median wall time of a whole ``okrsync`` process from each tree (``python -m okrsync`` takes
    the okrsync of the folder it runs in), after one untimed run (its bytecode cached); the trees' runs
    alternate, so that the machine's load hits all alike. With the first line of its output."""
    for cwd, env in trees:
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
    walls: list[list[float]] = [[] for _ in trees]
    firsts = [""] * len(trees)
    for _ in range(repeat):
        for i, (cwd, env) in enumerate(trees):
            t0 = time.perf_counter()
            out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
            walls[i].append(time.perf_counter() - t0)
            if out.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed: {out.stderr[-2000:]}")
            firsts[i] = (out.stdout.strip().splitlines() or [""])[0][:60]
    return [(min(w), statistics.median(w), first) for w, first in zip(walls, firsts, strict=True)]


def commands(url: str, folder: Path, args) -> None:
    """Each lead's command as a whole process, printed as measured; with ``--against REV`` beside REV's."""
    cfg = folder / "team.yaml"
    cfg.write_text(json.dumps(team_config(0, args.krs, args.days)))
    env = {**environment(folder / "pycache"), "OKRSYNC_STORE_URL": url, "COLUMNS": "160"}
    trees = [(REPO, env)]
    if args.against:  # REV's files, run from their folder: its okrsync first on sys.path
        trees.append((export(args.against, Path(tempfile.mkdtemp(dir=folder))), env))
    c = [*OKRSYNC, "-c", str(cfg)]
    runs = [
        ("okrsync --help (start-up alone)", [*OKRSYNC, "--help"]),
        ("status", [*c, "status"]),
        ("status --format json", [*c, "status", "--format", "json"]),
        ("status --all", [*c, "status", "--all"]),
        ("status --all --objectives", [*c, "status", "--all", "--objectives"]),
        ("status --all --krs", [*c, "status", "--all", "--krs"]),
        ("history kr0", [*c, "history", "kr0"]),
        ("report -o team.html", [*c, "report", "-o", str(folder / "team.html")]),
        ("checkin", [*c, "checkin"]),
        ("runs", [*c, "runs"]),
    ]
    against = f" {args.against}: best / median (s) |" if args.against else ""
    print(f"\n| command (whole process) | best (s) | median (s) |{against} first line of output |")
    print("|---|---:|---:|" + ("---:|" if args.against else "") + "---|")
    for name, argv in runs:
        (best, median, first), *other = timed(argv, trees, args.repeat)
        beside = "".join(f" {b:.2f} / {m:.2f} |" for b, m, _ in other)
        print(f"| {name} | {best:.2f} | {median:.2f} |{beside} {first.replace('|', '/')} |", flush=True)


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
    """``status --all`` in process, in four parts (the store's read, the documents' parse, the view, its printing),
    at each depth: the default (objectives read alone; teams and the aligned objectives), --objectives, --krs."""
    import io

    from rich.console import Console

    from okrsync.cli.company_status import aligned_tree, teams_table
    from okrsync.cli.views import company_tree
    from okrsync.okr.status import StatusDocument

    views = {
        "default": (lambda store: store.latest_objectives("FY"), lambda docs: [teams_table(docs), aligned_tree(docs)]),
        "--objectives": (lambda store: store.latest_objectives("FY"), lambda docs: [company_tree(docs)]),
        "--krs": (
            lambda store: {ns: r.document for ns, r in store.latest_runs("FY").items()},
            lambda docs: [company_tree(docs)],
        ),
    }
    print("\n| status --all, in process | read (s) | parse (s) | view (s) | print (s) | lines |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (read, view) in views.items():
        t0 = time.perf_counter()
        with Store(url, access="read") as store:
            found = read(store)
        t1 = time.perf_counter()
        docs = {ns: StatusDocument.from_dict(document) for ns, document in found.items()}
        t2 = time.perf_counter()
        shown = view(docs)
        t3 = time.perf_counter()
        out = io.StringIO()
        Console(file=out, width=160).print(*shown)
        t4 = time.perf_counter()
        lines = out.getvalue().count("\n")
        print(f"| {name} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | {t4 - t3:.2f} | {lines:,} |", flush=True)


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
        commands(url, folder, args)
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
    parser.add_argument("--against", metavar="REV", help="also time the commands of this git revision, side by side")
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
