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

import re
import threading
from collections.abc import Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import quote

import httpx

from okrsync.connectors.excel_online import ExcelOnlineConnection, ExcelOnlineMetric
from okrsync.connectors.excel_online.workbook import GRAPH, XLS, Book, Cells, error_of, item_path, parse_range
from okrsync.connectors.excel_online.workbook import refused as explain
from okrsync.connectors.excel_online.workbook import resolve as resolve_share
from okrsync.sdk import (
    ApiClient,
    ApiSource,
    EntraAuth,
    FetchResult,
    HttpError,
    MetricQuery,
    TransientError,
    aggregate,
    retry_after_seconds,
    source_error,
)

BATCH = 20  # requests per $batch (json-batching: "up to 20 requests")
ROUNDS = 4  # batches sent again for members throttled (429) or unavailable (503, 504)
LIMIT = "1,500 requests per 10 seconds per app per tenant"
NUMBER_TYPES = ("Double", "Integer")


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
            code, said = error_of(response)
            raise HttpError(self.refused("the workbook", response.status_code, code, said), kind="bad_config")
        return None

    def refused(self, what: str, status: int, code: str, said: str) -> str:
        return explain(what, status, code, said, login=self.settings.login, name=self.name)

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
        return resolve_share(client, url)

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
                        answers[key] = body if status == 200 else self.membererror_of(client, key, books, status, body)
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

    def membererror_of(self, client: ApiClient, key: Key, books: dict[Key, Book], status: int, body: Any) -> HttpError:
        code, said = error_of(body)
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
                    item = client.json("GET", f"/v1.0{item_path(book.drive, book.item)}")
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
                client.json("GET", f"/v1.0{item_path(drive, item)}/workbook/worksheets")
        except (HttpError, ValueError) as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        finally:
            client.close()
        return f"token accepted; the worksheets of {len(seen)} workbook(s) listed"


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


def _range_url(key: Key) -> str:
    """A batch member's URL (relative to /v1.0): the sheet name percent-encoded as one path segment."""
    return f"{item_path(key[0], key[1])}/workbook/worksheets/{quote(key[2], safe='')}/range(address='{key[3]}')"


def _numeric(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)
