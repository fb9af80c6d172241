"""Google Sheets output: a status table on ``worksheet`` (the tab is created if missing) plus each
KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write.

Once okrsync has written the table, every publish first reads it back in one spreadsheets.get (the tabs, the
locale, and the owners' columns: :mod:`.heard`): what people typed in "Note", "Confidence" and a manual key
result's "Current" is handed back to the sync (``SinkContext.hear``), and the write keeps their cells as typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

import google.auth.exceptions
from gspread.exceptions import APIError

from okrsync.connectors.google_sheets import GoogleSheetsConnection, GoogleSheetsOutput
from okrsync.connectors.google_sheets.client import (
    GRID_FIELDS,
    METADATA_FIELDS,
    SheetsHTTPClient,
    col_letters,
    explain,
    number_symbols,
    open_client,
    quote_sheet,
    sheet_titles,
    spreadsheet_id,
    tab_of,
    value_ranges,
)
from okrsync.connectors.google_sheets.heard import Listened, Table, Written, grid_cells, listen, read_ranges, recorded
from okrsync.errors import SinkError, TransientError
from okrsync.okr.status import StatusDocument
from okrsync.present.formats import pct
from okrsync.present.status_table import STATUS_HEADER, status_rows
from okrsync.sdk.connector import Sink, SinkContext
from okrsync.sdk.delivery import fingerprint

SHEETS_ERRORS = (APIError, TransientError, google.auth.exceptions.GoogleAuthError)


def status_data(doc: StatusDocument, worksheet: str, kept: dict[str, dict[int, str]] | None = None) -> list[dict]:
    """The value ranges of one write: the table (with the cells people changed kept as they typed them: ``kept``,
    key result -> column -> text), then each KR's ``sheet_cell``."""
    rows = status_rows(doc)
    for (_, kr), row in zip(doc.key_results(), rows[1:], strict=True):
        for column, typed in (kept or {}).get(kr.id, {}).items():
            row[column] = typed
    tab = quote_sheet(worksheet)
    data = [{"range": f"{tab}!A1:{col_letters(len(STATUS_HEADER))}{len(rows)}", "values": rows}]
    for _, kr in doc.key_results():
        if kr.sheet_cell and not kr.suspect:  # a held-back value is not written back until accepted
            where = kr.sheet_cell if "!" in kr.sheet_cell else f"{tab}!{kr.sheet_cell}"
            data.append({"range": where, "values": [[pct(kr.progress, "")]]})
    return data


@dataclass(frozen=True)
class Seen:
    """The read before a write: the spreadsheet's tabs and, when the table's tab is there, its owners' columns."""

    tabs: set[str]
    listened: Listened


class GoogleSheetsSink(Sink[GoogleSheetsOutput]):
    _client: tuple[SheetsHTTPClient, str | None] | None = None

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        # the config checks when it loads that an output's connection is one of its own connector's
        connection = cast(GoogleSheetsConnection, ctx.config.connections[s.connection])
        target = f"{spreadsheet_id(s.spreadsheet)}/{s.worksheet}"
        last = ctx.delivery.last(target)
        before = Written.of(last[1] if last else None)
        seen = self._read_back(connection, ctx, before) if before.cells else None
        listened = seen.listened if seen else Listened()
        for item in listened.heard:
            ctx.hear(item)
        for line in listened.said:
            ctx.delivery.note(f"google_sheets: warning: {line}")
        data = status_data(ctx.document, s.worksheet, listened.kept)
        rows = len(data[0]["values"])
        marker = listened.marker(before.marker)
        own = recorded(ctx.document, status_rows(ctx.document))  # okrsync's texts, not the people's it keeps
        ctx.delivery.idempotent(
            target,
            fingerprint([data, marker]),
            lambda _key: self._send(connection, data, before.rows, seen.tabs if seen else None),
            would=f"google_sheets: would write {rows - 1} rows to {s.worksheet}",
            unchanged=f"google_sheets: {s.worksheet} unchanged",
            detail=json.dumps({"rows": rows, "cells": own, "marker": marker}),
        )

    def client(self, connection: GoogleSheetsConnection) -> tuple[SheetsHTTPClient, str | None]:
        """One client (one access token) for the read and the write of a publish."""
        if self._client is None:
            self._client = open_client(self.settings.connection, connection, self.base_dir)
        return self._client

    def _read_back(self, connection: GoogleSheetsConnection, ctx: SinkContext, before: Written) -> Seen:
        """One spreadsheets.get: the tabs, the locale and the owners' columns of the table as last written. A
        missing tab (someone deleted it) fails such a request: then the tabs alone, and nothing is heard."""
        s = self.settings
        sid, tab = spreadsheet_id(s.spreadsheet), quote_sheet(s.worksheet)
        client, email = self.client(connection)
        ranges = read_ranges(tab, before.rows)
        try:
            try:
                grid = client.fetch_sheet_metadata(sid, params={"fields": GRID_FIELDS, "ranges": ranges})
            except APIError as exc:
                if exc.response.status_code != 400:
                    raise
                return Seen(
                    sheet_titles(client.fetch_sheet_metadata(sid, params={"fields": METADATA_FIELDS})), Listened()
                )
        except SHEETS_ERRORS as exc:
            raise SinkError(explain(exc, sid, email)) from None
        try:
            symbols: tuple[str, str] | None = number_symbols(grid)
        except ValueError:  # a locale Babel does not know: its numbers are not read (said where one is typed)
            symbols = None
        cells = grid_cells(list(value_ranges(grid, ranges).values()))
        table = Table(sid, s.worksheet, tab, symbols)
        return Seen(sheet_titles(grid), listen(ctx.document, cells, before, table, ctx.known))

    def _send(
        self, connection: GoogleSheetsConnection, data: list[dict], previous_rows: int, tabs: set[str] | None
    ) -> str:
        """The tabs (from the read back, else one metadata read), the tab created when missing (a first write, or
        someone deleted it), a clear when the table shrank, then one values:batchUpdate of the table and every
        sheet_cell whose tab exists. Sheets applies a batch all or nothing, so a cell on a missing tab is
        left out and reported by name instead of blocking the table."""
        s = self.settings
        sid, tab, rows = spreadsheet_id(s.spreadsheet), quote_sheet(s.worksheet), len(data[0]["values"])
        client, email = self.client(connection)
        try:
            if tabs is None:
                tabs = sheet_titles(client.fetch_sheet_metadata(sid, params={"fields": METADATA_FIELDS}))
            if s.worksheet not in tabs:
                client.batch_update(sid, {"requests": [{"addSheet": {"properties": {"title": s.worksheet}}}]})
            elif previous_rows > rows:
                cleared = f"{tab}!A{rows + 1}:{col_letters(len(STATUS_HEADER))}{previous_rows}"
                client.values_batch_clear(sid, body={"ranges": [cleared]})
            writable = [d for d in data if (tab_of(d["range"]) or s.worksheet) in tabs | {s.worksheet}]
            client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": writable})
        except SHEETS_ERRORS as exc:
            raise SinkError(explain(exc, sid, email)) from None
        skipped = [d["range"] for d in data if d not in writable]
        if skipped:
            raise SinkError(
                f"wrote {rows - 1} rows to {s.worksheet}, but not the sheet_cell {', '.join(skipped)}: no such tab "
                "in the spreadsheet (fix the KR's sheet_cell or add the tab)"
            )
        return f"google_sheets: wrote {rows - 1} rows to {s.worksheet}"
