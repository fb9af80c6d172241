"""Microsoft Graph v1.0's drive items, shares and Excel workbook ranges, with JSON batching: the server half the
excel_online source talks to. Every request, and every member of a $batch, is checked against
tests/vendor_specs/graph_excel.json (members are dispatched through the same checked route table).

    GET  /v1.0/shares/{u!base64url}/driveItem          the driveItem of a sharing URL (shares-get's encoding, strictly:
                                                       "u!", unpadded, - and _ for + and /)
    GET  /v1.0/drives/{d}/items/{i}                    a driveItem
    GET  /v1.0/drives/{d}/items/{i}/workbook/worksheets
    GET  /v1.0/drives/{d}/items/{i}/workbook/worksheets/{name}/range(address='A1[:B9]')
    POST /v1.0/drives/{d}/items/{i}/workbook/worksheets/add           {"name"}: a new worksheet (409 if it exists)
    PATCH /v1.0/drives/{d}/items/{i}/workbook/worksheets/{name}/range(address='A1[:B9]')   {"values": 2-D}
    POST /v1.0/$batch                                  at most 20 GET members; answers in reverse order (Graph:
                                                       "might appear in a different order"); ids must be unique

A range answers ``address``, ``values`` (raw), ``text`` (as Excel shows it), ``valueTypes`` and ``numberFormat``
(https://learn.microsoft.com/graph/api/resources/range). Errors are Graph's ``{"error": {"code", "message",
"innerError"}}``. Bearer tokens: ``bearers`` are accepted; ``app_only`` lists tokens Graph refuses as app-only
for workbook calls (403 accessDenied: the text is this emulator's own, the real one is not documented). An
.xls item answers workbook calls 400 invalidRequest "The file format is not supported." (also this emulator's
own: Microsoft documents only that .xls "aren't supported"). ``throttle(n)`` answers the next n batch members
429 with Retry-After.

A range PATCH takes ``values`` as Excel takes typed input (https://learn.microsoft.com/graph/api/range-update;
Excel.Range values: "If the returned value starts with a plus ("+"), minus ("-"), or equal sign ("="), Excel
interprets this value as a formula"): a string after an apostrophe is kept as text without it, a string
starting with = + - that is not a number becomes a formula (kept in ``Workbook.formulas``), "" clears the cell,
null leaves it unchanged; any other value is kept as sent. The array must have the address's rows and columns
(400 InvalidArgument otherwise: the status is Graph's, the text this emulator's own), as must each row.
``written(drive, item, sheet)`` gives a worksheet's cells back as rows.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from okrsync.testing import Emulator, Request, Response, route

ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")
ADDRESS = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


@dataclass
class Workbook:
    name: str
    sheets: dict[str, dict[str, Any]]  # sheet -> cell address -> raw value
    formats: dict[str, str] = field(default_factory=dict)  # "Sheet!B2" -> number format ("0%")
    formulas: dict[str, str] = field(default_factory=dict)  # "Sheet!B2" -> a formula written through values
    drive_type: str = "business"


def error(status: int, code: str, message: str) -> Response:
    inner = {"date": "2026-11-16T08:00:00", "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    return Response(status, {"error": {"code": code, "message": message, "innerError": inner}})


def column_number(letters: str) -> int:
    n = 0
    for letter in letters:
        n = n * 26 + ord(letter) - 64
    return n


def column_letters(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class ExcelOnlineEmulator(Emulator):
    vendor = "graph_excel"

    def __init__(self) -> None:
        super().__init__()
        # the routes of this class, for a subclass too (the base reads only the concrete class's own)
        self._routes = [
            (*f.route, getattr(self, n)) for n, f in vars(ExcelOnlineEmulator).items() if hasattr(f, "route")
        ]
        self.books: dict[tuple[str, str], Workbook] = {}
        self.shares: dict[str, tuple[str, str]] = {}  # sharing URL -> (drive, item)
        self.bearers: list[str] = []  # accepted access tokens (an identity platform emulator's issued ones)
        self.app_only: list[str] = []  # tokens refused for workbook calls (a tenant that refuses app-only access)
        self._throttle: list[float] = []

    def add(self, drive: str, item: str, book: Workbook, url: str | None = None) -> None:
        self.books[(drive, item)] = book
        if url:
            self.shares[url] = (drive, item)

    def throttle(self, members: int, retry_after: float = 2) -> None:
        self._throttle += [retry_after] * members

    def written(self, drive: str, item: str, sheet: str) -> list[list[Any]]:
        """The worksheet's cells from A1 to its last filled row and column, "" for an empty cell."""
        cells = self.books[(drive, item)].sheets[sheet]
        found = [ADDRESS.match(a) for a in cells]
        places = [(int(m[2]), column_number(m[1])) for m in found if m]
        rows, cols = max((r for r, _ in places), default=0), max((c for _, c in places), default=0)
        return [[cells.get(f"{column_letters(c)}{r}", "") for c in range(1, cols + 1)] for r in range(1, rows + 1)]

    # -- gate ----------------------------------------------------------------------------------------

    def _denied(self, req: Request, workbook: bool) -> Response | None:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.bearers:
            return error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if workbook and token in self.app_only:
            return error(403, "accessDenied", "Application permissions are not supported for this operation.")
        return None

    def _book(self, drive: str, item: str) -> Workbook | Response:
        book = self.books.get((unquote(drive), unquote(item)))
        return book or error(404, "itemNotFound", "The resource could not be found.")

    def _item(self, drive: str, item: str, book: Workbook) -> dict:
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return {
            "id": item,
            "name": book.name,
            "file": {"mimeType": mime},
            "parentReference": {"driveId": drive, "driveType": book.drive_type},
        }

    # -- routes --------------------------------------------------------------------------------------

    @route("GET", r"/v1.0/shares/([^/]+)/driveItem")
    def share(self, req: Request, encoded: str):
        if denied := self._denied(req, workbook=False):
            return denied
        if not re.fullmatch(r"u![A-Za-z0-9_-]+", encoded):
            return error(400, "invalidRequest", "The sharing token is not in the u!base64url form.")
        try:
            url = base64.urlsafe_b64decode(encoded[2:] + "=" * (-len(encoded[2:]) % 4)).decode()
        except ValueError:
            return error(400, "invalidRequest", "The sharing token is not valid.")
        if url not in self.shares:
            return error(404, "itemNotFound", "The sharing link no longer exists, or you do not have access to it.")
        drive, item = self.shares[url]
        return self._item(drive, item, self.books[(drive, item)])

    @route("GET", r"/v1.0/drives/([^/]+)/items/([^/]+)")
    def drive_item(self, req: Request, drive: str, item: str):
        if denied := self._denied(req, workbook=False):
            return denied
        book = self._book(drive, item)
        return book if isinstance(book, Response) else self._item(unquote(drive), unquote(item), book)

    @route("GET", r"/v1.0/drives/([^/]+)/items/([^/]+)/workbook/worksheets")
    def worksheets(self, req: Request, drive: str, item: str):
        book = self._workbook(req, drive, item)
        if isinstance(book, Response):
            return book
        sheets = [{"id": f"{{{n:08X}}}", "name": s, "position": n} for n, s in enumerate(book.sheets)]
        return {"value": [{**s, "visibility": "Visible"} for s in sheets]}

    @route("GET", r"/v1.0/drives/([^/]+)/items/([^/]+)/workbook/worksheets/([^/]+)/range\(address='([^']*)'\)")
    def read_range(self, req: Request, drive: str, item: str, sheet: str, address: str):
        book = self._workbook(req, drive, item)
        if isinstance(book, Response):
            return book
        name = unquote(sheet)
        if name not in book.sheets:
            return error(404, "ItemNotFound", "The requested resource doesn't exist.")
        found = ADDRESS.match(unquote(address).upper())
        if not found:
            return error(400, "InvalidArgument", "The argument is invalid or missing or has an incorrect format.")
        return self._range(book, name, found.groups())

    @route("POST", r"/v1.0/drives/([^/]+)/items/([^/]+)/workbook/worksheets/add")
    def add_worksheet(self, req: Request, drive: str, item: str):
        book = self._workbook(req, drive, item)
        if isinstance(book, Response):
            return book
        name = (req.json() or {}).get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[^\\/?*\[\]:]{1,31}", name):
            return error(400, "InvalidArgument", "The argument is invalid or missing or has an incorrect format.")
        if name in book.sheets:
            return error(409, "ItemAlreadyExists", "A resource with the same name or identifier already exists.")
        book.sheets[name] = {}
        return {"id": f"{{{len(book.sheets):08X}}}", "name": name, "position": len(book.sheets) - 1}

    @route("PATCH", r"/v1.0/drives/([^/]+)/items/([^/]+)/workbook/worksheets/([^/]+)/range\(address='([^']*)'\)")
    def write_range(self, req: Request, drive: str, item: str, sheet: str, address: str):
        book = self._workbook(req, drive, item)
        if isinstance(book, Response):
            return book
        name, found = unquote(sheet), ADDRESS.match(unquote(address).upper())
        if name not in book.sheets:
            return error(404, "ItemNotFound", "The requested resource doesn't exist.")
        values = (req.json() or {}).get("values")
        if not found or not self._fits(values, found.groups()):
            return error(400, "InvalidArgument", "The number of rows or columns in the input array doesn't match.")
        c1, r1 = found[1], int(found[2])
        for r, row in enumerate(values):
            for c, typed in enumerate(row):
                self._type_in(book, name, f"{column_letters(column_number(c1) + c)}{r1 + r}", typed)
        return self._range(book, name, found.groups())

    @route("POST", r"/v1.0/\$batch")
    def batch(self, req: Request):
        if denied := self._denied(req, workbook=False):
            return denied
        members = (req.json() or {}).get("requests") or []
        ids = [m.get("id") for m in members]
        if len(members) > 20:
            return error(400, "BadRequest", "Too many requests in the batch: the limit is 20.")
        if len(set(ids)) != len(ids) or not members:
            return error(400, "BadRequest", "Batch request ids must be unique.")
        answers = [self._member(req, m) for m in members]
        return {"responses": list(reversed(answers))}

    # -- behaviour -----------------------------------------------------------------------------------

    def _workbook(self, req: Request, drive: str, item: str) -> Workbook | Response:
        if denied := self._denied(req, workbook=True):
            return denied
        book = self._book(drive, item)
        if isinstance(book, Workbook) and book.name.lower().endswith(".xls"):
            return error(400, "invalidRequest", "The file format is not supported.")
        return book

    def _member(self, batch: Request, member: dict) -> dict:
        if self._throttle:
            after = self._throttle.pop(0)
            answer = error(429, "tooManyRequests", "The app or user has been throttled.")
            return {"id": member["id"], "status": 429, "headers": {"Retry-After": f"{after:g}"}, "body": answer.body}
        parts = urlsplit(member["url"])
        inner = Request(
            member["method"],
            "/v1.0" + parts.path,
            {},
            batch.headers,
            b"",
            batch.at,
        )
        answer = self._dispatch(inner)  # checked against the excerpt like any request
        headers = {"Content-Type": "application/json"}
        return {"id": member["id"], "status": answer.status, "headers": headers, "body": answer.body}

    @staticmethod
    def _fits(values: Any, groups: tuple) -> bool:
        c1, r1, c2, r2 = groups
        rows, cols = abs(int(r2 or r1) - int(r1)) + 1, abs(column_number(c2 or c1) - column_number(c1)) + 1
        shaped = isinstance(values, list) and all(isinstance(row, list) and len(row) == cols for row in values)
        return shaped and len(values) == rows

    @staticmethod
    def _type_in(book: Workbook, sheet: str, cell: str, typed: Any) -> None:
        """One cell as Excel takes a typed value: 'text, =formula, "" clears, null leaves it."""
        where = f"{sheet}!{cell}"
        if typed is None:
            return
        book.formulas.pop(where, None)
        if typed == "":
            book.sheets[sheet].pop(cell, None)
        elif isinstance(typed, str) and typed.startswith("'"):
            book.sheets[sheet][cell] = typed[1:]
        elif isinstance(typed, str) and typed[:1] in "=+-" and not re.fullmatch(r"[+-]?\d+(\.\d+)?%?", typed):
            book.formulas[where] = typed
            book.sheets[sheet][cell] = "#NAME?"  # not evaluated here: shown as Excel shows an unknown name
        else:
            book.sheets[sheet][cell] = typed

    def _range(self, book: Workbook, sheet: str, groups: tuple) -> dict:
        c1, r1, c2, r2 = groups
        left, right = sorted((column_number(c1), column_number(c2 or c1)))
        top, bottom = sorted((int(r1), int(r2 or r1)))
        cells = [[f"{column_letters(c)}{r}" for c in range(left, right + 1)] for r in range(top, bottom + 1)]
        raw = [[book.sheets[sheet].get(a) for a in row] for row in cells]
        formats = [[book.formats.get(f"{sheet}!{a}", "General") for a in row] for row in cells]
        shown_sheet = sheet if re.fullmatch(r"\w+", sheet) else f"'{sheet}'"
        first = f"{column_letters(left)}{top}"
        last = f"{column_letters(right)}{bottom}"
        return {
            "address": f"{shown_sheet}!{first}" + ("" if first == last else f":{last}"),
            "cellCount": len(cells) * len(cells[0]),
            "values": [["" if v is None else v for v in row] for row in raw],
            "text": [[_text(v, f) for v, f in zip(row, fr, strict=True)] for row, fr in zip(raw, formats, strict=True)],
            "valueTypes": [[_type(v) for v in row] for row in raw],
            "numberFormat": formats,
        }


def _type(value: Any) -> str:
    if value is None or value == "":
        return "Empty"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Double"
    return "Error" if value in ERRORS else "String"


def _text(value: Any, number_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int | float) and number_format.endswith("%"):
        return f"{value * 100:.0f}%"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
