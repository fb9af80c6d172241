"""Google Sheets API v4 (values) and the OAuth 2.0 token endpoint, enough for gspread and google-auth.

Served: POST /token (JWT-bearer grant of a service account), GET values:batchGet, POST
values:batchUpdate, POST values:batchClear, POST :batchUpdate (addSheet). Cells hold what a user
typed; reads return FORMATTED_VALUE strings, trimmed like the real API (no trailing empties). A text typed after
an apostrophe (Sheets' mark for text: '=A1 stays the text =A1) reads without it, as the real API shows it.
Access needs a token from /token, and the spreadsheet shared with that service account's email.
"""

from __future__ import annotations

import base64
import json
import re
from itertools import count

from okrsync.testing import Emulator, Request, Response, route

_A1 = re.compile(r"^(?:(?:'((?:[^']|'')+)'|([^!]+))!)?([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def shown(value: object) -> str:
    """A cell as FORMATTED_VALUE shows it: what was typed, less the apostrophe that made it text."""
    typed = str(value)
    return typed[1:] if typed.startswith("'") else typed


def error(code: int, message: str, status: str) -> Response:
    return Response(code, {"error": {"code": code, "message": message, "status": status}})


class Spreadsheet:
    def __init__(
        self,
        sheets: dict[str, dict[str, object]] | None = None,
        shared_with: set[str] | None = None,
        locale: str = "en_US",
    ):
        self.locale = locale  # FORMATTED_VALUE follows it: a de_DE sheet shows 82,5 and 1.234
        # sheets: title -> {"B2": "82.5", ...}
        self.sheets: dict[str, dict[tuple[int, int], object]] = {}
        for title, cells in (sheets or {"Sheet1": {}}).items():
            self.sheets[title] = {}
            for a1, value in cells.items():
                m = re.match(r"([A-Z]+)(\d+)$", a1)
                self.sheets[title][(int(m.group(2)), col_index(m.group(1)))] = value
        self.shared_with = shared_with or set()

    def cell(self, sheet: str, a1: str) -> object:
        m = re.match(r"([A-Z]+)(\d+)$", a1)
        return self.sheets[sheet].get((int(m.group(2)), col_index(m.group(1))))


class SheetsEmulator(Emulator):
    vendor = "google_sheets"  # each request is checked against tests/vendor_specs/google_sheets.json

    def __init__(self) -> None:
        super().__init__()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.tokens: dict[str, str] = {}  # access token -> service account email
        self._ids = count(1)

    # -- OAuth --------------------------------------------------------------------------------

    @route("POST", "/token")
    def token(self, req: Request):
        form = req.form()
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return Response(400, {"error": "unsupported_grant_type"})
        payload = form["assertion"][0].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        token = f"ya29.emulator-{next(self._ids)}"
        self.tokens[token] = claims["iss"]
        return {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _caller(self, req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        return self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None

    def _open(self, req: Request, sid: str) -> Spreadsheet | Response:
        caller = self._caller(req)
        if caller is None:
            return error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        sheet = self.spreadsheets.get(sid)
        if sheet is None:
            return error(404, "Requested entity was not found.", "NOT_FOUND")
        if caller not in sheet.shared_with:
            return error(403, "The caller does not have permission", "PERMISSION_DENIED")
        return sheet

    # -- ranges -------------------------------------------------------------------------------

    def _range(self, sheet: Spreadsheet, text: str):
        m = _A1.match(text.strip())
        if not m:
            return None
        title = (m.group(1) or "").replace("''", "'") or m.group(2) or next(iter(sheet.sheets))
        if title not in sheet.sheets:
            return None
        cells = sheet.sheets[title]
        c1, r1, c2, r2 = m.group(3), m.group(4), m.group(5), m.group(6)
        if not c1 and not r1:
            return None
        max_row = max([r for r, _ in cells] or [1])
        max_col = max([c for _, c in cells] or [1])
        top, left = int(r1 or 1), col_index(c1) if c1 else 1
        if m.group(5) is None and m.group(6) is None:
            bottom, right = top, left
        else:
            bottom = int(r2) if r2 else max_row
            right = col_index(c2) if c2 else max_col
        quoted = f"'{title}'" if re.search(r"\W", title) else title
        a1 = f"{quoted}!{col_letters(left)}{top}" + (
            f":{col_letters(right)}{bottom}" if (bottom, right) != (top, left) else ""
        )
        return title, top, left, bottom, right, a1

    # -- metadata -----------------------------------------------------------------------------

    @route("GET", r"/v4/spreadsheets/([^/:]+)")
    def get(self, req: Request, sid: str):
        """spreadsheets.get without grid data: the locale and the tabs (``fields`` is honoured for
        the parts okrsync asks for; the real API trims to exactly the mask)."""
        sheet = self._open(req, sid)
        if isinstance(sheet, Response):
            return sheet
        tabs = {t: {"properties": {"sheetId": i, "title": t, "index": i}} for i, t in enumerate(sheet.sheets)}
        for text in req.query.get("ranges", []):  # grid data of each range, in its tab, in request order
            parsed = self._range(sheet, text)
            if parsed is None:  # the whole request fails, as the real API does
                return error(400, f"Unable to parse range: {text}", "INVALID_ARGUMENT")
            title, top, left, bottom, right, _ = parsed
            tabs[title].setdefault("data", []).append(self._grid(sheet.sheets[title], top, left, bottom, right))
        return {
            "spreadsheetId": sid,
            "properties": {"title": sid, "locale": sheet.locale},
            "sheets": list(tabs.values()),
        }

    @staticmethod
    def _grid(cells: dict, top: int, left: int, bottom: int, right: int) -> dict:
        """GridData as the API returns it: 0-based start (left out when 0), trailing empty cells and rows dropped."""
        rows = []
        for r in range(top, bottom + 1):
            values = [
                {} if cells.get((r, c)) is None else {"formattedValue": shown(cells[(r, c)])}
                for c in range(left, right + 1)
            ]
            while values and not values[-1]:
                values.pop()
            rows.append({"values": values} if values else {})
        while rows and not rows[-1]:
            rows.pop()
        block = {"rowData": rows} if rows else {}
        block |= {k: v for k, v in (("startRow", top - 1), ("startColumn", left - 1)) if v}
        return block

    # -- values -------------------------------------------------------------------------------

    @route("GET", r"/v4/spreadsheets/([^/]+)/values:batchGet")
    def batch_get(self, req: Request, sid: str):
        sheet = self._open(req, sid)
        if isinstance(sheet, Response):
            return sheet
        out = []
        for text in req.query.get("ranges", []):
            parsed = self._range(sheet, text)
            if parsed is None:
                return error(400, f"Unable to parse range: {text}", "INVALID_ARGUMENT")
            title, top, left, bottom, right, a1 = parsed
            cells = sheet.sheets[title]
            rows = [
                ["" if cells.get((r, c)) is None else shown(cells[(r, c)]) for c in range(left, right + 1)]
                for r in range(top, bottom + 1)
            ]
            for row in rows:
                while row and row[-1] == "":
                    row.pop()
            while rows and not rows[-1]:
                rows.pop()
            entry = {"range": a1, "majorDimension": "ROWS"}
            if rows:
                entry["values"] = rows
            out.append(entry)
        return {"spreadsheetId": sid, "valueRanges": out}

    @route("POST", r"/v4/spreadsheets/([^/]+)/values:batchUpdate")
    def batch_update_values(self, req: Request, sid: str):
        sheet = self._open(req, sid)
        if isinstance(sheet, Response):
            return sheet
        body = req.json()
        if body.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return error(400, "Invalid valueInputOption", "INVALID_ARGUMENT")
        parsed_all = []
        for index, item in enumerate(body.get("data", [])):
            parsed = self._range(sheet, item["range"])
            if parsed is None:  # the whole batch fails, as the real API does, in its words
                message = f"Invalid data[{index}]: Unable to parse range: {item['range']}"
                return error(400, message, "INVALID_ARGUMENT")
            parsed_all.append((parsed, item.get("values", [])))
        updated = 0
        for (title, top, left, _, _, _), values in parsed_all:
            for i, row in enumerate(values):
                for j, value in enumerate(row):
                    key = (top + i, left + j)
                    if value in ("", None):
                        sheet.sheets[title].pop(key, None)
                    else:
                        sheet.sheets[title][key] = value
                    updated += 1
        return {"spreadsheetId": sid, "totalUpdatedCells": updated}

    @route("POST", r"/v4/spreadsheets/([^/]+)/values:batchClear")
    def batch_clear(self, req: Request, sid: str):
        sheet = self._open(req, sid)
        if isinstance(sheet, Response):
            return sheet
        cleared = []
        for text in req.json().get("ranges", []):
            parsed = self._range(sheet, text)
            if parsed is None:
                return error(400, f"Unable to parse range: {text}", "INVALID_ARGUMENT")
            title, top, left, bottom, right, a1 = parsed
            for key in [k for k in sheet.sheets[title] if top <= k[0] <= bottom and left <= k[1] <= right]:
                del sheet.sheets[title][key]
            cleared.append(a1)
        return {"spreadsheetId": sid, "clearedRanges": cleared}

    @route("POST", r"/v4/spreadsheets/([^/:]+):batchUpdate")
    def batch_update(self, req: Request, sid: str):
        sheet = self._open(req, sid)
        if isinstance(sheet, Response):
            return sheet
        replies = []
        for request in req.json().get("requests", []):
            if "addSheet" in request:
                title = request["addSheet"]["properties"]["title"]
                if title in sheet.sheets:
                    return error(
                        400,
                        f'Invalid requests[0].addSheet: A sheet with the name "{title}" already '
                        "exists. Please enter another name.",
                        "INVALID_ARGUMENT",
                    )
                sheet.sheets[title] = {}
                replies.append({"addSheet": {"properties": {"title": title, "sheetId": len(sheet.sheets)}}})
            else:
                return error(400, "unsupported request in emulator", "INVALID_ARGUMENT")
        return {"spreadsheetId": sid, "replies": replies}
