"""Sync runs: one row per namespace, cycle and cycle-local day, holding the status document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from okrsync.store import tables as t
from okrsync.store.engine import Database, aware, utc


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


class Runs(Database):
    def begin_run(self, namespace: str, cycle: str, day: date, as_of: datetime, trigger: str, now: datetime) -> int:
        """The day's run row: created, or reused (attempts + 1) when the day already has one. One atomic
        upsert, so two runs starting at once on the same day share the row instead of colliding."""
        insert = self._insert(t.runs).values(
            namespace=namespace, cycle=cycle, day=day, as_of=utc(as_of), started_at=utc(now), trigger=trigger
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["namespace", "cycle", "day"],
            set_=dict(
                as_of=insert.excluded.as_of,
                started_at=insert.excluded.started_at,
                finished_at=None,
                trigger=insert.excluded.trigger,
                outcome=None,
                attempts=t.runs.c.attempts + 1,
            ),
        ).returning(t.runs.c.id)
        with self._tx() as conn:
            return conn.execute(stmt).scalar_one()

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
        return None if row is None else _run_info(row)

    def latest_runs(self, cycle: str, *, until_day: date | None = None) -> dict[str, RunInfo]:
        """The latest finished run of every namespace in ``cycle`` (up to ``until_day``): the company view."""
        q = sa.select(t.runs).select_from(newest_finished(cycle, until_day)).order_by(t.runs.c.namespace)
        with self._tx() as conn:
            rows = conn.execute(q).all()
        return {row.namespace: _run_info(row) for row in rows}

    def list_runs(self, namespace: str, cycle: str) -> list[RunInfo]:
        """Every run of the namespace in ``cycle``, oldest first, without documents."""
        r = t.runs.c
        cols = [
            r.id,
            r.namespace,
            r.cycle,
            r.day,
            r.as_of,
            r.trigger,
            r.outcome,
            r.attempts,
            sa.null().label("document"),
        ]
        q = sa.select(*cols).where(r.namespace == namespace, r.cycle == cycle).order_by(r.day)
        with self._tx() as conn:
            return [_run_info(row) for row in conn.execute(q)]

    def run_on(self, namespace: str, cycle: str, day: date) -> RunInfo | None:
        """The finished run that was current on ``day``: that day's, else the newest before it."""
        return self.latest_run(namespace, cycle, before_day=day + timedelta(days=1))

    def delete_run(self, namespace: str, cycle: str, day: date) -> dict[str, int] | None:
        """Remove one synced day: its run and results (cascade), and exactly the values and held values
        stored for that day — never a value another day's run stored. The write ledger keeps its rows (what
        was delivered stays delivered; their run becomes unknown), so a later run never re-sends what this
        one sent. None when there is no run on that day."""
        r = t.runs.c
        with self._tx() as conn:
            run_id = conn.execute(
                sa.select(r.id).where(r.namespace == namespace, r.cycle == cycle, r.day == day)
            ).scalar_one_or_none()
            if run_id is None:
                return None
            counts = {}
            for table in (t.metric_values, t.held_values):
                of_day = [table.c.namespace == namespace, table.c.cycle == cycle, table.c.day == day]
                counts[table.name] = conn.execute(sa.select(sa.func.count()).where(*of_day)).scalar_one()
                conn.execute(table.delete().where(*of_day))
            for table in (t.kr_results, t.objective_results, t.kpi_results, t.metric_errors):  # SQLite: FKs vary
                of_run = table.c.run_id == run_id
                counts[table.name] = conn.execute(sa.select(sa.func.count()).where(of_run)).scalar_one()
                conn.execute(table.delete().where(of_run))
            conn.execute(t.write_ledger.update().where(t.write_ledger.c.run_id == run_id).values(run_id=None))
            conn.execute(t.runs.delete().where(r.id == run_id))
        return counts


def _run_info(row) -> RunInfo:
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


def newest_finished(cycle: str, until_day: date | None = None) -> sa.Join:
    """``runs`` joined to each namespace's newest finished day in ``cycle`` (up to ``until_day``): selected from,
    it gives every namespace's latest finished run (the company view, and the objectives a sync reads)."""
    r = t.runs.c
    finished = [r.cycle == cycle, r.document.is_not(None)] + ([r.day <= until_day] if until_day else [])
    newest = sa.select(r.namespace, sa.func.max(r.day).label("day")).where(*finished).group_by(r.namespace).subquery()
    return t.runs.join(newest, sa.and_(r.namespace == newest.c.namespace, r.day == newest.c.day, r.cycle == cycle))
