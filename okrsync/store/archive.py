"""Old cycles out of the store, into a file first (``store: {keep_cycles: N}``).

A namespace keeps its newest ``keep_cycles`` cycles (by their last synced day), the current one always among
them. Each older cycle is archived in one transaction: every row of the namespace and cycle (runs with their
documents, values, held values, notes, and each run's KR, objective and KPI results and metric errors) is
written to a new gzip file of JSON lines, which is then read back and checked (the rows of every table, and a
SHA-256 of them, equal to what the store holds); only then are those rows deleted, each delete checked to
remove exactly the rows written, else nothing is deleted. The write ledger keeps its rows (what was delivered
stays delivered; their run becomes unknown, as with ``okrsync runs --delete``) and overrides belong to no
cycle. An archive file is never overwritten: a second archive of the same cycle gets the next free name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from okrsync.errors import StoreError
from okrsync.store import tables as t
from okrsync.store.engine import Database, aware, utc

BY_CYCLE = (t.runs, t.metric_values, t.held_values, t.notes)  # rows of a namespace and cycle
BY_RUN = (t.kr_results, t.objective_results, t.kpi_results, t.metric_errors)  # rows of those runs
FORMAT = 1


@dataclass(frozen=True)
class Archived:
    """One cycle moved out of the store: the file that holds it and the rows of each table it removed."""

    namespace: str
    cycle: str
    path: Path
    rows: dict[str, int]


class Archive(Database):
    def cycles_beyond(self, namespace: str, current: str, keep: int) -> list[str]:
        """The namespace's cycles that are not among its newest ``keep`` (by their last synced day; the
        ``current`` one always kept and counted), oldest first."""
        r = t.runs.c
        q = sa.select(r.cycle, sa.func.max(r.day).label("last")).where(r.namespace == namespace).group_by(r.cycle)
        with self._tx() as conn:
            newest_first = [c for c, _ in sorted(conn.execute(q).all(), key=lambda row: (row[1], row[0]), reverse=True)]
        others = [c for c in newest_first if c != current]
        return list(reversed(others[max(keep - 1, 0) :]))

    def archive_cycle(self, namespace: str, cycle: str, folder: Path, now: datetime) -> Archived:
        """Write the namespace's ``cycle`` to a new file in ``folder``, check the file, then delete exactly
        those rows, all in one transaction (a failure anywhere deletes nothing)."""
        if self.read_only:
            raise StoreError("a read-only store archives nothing")
        with self._tx() as conn:
            rows = _rows_of(conn, namespace, cycle)
            path = _new_file(folder, namespace, cycle)
            header = {"okrsync_archive": FORMAT, "namespace": namespace, "cycle": cycle, "archived_at": now.isoformat()}
            counts, digest = _write(path, header, rows)
            if _read_back(path) != (counts, digest):
                raise StoreError(f"archive {path}: the file read back differs from the rows written; nothing removed")
            _delete(conn, namespace, cycle, counts)
        return Archived(namespace, cycle, path, counts)


def _rows_of(conn: sa.Connection, namespace: str, cycle: str) -> dict[str, list[dict]]:
    run_ids = sa.select(t.runs.c.id).where(t.runs.c.namespace == namespace, t.runs.c.cycle == cycle)
    out: dict[str, list[dict]] = {}
    for table in BY_CYCLE:
        q = sa.select(table).where(table.c.namespace == namespace, table.c.cycle == cycle).order_by(*table.primary_key)
        out[table.name] = _plain(conn.execute(q))
    for table in BY_RUN:
        q = sa.select(table).where(table.c.run_id.in_(run_ids)).order_by(*table.primary_key)
        out[table.name] = _plain(conn.execute(q))
    return out


_AS_IS = frozenset({str, float, int, bool, dict, list, type(None)})  # most values: one set lookup


def _plain(result: sa.CursorResult) -> list[dict]:
    """The rows as JSON holds them: times in UTC ISO 8601 (SQLite returns them naive), days ISO."""
    names = list(result.keys())
    return [dict(zip(names, map(_json_value, row), strict=True)) for row in result]


def _json_value(value: object) -> object:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime):
        return utc(aware(value)).isoformat()
    return value.isoformat() if isinstance(value, date) else value


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _new_file(folder: Path, namespace: str, cycle: str) -> Path:
    """``<namespace>--<cycle>.jsonl.gz`` in ``folder`` (other characters as ``_``, with a hash of the names
    when any was replaced), or with ``.2``, ``.3`` … before the suffix when taken: never overwritten."""
    stem = f"{_UNSAFE.sub('_', namespace)}--{_UNSAFE.sub('_', cycle)}"
    if _UNSAFE.search(namespace + cycle):
        stem += "-" + hashlib.sha256(f"{namespace}\0{cycle}".encode()).hexdigest()[:8]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"archive: cannot create the folder {folder}: {exc.strerror}") from None
    path, n = folder / f"{stem}.jsonl.gz", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}.{n}.jsonl.gz"
    return path


ROW = b', "row": '  # a row's line: {"table": "<name>", "row": {…}}


def _lines(header: dict, rows: dict[str, list[dict]]) -> Iterator[tuple[str | None, str]]:
    yield None, json.dumps({**header, "rows": {name: len(found) for name, found in rows.items()}}, sort_keys=True)
    for name, found in rows.items():
        table = json.dumps(name)
        for row in found:
            yield name, f'{{"table": {table}{ROW.decode()}{json.dumps(row, sort_keys=True, allow_nan=False)}}}'


def _write(path: Path, header: dict, rows: dict[str, list[dict]]) -> tuple[dict[str, int], str]:
    """Write the file (to a temporary name, synced, then renamed) and return its counts and rows' digest."""
    digest = hashlib.sha256()
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as out:
            for name, line in _lines(header, rows):
                out.write(line.encode() + b"\n")
                if name is not None:
                    digest.update(line.encode())
            out.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, path)
    except (OSError, ValueError) as exc:  # ValueError: a number JSON cannot hold
        part.unlink(missing_ok=True)
        raise StoreError(f"archive: cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return {name: len(found) for name, found in rows.items()}, digest.hexdigest()


def _read_back(path: Path) -> tuple[dict[str, int], str]:
    """What the file holds: the rows of each table (the name each row line starts with), and the digest of its row
    lines. Equal to what was written, the file holds exactly the lines made from the store's rows, byte for byte."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as lines:
            header = json.loads(next(lines))
            counts = dict.fromkeys(header["rows"], 0)
            for line in lines:
                counts[json.loads(line[len(b'{"table": ') : line.index(ROW)])] += 1
                digest.update(line.rstrip(b"\n"))
    except (OSError, EOFError, StopIteration, ValueError, KeyError) as exc:
        raise StoreError(f"archive {path}: cannot read it back ({type(exc).__name__}); nothing removed") from None
    return counts, digest.hexdigest()


def _delete(conn: sa.Connection, namespace: str, cycle: str, written: dict[str, int]) -> None:
    """Delete the rows written (per-run rows first, then the cycle's), each delete checked to remove exactly
    as many as the file holds; a mismatch raises, and the transaction deletes nothing."""
    r = t.runs.c
    run_ids = sa.select(r.id).where(r.namespace == namespace, r.cycle == cycle)
    conn.execute(t.write_ledger.update().where(t.write_ledger.c.run_id.in_(run_ids)).values(run_id=None))
    deletes: list[tuple[sa.Table, sa.ColumnElement[bool]]] = [(table, table.c.run_id.in_(run_ids)) for table in BY_RUN]
    # values and held values point at the runs (SET NULL): they go before them
    for table in (t.metric_values, t.held_values, t.notes, t.runs):
        deletes.append((table, sa.and_(table.c.namespace == namespace, table.c.cycle == cycle)))
    for table, where in deletes:
        removed = conn.execute(table.delete().where(where)).rowcount
        if removed != written[table.name]:
            raise StoreError(
                f"archive of {namespace}/{cycle}: {table.name} had {removed} rows to remove, the file holds "
                f"{written[table.name]}; nothing removed"
            )
