"""The store bench/company_store.py measures: N teams x K KRs x D days, bulk-loaded through the driver.

Each team's config (``team_config``: K KRs of five kinds on K csv metrics, five to an objective), its real status
document (the evaluation of its last day) reused for each day, every metric's value and every KR's result per
day. Loaded through sqlite3 ``executemany`` or PostgreSQL ``COPY`` at the schema before issue 26's indexes: it is
setup, not what is measured.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from okrsync.config import Config
from okrsync.okr.evaluate import MetricState, Point, evaluate
from okrsync.okr.status import build_document
from okrsync.store.history import _kr_row

TZ = ZoneInfo("Europe/Oslo")
START = date(2026, 1, 1)
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
