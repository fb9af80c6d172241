"""Persistence only: sync runs, metric history, results, errors, overrides and the write ledger.

:class:`Store` wraps one SQLAlchemy engine. The schema is migrated with Alembic the first time
a store is opened (under an advisory lock on PostgreSQL, so several workers starting at once
migrate once). Every driver error leaves this module as a :class:`StoreError` whose message
names the database but never its password. Times are stored in UTC and returned aware.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from okrsync.errors import StoreError
from okrsync.evaluate import Evaluation, Point
from okrsync.store import tables as t

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x6F6B7273  # "okrs"


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@contextlib.contextmanager
def translate_errors(url: sa.URL | None) -> Iterator[None]:
    """Map driver errors to StoreError at one boundary, naming the database without credentials."""
    try:
        yield
    except SQLAlchemyError as exc:
        where = url.render_as_string(hide_password=True) if url is not None else "the store"
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"store {where}: {detail}") from exc


def fingerprint(payload: object) -> str:
    """A stable hash of what a sink would write: equal payloads, equal fingerprints."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RunInfo:
    id: int
    namespace: str
    cycle: str
    day: date
    as_of: datetime
    trigger: str
    outcome: str | None
    attempts: int
    document: dict | None


@dataclass(frozen=True)
class OverrideRow:
    id: int
    kr_id: str
    value: float
    sticky: bool
    note: str | None
    created_at: datetime


