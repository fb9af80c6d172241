"""CSV files: one column of a file under the connection's ``root``, optionally filtered, aggregated.

Metric keys: ``path`` (relative to root), ``column``, ``where`` (column equals value; values may
use {cycle.start} {cycle.end} {as_of}), ``date_column`` and ``aggregate`` (default ``latest``:
the last row). Each file is read once per sync however many metrics use it.

Dated rows (``date_column``, ISO dates) follow the as-of rule (docs/okr-semantics.md, "What a day
means"): a run as of D reads the file as it stood at the end of D, so rows dated D count and later rows are ignored (a
backfill sees the file as it was; ``latest`` reports that row's date). Every other aggregate reads
only the rows dated inside the metric's ``window``: the cycle (the default), the KR's own
``start_date``..``due`` (``window: kr``) or every row (``window: all``, a running total). Without a
``date_column`` every row counts: the file is then taken to hold the cycle's rows only.

Confined to ``root``: ``path`` is relative and may not climb out (``..``), a symlink that leads
out of root is refused, only regular files up to MAX_BYTES are read (no devices, pipes or
/proc), and errors never quote a file's contents beyond a real CSV header's column names.
"""

from __future__ import annotations

import csv
import stat
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Literal

from pydantic import Field

from okrsync.okr.aggregate import aggregate
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import (
    Connector,
    FetchResult,
    MetricQuery,
    Observation,
    Source,
)
from okrsync.sdk.files import DatedFileMetric, FileConnection


class CsvConnection(FileConnection):
    type: Literal["csv"]


class CsvMetric(DatedFileMetric):
    column: str
    date_column: str | None = Field(None, description="ISO dates; rows dated after the as-of day are ignored")


MAX_BYTES = 200 * 1024 * 1024  # a KPI file, not a data lake: bigger files belong in the sql source


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
                files[path] = self._read(path, root)
            table = files[path]
            if isinstance(table, Exception):
                out[q.metric_id] = self.error(str(table), q)
                continue
            try:
                out[q.metric_id] = self._one(q, *table)
            except ValueError as exc:
                out[q.metric_id] = self.error(f"{q.params.path}: {exc}", q)
        return out

    def _read(self, path: Path, root: Path) -> tuple[list[str], list[dict[str, str]]] | Exception:
        """Header and rows of a regular file inside ``root`` (``path`` is resolved: symlinks followed)."""
        if not path.is_relative_to(root):
            return ValueError(f"{path} is outside the connection's root {root} (a symlink out of root?)")
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                return ValueError(f"{path} is not a regular file")
            if info.st_size > MAX_BYTES:
                return ValueError(f"{path} is larger than {MAX_BYTES // 2**20} MB")
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                return [c.strip() for c in reader.fieldnames or []], rows
        except FileNotFoundError:
            return ValueError(f"file not found: {path} (path is relative to the connection's root)")
        except UnicodeDecodeError:
            return ValueError(f"cannot read {path}: it is not UTF-8 text (save it as CSV UTF-8)")
        except csv.Error as exc:
            return ValueError(f"cannot read {path}: not a valid CSV file ({str(exc).split(':')[0]})")
        except OSError as exc:
            return ValueError(f"cannot read {path}: {exc.strerror or type(exc).__name__}")

    def _one(self, q: MetricQuery, header: list[str], rows: list[dict[str, str]]) -> Observation:
        p = q.params
        for col in [p.column, *p.where, *([p.date_column] if p.date_column else [])]:
            if col not in header:
                raise ValueError(f"no column {col!r} ({_columns(header)})")
        wanted = {k: q.fill(str(v)) for k, v in p.where.items()}
        picked: list[tuple[float | None, str | None]] = []
        for number, row in enumerate(rows, start=2):
            if any((row.get(k) or "").strip() != v for k, v in wanted.items()):
                continue
            day = None
            if p.date_column:
                day = (row.get(p.date_column) or "").strip()
                try:
                    if not q.reads_day(datetime.fromisoformat(day).date()):
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
        value = aggregate(values, how)  # type: ignore[arg-type]  # None only for count, which counts empty cells
        observed = None
        if how == "latest" and picked and picked[-1][1]:
            observed = datetime.combine(datetime.fromisoformat(picked[-1][1]).date(), time(0), tzinfo=q.cycle.tz)
        return Observation(value, observed)


def _columns(header: list[str]) -> str:
    """The header, when it looks like column names; otherwise nothing of it (it may be any file's first line)."""
    names = all(len(c) <= 64 and c.isprintable() and "=" not in c for c in header) and len(header) <= 100
    return f"columns: {', '.join(header)}" if names and header else "the first line does not look like CSV column names"


connector = Connector("csv", connection=CsvConnection, metric=CsvMetric, source=CsvSource, description="CSV files")
