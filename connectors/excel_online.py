"""Excel Online (Microsoft Graph): a cell, or an aggregate over a range's numeric cells, of a workbook in OneDrive
for Business or SharePoint; see docs/sources.md for the keys. Vendor rules followed here (Graph v1.0):
- Sharing URL -> driveItem once a run, ``GET /shares/u!{unpadded base64url}/driveItem`` ("removing = characters
  ... replacing / with _ and + with -.) Append u!"): https://learn.microsoft.com/graph/api/shares-get
- ``…/workbook/worksheets/{id|name}/range(address='<address>')`` (https://learn.microsoft.com/graph/api/range-get:
  "Application | Not supported", delegated Files.ReadWrite: a refused app-only token names ``login: device``);
  ``values`` raw (82% is 0.82), ``text`` as shown, ``valueTypes``: https://learn.microsoft.com/graph/api/resources/range
- $batch: "up to 20 requests", answers in any order (matched by id), a throttled member fails alone with 429:
  https://learn.microsoft.com/graph/json-batching
- No .xls ("aren't supported"), no OneDrive consumer: https://learn.microsoft.com/graph/api/resources/excel
- Excel: 1,500 requests per 10 s per app per tenant; 429/503 with Retry-After:
  https://learn.microsoft.com/graph/throttling-limits (Excel service limits)
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import reduce
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationInfo, field_validator, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Connector,
    EntraAuth,
    EntraConnection,
    FetchResult,
    HttpError,
    MetricParams,
    MetricQuery,
    TransientError,
    aggregate,
    retry_after_seconds,
    source_error,
)

GRAPH = "https://graph.microsoft.com"
BATCH = 20  # requests per $batch (json-batching: "up to 20 requests")
ROUNDS = 4  # batches sent again for members throttled (429) or unavailable (503, 504)
LIMIT = "1,500 requests per 10 seconds per app per tenant"
CONSUMER_HOSTS = ("1drv.ms", "onedrive.live.com")  # OneDrive personal: not supported by the Excel API
CELL = r"\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})"
RANGE = re.compile(rf"^(?:'((?:[^']|'')+)'|([^!']+))!{CELL}(?::{CELL})?$")
NUMBER_TYPES = ("Double", "Integer")


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


class ExcelOnlineConnection(EntraConnection):
    type: Literal["excel_online"]

    @field_validator("endpoint")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        """``endpoint`` replaces https://graph.microsoft.com: scheme, host and port, never /v1.0."""
        path = value.split("://", 1)[-1].partition("/")[2] if value and "${" not in value else ""
        if path:
            raise ValueError(f"scheme, host and port only (not the path /{path[:40]}): requests keep /v1.0")
        return value


class ExcelOnlineMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("latest", "sum", "avg", "min", "max", "count")
    workbook: str | None = None  # the file's sharing URL
    drive: str | None = None
    item: str | None = None
    range: str

    @model_validator(mode="after")
    def _one_workbook_and_a_range(self, info: ValidationInfo) -> ExcelOnlineMetric:
        if (self.workbook is None) == (self.drive is None or self.item is None):
            raise ValueError("give workbook: (the file's sharing URL) or drive: and item: (ids), one of them")
        if self.workbook is not None and urlsplit(self.workbook).scheme != "https":
            raise ValueError("workbook: is the file's sharing URL (https://...): Share > Copy link in Excel")
        cells = parse_range(self.range)
        size = (cells.bottom - cells.top + 1) * (cells.right - cells.left + 1)
        if size > 1 and not (info.context or {}).get("aggregate"):
            raise ValueError(
                f"range {self.range} holds {size} cells: add aggregate: (sum, avg, min, max, count or latest)"
            )
        return self


@dataclass(frozen=True)
class Book:
    drive: str
    item: str
    name: str | None = None  # known when resolved from a sharing URL


Key = tuple[str, str, str, str]  # drive, item, sheet, address