class Store:
    def __init__(self, url: str):
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise StoreError(
                "store is not a valid SQLAlchemy URL (e.g. sqlite:///okrsync.db or postgresql+psycopg://user@host/db)"
            ) from None
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        with translate_errors(self.url):
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        if self.url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision; cheap when it already is."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with translate_errors(self.url), self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            if MigrationContext.configure(conn).get_current_revision() != head:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with translate_errors(self.url), self.engine.begin() as conn:
            yield conn

    def _upsert(self, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> sa.Insert:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: getattr(stmt.excluded, c) for c in update}
        )

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self, namespace: str, cycle: str, day: date, as_of: datetime, trigger: str, now: datetime) -> int:
        """The day's run row: created, or reused (attempts + 1) when the day already has one."""
        with self._tx() as conn:
            row = conn.execute(
                sa.select(t.runs.c.id).where(
                    t.runs.c.namespace == namespace, t.runs.c.cycle == cycle, t.runs.c.day == day
                )
            ).first()
            if row:
                conn.execute(
                    t.runs.update()
                    .where(t.runs.c.id == row.id)
                    .values(
                        as_of=utc(as_of),
                        started_at=utc(now),
                        finished_at=None,
                        trigger=trigger,
                        outcome=None,
                        attempts=t.runs.c.attempts + 1,
                    )
                )
                return row.id
            return conn.execute(
                t.runs.insert().values(
                    namespace=namespace, cycle=cycle, day=day, as_of=utc(as_of), started_at=utc(now), trigger=trigger
                )
            ).inserted_primary_key[0]

    def finish_run(self, run_id: int, outcome: str, document: dict, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(outcome=outcome, document=document, finished_at=utc(now))
            )

    def latest_run(
        self, namespace: str, cycle: str | None = None, *, before_day: date | None = None, finished: bool = True
    ) -> RunInfo | None:
        q = sa.select(t.runs).where(t.runs.c.namespace == namespace)
        if cycle:
            q = q.where(t.runs.c.cycle == cycle)
        if before_day:
            q = q.where(t.runs.c.day < before_day)
        if finished:
            q = q.where(t.runs.c.document.is_not(None))
        with self._tx() as conn:
            row = conn.execute(q.order_by(t.runs.c.day.desc()).limit(1)).first()
        if row is None:
            return None
        return RunInfo(
            row.id,
            row.namespace,
            row.cycle,
            row.day,
            aware(row.as_of),
            row.trigger,
            row.outcome,
            row.attempts,
            row.document,
        )

    # -- values ---------------------------------------------------------------------------------

    def save_values(
        self, namespace: str, cycle: str, run_id: int | None, values: Iterable[tuple[str, date, datetime, float]]
    ) -> int:
        """Upsert (metric, day, observed_at, value): one value per metric per day."""
        rows = [
            dict(namespace=namespace, cycle=cycle, metric_id=m, day=d, observed_at=utc(at), value=v, run_id=run_id)
            for m, d, at, v in values
        ]
        if not rows:
            return 0
        stmt = self._upsert(
            t.metric_values, ("namespace", "cycle", "metric_id", "day"), ("observed_at", "value", "run_id")
        )
        with self._tx() as conn:
            for chunk in _chunks(rows, 2000):
                conn.execute(stmt, chunk)
        return len(rows)

    def load_history(
        self, namespace: str, cycle: str, until: datetime, metric_ids: Iterable[str] | None = None
    ) -> dict[str, list[Point]]:
        """Each metric's values up to ``until``, oldest first.

        Times come back as POSIX seconds computed by the database: building 900k datetime objects
        was most of the cost of a 10k-KR evaluation (bench/RESULTS.md).
        """
        c = t.metric_values.c
        q = sa.select(c.metric_id, self._epoch(c.observed_at), c.value).where(
            c.namespace == namespace, c.cycle == cycle, c.observed_at <= utc(until)
        )
        if metric_ids is not None:
            q = q.where(c.metric_id.in_(list(metric_ids)))
        out: dict[str, list[Point]] = {}
        with self._tx() as conn:
            for metric_id, ts, value in conn.execute(q.order_by(c.metric_id, c.observed_at)):
                out.setdefault(metric_id, []).append(Point(float(ts), value))
        return out

    def _epoch(self, column: sa.ColumnElement) -> sa.ColumnElement:
        if self.engine.dialect.name == "postgresql":
            return sa.extract("epoch", column)
        # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; julianday is exact to the millisecond
        return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)

    # -- results --------------------------------------------------------------------------------

    def save_evaluation(self, run_id: int, evaluation: Evaluation) -> None:
        """Replace the run's results (a re-run of the day overwrites, never duplicates)."""
        krs = [
            dict(
                run_id=run_id,
                kr_id=kr.id,
                objective_id=kr.objective_id,
                metric_id=kr.metric,
                kind=kr.kind,
                value=kr.value,
                start=kr.start,
                target=kr.target,
                progress=kr.progress,
                progress_raw=kr.progress_raw,
                expected=kr.expected,
                status=kr.status.value,
                stale=kr.stale,
                stale_reason=kr.stale_reason,
                error=kr.error,
                observed_at=utc(kr.observed_at) if kr.observed_at else None,
                forecast_value=kr.forecast.value if kr.forecast else None,
                forecast_progress=kr.forecast.progress if kr.forecast else None,
                overridden=kr.override is not None,
            )
            for kr in evaluation.key_results()
        ]
        objectives = [
            dict(run_id=run_id, objective_id=o.id, progress=o.progress, expected=o.expected, status=o.status.value)
            for o in evaluation.objectives
        ]
        kpis = [
            dict(
                run_id=run_id,
                kpi_id=k.id,
                metric_id=k.metric,
                value=k.value,
                healthy=k.healthy,
                trend=k.trend,
                stale=k.stale,
            )
            for k in evaluation.kpis
        ]
        errors = [
            dict(run_id=run_id, metric_id=e.metric, connection=e.connection, message=e.message)
            for e in evaluation.errors
        ]
        with self._tx() as conn:
            for table, rows in (
                (t.kr_results, krs),
                (t.objective_results, objectives),
                (t.kpi_results, kpis),
                (t.metric_errors, errors),
            ):
                conn.execute(table.delete().where(table.c.run_id == run_id))
                for chunk in _chunks(rows, 2000):
                    conn.execute(table.insert(), chunk)

    def kr_history(self, namespace: str, cycle: str, kr_id: str) -> list[dict]:
        """Per-day results of one KR, oldest first."""
        q = (
            sa.select(
                t.runs.c.day,
                t.runs.c.as_of,
                t.kr_results.c.value,
                t.kr_results.c.progress,
                t.kr_results.c.expected,
                t.kr_results.c.status,
                t.kr_results.c.stale,
                t.kr_results.c.overridden,
            )
            .join(t.runs, t.runs.c.id == t.kr_results.c.run_id)
            .where(t.runs.c.namespace == namespace, t.runs.c.cycle == cycle, t.kr_results.c.kr_id == kr_id)
            .order_by(t.runs.c.day)
        )
        with self._tx() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def count_rows(self) -> dict[str, int]:
        with self._tx() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables
            }

    # -- overrides ------------------------------------------------------------------------------

    def add_override(
        self, namespace: str, kr_id: str, value: float, sticky: bool, note: str | None, now: datetime
    ) -> None:
        """A new override ends any active one for the same KR."""
        with self._tx() as conn:
            conn.execute(
                t.overrides.update()
                .where(
                    t.overrides.c.namespace == namespace, t.overrides.c.kr_id == kr_id, t.overrides.c.ended_at.is_(None)
                )
                .values(ended_at=utc(now), ended_by="superseded")
            )
            conn.execute(
                t.overrides.insert().values(
                    namespace=namespace, kr_id=kr_id, value=value, sticky=sticky, note=note, created_at=utc(now)
                )
            )

    def end_overrides(
        self,
        namespace: str,
        now: datetime,
        *,
        kr_id: str | None = None,
        once_only: bool = False,
        reason: str = "cleared",
    ) -> int:
        q = t.overrides.update().where(t.overrides.c.namespace == namespace, t.overrides.c.ended_at.is_(None))
        if kr_id is not None:
            q = q.where(t.overrides.c.kr_id == kr_id)
        if once_only:
            q = q.where(t.overrides.c.sticky.is_(False))
        with self._tx() as conn:
            return conn.execute(q.values(ended_at=utc(now), ended_by=reason)).rowcount

    def active_overrides(self, namespace: str) -> dict[str, OverrideRow]:
        q = sa.select(t.overrides).where(t.overrides.c.namespace == namespace, t.overrides.c.ended_at.is_(None))
        with self._tx() as conn:
            return {
                r.kr_id: OverrideRow(r.id, r.kr_id, r.value, r.sticky, r.note, aware(r.created_at))
                for r in conn.execute(q.order_by(t.overrides.c.created_at))
            }

    # -- write ledger ---------------------------------------------------------------------------

    def ledger(self, namespace: str, run_id: int | None) -> Ledger:
        return Ledger(self, namespace, run_id)


