"""monday.com's platform API (GraphQL, version 2026-10), the server half the monday source talks to.

One operation, ``POST /v2`` with ``{"query", "variables"}`` (tests/vendor_specs/monday.json checks the method,
path and body). The schema is graphql-core's, built from the excerpt's ``graphql`` types (monday's published
SDL for 2026-10, pruned) with the argument defaults that SDL gives (``limit: Int! = 25``). Each query is parsed
and validated by graphql-core against it, and its variables coerced; what graphql-core refuses is answered as
monday answers an application error (HTTP 200, an ``errors`` array,
https://developer.monday.com/api-reference/docs/error-handling) and recorded as a vendor-description problem
that fails the test. The messages are graphql-core's (GraphQL.js wording), not monday's graphql-ruby wording
(``Field 'xxx' doesn't exist on type 'User'``, https://developer.monday.com/api-reference/docs/errors); the
codes ``PARSE_ERROR`` and ``GRAPHQL_VALIDATION_FAILED`` are this emulator's. A valid query is executed by
graphql-core over the seeded boards: root resolvers ``boards`` and ``next_items_page``, field resolvers for a
board's ``columns`` and ``items_page`` and an item's ``column_values``.

``items_page`` filters by ``rules`` (``any_of``, ``not_any_of``, ``is_empty``, ``is_not_empty``; a status column
by the label's id, which the status page calls its index, https://developer.monday.com/api-reference/reference/status;
a label's ``index`` in the column's settings is its position, as in the 2025-10 changelog's example, where Done is
id 1 at index 2), pages at most 500 items, and its
cursors expire after 60 minutes (https://developer.monday.com/api-reference/reference/items-page). Limits
(https://developer.monday.com/api-reference/docs/rate-limits): a complexity budget per minute
(``COMPLEXITY_BUDGET_EXHAUSTED`` with ``retry_in_seconds``, the 2025-07 shape), requests per minute (``Rate
Limit Exceeded``) and calls per day (``DAILY_LIMIT_EXCEEDED``), each a 429 with Retry-After. The complexity
cost of a query is this emulator's estimate (monday publishes no formula); so are the texts of the 401, of an
unknown API version, of a cursor that expired and of a limit over 500, which monday's pages do not quote.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute_sync,
    get_operation_ast,
    get_variable_values,
    parse,
    specified_scalar_types,
    validate,
    value_from_ast_untyped,
)

from okrsync.testing import Emulator, Request, Response, route
from tests import vendor_spec

VERSIONS = {"2026-04", "2026-07", "2026-10", "2027-01"}  # previous maintenance .. release candidate, 2026-12
# the arguments' defaults in monday's SDL, the excerpt's source (github.com/mondaycom/mcp @ cd3690e5a6d8,
# schema.graphql: ``limit: Int! = 25`` ...): the excerpt keeps the types, not the defaults
DEFAULTS = {
    "Query.boards.limit": "25",
    "Query.boards.page": "1",
    "Query.next_items_page.limit": "25",
    "Board.items_page.limit": "25",
}
PAGES = ("items_page", "next_items_page")


@cache
def schema() -> GraphQLSchema:
    return build_schema(sdl(vendor_spec.spec("monday")["graphql"]["types"]))


def sdl(types: dict[str, dict]) -> str:
    """The excerpt's types written as SDL (the standard scalars are graphql-core's own)."""
    blocks = []
    for name, spec in types.items():
        if spec["kind"] == "scalar" and name not in specified_scalar_types:
            blocks.append(f"scalar {name}")
        elif spec["kind"] == "enum":
            blocks.append(f"enum {name} {{ {' '.join(spec['values'])} }}")
        elif spec["kind"] == "input":
            blocks.append(f"input {name} {{ {' '.join(f'{k}: {v}' for k, v in spec['fields'].items())} }}")
        elif spec["kind"] in ("object", "interface"):
            implements = f" implements {' & '.join(spec['interfaces'])}" if spec.get("interfaces") else ""
            fields = " ".join(_field(f"{name}.{f}", f, s) for f, s in spec["fields"].items())
            blocks.append(f"{'type' if spec['kind'] == 'object' else 'interface'} {name}{implements} {{ {fields} }}")
    return "\n".join(blocks)


def _field(path: str, name: str, spec: dict) -> str:
    args = []
    for arg, typed in spec["args"].items():
        default = DEFAULTS.get(f"{path}.{arg}")
        args.append(f"{arg}: {typed} = {default}" if default else f"{arg}: {typed}")
    return f"{name}({', '.join(args)}): {spec['type']}" if args else f"{name}: {spec['type']}"


def _failure(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


@dataclass
class Board:
    id: str
    name: str
    columns: list[dict]  # {id, title, type, settings}
    items: list[dict] = field(default_factory=list)  # {id, name, values: {column id: stored value}}


class MondayEmulator(Emulator):
    vendor = "monday"

    def __init__(self, token: str, *, budget: int = 10_000_000, per_minute: int = 5000, clock=time.monotonic):
        super().__init__()
        self.token, self.budget, self.per_minute, self.clock = token, budget, per_minute, clock
        self.daily: int | None = None  # calls a day before DAILY_LIMIT_EXCEEDED (None: no limit)
        self.scopes = {"boards:read"}
        self.boards: dict[str, Board] = {}
        self.shared: set[str] | None = None  # boards the token's user sees (None: all)
        self.cursors: dict[str, tuple[list[dict], int, float]] = {}  # cursor -> (items, offset, created)
        self._ids = itertools.count(1_000_001)
        self._minute: tuple[float, int, int] = (clock(), 0, 0)  # window start, requests, complexity spent
        self._calls = 0

    # -- data ------------------------------------------------------------------------------------

    def add_board(self, board_id: int, name: str, columns: list[dict]) -> Board:
        """``columns``: {id, title, type[, labels: {id: label}]}, a status column's labels in the order the board
        shows them: its settings list each with its ``id`` and its position as ``index``."""
        made = []
        for c in columns:
            labels = c.get("labels") or {}
            settings = {"labels": [{"id": i, "label": t, "index": n} for n, (i, t) in enumerate(labels.items())]}
            made.append({"id": c["id"], "title": c["title"], "type": c["type"], "settings": settings if labels else {}})
        self.boards[str(board_id)] = Board(str(board_id), name, made)
        return self.boards[str(board_id)]

    def add_item(self, board_id: int, name: str, **values: Any) -> None:
        """``values`` by column id: a status column's label id, a number, a text."""
        self.boards[str(board_id)].items.append({"id": str(next(self._ids)), "name": name, "values": values})

    # -- the one route ---------------------------------------------------------------------------

    @route("POST", r"/v2")
    def post_v2(self, req: Request) -> Response:
        refused = self._gate(req)
        if refused:
            return refused
        body = req.json()
        checked = self._checked(body)
        if isinstance(checked, Response):
            return checked
        document, operation, variables = checked
        if "boards:read" not in self.scopes:
            return _errors(200, "User unauthorized to perform action", "UserUnauthorizedException", status_code=403)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        cost = 10 + _cost(operation.selection_set.selections, variables, fragments)
        spent = self._spend(cost)
        if spent is not None:
            return spent
        start, _, used = self._minute
        complexity = {"before": self.budget - used + cost, "after": self.budget - used, "query": cost}
        complexity["reset_in_x_seconds"] = max(0, int(start + 60 - self.clock()))
        root = {"complexity": complexity, "boards": self._boards, "next_items_page": self._next_items_page}
        result = execute_sync(schema(), document, root, None, body.get("variables"), body.get("operationName"))
        for error in result.errors or []:
            if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
                raise error.original_error  # a bug of this emulator, not an answer of monday's
        answer: dict[str, Any] = {"data": result.data, "account_id": 1}
        if result.errors:
            answer["errors"] = [_formatted(e, "INTERNAL_SERVER_ERROR") for e in result.errors]
        return Response(200, answer)

    def _checked(self, body: dict) -> tuple[DocumentNode, OperationDefinitionNode, dict[str, Any]] | Response:
        """graphql-core parses the query, validates it against the excerpt and coerces its variables."""
        try:
            document = parse(str(body.get("query")))
        except GraphQLError as exc:
            return self._problem([exc], "PARSE_ERROR")
        found = validate(schema(), document)
        if found:
            return self._problem(found, "GRAPHQL_VALIDATION_FAILED")
        operation = get_operation_ast(document, body.get("operationName"))
        if operation is None or operation.operation != OperationType.QUERY:
            refusal = GraphQLError("no query operation to run (this emulator serves queries only)")
            return self._problem([refusal], "GRAPHQL_VALIDATION_FAILED")
        variables = get_variable_values(schema(), operation.variable_definitions or (), body.get("variables") or {})
        if isinstance(variables, list):
            return self._problem(variables, "GRAPHQL_VALIDATION_FAILED")
        return document, operation, variables

    def _problem(self, found: list[GraphQLError], code: str) -> Response:
        vendor_spec.PROBLEMS.extend(f"monday: POST /v2: {error.message}" for error in found)
        return Response(200, {"errors": [_formatted(e, code) for e in found], "account_id": 1})

    def _gate(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != self.token:
            return _errors(401, "Not Authenticated", "UNAUTHENTICATED")
        if req.headers.get("api-version", "2026-10") not in VERSIONS:
            return _errors(400, f"Invalid API version {req.headers.get('api-version')!r}", "InvalidVersionException")
        if "application/json" not in req.headers.get("content-type", ""):
            return _errors(400, "Content-Type must be application/json", "BAD_REQUEST")
        self._calls += 1
        if self.daily is not None and self._calls > self.daily:
            return _errors(429, "Daily limit exceeded", "DAILY_LIMIT_EXCEEDED", retry=3600)
        start, requests, used = self._window()
        if requests >= self.per_minute:
            return _errors(429, "Rate Limit Exceeded", "RATE_LIMIT_EXCEEDED", retry=int(start + 60 - self.clock()) + 1)
        self._minute = (start, requests + 1, used)
        return None

    def _window(self) -> tuple[float, int, int]:
        start, requests, used = self._minute
        if self.clock() - start >= 60:  # the sliding minute, simplified to windows from the first call
            start, requests, used = self.clock(), 0, 0
        self._minute = (start, requests, used)
        return self._minute

    def _spend(self, cost: int) -> Response | None:
        start, requests, used = self._window()
        if used + cost > self.budget:
            wait = int(start + 60 - self.clock()) + 1
            return _errors(429, "Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED", retry=wait)
        self._minute = (start, requests, used + cost)
        return None

    # -- resolvers (graphql-core's default resolver calls a callable value with info and the arguments) ----

    def _boards(self, info: Any, limit: int | None = 25, page: int | None = 1, ids: list[str] | None = None, **_):
        seen = [i for i in ids or self.boards if i in self.boards and (self.shared is None or i in self.shared)]
        first = (max(page or 1, 1) - 1) * (limit or 25)
        return [self._board(self.boards[i]) for i in seen[first : first + (limit or 25)]]

    def _board(self, board: Board) -> dict:
        return {
            "id": board.id,
            "name": board.name,
            "state": "active",
            "items_count": len(board.items),
            "columns": lambda info, ids=None, types=None, **_: _chosen(board.columns, ids, types),
            "items_page": lambda info, **args: self._items_page(board, **args),
        }

    def _item(self, board: Board, item: dict) -> dict:
        def column_values(info: Any, ids: list[str] | None = None, types: list[str] | None = None, **_) -> list:
            return [_column_value(c, item["values"].get(c["id"])) for c in _chosen(board.columns, ids, types)]

        return {"id": item["id"], "name": item["name"], "column_values": column_values}

    def _items_page(self, board: Board, limit: int, cursor: str | None = None, query_params: Any = None, **_):
        if cursor:
            return self._next_items_page(None, cursor, limit)
        params = query_params or {}
        if unsupported := set(params) - {"rules", "operator"}:
            raise _failure(f"query_params {sorted(unsupported)} are not emulated", "NOT_EMULATED")
        rules = params.get("rules") or []
        keep = any if params.get("operator") == "or" else all
        items = [i for i in board.items if not rules or keep(self._holds(board, i, r) for r in rules)]
        return self._page([self._item(board, i) for i in items], 0, limit)

    def _next_items_page(self, info: Any, cursor: str, limit: int = 25) -> dict:
        stored = self.cursors.get(cursor)
        if stored is None:
            raise _failure("The cursor provided is invalid", "InvalidCursorException")
        items, offset, created = stored
        if self.clock() - created > 3600:
            raise _failure("CursorExpiredError: The cursor provided has expired (60 minutes)", "CursorExpiredError")
        return self._page(items, offset, limit, created)

    def _page(self, items: list[dict], offset: int, limit: int, created: float | None = None) -> dict:
        if not 1 <= limit <= 500:
            raise _failure(f"limit must be between 1 and 500, not {limit}", "InvalidArgumentException")
        shown, cursor = items[offset : offset + limit], None
        if offset + limit < len(items):
            cursor = f"MSw{next(self._ids)}fHx{offset + limit}"
            self.cursors[cursor] = (items, offset + limit, self.clock() if created is None else created)
        return {"cursor": cursor, "items": shown}

    def _holds(self, board: Board, item: dict, rule: dict) -> bool:
        column = next((c for c in board.columns if c["id"] == rule["column_id"]), None)
        if column is None:
            raise _failure("This column ID doesn't exist for the board", "InvalidColumnIdException")
        operator = rule.get("operator") or "any_of"
        have = item["values"].get(column["id"])
        wanted = rule["compare_value"]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if column["type"] == "status":
            if any(not isinstance(w, int) and not str(w).isdigit() for w in wanted) and operator != "is_empty":
                raise _failure("Status columns compare by label index with any_of", "InvalidArgumentException")
            wanted = [int(w) for w in wanted if w is not None]
            have = 5 if have is None else have  # index 5 is the blank label
        else:
            wanted, have = [str(w) for w in wanted], None if have is None else str(have)
        verdicts = {
            "any_of": have in wanted,
            "not_any_of": have not in wanted,
            "is_empty": have in (None, 5) if column["type"] == "status" else have is None,
        }
        verdicts["is_not_empty"] = not verdicts["is_empty"]
        if operator not in verdicts:
            raise _failure(f"operator {operator} is not emulated", "NOT_EMULATED")
        return verdicts[operator]


def _cost(selections: Any, variables: dict[str, Any], fragments: dict[str, FragmentDefinitionNode]) -> int:
    """This emulator's estimate: 1 a field or fragment, and a page of items its limit times its item fields."""
    total = 0
    for node in selections:
        if isinstance(node, FragmentSpreadNode):
            node = fragments[node.name.value]
        inner = _cost(node.selection_set.selections if node.selection_set else (), variables, fragments)
        if isinstance(node, FieldNode) and node.name.value in PAGES:
            limits = [value_from_ast_untyped(a.value, variables) for a in node.arguments if a.name.value == "limit"]
            total += 1 + int(limits[0] if limits and limits[0] is not None else 25) * max(1, inner)
        else:
            total += 1 + inner
    return total


def _chosen(columns: list[dict], ids: list[str] | None, types: list[str] | None) -> list[dict]:
    return [c for c in columns if (not ids or c["id"] in ids) and (not types or c["type"] in types)]


def _column_value(column: dict, value: Any) -> dict:
    shown: dict[str, Any] = {"id": column["id"], "type": column["type"], "text": None, "value": None}
    if column["type"] == "numbers":
        number = None if value is None else float(value)
        shown |= {"__typename": "NumbersValue", "number": number}
        if number is not None:
            shown |= {"text": f"{number:g}", "value": json.dumps(str(value))}
    elif column["type"] == "status":
        labels = {label["id"]: label["label"] for label in column["settings"].get("labels", [])}
        shown |= {"__typename": "StatusValue", "index": value, "label": labels.get(value)}
        if value is not None:
            shown |= {"text": labels.get(value), "value": json.dumps({"index": value})}
    else:  # TextValue is not in the excerpt: graphql-core refuses to resolve it (not emulated)
        shown |= {"__typename": "TextValue", "text": value, "value": None if value is None else json.dumps(value)}
    return shown


def _formatted(error: GraphQLError, code: str) -> dict:
    return {**error.formatted, "extensions": {"code": code, **(error.extensions or {})}}


def _errors(status: int, message: str, code: str, retry: int | None = None, status_code: int | None = None):
    extensions: dict[str, Any] = {"code": code}
    headers = {}
    if retry is not None:
        extensions["retry_in_seconds"] = retry
        headers["Retry-After"] = str(retry)
    if status_code is not None:
        extensions["status_code"] = status_code
    return Response(status, {"errors": [{"message": message, "extensions": extensions}], "account_id": 1}, headers)
