"""monday.com: the items of a board (optionally those with a status), counted, or a numbers column summed.

Connection: a ``token`` (a personal API token, by ``${ENV}``), ``endpoint`` to replace https://api.monday.com
(scheme, host and port: a proxy or an emulator). Metric: ``board`` (the board's id, the number in its URL),
``where: {column: <column id or title>, any_of: [labels or label ids]}`` to keep the items whose column holds
one of the values, and ``aggregate``: ``count`` (default) of the items, or ``sum`` / ``avg`` / ``min`` /
``max`` of the numbers column named by ``column`` (an item whose cell is empty is skipped).

Vendor rules followed here (API version 2026-10, the current one since 2026-10-26):
- One endpoint, ``POST https://api.monday.com/v2`` with ``{"query", "variables"}``; the token goes as is in
  ``Authorization`` and the version in ``API-Version`` (the request sample of the items-page reference).
  https://developer.monday.com/api-reference/docs/api-versioning,
  https://developer.monday.com/api-reference/changelog/2026-10-is-now-the-current-api-version
- Items are read with ``boards(ids:) { items_page(limit:, query_params:) { cursor items { ... } } }``, then
  ``next_items_page(cursor:, limit:)`` until the cursor is null; at most 500 items a page, a cursor lives 60
  minutes; numbers come from ``... on NumbersValue { number }`` (the published schema's type).
  https://developer.monday.com/api-reference/reference/items-page,
  https://developer.monday.com/api-reference/docs/querying-board-items
- A status column is filtered by what the status page calls the label's index (``compare_value: [1]`` with
  ``any_of``; 5 is the blank label): in the column's ``settings`` (a JSON object since 2025-10, ``settings_str``
  deprecated) that is each label's ``id``, not its ``index`` (the label's position on the board; the changelog's
  example has Done at id 1, index 2), and monday's own agent toolkit filters by the "id of label from column
  settings". A label written as text here is turned into its id so that "Done" never matches "Not done".
  https://developer.monday.com/api-reference/reference/status,
  https://developer.monday.com/api-reference/changelog/deprecating-settings_str-field-on-columns,
  https://github.com/mondaycom/mcp (packages/agent-toolkit/src/core/tools/platform-api-tools/utils/
  column-filter-aggregation-guidelines.ts, at cd3690e5)
- Errors: application errors come with HTTP 200 and an ``errors`` array (partial data possible: any error
  fails the metric), transport errors with 4xx/5xx; before 2025-01 some came as ``error_code`` /
  ``error_message`` at the top level. https://developer.monday.com/api-reference/docs/error-handling
- Limits: each query costs complexity points against a per-minute budget; every query here asks for
  ``complexity { query after reset_in_x_seconds }`` and waits for the reset when the next query would not
  fit. ``COMPLEXITY_BUDGET_EXHAUSTED`` (``ComplexityException`` in older versions), ``Rate Limit Exceeded``,
  ``maxConcurrencyExceeded`` and ``IP_RATE_LIMIT_EXCEEDED`` wait for ``retry_in_seconds`` or ``Retry-After``
  and are retried; ``DAILY_LIMIT_EXCEEDED`` (200 to 25,000 calls a day by plan, reset at midnight UTC) stops
  the connection for the run. https://developer.monday.com/api-reference/docs/rate-limits,
  https://developer.monday.com/api-reference/changelog/breaking-change-updated-complexity-budget-exhausted-error,
  https://support.monday.com/hc/en-us/articles/26471164460690-API-Rate-Limits
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, ValidationInfo, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Connector,
    HeaderToken,
    HttpError,
    MetricParams,
    MetricQuery,
    PageRequest,
    Paginator,
    RemoteConnection,
    Strict,
    TransientError,
    aggregate,
    retry_after_seconds,
    source_error,
)

API_VERSION = "2026-10"
PAGE = 500  # items_page's "Maximum: 500"
COMPLEXITY = "complexity { query after reset_in_x_seconds }"
COUNTED = "cursor items { id }"
NUMBERS = "cursor items { id column_values(ids: $columns) { id ... on NumbersValue { number } } }"


def first_page(items: str) -> str:
    """``boards { items_page }``: the first page, its filter in ``$params`` (variables: no escaping)."""
    columns = ", $columns: [String!]" if "$columns" in items else ""
    return (
        f"query ($board: [ID!], $limit: Int!, $params: ItemsQuery{columns}) {{ {COMPLEXITY} "
        f"boards(ids: $board) {{ id items_page(limit: $limit, query_params: $params) {{ {items} }} }} }}"
    )


def next_page(items: str) -> str:
    columns = ", $columns: [String!]" if "$columns" in items else ""
    return (
        f"query ($cursor: String!, $limit: Int!{columns}) {{ {COMPLEXITY} "
        f"next_items_page(cursor: $cursor, limit: $limit) {{ {items} }} }}"
    )


COLUMNS = (
    f"query ($board: [ID!]) {{ {COMPLEXITY} boards(ids: $board) {{ id name columns {{ id title type settings }} }} }}"
)
BOARDS = f"query ($boards: [ID!]) {{ {COMPLEXITY} boards(ids: $boards, limit: 100) {{ id name }} }}"
SLOW_DOWN = {  # "wait and retry" answers (codes, and a message), in the spellings of old and new versions
    "COMPLEXITY_BUDGET_EXHAUSTED",
    "ComplexityException",
    "complexityBudgetExhausted",
    "RATE_LIMIT_EXCEEDED",
    "rateLimitExceeded",
    "Rate Limit Exceeded",
    "maxConcurrencyExceeded",
    "IP_RATE_LIMIT_EXCEEDED",
}
DAILY = "DAILY_LIMIT_EXCEEDED"
UNAUTHENTICATED, FORBIDDEN = {"UNAUTHENTICATED", "Unauthorized", "NotAuthenticated"}, {"UserUnauthorizedException"}
NOT_FOUND = {"ResourceNotFoundException", "InvalidBoardIdException", "InvalidColumnIdException"}
NO_BOARD = (
    "board {} not found, or not shared with the token's user: check board: (the number in the board's URL) and "
    "share the board with the user whose token this is"
)
RESET_IN = re.compile(r"reset in (\d+(?:\.\d+)?) seconds?")  # the 2024-10 ComplexityException's text


class MondayConnection(RemoteConnection):
    type: Literal["monday"]
    token: str

    endpoint_adds = "okrsync adds /v2 itself"


class MondayWhere(Strict):
    column: str = Field(description="the column's id (as in the column menu's 'Column ID') or its title")
    any_of: list[str | int] = Field(min_length=1, description="status labels (or their ids), or values")


class MondayMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum", "avg", "min", "max")
    board: int = Field(gt=0, description="the board's id: the number in its URL")
    where: MondayWhere | None = None
    column: str | None = Field(None, description="a numbers column (id or title), for sum, avg, min and max")

    @model_validator(mode="after")
    def _column_with_its_aggregate(self, info: ValidationInfo) -> MondayMetric:
        how = (info.context or {}).get("aggregate") or "count"  # okrsync.config.bind hands the aggregate in
        if how != "count" and not self.column:
            raise ValueError(f"aggregate {how} needs column: (a numbers column of the board, e.g. numbers_3)")
        if how == "count" and self.column:
            raise ValueError("column: is for sum, avg, min and max; a count counts the items")
        return self


@dataclass(frozen=True)
class GraphQLError:
    message: str
    code: str
    retry_in: float | None


def graphql_errors(response: httpx.Response) -> list[GraphQLError]:
    """monday's errors in either shape: ``errors: [{message, extensions: {code, retry_in_seconds}}]`` (2025-01
    and later) or ``error_code`` / ``error_message`` at the top level (2024-10 and earlier)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    found = []
    for error in body.get("errors") or []:
        if isinstance(error, str):
            found.append(GraphQLError(error, str(body.get("error_code") or ""), None))
        elif isinstance(error, dict):
            ext = error.get("extensions")
            ext = ext if isinstance(ext, dict) else {}
            wait = _seconds(ext.get("retry_in_seconds"))
            found.append(GraphQLError(str(error.get("message") or ""), str(ext.get("code") or ""), wait))
    if not found and (body.get("error_code") or body.get("error_message")):
        found.append(GraphQLError(str(body.get("error_message") or ""), str(body.get("error_code") or ""), None))
    return found


