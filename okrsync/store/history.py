"""Metric history and per-run results: what forecasts, charts and `okrsync history` read."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple

import sqlalchemy as sa

from okrsync.memory import collector_paused
from okrsync.okr.results import Evaluation, KpiResult, KrResult, ObjectiveResult, Point
from okrsync.store import tables as t
from okrsync.store.engine import Database, _chunks, aware, utc

KEY = ("namespace", "cycle", "metric_id", "day")  # one value per metric per synced day


class ValueRow(NamedTuple):
    """A value as a run stores it: the synced day that owns it, the moment it was read for (its place on
    the timeline), the source's own time of it, and the number."""

    metric_id: str
    day: date
    as_of: datetime
    observed_at: datetime
    value: float


class _PosixSeconds(dict):
    """A time as the driver returns it (SQLite: naive UTC text; PostgreSQL: aware datetime, or the POSIX seconds
    the history read asks it for) -> POSIX seconds, parsed once per distinct value."""

    def __missing__(self, moment: str | datetime | float) -> float:
        if isinstance(moment, float):
            return moment
        at = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
        self[moment] = seconds = aware(at).timestamp()
        return seconds


class _Days(dict):
    """A day as the driver returns it (SQLite: ISO text; PostgreSQL: a date) -> the date, parsed once."""

    def __missing__(self, day: str | date) -> date:
        self[day] = parsed = day if isinstance(day, date) else date.fromisoformat(day)
        return parsed


class History(Database):
    def save_values(self, namespace: str, cycle: str, run_id: int | None, values: Iterable[ValueRow]) -> int:
        """Upsert the values a run read for its synced day: one value per metric per synced day."""
        owner = dict(namespace=namespace, cycle=cycle, run_id=run_id)
        rows = [{**owner, **v._asdict(), "as_of": utc(v.as_of), "observed_at": utc(v.observed_at)} for v in values]
        if not rows:
            return 0
        stmt = self._upsert(t.metric_values, KEY, ("as_of", "observed_at", "value", "run_id"))
        with self._tx() as conn:
            for chunk in _chunks(rows, 2000):
                conn.execute(stmt, chunk)
        return len(rows)

    def load_history(
        self, namespace: str, cycle: str, until_day: date, metric_ids: Iterable[str] | None = None
    ) -> dict[str, list[Point]]:
        """Each metric's values of the synced days up to ``until_day``, in day order.

        A year of 10,000 metrics is 3.6 million rows, so no Python runs per row: plain DB-API tuples in
        the unique index's order (metric, day: no sort), transposed, cut per metric, and the times parsed
        once per distinct moment (a run's values share one) — datetime objects, SQL date arithmetic and
        SQLAlchemy's row-at-a-time processing were most of the load (bench/RESULTS.md).
        """
        c = t.metric_values.c
        seconds = self.engine.dialect.name == "postgresql"  # the driver's datetimes were a third of the read there
        q = sa.select(c.metric_id, _moment(c.as_of, seconds), c.value, _source_time(seconds)).where(
            c.namespace == namespace, c.cycle == cycle, c.day <= until_day
        )
        if metric_ids is not None:
            q = q.where(c.metric_id.in_(list(metric_ids)))
        with self._tx() as conn, collector_paused():  # str, datetime or text, float: no SQLAlchemy processing
            rows = conn.execute(q.order_by(c.metric_id, c.day)).cursor.fetchall()
            return _by_metric(rows) if rows else {}

    def carried_over(
        self, namespace: str, cycle: str, metric_ids: Iterable[str], until: datetime, keep: int = 2
    ) -> dict[str, list[Point]]:
        """The last ``keep`` values of each metric from other (earlier) cycles, oldest first: a KPI goes on
        across cycles, so a new cycle starts with its latest value and trend instead of no data."""
        c = t.metric_values.c
        rank = sa.func.row_number().over(partition_by=c.metric_id, order_by=c.as_of.desc()).label("rank")
        inner = (
            sa.select(c.metric_id, c.as_of, c.value, _source_time().label("observed_at"), rank)
            .where(c.namespace == namespace, c.cycle != cycle, c.as_of <= utc(until), c.metric_id.in_(list(metric_ids)))
            .subquery()
        )
        i = inner.c
        q = sa.select(i.metric_id, i.as_of, i.value, i.observed_at).where(i.rank <= keep)
        with self._tx() as conn:
            rows = conn.execute(q.order_by(i.metric_id, i.as_of)).cursor.fetchall()
        return _by_metric(rows) if rows else {}

    def save_evaluation(self, run_id: int, evaluation: Evaluation) -> None:
        """Replace the run's results (a re-run of the day overwrites, never duplicates)."""
        tables = (
            (t.kr_results, [_kr_row(kr) for kr in evaluation.key_results()]),
            (t.objective_results, [_objective_row(o) for o in evaluation.objectives]),
            (t.kpi_results, [_kpi_row(k) for k in evaluation.kpis]),
            (
                t.metric_errors,
                [dict(metric_id=e.metric, connection=e.connection, message=e.message) for e in evaluation.errors],
            ),
        )
        with self._tx() as conn:
            if self.engine.dialect.name == "postgresql":  # two runs of one day replace results one after the other
                conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id).with_for_update())
            for table, rows in tables:
                conn.execute(table.delete().where(table.c.run_id == run_id))
                for chunk in _chunks([{"run_id": run_id, **row} for row in rows], 2000):
                    conn.execute(table.insert(), chunk)

    def kr_history(self, namespace: str, cycle: str, kr_id: str) -> list[dict]:
        """Per-day results of one KR, oldest first, with what its metric's contract held back that day
        (``held_value``, ``held_reason``, ``held_accepted``: None when nothing was held)."""
        r, k, h = t.runs.c, t.kr_results.c, t.held_values.c
        held = sa.and_(h.namespace == r.namespace, h.cycle == r.cycle, h.metric_id == k.metric_id, h.day == r.day)
        q = (
            sa.select(
                r.day,
                r.as_of,
                k.kind,
                k.value,
                k.progress,
                k.expected,
                k.status,
                k.stale,
                k.overridden,
                h.value.label("held_value"),
                h.reason.label("held_reason"),
                h.accepted_at.label("held_accepted"),
            )
            .join(t.runs, r.id == k.run_id)
            .outerjoin(t.held_values, held)
            .where(r.namespace == namespace, r.cycle == cycle, k.kr_id == kr_id)
            .order_by(r.day)
        )
        with self._tx() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def kr_series(self, namespace: str, cycle: str, until: date) -> dict[str, list[tuple[date, float | None]]]:
        """Each KR's value (as its result stored it; None before any data) per finished run up to ``until``,
        oldest first: what `okrsync checkin` counts stalled days on."""
        r, k = t.runs.c, t.kr_results.c
        q = (
            sa.select(k.kr_id, r.day, k.value)
            .join(t.runs, r.id == k.run_id)
            .where(r.namespace == namespace, r.cycle == cycle, r.day <= until, r.document.is_not(None))
            .order_by(r.day)  # the order of ix_runs_finished and the join: no sort (by KR, one spilled to disk)
        )
        out: dict[str, list[tuple[date, float | None]]] = {}
        days = _Days()
        with self._tx() as conn:  # a year of 200 KRs is 73,000 rows: the driver's tuples, each day parsed once
            for kr_id, day, value in conn.execute(q).cursor.fetchall():
                out.setdefault(kr_id, []).append((days[day], value))
        return out

    def count_rows(self) -> dict[str, int]:
        with self._tx() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables
            }


