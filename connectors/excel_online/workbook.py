"""What the excel_online source and output share: the workbook a config names (a sharing URL resolved to its
drive and item, https://learn.microsoft.com/graph/api/shares-get), A1 addresses, Graph's error body and the
refusals explained in the user's terms (the Excel range pages list application permissions as "Not
supported": https://learn.microsoft.com/graph/api/range-get, https://learn.microsoft.com/graph/api/range-update).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import reduce
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from okrsync.sdk import REDACTOR, ApiClient

GRAPH = "https://graph.microsoft.com"
CONSUMER_HOSTS = ("1drv.ms", "onedrive.live.com")  # OneDrive personal: not supported by the Excel API
CELL = r"\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})"
RANGE = re.compile(rf"^(?:'((?:[^']|'')+)'|([^!']+))!{CELL}(?::{CELL})?$")

CONSUMER = "the workbook is in OneDrive personal (consumer), which the Excel API does not support: move it to "
CONSUMER += "OneDrive for Business or SharePoint"
APP_ONLY = "Microsoft Graph refused the app's own token for {what} (HTTP {status}{quoted}); its Excel range pages "
APP_ONLY += "list application permissions as not supported: sign in as a user, with login: device and token_cache: "
APP_ONLY += "on connection '{name}' (delegated permission Files.ReadWrite), then run `okrsync login {name}`"
USER = "the user signed in for connection '{name}' may not open {what} (HTTP {status}{quoted}): share the workbook "
USER += "with them, or grant the delegated permission Files.ReadWrite; `okrsync login {name}` signs in again"
XLS = "{name} is an .xls file, which the Excel API does not open (Office Open XML only): save it as .xlsx in "
XLS += "Excel (File > Save As) and point the metric at the new file"


@dataclass(frozen=True)
class Cells:
    sheet: str
    top: int
    left: int
    bottom: int
    right: int

    def address(self) -> str:
        first = f"{_column(self.left)}{self.top}"
        return (
            first
            if (self.top, self.left) == (self.bottom, self.right)
            else f"{first}:{_column(self.right)}{self.bottom}"
        )

    def cell(self, row: int, column: int) -> str:
        """The cell at an offset, named as in Excel (``KPIs!B7``, ``'Q4 plan'!C3``)."""
        return f"{_sheet_ref(self.sheet)}!{_column(self.left + column)}{self.top + row}"


def parse_range(text: str) -> Cells:
    found = RANGE.match(text.strip())
    if not found:
        raise ValueError(f"range {text!r} is not Sheet!A1 or Sheet!A1:B9 (quote a sheet name as 'My sheet'!A1)")
    quoted, plain, c1, r1, c2, r2 = found.groups()
    sheet = quoted.replace("''", "'") if quoted else plain.strip()
    cols, rows = sorted((_number(c1), _number(c2 or c1))), sorted((int(r1), int(r2 or r1)))
    return Cells(sheet, rows[0], cols[0], rows[1], cols[1])


def share_id(url: str) -> str:
    """The sharing URL as Graph's share id: u! + unpadded base64url (shares-get)."""
    return "u!" + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Book:
    drive: str
    item: str
    name: str | None = None  # known when resolved from a sharing URL


def resolve(client: ApiClient, url: str) -> Book:
    """The workbook behind a sharing URL (``GET /shares/u!…/driveItem``): a business drive's .xlsx."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in CONSUMER_HOSTS:
        raise ValueError(CONSUMER)
    item = client.json("GET", f"/v1.0/shares/{share_id(url)}/driveItem")
    parent = item.get("parentReference") if isinstance(item, dict) else None
    if not isinstance(parent, dict) or not parent.get("driveId") or not item.get("id"):
        raise ValueError(f"Graph resolved the sharing URL on {host} without a drive and item id")
    if parent.get("driveType") == "personal":
        raise ValueError(CONSUMER)
    name = str(item.get("name") or "")
    if "folder" in item or not name.lower().endswith((".xlsx", ".xlsm", ".xls", ".xlsb")):
        raise ValueError(f"the sharing URL on {host} is {name or 'an item'!r}, not an Excel workbook (.xlsx)")
    if name.lower().endswith(".xls"):
        raise ValueError(XLS.format(name=name))
    return Book(str(parent["driveId"]), str(item["id"]), name)


def refused(what: str, status: int, code: str, said: str, *, login: str, name: str) -> str:
    """A refusal in the user's terms: an app-only token names ``login: device``; a user's names sharing."""
    quoted = f" {code}" + (f": {said}" if said else "")
    if status in (401, 403):
        return (APP_ONLY if login == "client" else USER).format(what=what, status=status, quoted=quoted, name=name)
    if status == 404:
        return f"{what} was not found (HTTP 404{quoted}): check the sheet name, the sharing URL or drive: and item:"
    return f"Microsoft Graph refused {what} (HTTP {status}{quoted})"


def error_of(body: Any) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message", "innerError"}}``: the code, and a short redacted message."""
    if isinstance(body, httpx.Response):
        try:
            body = body.json()
        except ValueError:
            body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    inner: dict = error["innerError"] if isinstance(error.get("innerError"), dict) else {}
    code = str(error.get("code") or inner.get("code") or "")  # Excel's inner codes: workbook-error-codes
    return code, REDACTOR(str(error.get("message") or ""))[:200]


def item_path(drive: str, item: str) -> str:
    return f"/drives/{quote(drive, safe='')}/items/{quote(item, safe='')}"


def sheet_path(book: Book, sheet: str) -> str:
    """A worksheet's path (relative to /v1.0): the name percent-encoded as one path segment."""
    return f"{item_path(book.drive, book.item)}/workbook/worksheets/{quote(sheet, safe='')}"


def _number(column: str) -> int:
    return reduce(lambda n, letter: n * 26 + ord(letter) - 64, column.upper(), 0)


def _column(n: int) -> str:
    return _column((n - 1) // 26) + chr(65 + (n - 1) % 26) if n else ""


def column_letters(n: int) -> str:
    return _column(n)


def _sheet_ref(sheet: str) -> str:
    return sheet if re.fullmatch(r"\w+", sheet) else "'" + sheet.replace("'", "''") + "'"
