"""What each excel metric takes from the rows of its sheet, in the pass :func:`.source.one_pass` makes over it.

:class:`CellsReader` reads a cell, or a range, as the google_sheets source does: row by row, its non-empty
cells; without ``aggregate`` the single cell, else sum/avg/min/max/latest of them (each must be a number) or
``count`` of them. :class:`ColumnReader` reads a column under its header as the csv source does. Every error
names the workbook, the sheet and the cell: ``kpis.xlsx!KPIs!B7: 'n/a' is text, not a number``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from openpyxl.utils import get_column_letter

from okrsync.connectors.excel import cells
from okrsync.okr.aggregate import aggregate
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import MetricQuery, Observation

NOT_SAVED = "holds a formula whose value was never saved ({why}): open the file in Excel and save it"
NEVER_SAVED = "the file was written by a program that does not calculate formulas"
RECALC = "the workbook asks to be recalculated when opened, so its stored results are placeholders"


class Reader:
    """One metric's share of a pass over its sheet: fed every row from ``first_row``, then asked for its value."""

    first_row: int
    last_row: int | None = None  # None: to the sheet's end
    last_column: int = 1

    def __init__(self, q: MetricQuery, title: str):
        self.q = q
        self.where = f"{q.params.path}!{sheet_ref(title)}"  # kpis.xlsx!KPIs
        self.blanks: list[tuple[int, int]] = []  # empty cells it read: a formula whose value was never saved?
        self.failed: ValueError | None = None

    def feed(self, number: int, row: tuple) -> None:
        if self.failed is None and number >= self.first_row and (self.last_row is None or number <= self.last_row):
            try:
                self.take(number, row)
            except ValueError as exc:
                self.failed = exc

    def take(self, number: int, row: tuple) -> None:
        raise NotImplementedError

    def value(self) -> Observation:
        raise NotImplementedError

    def result(self, formulas: set[tuple[int, int]]) -> Observation:
        """The value, unless a cell failed it or an empty cell it read is a formula never calculated."""
        if self.failed is not None:
            raise self.failed
        for row, column in sorted(set(self.blanks) & formulas):
            raise ValueError(f"{self.at(row, column)} {NOT_SAVED.format(why=NEVER_SAVED)}")
        return self.value()

    def at(self, row: int, column: int) -> str:
        return f"{self.where}!{get_column_letter(column)}{row}"

    def cell(self, row: tuple, number: int, column: int) -> Any:
        """The cell, or None when it is empty. An empty cell the file holds is noted in ``blanks``; a formula
        shows only in a workbook that asked to be recalculated (read for its formulas): an error."""
        cell = row[column - 1] if column <= len(row) else None
        if cell is None:
            return None
        if cell.data_type == "f":
            raise ValueError(f"{self.at(number, column)} {NOT_SAVED.format(why=RECALC)}")
        if cell.value is None:
            if cell.data_type != "str" and hasattr(cell, "row"):  # "str": a formula whose saved result is ""
                self.blanks.append((number, column))
            return None
        return cell

    def number(self, cell: Any, number: int, column: int) -> float:
        value = cell.value
        if cell.data_type == "e":
            raise ValueError(f"{self.at(number, column)}: holds the error {value}")
        if isinstance(value, str):
            hint = " (a number stored as text: convert it to a number in Excel)" if _numeric_text(value) else ""
            raise ValueError(f"{self.at(number, column)}: {_shown(value)} is text, not a number{hint}")
        if isinstance(value, bool | int | float):
            try:
                return parse_number(value)
            except ValueError as exc:
                raise ValueError(f"{self.at(number, column)}: {exc}") from None
        raise ValueError(f"{self.at(number, column)}: holds a date or a time ({value}), not a number")


class CellsReader(Reader):
    """A cell, or cells with an aggregate (google_sheets' reading of a range)."""

    def __init__(self, q: MetricQuery, title: str):
        super().__init__(q, title)
        self.first_row, self.left, self.last_row, self.last_column = cells(q.params.range)
        self.filled: list[tuple[Any, int, int]] = []

    def take(self, number: int, row: tuple) -> None:
        for column in range(self.left, self.last_column + 1):
            cell = self.cell(row, number, column)
            if cell is not None:
                self.filled.append((cell, number, column))

    def value(self) -> Observation:
        how = self.q.aggregate
        if how == "count":
            return Observation(float(len(self.filled)))
        if not self.filled:
            empty = "the cell is empty" if how is None else "the range is empty"
            raise ValueError(f"{self.where}!{self.q.params.range.upper()}: {empty}")
        if how in (None, "latest"):
            return Observation(self.number(*self.filled[0 if how is None else -1]))
        return Observation(aggregate([self.number(*found) for found in self.filled], how))


