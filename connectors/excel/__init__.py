"""Local Excel workbooks (.xlsx), read with openpyxl: a cell, cells with an aggregate, or a column of dated rows.

Connection ``{type: excel, root: data/}``, confined to ``root`` exactly like csv. Metric keys: ``path`` (relative
to ``root``), ``sheet``, then either ``range`` (``B2``; or ``B2:B40`` with ``aggregate`` sum, avg, min, max,
count, latest, read as the google_sheets source reads a range) or ``column`` (a header in ``header_row``, default
1) with ``date_column``, ``where`` and ``aggregate``, read as the csv source reads a column (default ``latest``;
dated rows follow the as-of day and the metric's ``window``, the cycle by default). The models live here; the
source (:mod:`.source`, :mod:`.readers`) is imported only to read, so a config validates without openpyxl.

Rules followed, each with the page it comes from:
- openpyxl reads "xlsx/xlsm/xltx/xltm files" (https://openpyxl.readthedocs.io/en/stable/): a path to an ``.xls``
  (the old binary format) or ``.xlsb`` is a config error that says to save it as .xlsx.
- A worksheet has at most 1,048,576 rows by 16,384 columns (Excel specifications and limits,
  https://support.microsoft.com/office/excel-specifications-and-limits-1672b34d-7043-467e-8e27-269d656771c3):
  a range beyond is a config error.
The reading rules (cached values, formulas never calculated, dates, percentages) are in :mod:`.source`.
"""

from __future__ import annotations

import re
from functools import reduce
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from okrsync.sdk.connector import Connector
from okrsync.sdk.files import DatedFileMetric, FileConnection

MAX_BYTES = 200 * 1024 * 1024  # as csv: a KPI workbook, not a data lake
FORMATS = (".xlsx", ".xlsm", ".xltx", ".xltm")  # what openpyxl reads
ROWS, COLUMNS = 1_048_576, 16_384  # Excel's grid
CELL = r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})"
A1 = re.compile(rf"^{CELL}(?::{CELL})?$")
SAVE_AS = "save it as .xlsx in Excel (File > Save As > Excel Workbook) and point path: at the new file"


class ExcelConnection(FileConnection):
    type: Literal["excel"]


class ExcelMetric(DatedFileMetric):
    path: str = Field(description="an .xlsx file, relative to the connection's root")
    sheet: str = Field(description="the worksheet's name")
    range: str | None = Field(None, description="a cell (B2), or cells (B2:B40) with an aggregate")
    column: str | None = Field(None, description="a column's header (in header_row): its cells are aggregated")
    date_column: str | None = Field(None, description="the header of the rows' dates; later rows are ignored")
    header_row: int = Field(1, ge=1, le=ROWS, description="the row holding the column headers")

    @field_validator("path")
    @classmethod
    def _a_workbook(cls, path: str) -> str:
        suffix = Path(path).suffix.lower()
        if suffix == ".xls":
            raise ValueError(f"{path} is an old-format .xls workbook, which openpyxl does not read: {SAVE_AS}")
        if suffix == ".xlsb":
            raise ValueError(f"{path} is a binary .xlsb workbook, which openpyxl does not read: {SAVE_AS}")
        if suffix not in FORMATS:
            raise ValueError(f"{path} is not an Excel workbook ({', '.join(FORMATS)}); a .csv file takes type: csv")
        return path

    @field_validator("range")
    @classmethod
    def _a1(cls, text: str | None) -> str | None:
        if text is not None:
            cells(text)
        return text

    @model_validator(mode="after")
    def _cells_or_a_column(self, info: ValidationInfo) -> ExcelMetric:
        if (self.range is None) == (self.column is None):
            raise ValueError("give range: (a cell such as B2, or cells B2:B40) or column: (a header), one of them")
        if self.range is not None and (self.date_column or self.where or "header_row" in self.model_fields_set):
            raise ValueError("date_column, where and header_row go with column:, not with range:")
        top, left, bottom, right = cells(self.range) if self.range else (1, 1, 1, 1)
        size = (bottom - top + 1) * (right - left + 1)
        if size > 1 and not (info.context or {}).get("aggregate"):
            raise ValueError(
                f"range {self.range} holds {size} cells: add aggregate: (sum, avg, min, max, count or latest)"
            )
        return self


def cells(text: str) -> tuple[int, int, int, int]:
    """``B2`` or ``B2:C40`` as (top, left, bottom, right), 1-based; ValueError naming the problem."""
    if "!" in text:
        raise ValueError(f"range {text!r} names a sheet: write the sheet in sheet: and the cells in range: (e.g. B2)")
    found = A1.match(text.strip())
    if not found:
        raise ValueError(f"range {text!r} is not a cell (B2) or cells (B2:B40)")
    c1, r1, c2, r2 = found.groups()
    cols = sorted((_column_number(c1), _column_number(c2 or c1)))
    rows = sorted((int(r1), int(r2 or r1)))
    if rows[0] < 1 or rows[1] > ROWS or cols[1] > COLUMNS:
        raise ValueError(f"range {text!r} lies outside Excel's grid (A1:XFD{ROWS})")
    return rows[0], cols[0], rows[1], cols[1]


def _column_number(letters: str) -> int:
    return reduce(lambda n, letter: n * 26 + ord(letter) - 64, letters.upper(), 0)


connector = Connector(
    "excel",
    connection=ExcelConnection,
    metric=ExcelMetric,
    source="okrsync.connectors.excel.source:ExcelSource",
    description="Excel workbooks (.xlsx files, openpyxl)",
)