class ExcelOnlineSource(ApiSource[ExcelOnlineConnection, ExcelOnlineMetric]):
    api_root = GRAPH
    auth = EntraAuth(GRAPH)  # scope https://graph.microsoft.com/.default
    headers = {"Accept": "application/json"}
    limits = [(1500, 10.0)]  # Excel: 1,500 requests per 10 s per app per tenant (throttling-limits)
    token_hint = "the Entra ID keys of connection {name!r}"
    vendor = "Excel Online"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._books: dict[str, Book | Exception] = {}  # sharing URL -> its workbook, for this run
        self._names: dict[tuple[str, str], str | None] = {}  # drive, item -> file name, read after a refusal
        self._answers: dict[Key, Any] = {}  # each range's answer this run
        self._lock = threading.Lock()

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Graph's refusals of a whole request (a share, an item, a batch) in the user's terms."""
        if response.status_code in (429, 503):
            after = retry_after_seconds(response.headers.get("Retry-After"))
            return TransientError(f"Microsoft Graph is throttling this connection (Excel: {LIMIT})", after)
        if response.status_code in (400, 401, 403, 404):
            code, said = _error(response)
            raise HttpError(self.refused("the workbook", response.status_code, code, said), kind="bad_config")
        return None

    def refused(self, what: str, status: int, code: str, said: str) -> str:
        quoted = f" {code}" + (f": {said}" if said else "")
        if status in (401, 403):
            return (APP_ONLY if self.settings.login == "client" else USER).format(
                what=what, status=status, quoted=quoted, name=self.name
            )
        if status == 404:
            return f"{what} was not found (HTTP 404{quoted}): check the sheet name, the sharing URL or drive: and item:"
        return f"Microsoft Graph refused {what} (HTTP {status}{quoted})"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        """Every range of the run read first, in batches of 20; then each metric's value from its answer."""
        client, books = self.client(), dict[Key, Book]()
        try:
            for q in queries:
                with suppress(HttpError, ValueError):  # the metric's own read names the problem
                    books.update([self.key(client, q)])
            self._answers = self.read_ranges(client, books)
        finally:
            client.close()
        return super().fetch(queries)

    def key(self, client: ApiClient, q: MetricQuery) -> tuple[Key, Book]:
        cells, book = parse_range(q.params.range), self.book(client, q.params)
        return (book.drive, book.item, cells.sheet, cells.address()), book

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        """One metric's value from its range's answer (read now if :meth:`fetch` did not); errors name the cells."""
        try:
            key, book = self.key(client, q)
            answer = self._answers[key] if key in self._answers else self.read_ranges(client, {key: book})[key]
            return value(parse_range(q.params.range), answer, q.aggregate)
        except (HttpError, ValueError) as exc:
            message = getattr(exc, "message", str(exc))
            raise ValueError(message if "!" in message.split(" ", 1)[0] else f"{q.params.range}: {message}") from None

    def book(self, client: ApiClient, params: ExcelOnlineMetric) -> Book:
        if params.workbook is None:
            return Book(str(params.drive), str(params.item))
        with self._lock:  # once a run per sharing URL, whichever metric asks first
            if params.workbook not in self._books:
                try:
                    self._books[params.workbook] = self.resolve(client, params.workbook)
                except (HttpError, ValueError) as exc:
                    self._books[params.workbook] = exc
            found = self._books[params.workbook]
        if isinstance(found, Exception):
            raise found
        return found

    def resolve(self, client: ApiClient, url: str) -> Book:
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

    def read_ranges(self, client: ApiClient, books: dict[Key, Book]) -> dict[Key, Any]:
        """Each range's answer (or its error), 20 a batch; throttled members again after their Retry-After."""
        answers: dict[Key, Any] = {}
        todo = list(books)
        for _ in range(ROUNDS):
            again: list[Key] = []
            waits: list[float] = []
            for start in range(0, len(todo), BATCH):
                chunk = todo[start : start + BATCH]
                try:
                    members = self.batch(client, chunk)
                except HttpError as exc:
                    answers.update(dict.fromkeys(chunk, exc))
                    continue
                for key, (status, headers, body) in zip(chunk, members, strict=True):
                    if status in (429, 503, 504):
                        again.append(key)
                        waits.append(retry_after_seconds(headers.get("Retry-After")) or 1.0)
                    else:
                        answers[key] = body if status == 200 else self.member_error(client, key, books, status, body)
            if not again:
                return answers
            client.guard.pacer.pause(min(max(waits), client.guard.policy.max_delay))
            todo = again
        busy = f"Microsoft Graph kept throttling the workbook (Excel allows {LIMIT}): the next run tries again"
        answers.update(dict.fromkeys(todo, HttpError(busy, kind="retryable")))
        return answers

    def batch(self, client: ApiClient, keys: list[Key]) -> list[tuple[int, dict, Any]]:
        """One ``POST /v1.0/$batch``; each member's (status, headers, body) in the order of ``keys``."""
        requests = [{"id": str(n), "method": "GET", "url": _range_url(key)} for n, key in enumerate(keys, 1)]
        data = client.json("POST", "/v1.0/$batch", json={"requests": requests})
        responses = data.get("responses") if isinstance(data, dict) else None
        by_id = {str(r.get("id")): r for r in responses or [] if isinstance(r, dict)}
        if not isinstance(responses, list) or set(by_id) != {r["id"] for r in requests}:
            raise HttpError("Microsoft Graph answered the $batch without a response for each request", kind="fatal")
        members = [by_id[r["id"]] for r in requests]
        return [(m.get("status") or 0, _headers(m.get("headers")), m.get("body")) for m in members]

    def member_error(self, client: ApiClient, key: Key, books: dict[Key, Book], status: int, body: Any) -> HttpError:
        code, said = _error(body)
        name = None if status in (401, 403, 404) else self.name_of(client, books[key])
        if re.search(r"\.xls\b", f"{name} {said}", re.I):
            return HttpError(XLS.format(name=name or "the workbook"), kind="bad_config", status=status)
        what = f"sheet {key[2]!r}" if status == 404 else "the range"
        return HttpError(self.refused(what, status, code, said), kind="bad_config", status=status)

    def name_of(self, client: ApiClient, book: Book) -> str | None:
        """The workbook's file name: known from its sharing URL, else read once (a refused workbook only)."""
        with self._lock:
            if book.name is None and (book.drive, book.item) not in self._names:
                try:
                    item = client.json("GET", f"/v1.0{_item(book.drive, book.item)}")
                except HttpError:
                    item = None
                self._names[(book.drive, book.item)] = str(item.get("name")) if isinstance(item, dict) else None
            return book.name or self._names.get((book.drive, book.item))

    def check(self) -> str:
        """The token, then each workbook the metrics name: its worksheets (app-only refusals show here)."""
        client, seen = self.client(), set()
        try:
            seen = {(b.drive, b.item) for b in (self.book(client, p) for p in self.metrics)}
            for drive, item in seen:
                client.json("GET", f"/v1.0{_item(drive, item)}/workbook/worksheets")
        except (HttpError, ValueError) as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        finally:
            client.close()
        return f"token accepted; the worksheets of {len(seen)} workbook(s) listed"


