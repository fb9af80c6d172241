"""Smartsheet: one cell of a sheet, or a column's sum, average, count, minimum or maximum over its rows.

Connection: a ``token`` (an API access token, by ``${ENV}``), ``region`` (``us`` by default, ``eu``, ``au`` or
``gov``: each has its own host and its own tokens), ``endpoint`` to replace the region's host (scheme, host and
port: a proxy or an emulator). Metric: ``sheet`` (the sheet's id, File > Properties) and ``column`` (its title);
then either ``row`` (the row number as the sheet shows it) or ``row_id`` for one cell, or ``aggregate``
(``sum``, ``avg``, ``count``, ``min``, ``max``) over the column's cells, optionally only the rows where
``where: {column: <title>, equals: <value>}``. Numbers are the cells' raw ``value`` (a percentage cell holds
0.5 for 50 %); an empty cell is skipped (``count`` counts the cells that hold anything), and text where a
number is expected is an error naming the row and the column.

Vendor rules followed here:
- Base URLs: https://api.smartsheet.com/2.0, https://api.smartsheet.eu/2.0, https://api.smartsheet.au/2.0,
  https://api.smartsheetgov.com/2.0; tokens of one do not work on another. Every request carries
  ``Authorization: Bearer <token>``. https://developers.smartsheet.com/api/smartsheet/introduction,
  https://developers.smartsheet.com/api/smartsheet/guides/basics/authentication
- ``GET /sheets/{sheetId}`` with ``rowNumbers`` / ``rowIds`` (one row), ``columnIds`` (only those cells),
  ``page`` and ``pageSize``; the answer carries ``columns`` (id, title, type) and ``totalRowCount``. A page past
  the last one returns the last page again, so the pages are counted from ``totalRowCount``, never read until an
  empty one. https://developers.smartsheet.com/api/smartsheet/openapi/sheets/getsheet (operation getSheet of
  Smartsheet's OpenAPI; its token-based pagination, with the June 2026 removal of ``page``/``pageSize``, is for
  list endpoints such as workspaces and webhooks, not for a sheet's rows:
  https://developers.smartsheet.com/api/smartsheet/guides/basics/pagination)
- Cells: ``value`` is the raw value (a number, a string, a Boolean), ``displayValue`` the formatted text;
  the raw value is read; "An empty cell returns no value", and a CHECKBOX cell is "true if the checkbox is
  checked, false if unchecked, no value if the cell hasn't been touched yet", so ``where: {equals: false}`` keeps
  the untouched ones too. https://developers.smartsheet.com/api/smartsheet/openapi/cells (Cell Value
  Representation, as smartsheet.redoc.ly/tag/cellsRelated serves it)
- A sheet holds at most 500,000 cells (so at most 20,000 rows of 25 columns): pages of 1,000 rows with
  only the two columns read. https://developers.smartsheet.com/api/smartsheet/guides/limitations
- 300 requests a minute per access token; past it, 429 with ``errorCode`` 4003 "Rate limit exceeded.", retried
  after ``Retry-After`` when sent, else with backoff. https://developers.smartsheet.com/api/smartsheet/guides/
  advanced-topics/scalability-options (the search index showed that page only in part: the figure is as
  integration guides quote it), https://www.smartsheet.com/rate-limits-retry-logic-and-error-
  handling-with-smartsheet-api (the 4003 body)
- Errors: ``{"errorCode", "message", "refId"}`` (the OpenAPI's Error schema); 401 the token is missing, invalid
  or expired (1001-1003), 403 the user may not do this (1004), 404 not found (1006): both quoted with the refId
  Smartsheet support asks for. https://developers.smartsheet.com/api/smartsheet/error-codes (the codes as
  commonly quoted; that page was not read whole here)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, ValidationInfo, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    BearerToken,
    Connector,
    HttpError,
    MetricParams,
    MetricQuery,
    RemoteConnection,
    Strict,
    TransientError,
    aggregate,
    retry_after_seconds,
)

REGIONS = {
    "us": "https://api.smartsheet.com",
    "eu": "https://api.smartsheet.eu",
    "au": "https://api.smartsheet.au",
    "gov": "https://api.smartsheetgov.com",
}
PAGE = 1000  # rows a page (pageSize); Smartsheet states no maximum for sheets (reports: 10,000)
SHEET_PATH = re.compile(r"/sheets/(\d+)")


class SmartsheetConnection(RemoteConnection):
    type: Literal["smartsheet"]
    token: str
    region: Literal["us", "eu", "au", "gov"] = Field("us", description="the Smartsheet region the account lives in")

    endpoint_adds = "okrsync adds /2.0 itself"


class SmartsheetWhere(Strict):
    column: str = Field(description="a column's title")
    equals: str | float | bool = Field(description="the value its cell holds in the rows to keep")


class SmartsheetMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("sum", "avg", "count", "min", "max")
    sheet: int = Field(gt=0, description="the sheet's id (File > Properties > Sheet ID)")
    column: str = Field(description="the column's title")
    row: int | None = Field(None, ge=1, description="a row number, as the sheet shows it: one cell")
    row_id: int | None = Field(None, gt=0, description="a row's id: one cell")
    where: SmartsheetWhere | None = None

    @model_validator(mode="after")
    def _a_cell_or_an_aggregate(self, info: ValidationInfo) -> SmartsheetMetric:
        how = (info.context or {}).get("aggregate")  # okrsync.config.bind hands the metric's aggregate in
        cell = self.row is not None or self.row_id is not None
        if self.row is not None and self.row_id is not None:
            raise ValueError("give row: (a row number) or row_id:, not both")
        if cell and (how or self.where):
            raise ValueError("row: and row_id: name one cell; aggregate: and where: are for a whole column")
        if not cell and not how:
            raise ValueError("give row: (one cell) or aggregate: (sum, avg, count, min or max over the column)")
        return self


class SmartsheetSource(ApiSource[SmartsheetConnection, SmartsheetMetric]):
    api_root = REGIONS["us"]
    auth = BearerToken()
    headers = {"Accept": "application/json"}
    limits = [(300, 60.0)]  # "300 requests per minute per API access token" (scalability options)
    token_hint = "the access token of connection {name!r} (it may have been revoked, or be of another region)"
    vendor = "Smartsheet"

    def root(self) -> str:
        """``endpoint:``, else the region's host; the API's version path ``/2.0`` is added to either."""
        settings = self.settings
        host = super().root() if settings.endpoint else REGIONS[settings.region]
        return f"{host}/2.0"

    def check_paths(self) -> list[str]:
        """Each sheet the metrics read, one row of it: the token, the region and each sheet's sharing."""
        return [f"/sheets/{s}?pageSize=1&page=1" for s in sorted({m.sheet for m in self.metrics})]

    def describe_check(self, answer: object) -> str:
        name = answer.get("name") if isinstance(answer, dict) else None
        return f"token accepted; sheets readable (last: {name!r})"

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Smartsheet's refusals in its own terms (errorCode, message, refId), naming the sheet and the fix."""
        if response.status_code in (401, 403, 404):
            raise self.refusal(response)
        if response.status_code == 429:
            code, message, _ = _error(response)
            named = f" (errorCode {code}: {message})" if code else ""
            return TransientError(
                f"Smartsheet rate limit{named}",
                retry_after_seconds(response.headers.get("Retry-After")),
                throttled=True,
            )
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, (code, message, ref) = response.status_code, _error(response)
        found = SHEET_PATH.search(response.request.url.path) if response.request else None
        sheet = f"sheet {found.group(1)}" if found else "the sheet"
        quoted = f" (errorCode {code}: {message}{f'; refId {ref}' if ref else ''})" if code or message else ""
        if status == 401:
            text = f"HTTP 401: Smartsheet did not accept {self.token_hint.format(name=self.name)}{quoted}"
        elif status == 403:
            text = (
                f"HTTP 403: the token's user may not view {sheet}{quoted}: share the sheet with that user "
                "(Viewer is enough)"
            )
        else:
            text = (
                f"HTTP 404: {sheet} not found{quoted}: check sheet: (File > Properties > Sheet ID) and "
                f"region: ({self.settings.region}) of connection {self.name!r}"
            )
        return HttpError(REDACTOR(text), kind="bad_config", status=status)

    def read(self, client: ApiClient, q: MetricQuery[SmartsheetMetric]) -> float:
        p = q.params
        if p.row is not None or p.row_id is not None:
            return self.cell(client, p)
        head = self.sheet(client, p.sheet, {"pageSize": 1, "page": 1})
        columns = _columns(head)
        column = _find(columns, p.column, p.sheet)
        where = _find(columns, p.where.column, p.sheet) if p.where else None
        unticked = where is not None and _kind(head, where) == "CHECKBOX"  # an untouched checkbox holds no value
        wanted = [column] + ([where] if where is not None and where != column else [])
        values = []
        for row in self.rows(client, p.sheet, _total(head), wanted):
            cells = {c.get("columnId"): c for c in row.get("cells") or [] if isinstance(c, dict)}
            held = cells.get(where, {}).get("value")
            if p.where and not _equals(False if held is None and unticked else held, p.where.equals):
                continue
            value = cells.get(column, {}).get("value")
            if value is None or value == "":
                continue
            values.append(1.0 if q.aggregate == "count" else _number(value, row, p))
        how = str(q.aggregate)
        if not values and how not in ("sum", "count"):
            kept = " in the rows kept by where:" if p.where else ""
            raise ValueError(f"column {p.column!r} of sheet {p.sheet} has no number{kept} to take the {how} of")
        return float(len(values)) if how == "count" else aggregate(values, how)

    def cell(self, client: ApiClient, p: SmartsheetMetric) -> float:
        params = {"rowNumbers": p.row} if p.row is not None else {"rowIds": p.row_id}
        sheet = self.sheet(client, p.sheet, params)
        column = _find(_columns(sheet), p.column, p.sheet)
        rows = [r for r in sheet.get("rows") or [] if isinstance(r, dict)]
        if not rows:
            which = f"row {p.row}" if p.row is not None else f"row with id {p.row_id}"
            raise ValueError(f"sheet {p.sheet} has no {which} (it has {_total(sheet)} rows)")
        value = next((c.get("value") for c in rows[0].get("cells") or [] if c.get("columnId") == column), None)
        if value is None or value == "":
            raise ValueError(f"sheet {p.sheet}, row {rows[0].get('rowNumber')}, column {p.column!r} is empty")
        return _number(value, rows[0], p)

    def sheet(self, client: ApiClient, sheet: int, params: dict[str, Any]) -> dict:
        answer = client.json("GET", f"/sheets/{sheet}", params=params)
        if not isinstance(answer, dict) or not isinstance(answer.get("columns"), list):
            raise ValueError(f"Smartsheet answered sheet {sheet} without its columns")
        return answer

    def rows(self, client: ApiClient, sheet: int, total: int, columns: list[int]) -> Iterator[dict]:
        """Every row, ``PAGE`` at a time, with the cells of ``columns`` only; the pages counted from the total
        (asking past the last page returns the last page again)."""
        ids = ",".join(str(c) for c in columns)
        for page in range(1, math.ceil(total / PAGE) + 1):
            answer = self.sheet(client, sheet, {"columnIds": ids, "pageSize": PAGE, "page": page})
            yield from (r for r in answer.get("rows") or [] if isinstance(r, dict))


