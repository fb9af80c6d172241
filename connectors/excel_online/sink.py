"""Excel Online output: the status table (okrsync.present.status_table, the Google Sheets output's table) on one
worksheet of a workbook, through Microsoft Graph v1.0 and the connection's Entra sign-in. A write is one
worksheet list, the worksheet added when missing (``POST …/workbook/worksheets/add {"name"}``: CSDL Action
add(name) bound to Collection(workbookWorksheet)) and ONE ``PATCH …/range(address='A1:O{n}') {"values"}``
(https://learn.microsoft.com/graph/api/range-update). When the table shrank, the same PATCH carries empty
rows down to the last confirmed write's end: an empty string "clears" a cell's values, where null would
leave it unchanged (https://learn.microsoft.com/office/dev/add-ins/excel/excel-add-ins-blank-null-values).
Values are taken as typed ("If the returned value starts with a plus ("+"), minus ("-"), or equal sign ("="),
Excel interprets this value as a formula": https://learn.microsoft.com/javascript/api/excel/excel.range), so
user text that could start a formula is written after an apostrophe, Excel's mark for text.
Nothing is sent when the table is unchanged since the last confirmed write (the ledger, through Delivery).
Writing needs a delegated token (the range pages: "Application | Not supported"): a refused app-only token
is an output error naming ``login: device``.
"""

from __future__ import annotations

import json
from typing import cast

from okrsync.connectors.excel_online import ExcelOnlineConnection, ExcelOnlineOutput
from okrsync.connectors.excel_online.source import ExcelOnlineSource
from okrsync.connectors.excel_online.workbook import Book, column_letters, item_path, resolve, sheet_path
from okrsync.present.status_table import STATUS_HEADER, status_rows
from okrsync.sdk import ApiClient, HttpError, Sink, SinkContext, SinkError, SourceError, TransientError, fingerprint


def table_grid(rows: list[list[str]], previous_rows: int) -> tuple[str, list[list[str]]]:
    """The address and values of the one PATCH: the table, then empty rows over what the last write left below."""
    width = len(STATUS_HEADER)
    grid = rows + [[""] * width for _ in range(previous_rows - len(rows))]
    return f"A1:{column_letters(width)}{len(grid)}", grid


class ExcelOnlineSink(Sink[ExcelOnlineOutput]):
    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        # the config checks when it loads that an output's connection is one of its own connector's
        connection = cast(ExcelOnlineConnection, ctx.config.connections[s.connection])
        rows = status_rows(ctx.document)
        target = f"{s.workbook or f'{s.drive}/{s.item}'}#{s.worksheet}"
        last = ctx.delivery.last(target)
        previous = json.loads(last[1] or "{}").get("rows", 0) if last else 0
        ctx.delivery.idempotent(
            target,
            fingerprint(rows),
            lambda _key: self._send(connection, rows, previous),  # a table rewritten whole: no key needed
            would=f"excel_online: would write {len(rows) - 1} rows to {s.worksheet}",
            unchanged=f"excel_online: {s.worksheet} unchanged",
            detail=json.dumps({"rows": len(rows)}),
        )

    def _send(self, connection: ExcelOnlineConnection, rows: list[list[str]], previous: int) -> str:
        s = self.settings
        graph = ExcelOnlineSource(s.connection, connection, self.base_dir)  # its client: sign-in, limits, refusals
        try:
            client = graph.client()
            try:
                self._write(client, rows, previous)
            finally:
                client.close()
        except (HttpError, SourceError, TransientError) as exc:
            raise SinkError(f"excel_online: {getattr(exc, 'message', str(exc))}") from None
        except ValueError as exc:  # the sharing URL does not lead to a business .xlsx
            raise SinkError(f"excel_online: {exc}") from None
        return f"excel_online: wrote {len(rows) - 1} rows to {s.worksheet}"

    def _write(self, client: ApiClient, rows: list[list[str]], previous: int) -> None:
        s = self.settings
        book = resolve(client, s.workbook) if s.workbook else Book(str(s.drive), str(s.item))
        sheets = client.json("GET", f"/v1.0{item_path(book.drive, book.item)}/workbook/worksheets")
        names = {w.get("name") for w in sheets.get("value", [])} if isinstance(sheets, dict) else set()
        if s.worksheet not in names:  # a first write, or someone deleted the tab
            add = f"/v1.0{item_path(book.drive, book.item)}/workbook/worksheets/add"
            client.json("POST", add, json={"name": s.worksheet}, idempotent=False)
        address, grid = table_grid(rows, previous)
        client.json("PATCH", f"/v1.0{sheet_path(book, s.worksheet)}/range(address='{address}')", json={"values": grid})
