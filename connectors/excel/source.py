"""The excel source: each workbook opened once per sync, read-only, and each of its sheets read in one pass.

Rules followed, each with the page it comes from:
- Read-only mode streams a sheet's rows and "must be explicitly closed"; it trusts the dimensions a sheet
  states, which "some applications set incorrectly", so a column is read after ``ws.reset_dimensions()``
  (https://openpyxl.readthedocs.io/en/stable/optimized.html).
- ``data_only=True`` gives "the value stored the last time Excel read the sheet" instead of the formula
  (https://openpyxl.readthedocs.io/en/stable/api/openpyxl.reader.excel.html). A formula with no stored value
  reads as an empty cell; so the empty cells a metric reads are looked up once in the formula view
  (``data_only=False``), and a formula there is an error naming the cell: open the file in Excel and save it.
- A workbook whose ``calcPr`` carries ``fullCalcOnLoad`` asks to be calculated when opened (ISO/IEC 29500
  §18.3.1.79: "After load and successful calc, the application shall set this value to false",
  https://learn.microsoft.com/previous-versions/office/developer/office-2010/cc822326(v=office.14)); a writer
  that cannot calculate "stores the value 0 as the formula result. It then sets a global flag"
  (https://libxlsxwriter.github.io/faq.html). Its stored results are placeholders: such a workbook is read in
  the formula view, and a formula cell a metric reads is the same error. (openpyxl's own ``wb.calculation``
  reports fullCalcOnLoad even when the file lacks it, so the attribute is read from the workbook part.)
- Dates are serial numbers with a date format, or ISO 8601 text, in the 1900 or 1904 date system, without a
  time zone (https://openpyxl.readthedocs.io/en/stable/datetime.html): a dated row counts on its own day.
- Cells are raw values, as the excel_online source reads Graph's ``values``
  (https://learn.microsoft.com/graph/api/resources/range): a cell shown as 82% holds, and reports, 0.82.

Confined to ``root`` exactly like csv: the path is resolved (symlinks followed) and must stay inside root, the
file is opened without following a last symlink (nor blocking on a pipe), and must be a regular file of at most
MAX_BYTES; a package part read whole (not a streamed worksheet) that unzips past MAX_PART is refused.
"""

from __future__ import annotations

import os
import stat
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.workbook.workbook import Workbook
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring

from okrsync.connectors.excel import FORMATS, MAX_BYTES, SAVE_AS, ExcelConnection, ExcelMetric
from okrsync.connectors.excel.readers import CellsReader, ColumnReader, Reader
from okrsync.sdk.connector import FetchResult, MetricQuery, Observation, Source

MAX_PART = 512 * 1024 * 1024  # unzipped, a part openpyxl holds in memory whole (shared strings, styles)
CALC_PR = f"{{{SHEET_MAIN_NS}}}calcPr"

warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")  # "extension is not supported" ...

Found = dict[str, Observation | ValueError]


class Refused(ValueError):
    """A message of okrsync's own, fit to show as it is; openpyxl's errors may quote the file, and are not."""


class ExcelSource(Source[ExcelConnection, ExcelMetric]):
    def check(self) -> str:
        root = (self.base_dir / self.settings.root).resolve()
        if not root.is_dir():
            raise self.error(f"root folder not found: {root}")
        try:
            found = sum(1 for p in root.iterdir() if p.suffix.lower() in FORMATS)
        except OSError as exc:  # a folder okrsync's user may not list
            raise self.error(f"cannot read root folder {root}: {exc.strerror or type(exc).__name__}") from None
        return f"{found} Excel workbook(s) in {root}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        root = (self.base_dir / self.settings.root).resolve()
        by_path: dict[Path, list[MetricQuery]] = {}
        for q in queries:
            by_path.setdefault((root / q.params.path).resolve(), []).append(q)
        out: FetchResult = {}
        for path, items in by_path.items():
            named = {q.metric_id: q for q in items}
            for metric_id, found in read_workbook(path, root, items).items():
                out[metric_id] = self.error(str(found), named[metric_id]) if isinstance(found, Exception) else found
        return out


def read_workbook(path: Path, root: Path, queries: list[MetricQuery]) -> Found:
    """Every query on one workbook: the file opened once, each sheet read in one pass."""
    try:
        handle = open_inside(path, root)
    except ValueError as exc:
        return dict.fromkeys((q.metric_id for q in queries), exc)
    with handle:
        try:
            book = Book(handle, path)
        except ValueError as exc:
            return dict.fromkeys((q.metric_id for q in queries), exc)
        try:
            by_sheet: dict[str, list[MetricQuery]] = {}
            for q in queries:
                by_sheet.setdefault(q.params.sheet, []).append(q)
            out: Found = {}
            for sheet, items in by_sheet.items():
                out.update(book.read(sheet, items))
            return out
        finally:
            book.close()


def open_inside(path: Path, root: Path) -> IO[bytes]:
    """A regular file inside ``root`` (``path`` is resolved: symlinks followed), opened for reading."""
    if not path.is_relative_to(root):
        raise ValueError(f"{path} is outside the connection's root {root} (a symlink out of root?)")
    try:  # no symlink swapped in since resolve(), and a pipe or a device does not block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ValueError(f"file not found: {path} (path is relative to the connection's root)") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    handle = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_BYTES:
        return handle
    handle.close()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file")
    raise ValueError(f"{path} is larger than {MAX_BYTES // 2**20} MB")


