"""Google Sheets: read KPI cells (source) and write a status table back (output), through gspread.

Connection: ``credentials_file`` (a service-account JSON; google-auth signs a JWT and asks the
``token_uri`` written in that file for an access token) or, without it, application default
credentials; ``endpoint`` replaces https://sheets.googleapis.com (a proxy or an emulator).

Source: every metric on one spreadsheet is read with ONE spreadsheets.get (every range, and a field
mask for the locale, the tabs and the formatted values), however many there are; spreadsheets are
read several at a time. A metric names ``spreadsheet`` (an ID or a browser URL) and ``range`` in A1
notation: one cell, or a range with ``aggregate`` (sum, avg, min, max, count, latest = last non-empty
cell). Cells are read as people see them and parsed in the spreadsheet's locale.

Output ``google_sheets``: a status table on ``worksheet`` (the tab is created if missing) plus
each KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write (ledger). Once written,
the table is read back first at each publish (one spreadsheets.get): notes, confidence and a manual KR's
"Current" that people typed there are handed back to the sync as notes (:mod:`.heard`).

Requests go through gspread's plain HTTPClient (its BackOffHTTPClient never gives up on a
persistent 429), kept inside Google's window of 60 per minute per user and retried by okrsync's
bounded policy (a quota 429 past the per-minute refill).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from okrsync.sdk.connector import Connector, MetricParams, OutputSettings, RemoteConnection


class GoogleSheetsConnection(RemoteConnection):
    type: Literal["google_sheets"]
    credentials_file: str | None = None

    def preflight(self, base_dir: Path) -> list[tuple[str, str]]:
        """The key file is there, readable, and a service-account key (without contacting Google)."""
        return key_file_problems(self.credentials_file, base_dir)


KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")


def key_file_problems(credentials_file: str | None, base_dir: Path) -> list[tuple[str, str]]:
    """Problems of a service-account key file that show without the network ([] when none, or when the
    path comes from an ${ENV} reference that is not set here)."""
    if not credentials_file or "${" in credentials_file:
        return []
    path = (base_dir / credentials_file).resolve()
    try:
        if path.stat().st_size > 100_000:
            return [("credentials_file", f"{path} is too large for a service-account key")]
        key = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [("credentials_file", f"not found: {path}")]
    except OSError as exc:
        return [("credentials_file", f"cannot read {path}: {exc.strerror or type(exc).__name__}")]
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [("credentials_file", f"{path} is not JSON (download the key again: IAM > Service accounts > Keys)")]
    missing = [k for k in KEY_FIELDS if not isinstance(key, dict) or not key.get(k)]
    if missing or key.get("type") != "service_account":
        what = f"lacks {', '.join(missing)}" if missing else f"is a {key.get('type')!r} key"
        return [("credentials_file", f"{path} is not a service-account key: it {what}")]
    return []


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
    source="okrsync.connectors.google_sheets.source:GoogleSheetsSource",
    output=GoogleSheetsOutput,
    sink="okrsync.connectors.google_sheets.sink:GoogleSheetsSink",
    description="Google Sheets (gspread)",
)