class ColumnReader(Reader):
    """A column under its header (csv's reading of a column): ``where`` keeps rows; dated rows count up to the
    as-of day and inside the metric's window; ``count`` counts rows; the default is the latest value."""

    def __init__(self, q: MetricQuery, title: str):
        super().__init__(q, title)
        p = q.params
        self.first_row = p.header_row
        self.wanted = {k: q.fill(str(v)) for k, v in p.where.items()}
        self.names = list(dict.fromkeys([p.column, *self.wanted, *([p.date_column] if p.date_column else [])]))
        self.columns: dict[str, int] = {}
        self.picked: list[tuple[float, date | None]] = []
        self.counted = 0
        self.undated: tuple[int, int] | None = None  # the first row with a value but no date

    def take(self, number: int, row: tuple) -> None:
        if number == self.first_row:
            return self.header(row)
        p = self.q.params
        found = {name: self.cell(row, number, self.columns[name]) for name in self.names}
        if all(cell is None for cell in found.values()):
            return  # a blank row
        if not all(_matches(found[k], v) for k, v in self.wanted.items()):
            return  # a row that where leaves out
        day = None
        if p.date_column:
            if found[p.date_column] is None:
                if found[p.column] is not None and self.undated is None:
                    self.undated = (number, self.columns[p.date_column])
                return
            day = self.day(found[p.date_column], number, self.columns[p.date_column])
            if not self.q.reads_day(day):
                return
        if self.q.aggregate == "count":
            self.counted += 1
        elif found[p.column] is not None:
            self.picked.append((self.number(found[p.column], number, self.columns[p.column]), day))

    def header(self, row: tuple) -> None:
        titles: dict[str, int] = {}
        for column, cell in enumerate(row, start=1):
            if cell.value is not None:
                titles.setdefault(_text(cell.value), column)
        for name in self.names:
            if name not in titles:
                shown = ", ".join(repr(t[:40]) for t in list(titles)[:20]) or "nothing: the row is empty"
                raise ValueError(f"{self.where}: no column {name!r} in row {self.first_row} (it holds {shown})")
            self.columns[name] = titles[name]

    def day(self, cell: Any, number: int, column: int) -> date:
        value = cell.value
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip()).date()
            except ValueError:
                pass
        what = "text" if isinstance(value, str) else "a number" if isinstance(value, int | float) else "not a day"
        example = "an Excel date, or ISO text such as 2026-11-15"
        raise ValueError(f"{self.at(number, column)}: {_shown(value)} is {what}, not a date ({example})")

    def value(self) -> Observation:
        p = self.q.params
        if not self.columns:
            raise ValueError(f"{self.where}: the header row {self.first_row} lies beyond the sheet's last row")
        if self.undated:
            raise ValueError(f"{self.at(*self.undated)}: the row has a value but no date in {p.date_column!r}")
        how = self.q.aggregate or "latest"
        if how == "count":
            return Observation(float(self.counted))
        if not self.picked and how != "sum":
            matching = " matching where" if self.wanted else ""
            raise ValueError(f"{self.where}: no rows with a value in column {p.column!r}{matching}")
        value = aggregate([v for v, _ in self.picked], how)
        day = self.picked[-1][1] if how == "latest" else None
        return Observation(value, datetime.combine(day, time(0), tzinfo=self.q.cycle.tz) if day else None)


def _matches(cell: Any, wanted: str) -> bool:
    """A ``where`` value against a cell: text as written, numbers as numbers, dates as ISO days."""
    value = None if cell is None else cell.value
    if value is None:
        return wanted == ""
    if isinstance(value, str):
        return value.strip() == wanted
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    if isinstance(value, int | float):
        try:
            return float(wanted) == value
        except ValueError:
            return False
    if isinstance(value, datetime):
        return wanted in (value.date().isoformat(), value.isoformat())
    return str(value) == wanted


def _text(value: Any) -> str:
    """A header cell as text: 2026 rather than 2026.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _numeric_text(text: str) -> bool:
    try:
        parse_number(text)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def sheet_ref(title: str) -> str:
    """A sheet as Excel writes it in a reference: KPIs, or 'Q4 plan' quoted."""
    return title if re.fullmatch(r"\w+", title) else "'" + title.replace("'", "''") + "'"
