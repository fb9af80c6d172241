"""Smartsheet's API 2.0 (Get Sheet), the server half the smartsheet source talks to.

    GET /2.0/sheets/{sheetId}   columnIds, rowNumbers, rowIds, page, pageSize (tests/vendor_specs/smartsheet.json
                                checks every request's path and query parameter names)

Answered as Smartsheet's OpenAPI describes getSheet: ``columns`` (id, index, title, type, primary), ``rows``
(id, rowNumber, cells with columnId, value, displayValue; an empty cell has no value) and ``totalRowCount``;
``columnIds`` keeps those columns and cells only; non-existent row numbers are ignored; a page past the last
returns the last page; without page or pageSize every row is returned (this emulator's reading of Get Sheet).
Bearer auth: no token is 401 errorCode 1001, a wrong one 401 1002; a sheet not shared with the user is 403 1004,
an unknown sheet 404 1006; more than ``per_minute`` requests in a minute (300 by default) 429 errorCode 4003
"Rate limit exceeded.", with a Retry-After only when ``retry_after`` is set (Smartsheet's pages ask for backoff
and name no header). Every error body is ``{"errorCode", "message", "refId"}`` (the OpenAPI's Error schema; the
codes and texts as commonly quoted from https://developers.smartsheet.com/api/smartsheet/error-codes, which was
not read whole here); a malformed page, pageSize or id list is a 400 with errorCode 1018, this emulator's choice.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from okrsync.testing import Emulator, Request, Response, route


def error(status: int, code: int, message: str) -> Response:
    return Response(status, {"errorCode": code, "message": message, "refId": uuid.uuid4().hex[:12]})


@dataclass
class Sheet:
    id: int
    name: str
    columns: list[dict]  # {id, index, title, type, primary}
    rows: list[dict] = field(default_factory=list)  # {id, rowNumber, values: {column title: raw value}}


class SmartsheetEmulator(Emulator):
    vendor = "smartsheet"

    def __init__(self, token: str, *, per_minute: int = 300, clock=time.monotonic):
        super().__init__()
        self.token, self.per_minute, self.clock = token, per_minute, clock
        self.retry_after: float | None = None  # sent with a 429 when set
        self.sheets: dict[int, Sheet] = {}
        self.unshared: set[int] = set()  # sheets the token's user may not view
        self._ids = itertools.count(5_000_000_000_000_001)
        self._minute: tuple[float, int] = (clock(), 0)

    def add_sheet(self, sheet_id: int, name: str, columns: list[tuple[str, str]]) -> Sheet:
        """``columns``: (title, type) pairs, the first one primary."""
        made = [
            {"id": next(self._ids), "index": i, "title": title, "type": kind, "primary": i == 0, "width": 150}
            for i, (title, kind) in enumerate(columns)
        ]
        self.sheets[sheet_id] = Sheet(sheet_id, name, made)
        return self.sheets[sheet_id]

    def add_row(self, sheet_id: int, **values: Any) -> int:
        """A row at the bottom; ``values`` by column title (underscores for spaces); None or absent: empty."""
        sheet = self.sheets[sheet_id]
        row_id = next(self._ids)
        shown = {k.replace("_", " "): v for k, v in values.items()}
        sheet.rows.append({"id": row_id, "rowNumber": len(sheet.rows) + 1, "values": shown})
        return row_id

    def column_id(self, sheet_id: int, title: str) -> int:
        return next(c["id"] for c in self.sheets[sheet_id].columns if c["title"] == title)

    @route("GET", r"/2\.0/sheets/([^/]+)")
    def get_sheet(self, req: Request, sheet_id: str):
        refused = self._gate(req)
        if refused:
            return refused
        if not sheet_id.isdigit() or int(sheet_id) not in self.sheets:
            return error(404, 1006, "Not Found")
        if int(sheet_id) in self.unshared:
            return error(403, 1004, "You are not authorized to perform this action.")
        try:
            return self._sheet(self.sheets[int(sheet_id)], {k: v[0] for k, v in req.query.items()})
        except ValueError as exc:
            return error(400, 1018, str(exc))

    def _gate(self, req: Request) -> Response | None:
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return error(401, 1001, "An Access Token is required.")
        if header != f"Bearer {self.token}":
            return error(401, 1002, "Your Access Token is invalid.")
        start, used = self._minute
        if self.clock() - start >= 60:
            start, used = self.clock(), 0
        if used >= self.per_minute:
            limited = error(429, 4003, "Rate limit exceeded.")
            if self.retry_after is not None:
                limited.headers["Retry-After"] = f"{self.retry_after:g}"
            return limited
        self._minute = (start, used + 1)
        return None

    def _sheet(self, sheet: Sheet, query: dict[str, str]) -> dict:
        columns = sheet.columns
        if "columnIds" in query:
            wanted = set(_numbers(query["columnIds"], "columnIds"))
            columns = [c for c in columns if c["id"] in wanted]
        rows = sheet.rows
        if "rowNumbers" in query:
            numbers = set(_numbers(query["rowNumbers"], "rowNumbers"))
            rows = [r for r in rows if r["rowNumber"] in numbers]
        if "rowIds" in query:
            ids = set(_numbers(query["rowIds"], "rowIds"))
            rows = [r for r in rows if r["id"] in ids]
        if "page" in query or "pageSize" in query:
            size, page = _positive(query.get("pageSize", "100"), "pageSize"), _positive(query.get("page", "1"), "page")
            last = max(1, math.ceil(len(rows) / size))
            start = (min(page, last) - 1) * size  # past the last page: the last page
            rows = rows[start : start + size]
        return {
            "id": sheet.id,
            "name": sheet.name,
            "version": 7,
            "accessLevel": "VIEWER",
            "totalRowCount": len(sheet.rows),
            "permalink": f"https://app.smartsheet.com/sheets/{sheet.id}",
            "columns": columns,
            "rows": [_row(r, columns) for r in rows],
        }


def _row(row: dict, columns: list[dict]) -> dict:
    cells = []
    for column in columns:
        value = row["values"].get(column["title"])
        cell: dict[str, Any] = {"columnId": column["id"]}
        if value is not None:
            cell["value"] = value
            if column["type"] in ("TEXT_NUMBER", "PICKLIST") and not isinstance(value, bool):
                cell["displayValue"] = f"{value:g}" if isinstance(value, float) else str(value)
        cells.append(cell)
    return {"id": row["id"], "rowNumber": row["rowNumber"], "expanded": True, "cells": cells}


def _numbers(text: str, name: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"The value for {name} is invalid: {text[:40]}")
    return [int(p) for p in parts]


def _positive(text: str, name: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"The value for {name} is invalid: {text[:40]}")
    return int(text)
