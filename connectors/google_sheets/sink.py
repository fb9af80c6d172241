"""Google Sheets output: a status table on ``worksheet`` (the tab is created if missing) plus each
KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write.
"""

from __future__ import annotations

import json
from typing import cast

import google.auth.exceptions
from gspread.exceptions import APIError

from okrsync.connectors.google_sheets import GoogleSheetsConnection, GoogleSheetsOutput
from okrsync.connectors.google_sheets.client import (
    METADATA_FIELDS,
    col_letters,
    explain,
    open_client,
    quote_sheet,
    sheet_titles,
    spreadsheet_id,
    tab_of,
)
from okrsync.errors import SinkError, TransientError
from okrsync.okr.status import StatusDocument
from okrsync.present.formats import pct
from okrsync.present.status_table import STATUS_HEADER, status_rows
from okrsync.sdk.connector import Sink, SinkContext
from okrsync.sdk.delivery import fingerprint


def status_data(doc: StatusDocument, worksheet: str) -> list[dict]:
    """The value ranges of one write: the table, then each KR's ``sheet_cell``."""
    rows = status_rows(doc)
    tab = quote_sheet(worksheet)
    data = [{"range": f"{tab}!A1:{col_letters(len(STATUS_HEADER))}{len(rows)}", "values": rows}]
    for _, kr in doc.key_results():
        if kr.sheet_cell and not kr.suspect:  # a held-back value is not written back until accepted
            where = kr.sheet_cell if "!" in kr.sheet_cell else f"{tab}!{kr.sheet_cell}"
            data.append({"range": where, "values": [[pct(kr.progress, "")]]})
    return data


class GoogleSheetsSink(Sink[GoogleSheetsOutput]):
    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        # the config checks when it loads that an output's connection is one of its own connector's
        connection = cast(GoogleSheetsConnection, ctx.config.connections[s.connection])
        data = status_data(ctx.document, s.worksheet)
        rows = len(data[0]["values"])
        target = f"{spreadsheet_id(s.spreadsheet)}/{s.worksheet}"
        last = ctx.delivery.last(target)
        ctx.delivery.idempotent(
            target,
            fingerprint(data),
            lambda _key: self._send(connection, data, last),  # a table rewritten whole: no key needed
            would=f"google_sheets: would write {rows - 1} rows to {s.worksheet}",
            unchanged=f"google_sheets: {s.worksheet} unchanged",
            detail=json.dumps({"rows": rows}),
        )

    def _send(self, connection: GoogleSheetsConnection, data: list[dict], last: tuple | None) -> str:
        """One metadata read (which tabs exist), the tab created when missing (a first write, or someone
        deleted it), a clear when the table shrank, then one values:batchUpdate of the table and every
        sheet_cell whose tab exists. Sheets applies a batch all or nothing, so a cell on a missing tab is
        left out and reported by name instead of blocking the table."""
        s = self.settings
        sid, tab, rows = spreadsheet_id(s.spreadsheet), quote_sheet(s.worksheet), len(data[0]["values"])
        client, email = open_client(s.connection, connection, self.base_dir)
        previous_rows = json.loads(last[1] or "{}").get("rows", 0) if last else 0
        try:
            tabs = sheet_titles(client.fetch_sheet_metadata(sid, params={"fields": METADATA_FIELDS}))
            if s.worksheet not in tabs:
                client.batch_update(sid, {"requests": [{"addSheet": {"properties": {"title": s.worksheet}}}]})
            elif previous_rows > rows:
                cleared = f"{tab}!A{rows + 1}:{col_letters(len(STATUS_HEADER))}{previous_rows}"
                client.values_batch_clear(sid, body={"ranges": [cleared]})
            writable = [d for d in data if (tab_of(d["range"]) or s.worksheet) in tabs | {s.worksheet}]
            client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": writable})
        except (APIError, TransientError, google.auth.exceptions.GoogleAuthError) as exc:
            raise SinkError(explain(exc, sid, email)) from None
        skipped = [d["range"] for d in data if d not in writable]
        if skipped:
            raise SinkError(
                f"wrote {rows - 1} rows to {s.worksheet}, but not the sheet_cell {', '.join(skipped)}: no such tab "
                "in the spreadsheet (fix the KR's sheet_cell or add the tab)"
            )
        return f"google_sheets: wrote {rows - 1} rows to {s.worksheet}"
