"""Google Sheets: read KPI cells (source) and write a status table back (output), through gspread.

Connection: ``credentials_file`` (a service-account JSON; google-auth signs a JWT and asks the
``token_uri`` written in that file for an access token) or, without it, application default
credentials; ``endpoint`` replaces https://sheets.googleapis.com (a proxy or an emulator).

Source: every metric on one spreadsheet is read with ONE values:batchGet, however many there
are. A metric names ``spreadsheet`` (an ID or a browser URL) and ``range`` in A1 notation: one
cell, or a range with ``aggregate`` (sum, avg, min, max, count, latest = last non-empty cell).
Cells are read as people see them (FORMATTED_VALUE) and parsed like every other text value.

Output ``google_sheets``: a status table on ``worksheet`` (the tab is created if missing) plus
each KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write (ledger).

Requests go through gspread's plain HTTPClient (its BackOffHTTPClient never gives up on a
persistent 429), paced at 1 request per second per connection (Sheets allows 60 per minute
per user) and retried by okrsync's bounded policy.
"""

from __future__ import annotations

from typing import Literal

from okrsync.connector import Connector, MetricParams, OutputSettings, RemoteConnection


class GoogleSheetsConnection(RemoteConnection):
    type: Literal["google_sheets"]
    credentials_file: str | None = None


class GoogleSheetsMetric(MetricParams):
    spreadsheet: str
    range: str


class GoogleSheetsOutput(OutputSettings):
    type: Literal["google_sheets"]
    connection: str
    spreadsheet: str
    worksheet: str = "OKR status"


connector = Connector(
    "google_sheets",
    connection=GoogleSheetsConnection,
    metric=GoogleSheetsMetric,
    source="connectors.google_sheets.source:GoogleSheetsSource",
    output=GoogleSheetsOutput,
    sink="connectors.google_sheets.sink:GoogleSheetsSink",
    description="Google Sheets (gspread)",
)