class Book:
    """One workbook, read-only: the values Excel saved (``data_only``), and its formulas when they are needed."""

    def __init__(self, handle: IO[bytes], path: Path):
        self.handle, self.path = handle, path
        self.values, self.uncalculated = self.load(data_only=True)
        self._formulas: Workbook | None = None
        if self.uncalculated:  # its stored results are placeholders: read it for its formulas
            self.values.close()
            self.values = self.formulas()

    def load(self, data_only: bool) -> tuple[Workbook, bool]:
        """The workbook in one view, and whether it asks to be calculated when opened (fullCalcOnLoad)."""
        self.handle.seek(0)
        try:
            reader = ExcelReader(self.handle, read_only=True, data_only=data_only)
            big = [i.filename for i in reader.archive.infolist() if i.file_size > MAX_PART]
            if any("/worksheets/" not in name for name in big):
                reader.archive.close()
                raise Refused(f"{self.path}: a part unzips to more than {MAX_PART // 2**20} MB (not a real workbook?)")
            reader.read()
            calc = fromstring(reader.archive.read(reader.parser.workbook_part_name)).find(CALC_PR)
        except zipfile.BadZipFile:
            message = f"{self.path} is not an .xlsx workbook (an .xls renamed, or a password-protected file?): "
            raise Refused(message + SAVE_AS) from None
        except Refused:
            raise
        except Exception as exc:  # openpyxl raises KeyError, OSError, TypeError ... on a damaged package
            raise Refused(f"cannot open {self.path} as a workbook ({type(exc).__name__}): is it damaged?") from None
        return reader.wb, calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")

    def formulas(self) -> Workbook:
        if self._formulas is None:
            self._formulas = self.load(data_only=False)[0]
        return self._formulas

    def close(self) -> None:
        self.values.close()
        if self._formulas is not None and self._formulas is not self.values:
            self._formulas.close()

    def worksheet(self, book: Workbook, name: str) -> Any:
        """The worksheet ``name`` (Excel's sheet names ignore case), or ValueError listing the sheets."""
        titles = {ws.title: ws for ws in book.worksheets}
        found = titles.get(name) or next((ws for t, ws in titles.items() if t.casefold() == name.casefold()), None)
        if found is None:
            listed = ", ".join(repr(s) for s in book.sheetnames[:30])
            raise Refused(f"{self.path.name} has no worksheet {name!r} (sheets: {listed})")
        return found

    def read(self, sheet: str, queries: list[MetricQuery]) -> Found:
        """The sheet's metrics in one pass; the empty cells they read are then checked for unsaved formulas."""
        try:
            ws = self.worksheet(self.values, sheet)
            readers = [CellsReader(q, ws.title) if q.params.range else ColumnReader(q, ws.title) for q in queries]
            one_pass(ws, readers)
            blanks = {cell for reader in readers for cell in reader.blanks}
            formulas: set[tuple[int, int]] = set()
            if blanks and not self.uncalculated:  # read for its formulas already, it showed them as such
                formulas = formula_cells(self.worksheet(self.formulas(), sheet), blanks)
        except Refused as exc:
            return {q.metric_id: exc for q in queries}
        except Exception as exc:  # a sheet damaged past its first rows: openpyxl raises what its parser met
            failed = Refused(f"cannot read sheet {sheet!r} of {self.path} ({type(exc).__name__}): is it damaged?")
            return {q.metric_id: failed for q in queries}
        out: Found = {}
        for reader in readers:
            try:
                out[reader.q.metric_id] = reader.result(formulas)
            except ValueError as exc:
                out[reader.q.metric_id] = exc
        return out


def one_pass(ws: Any, readers: Sequence[Reader]) -> None:
    """Every row the readers need, once, in order (to the sheet's end when one of them reads a column)."""
    first = min(r.first_row for r in readers)
    ends = [r.last_row for r in readers]
    if any(end is None for end in ends):
        ws.reset_dimensions()  # to the sheet's real end, whatever its <dimension> says
        rows = ws.iter_rows(min_row=first)
    else:
        last_column = max(r.last_column for r in readers)
        rows = ws.iter_rows(min_row=first, max_row=max(e for e in ends if e), max_col=last_column)
    for number, row in enumerate(rows, start=first):
        for reader in readers:
            reader.feed(number, row)


def formula_cells(ws: Any, blanks: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of the ``blanks`` (row, column) hold a formula, read in the formula view of the same sheet."""
    wanted: dict[int, list[int]] = {}
    for row, column in blanks:
        wanted.setdefault(row, []).append(column)
    first, last, right = min(wanted), max(wanted), max(c for _, c in blanks)
    found = set()
    for number, row in enumerate(ws.iter_rows(min_row=first, max_row=last, max_col=right), start=first):
        for column in wanted.get(number, ()):
            if row[column - 1].data_type == "f":
                found.add((number, column))
    return found