def said(errors: list[GraphQLError]) -> str:
    """monday's own words, short and redacted: ``message (code)``, joined."""
    text = "; ".join(f"{e.message} ({e.code})" if e.code else e.message for e in errors)
    return REDACTOR(text)[:300]


@dataclass
class ItemsCursor(Paginator):
    """``items_page``'s cursor, then ``next_items_page``'s, until one is null (monday's pagination guide)."""

    def advance(self, sent: PageRequest, data: Any, headers: Any) -> PageRequest | None:
        cursor = self.once(items_page(data).get("cursor"))
        if cursor is None:
            return None
        asked = (sent.json or {}).get("variables", {})
        variables = {"cursor": cursor, "limit": PAGE}
        items = NUMBERS if "columns" in asked else COUNTED
        if "columns" in asked:
            variables["columns"] = asked["columns"]
        return PageRequest("/v2", json={"query": next_page(items), "variables": variables})


def items_page(data: Any) -> dict:
    """The ``ItemsResponse`` of a first page (under ``boards``) or of a next page; {} when absent."""
    data = data.get("data") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        return {}
    page = data.get("next_items_page")
    if page is None:
        boards = data.get("boards") or [{}]
        page = boards[0].get("items_page") if isinstance(boards[0], dict) else None
    return page if isinstance(page, dict) else {}