class Ledger:
    """What each output wrote, so a re-run sends only what changed and a retry never sends twice.

    A write moves planned -> sent -> confirmed (or failed). ``planned`` is recorded before the
    request; a crash after it leaves the entry 'planned' or 'sent', which a sink can check
    against the destination (e.g. look for its marker in a comment) before writing again.
    """

    def __init__(self, store: Store, namespace: str, run_id: int | None):
        self.store, self.namespace, self.run_id = store, namespace, run_id

    def last_confirmed(self, sink: str, target: str) -> str | None:
        c = t.write_ledger.c
        q = (
            sa.select(c.fingerprint)
            .where(c.namespace == self.namespace, c.sink == sink, c.target == target, c.state == "confirmed")
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(1)
        )
        with self.store._tx() as conn:
            return conn.execute(q).scalar_one_or_none()

    def last_confirmed_entry(self, sink: str, target: str) -> tuple[str, str | None] | None:
        """(fingerprint, detail) of the newest confirmed write to ``target``."""
        c = t.write_ledger.c
        q = (
            sa.select(c.fingerprint, c.detail)
            .where(c.namespace == self.namespace, c.sink == sink, c.target == target, c.state == "confirmed")
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(1)
        )
        with self.store._tx() as conn:
            row = conn.execute(q).first()
        return (row.fingerprint, row.detail) if row else None

    def state(self, sink: str, target: str, fp: str) -> str | None:
        c = t.write_ledger.c
        q = sa.select(c.state).where(
            c.namespace == self.namespace, c.sink == sink, c.target == target, c.fingerprint == fp
        )
        with self.store._tx() as conn:
            return conn.execute(q).scalar_one_or_none()

    def mark(self, sink: str, target: str, fp: str, state: str, now: datetime, detail: str | None = None) -> None:
        row = dict(
            namespace=self.namespace,
            sink=sink,
            target=target,
            fingerprint=fp,
            state=state,
            run_id=self.run_id,
            updated_at=utc(now),
            detail=detail,
        )
        stmt = self.store._upsert(
            t.write_ledger,
            ("namespace", "sink", "target", "fingerprint"),
            ("state", "run_id", "updated_at", "detail"),
        )
        with self.store._tx() as conn:
            conn.execute(stmt, [row])


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