CONSUMER = "the workbook is in OneDrive personal (consumer), which the Excel API does not support: move it to "
CONSUMER += "OneDrive for Business or SharePoint"
APP_ONLY = "Microsoft Graph refused the app's own token for {what} (HTTP {status}{quoted}); its Excel range pages "
APP_ONLY += "list application permissions as not supported: sign in as a user, with login: device and token_cache: "
APP_ONLY += "on connection '{name}' (delegated permission Files.ReadWrite), then run `okrsync login {name}`"
USER = "the user signed in for connection '{name}' may not read {what} (HTTP {status}{quoted}): share the workbook "
USER += "with them, or grant the delegated permission Files.ReadWrite; `okrsync login {name}` signs in again"
XLS = "{name} is an .xls file, which the Excel API does not open (Office Open XML only): save it as .xlsx in "
XLS += "Excel (File > Save As) and point the metric at the new file"


def value(cells: Cells, answer: Any, how: str | None) -> float:
    """The cell's number, or the aggregate over the range's numeric cells (raw ``values``; ``text`` only to
    explain a cell that is not a number; an error cell fails the metric, named)."""
    if isinstance(answer, Exception):
        raise answer
    rows, kinds, texts = (answer.get(k) if isinstance(answer, dict) else None for k in ("values", "valueTypes", "text"))
    if not isinstance(rows, list):
        raise ValueError("Microsoft Graph answered the range without values")
    numbers: list[float] = []
    for r, row in enumerate(rows):
        for c, raw in enumerate(row if isinstance(row, list) else []):
            kind = _at(kinds, r, c) or ("Empty" if raw in (None, "") else "Double" if _numeric(raw) else "String")
            if kind in NUMBER_TYPES and _numeric(raw):
                numbers.append(float(raw))
            elif kind == "Error":
                raise ValueError(f"{cells.cell(r, c)} holds the error {raw}")
            elif kind != "Empty" and not how:
                shown = _at(texts, r, c) if _at(texts, r, c) not in (None, "") else raw
                raise ValueError(f"{cells.cell(r, c)} holds {str(kind).lower()} {shown!r}, not a number")
    if not how:
        if not numbers:
            raise ValueError(f"{cells.cell(0, 0)} is empty")
        return numbers[0]
    if not numbers and how not in ("sum", "count"):
        raise ValueError(f"no numeric cells to take the {how} of")
    return aggregate(numbers, how)


def _at(grid: Any, r: int, c: int) -> Any:
    try:
        return grid[r][c]
    except (TypeError, IndexError, KeyError):
        return None


def _headers(given: Any) -> dict[str, str]:
    return {str(k).title(): str(v) for k, v in given.items()} if isinstance(given, dict) else {}


def _item(drive: str, item: str) -> str:
    return f"/drives/{quote(drive, safe='')}/items/{quote(item, safe='')}"


def _range_url(key: Key) -> str:
    """A batch member's URL (relative to /v1.0): the sheet name percent-encoded as one path segment."""
    return f"{_item(key[0], key[1])}/workbook/worksheets/{quote(key[2], safe='')}/range(address='{key[3]}')"


def _error(body: Any) -> tuple[str, str]:
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


def _numeric(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def _number(column: str) -> int:
    return reduce(lambda n, letter: n * 26 + ord(letter) - 64, column.upper(), 0)


def _column(n: int) -> str:
    return _column((n - 1) // 26) + chr(65 + (n - 1) % 26) if n else ""


def _sheet_ref(sheet: str) -> str:
    return sheet if re.fullmatch(r"\w+", sheet) else "'" + sheet.replace("'", "''") + "'"


connector = Connector(
    "excel_online",
    connection=ExcelOnlineConnection,
    metric=ExcelOnlineMetric,
    source=ExcelOnlineSource,
    description="Excel Online workbooks (Microsoft Graph)",
)
