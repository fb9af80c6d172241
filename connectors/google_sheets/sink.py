"""Google Sheets output: a status table on ``worksheet`` (the tab is created if missing) plus each
KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write.
"""

from __future__ import annotations

import json
from datetime import datetime

import google.auth.exceptions
from gspread.exceptions import APIError

from connectors.google_sheets import GoogleSheetsConnection, GoogleSheetsOutput
from connectors.google_sheets.client import (
    SheetsHTTPClient,
    col_letters,
    explain,
    open_client,
    quote_sheet,
    spreadsheet_id,
    unparsable_range,
)
from okrsync.connector import Sink, SinkContext
from okrsync.delivery import fingerprint
from okrsync.errors import SinkError, TransientError
from okrsync.present import cell, label, pct
from okrsync.status import StatusDocument

STATUS_HEADER = [
    "Objective",
    "Key result",
    "Owner",
    "Start",
    "Current",
    "Target",
    "Progress",
    "Expected",
    "Status",
    "Forecast",
    "Last updated",
    "Stale / error",
]


def status_rows(doc: StatusDocument) -> list[list[str]]:
    rows = [STATUS_HEADER]
    for o, kr in doc.key_results():
        observed = datetime.fromisoformat(kr.observed_at).strftime("%Y-%m-%d %H:%M") if kr.observed_at else ""
        target = kr.target if kr.kind != "between" else f"{kr.min}–{kr.max}"
        forecast = kr.forecast.value if kr.forecast else None
        rows.append(
            [o.title, kr.title, kr.owner or "", cell(kr.start), cell(kr.value), cell(target),
             pct(kr.progress, ""), pct(kr.expected, ""), label(kr.status), cell(forecast), observed, kr.note]
        )  # fmt: skip
    return rows


def status_data(doc: StatusDocument, worksheet: str) -> list[dict]:
    """The value ranges of one write: the table, then each KR's ``sheet_cell``."""
    rows = status_rows(doc)
    tab = quote_sheet(worksheet)
    data = [{"range": f"{tab}!A1:{col_letters(len(STATUS_HEADER))}{len(rows)}", "values": rows}]
    for _, kr in doc.key_results():
        if kr.sheet_cell:
            where = kr.sheet_cell if "!" in kr.sheet_cell else f"{tab}!{kr.sheet_cell}"
            data.append({"range": where, "values": [[pct(kr.progress, "")]]})
    return data


class GoogleSheetsSink(Sink[GoogleSheetsOutput]):
    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        connection = ctx.config.connections[s.connection]  # checked when the config loaded
        data = status_data(ctx.document, s.worksheet)
        rows = len(data[0]["values"])
        target = f"{spreadsheet_id(s.spreadsheet)}/{s.worksheet}"
        last = ctx.delivery.last(target)
        ctx.delivery.idempotent(
            target,
            fingerprint(data),
            lambda: self._send(connection, data, last),
            would=f"google_sheets: would write {rows - 1} rows to {s.worksheet}",
            unchanged=f"google_sheets: {s.worksheet} unchanged",
            detail=json.dumps({"rows": rows}),
        )

    def _send(self, connection: GoogleSheetsConnection, data: list[dict], last: tuple | None) -> str:
        s = self.settings
        sid, tab, rows = spreadsheet_id(s.spreadsheet), quote_sheet(s.worksheet), len(data[0]["values"])
        client, email = open_client(s.connection, connection, self.base_dir)
        previous_rows = json.loads(last[1] or "{}").get("rows", 0) if last else 0
        try:
            if last is None:  # first write to this tab: make sure it exists (an existing tab is fine)
                self._add_tab(client, sid, s.worksheet)
            elif previous_rows > rows:
                self._clear(client, sid, [f"{tab}!A{rows + 1}:{col_letters(len(STATUS_HEADER))}{previous_rows}"])
            try:
                client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": data})
            except APIError as exc:  # the tab was deleted since the last write
                if last is None or unparsable_range(exc, [d["range"] for d in data]) is None:
                    raise
                self._add_tab(client, sid, s.worksheet)
                client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": data})
        except (APIError, TransientError, google.auth.exceptions.GoogleAuthError) as exc:
            raise SinkError(explain(exc, sid, email)) from None
        return f"google_sheets: wrote {rows - 1} rows to {s.worksheet}"

    @staticmethod
    def _add_tab(client: SheetsHTTPClient, sid: str, title: str) -> None:
        try:
            client.batch_update(sid, {"requests": [{"addSheet": {"properties": {"title": title}}}]})
        except APIError as exc:
            if "already exists" not in str(exc.error.get("message", "")):
                raise

    @staticmethod
    def _clear(client: SheetsHTTPClient, sid: str, ranges: list[str]) -> None:
        try:
            client.values_batch_clear(sid, body={"ranges": ranges})
        except APIError as exc:
            if unparsable_range(exc, ranges) is None:  # a missing tab has nothing to clear
                raise