def _columns(sheet: dict) -> dict[str, int]:
    return {str(c.get("title")): c["id"] for c in sheet["columns"] if isinstance(c, dict) and "id" in c}


def _kind(sheet: dict, column: int) -> str:
    """A column's type (TEXT_NUMBER, CHECKBOX, PICKLIST ...), by its id."""
    return next((str(c.get("type")) for c in sheet["columns"] if isinstance(c, dict) and c.get("id") == column), "")


def _find(columns: dict[str, int], title: str, sheet: int) -> int:
    """A column's id by its title (or by its id written as a number)."""
    if title in columns:
        return columns[title]
    by_id = next((i for i in columns.values() if str(i) == title), None)
    if by_id is None:
        known = ", ".join(repr(t) for t in list(columns)[:15])
        raise ValueError(f"sheet {sheet} has no column {title!r}; its columns: {known}")
    return by_id


def _total(sheet: dict) -> int:
    total = sheet.get("totalRowCount")
    if not isinstance(total, int):
        raise ValueError(f"Smartsheet answered sheet {sheet.get('id')} without totalRowCount")
    return total


def _equals(value: Any, wanted: str | float | bool) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool):
        return value is wanted
    if isinstance(wanted, int | float) and isinstance(value, int | float):
        return float(value) == float(wanted)
    return str(value) == str(wanted)


def _number(value: Any, row: dict, p: SmartsheetMetric) -> float:
    """A cell's raw value as a number; text (or a checkbox) is an error naming the cell."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(
        f"sheet {p.sheet}, row {row.get('rowNumber')}, column {p.column!r} holds {str(value)[:40]!r}, not a number"
    )


def _error(response: httpx.Response) -> tuple[Any, str, str]:
    """Smartsheet's error body: errorCode, message, refId (absent: empty)."""
    try:
        body = response.json()
    except ValueError:
        return None, "", ""
    if not isinstance(body, dict):
        return None, "", ""
    return body.get("errorCode"), str(body.get("message") or "")[:200], str(body.get("refId") or "")[:40]


connector = Connector(
    "smartsheet",
    connection=SmartsheetConnection,
    metric=SmartsheetMetric,
    source=SmartsheetSource,
    description="Smartsheet sheets",
)