class MondaySource(ApiSource[MondayConnection, MondayMetric]):
    api_root = "https://api.monday.com"
    auth = HeaderToken("Authorization")  # the token itself, no scheme (authentication page)
    headers = {"API-Version": API_VERSION, "Content-Type": "application/json"}
    # the minute and concurrency limits depend on the plan (numbers for every plan were not found on monday's
    # pages); complexity binds reads, and every answer's is heeded (heed_complexity): 200 queries a minute here
    limits = [(200, 60.0)]
    token_hint = "the API token of connection {name!r} (it may have been regenerated or its user deactivated)"
    vendor = "monday.com"
    pagination = ItemsCursor()

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """monday's answers before the shared classification: "slow down" (retried after the wait it names),
        and every other error, transport or application (HTTP 200 with ``errors``), as a plain refusal."""
        errors = graphql_errors(response)
        codes = {e.code for e in errors} | {e.message for e in errors}
        if DAILY in codes:
            return None  # the allocation hook stops the connection
        if response.status_code == 429 or codes & SLOW_DOWN:
            wait = next((e.retry_in for e in errors if e.retry_in is not None), None)
            wait = wait if wait is not None else retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None and (found := RESET_IN.search(said(errors))):
                wait = float(found.group(1))
            return TransientError(f"monday.com asked to slow down: {said(errors) or 'HTTP 429'}", wait, throttled=True)
        if errors and (response.is_success or 400 <= response.status_code < 500):
            raise self.refusal(response.status_code, errors)
        return None

    def allocation(self, response: httpx.Response) -> str | None:
        if any(DAILY in (e.code, e.message) for e in graphql_errors(response)):
            return (
                "monday.com's daily call limit of the account is used up (DAILY_LIMIT_EXCEEDED; it resets at "
                "midnight UTC): nothing more is sent to it this run"
            )
        return None

    def refusal(self, status: int, errors: list[GraphQLError]) -> HttpError:
        codes = {e.code for e in errors}
        quoted = said(errors)
        if status == 401 or codes & UNAUTHENTICATED:
            text = f"monday.com did not accept {self.token_hint.format(name=self.name)}: {quoted}"
            return HttpError(text, kind="bad_config", status=401)
        if status == 403 or codes & FORBIDDEN:
            text = (
                f"the token of connection {self.name!r} may not read this board ({quoted}): share the board with "
                "the token's user, or use a token with the boards:read scope"
            )
            return HttpError(text, kind="bad_config", status=403)
        if status == 404 or codes & NOT_FOUND:
            return HttpError(f"monday.com did not find it: {quoted}: check board: and the column", kind="bad_config")
        return HttpError(f"monday.com refused the query: {quoted}", kind="fatal", status=status)

    def graphql(self, client: ApiClient, query: str, variables: dict) -> dict:
        answer = client.json("POST", "/v2", json={"query": query, "variables": variables})
        self.heed_complexity(client, answer)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise ValueError("monday.com answered without data")
        return data

    @staticmethod
    def heed_complexity(client: ApiClient, answer: Any) -> None:
        """Too little budget left for another query like this one: hold the connection until monday's reset."""
        data = answer.get("data") if isinstance(answer, dict) else None
        spent = data.get("complexity") if isinstance(data, dict) else None
        if not isinstance(spent, dict):
            return
        after, cost, reset = (_seconds(spent.get(k)) for k in ("after", "query", "reset_in_x_seconds"))
        if after is not None and cost is not None and reset is not None and after < cost:
            client.guard.pacer.pause(min(reset, 60.0))

    def check(self) -> str:
        """The boards the metrics read, by name: the token, the version and each board's sharing at once."""
        boards = sorted({m.board for m in self.metrics})
        client = self.client()
        try:
            data = self.graphql(client, BOARDS, {"boards": [str(b) for b in boards]})
        except HttpError as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        except ValueError as exc:
            raise self.error(str(exc)) from None
        finally:
            client.close()
        seen = {str(b.get("id")): b.get("name") for b in data.get("boards") or [] if isinstance(b, dict)}
        missing = [str(b) for b in boards if str(b) not in seen]
        if missing:
            raise self.error(f"board(s) {', '.join(missing)} not found or not shared with the token's user")
        named = ", ".join(f"board {b} ({seen[str(b)]})" for b in boards)
        return f"token accepted; {named}" if named else "token accepted"

    def read(self, client: ApiClient, q: MetricQuery[MondayMetric]) -> float:
        p, how = q.params, q.aggregate or "count"
        columns = self.columns(client, p.board) if (p.where or p.column) else {}
        value_column = self.numbers_column(columns, p) if p.column else None
        params = {"rules": [self.rule(columns, p)]} if p.where else None
        count, values = 0, []
        for item in self.items(client, p.board, params, [value_column] if value_column else []):
            count += 1
            if value_column and (number := _number(item, value_column, p.board)) is not None:
                values.append(number)
        if how == "count":
            return float(count)
        if not values and how != "sum":
            raise ValueError(f"no item of board {p.board} has a number in column {p.column!r} to take the {how} of")
        return aggregate(values, how)

    def items(self, client: ApiClient, board: int, params: dict | None, columns: list[str]) -> Iterator[dict]:
        variables: dict[str, Any] = {"board": [str(board)], "limit": PAGE, "params": params}
        if columns:
            variables["columns"] = columns
        first = PageRequest("/v2", json={"query": first_page(NUMBERS if columns else COUNTED), "variables": variables})
        for answer in self.pages(client, "POST", first):
            self.heed_complexity(client, answer)
            data = answer.get("data") if isinstance(answer, dict) else None
            if isinstance(data, dict) and data.get("boards") == []:
                raise ValueError(NO_BOARD.format(board))
            page = items_page(answer)
            if not isinstance(page.get("items"), list):
                raise ValueError(f"monday.com answered board {board}'s items without a list of items")
            yield from (item for item in page["items"] if isinstance(item, dict))

    def columns(self, client: ApiClient, board: int) -> dict[str, dict]:
        """The board's columns by id (each with its title, type and settings)."""
        boards = self.graphql(client, COLUMNS, {"board": [str(board)]}).get("boards") or []
        if not boards or not isinstance(boards[0], dict):
            raise ValueError(NO_BOARD.format(board))
        return {str(c.get("id")): c for c in boards[0].get("columns") or [] if isinstance(c, dict)}

    @staticmethod
    def find(columns: dict[str, dict], name: str, board: int) -> dict:
        """A column by id, else by title; an unknown one is an error listing what the board has."""
        found = columns.get(name) or next((c for c in columns.values() if c.get("title") == name), None)
        if found is None:
            known = ", ".join(f"{c.get('id')} ({c.get('title')})" for c in list(columns.values())[:12])
            raise ValueError(f"board {board} has no column {name!r}; its columns: {known}")
        return found

    def numbers_column(self, columns: dict[str, dict], p: MondayMetric) -> str:
        column = self.find(columns, str(p.column), p.board)
        if column.get("type") != "numbers":
            raise ValueError(
                f"column {p.column!r} of board {p.board} is a {column.get('type')} column: "
                "sum, avg, min and max need a numbers column"
            )
        return str(column["id"])

    def rule(self, columns: dict[str, dict], p: MondayMetric) -> dict:
        """``where`` as an ItemsQueryRule; a status column's labels as their ids (the filter's "index")."""
        assert p.where is not None
        column = self.find(columns, p.where.column, p.board)
        values: list[Any] = list(p.where.any_of)
        if column.get("type") == "status":
            labels = _labels(column.get("settings"))
            unknown = [v for v in values if isinstance(v, str) and v not in labels]
            if unknown:
                raise ValueError(
                    f"status column {p.where.column!r} of board {p.board} has no label {unknown[0]!r}; "
                    f"its labels: {', '.join(repr(label) for label in labels)}"
                )
            values = [labels[v] if isinstance(v, str) else v for v in values]
        return {"column_id": str(column["id"]), "compare_value": values, "operator": "any_of"}


def _labels(settings: Any) -> dict[str, int]:
    """A status column's label -> id, from its ``settings`` (``{"labels": [{"id", "label", "index", ...}]}``: the
    ``index`` there is the label's position on the board, not what items and filters use)."""
    labels = settings.get("labels") if isinstance(settings, dict) else None
    found = [label for label in labels if isinstance(label, dict)] if isinstance(labels, list) else []
    return {label["label"]: label["id"] for label in found if isinstance(label.get("id"), int) and "label" in label}


def _number(item: dict, column: str, board: int) -> float | None:
    """The item's number in ``column``; None when the cell is empty."""
    value = next((v for v in item.get("column_values") or [] if isinstance(v, dict) and v.get("id") == column), {})
    number = value.get("number")
    if number is not None and not isinstance(number, int | float):
        raise ValueError(f"item {item.get('id')} of board {board}: {column} is not a number ({number!r})")
    return None if number is None else float(number)


def _seconds(value: Any) -> float | None:
    """A number from monday's answer (complexity points, seconds); None when it is not one."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


connector = Connector(
    "monday", connection=MondayConnection, metric=MondayMetric, source=MondaySource, description="monday.com boards"
)
