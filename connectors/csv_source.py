"""CSV files: one column of a file under the connection's ``root``, optionally filtered, aggregated.

Metric keys: ``path`` (relative to root), ``column``, ``where`` (column equals value; values may
use {cycle.start} {cycle.end} {as_of}), ``date_column`` (rows dated after the metric's as_of
are ignored, so a backfill with --as-of sees the file as it was, and ``latest`` reports that
row's date) and ``aggregate`` (default ``latest``: the last row). Each file is read once per
sync however many metrics use it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Literal

from pydantic import Field

from okrsync.aggregate import aggregate
from okrsync.connector import ConnectionSettings, Connector, FetchResult, MetricParams, MetricQuery, Observation, Source
from okrsync.numbers import parse_number


class CsvConnection(ConnectionSettings):
    type: Literal["csv"]
    root: str = "."


class CsvMetric(MetricParams):
    path: str
    column: str
    where: dict[str, str | int | float] = Field({}, description="keep only rows whose columns equal these values")
    date_column: str | None = Field(None, description="ISO dates; rows dated after the run's as_of are ignored")


class CsvSource(Source[CsvConnection, CsvMetric]):
    def check(self) -> str:
        root = (self.base_dir / self.settings.root).resolve()
        if not root.is_dir():
            raise self.error(f"root folder not found: {root}")
        return f"{sum(1 for _ in root.glob('*.csv'))} CSV file(s) in {root}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        root = (self.base_dir / self.settings.root).resolve()
        files: dict[Path, tuple[list[str], list[dict[str, str]]] | Exception] = {}
        out: FetchResult = {}
        for q in queries:
            path = (root / q.params.path).resolve()
            if path not in files:
                files[path] = self._read(path)
            table = files[path]
            if isinstance(table, Exception):
                out[q.metric_id] = self.error(str(table), q)
                continue
            try:
                out[q.metric_id] = self._one(q, *table)
            except ValueError as exc:
                out[q.metric_id] = self.error(f"{q.params.path}: {exc}", q)
        return out

    def _read(self, path: Path) -> tuple[list[str], list[dict[str, str]]] | Exception:
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                return [c.strip() for c in reader.fieldnames or []], rows
        except FileNotFoundError:
            return ValueError(f"file not found: {path} (path is relative to the connection's root)")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            return ValueError(f"cannot read {path}: {exc}")

    def _one(self, q: MetricQuery, header: list[str], rows: list[dict[str, str]]) -> Observation:
        p = q.params
        for col in [p.column, *p.where, *([p.date_column] if p.date_column else [])]:
            if col not in header:
                raise ValueError(f"no column {col!r} (columns: {', '.join(header)})")
        wanted = {k: q.fill(str(v)) for k, v in p.where.items()}
        as_of_day = q.as_of.date()
        picked: list[tuple[float | None, str | None]] = []
        for number, row in enumerate(rows, start=2):
            if any((row.get(k) or "").strip() != v for k, v in wanted.items()):
                continue
            day = None
            if p.date_column:
                day = (row.get(p.date_column) or "").strip()
                try:
                    if datetime.fromisoformat(day).date() > as_of_day:
                        continue
                except ValueError:
                    raise ValueError(f"line {number}: {p.date_column} {day!r} is not an ISO date") from None
            cell = row.get(p.column)
            if cell is None or not cell.strip():
                if q.aggregate == "count":
                    picked.append((None, day))
                continue
            try:
                picked.append((parse_number(cell), day))
            except ValueError as exc:
                raise ValueError(f"line {number}, column {p.column!r}: {exc}") from None
        how = q.aggregate or "latest"
        values = [v for v, _ in picked]
        if how != "count":
            values = [v for v in values if v is not None]
        if not values and how != "count" and how != "sum":
            raise ValueError(f"no rows with a value in column {p.column!r}" + (" matching where" if wanted else ""))
        value = aggregate(values, how)  # type: ignore[arg-type]
        observed = None
        if how == "latest" and picked and picked[-1][1]:
            observed = datetime.combine(datetime.fromisoformat(picked[-1][1]).date(), time(0), tzinfo=q.cycle.tz)
        return Observation(value, observed)


connector = Connector("csv", connection=CsvConnection, metric=CsvMetric, source=CsvSource, description="CSV files")
