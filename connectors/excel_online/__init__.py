"""Excel Online (Microsoft Graph): read a cell, or an aggregate over a range, of a workbook in OneDrive for
Business or SharePoint (source; docs/sources.md), and write the status table to one worksheet (output
``excel_online``; docs/outputs.md). Shared pieces (the workbook behind a sharing URL, A1 addresses, Graph's
refusals in the user's terms) live in :mod:`.workbook`; the source in :mod:`.source`, the output in :mod:`.sink`.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import ValidationInfo, model_validator

from okrsync.connectors.excel_online.workbook import Book, Cells, parse_range, share_id
from okrsync.sdk import Aggregate, Connector, EntraConnection, MetricParams, OutputSettings

__all__ = ["Book", "Cells", "ExcelOnlineConnection", "ExcelOnlineMetric", "ExcelOnlineOutput", "connector"]
__all__ += ["parse_range", "share_id"]


class ExcelOnlineConnection(EntraConnection):
    type: Literal["excel_online"]

    endpoint_adds = "requests keep /v1.0"


def _one_workbook(workbook: str | None, drive: str | None, item: str | None) -> None:
    if (workbook is None) == (drive is None or item is None):
        raise ValueError("give workbook: (the file's sharing URL) or drive: and item: (ids), one of them")
    if workbook is not None and urlsplit(workbook).scheme != "https":
        raise ValueError("workbook: is the file's sharing URL (https://...): Share > Copy link in Excel")


class ExcelOnlineMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("latest", "sum", "avg", "min", "max", "count")
    workbook: str | None = None  # the file's sharing URL
    drive: str | None = None
    item: str | None = None
    range: str

    @model_validator(mode="after")
    def _one_workbook_and_a_range(self, info: ValidationInfo) -> ExcelOnlineMetric:
        _one_workbook(self.workbook, self.drive, self.item)
        cells = parse_range(self.range)
        size = (cells.bottom - cells.top + 1) * (cells.right - cells.left + 1)
        if size > 1 and not (info.context or {}).get("aggregate"):
            raise ValueError(
                f"range {self.range} holds {size} cells: add aggregate: (sum, avg, min, max, count or latest)"
            )
        return self


class ExcelOnlineOutput(OutputSettings):
    type: Literal["excel_online"]
    connection: str
    workbook: str | None = None  # the file's sharing URL
    drive: str | None = None
    item: str | None = None
    worksheet: str = "OKR status"

    @model_validator(mode="after")
    def _one_workbook(self) -> ExcelOnlineOutput:
        _one_workbook(self.workbook, self.drive, self.item)
        if not self.worksheet.strip() or len(self.worksheet) > 31 or any(c in self.worksheet for c in "\\/?*[]:"):
            raise ValueError("worksheet: is an Excel sheet name (1 to 31 characters, none of \\ / ? * [ ] :)")
        return self


connector = Connector(
    "excel_online",
    connection=ExcelOnlineConnection,
    metric=ExcelOnlineMetric,
    source="okrsync.connectors.excel_online.source:ExcelOnlineSource",
    output=ExcelOnlineOutput,
    sink="okrsync.connectors.excel_online.sink:ExcelOnlineSink",
    description="Excel Online workbooks (Microsoft Graph)",
)