def _kr_row(kr: KrResult) -> dict:
    forecast = kr.forecast
    return _row(
        kr,
        _KR_COLUMNS,
        forecast_value=forecast.value if forecast else None,
        forecast_progress=forecast.progress if forecast else None,
        overridden=kr.override is not None,
    )


def _objective_row(o: ObjectiveResult) -> dict:
    return _row(o, _OBJECTIVE_COLUMNS)


def _kpi_row(k: KpiResult) -> dict:
    return _row(k, _KPI_COLUMNS)


class _Columns(NamedTuple):
    """The columns of a results table that a result fills by name, and the getter of those attributes."""

    names: tuple[str, ...]
    values: Callable[[object], tuple]


def _columns(table: sa.Table, renamed: Mapping[str, str], derived: tuple[str, ...] = ()) -> _Columns:
    """Every column of ``table`` but its run_id and the ``derived`` ones, each read from the result's attribute
    of the same name (or the name ``renamed`` gives it: ``kr_id`` is the result's ``id``). A column the
    result has no attribute for fails (AttributeError) on the first row: never a silent NULL."""
    names = tuple(c.name for c in table.columns if c.name != "run_id" and c.name not in derived)
    values = attrgetter(*(renamed.get(name, name) for name in names))
    return _Columns(names, values if len(names) > 1 else lambda result: (values(result),))


def _row(result: object, columns: _Columns, **derived: object) -> dict:
    """A result's row: the values it holds by name (a status as its value, a time in UTC), then the derived ones."""
    return dict(zip(columns.names, map(_stored, columns.values(result)), strict=True)) | derived


_AS_IS = frozenset({str, float, int, bool, type(None)})  # most values: no conversion, one set lookup


def _stored(value: object) -> object:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Enum):
        return value.value
    return utc(value) if isinstance(value, datetime) else value


_KR_COLUMNS = _columns(
    t.kr_results, {"kr_id": "id", "metric_id": "metric"}, ("forecast_value", "forecast_progress", "overridden")
)
_OBJECTIVE_COLUMNS = _columns(t.objective_results, {"objective_id": "id"})
_KPI_COLUMNS = _columns(t.kpi_results, {"kpi_id": "id", "metric_id": "metric"})


def _moment(column: sa.ColumnElement, seconds: bool) -> sa.ColumnElement:
    """A time column as stored, or (``seconds``, PostgreSQL) as POSIX seconds: a float, exactly what
    ``datetime.timestamp()`` gives (both round the exact microsecond value to the nearest double)."""
    return sa.cast(sa.extract("epoch", column), sa.Float) if seconds else column


def _source_time(seconds: bool = False) -> sa.ColumnElement:
    """observed_at, or NULL where it is the value's as_of (most rows: nothing to parse for them)."""
    c = t.metric_values.c
    return sa.case((c.observed_at == c.as_of, None), else_=_moment(c.observed_at, seconds))


def _by_metric(rows: Sequence[tuple]) -> dict[str, list[Point]]:
    """(metric, as_of, value, observed_at or NULL when it is as_of) rows in metric and timeline order -> points
    per metric."""
    metric_col, moments, values, observed = zip(*rows, strict=True)
    del rows
    seconds = _PosixSeconds()
    times = list(moments) if isinstance(moments[0], float) else list(map(seconds.__getitem__, moments))
    sources = [None if s is None else seconds[s] for s in observed]
    out: dict[str, list[Point]] = {}
    at = 0
    for metric_id, group in groupby(metric_col):
        end = at + sum(1 for _ in group)
        out[metric_id] = list(map(Point, times[at:end], values[at:end], sources[at:end]))
        at = end
    if not all(map(math.isfinite, values)):  # a store written before values were checked may hold NaN
        out = {m: [p for p in points if math.isfinite(p.value)] for m, points in out.items()}
    return out
