"""Trello's REST API (api.trello.com/1), the server half the trello source talks to.

Served as Atlassian's OpenAPI description has them (tests/vendor_specs/trello.json checks every request):
    GET /1/lists/{id}/cards      the list's open cards (full card objects: labels, dateLastActivity, ...)
    GET /1/boards/{id}/lists     filter (all, closed, none, open; default open), fields (``all`` or a list)
    GET /1/lists/{id}, GET /1/boards/{id}   fields;   GET /1/members/me
Credentials: the key and token in ``Authorization: OAuth oauth_consumer_key="…", oauth_token="…"`` or as the
``key`` and ``token`` query parameters. Trello's plain-text refusals: 401 ``invalid key`` / ``invalid token``
for bad credentials, 401 ``unauthorized permission requested`` for a board the token's member may not see
(Trello's status-codes page: 401 is also "the user doesn't have permissions to do that"), 400 ``invalid id``
for an id that is not 24 hexadecimal characters (TrelloID's pattern in the description), 404 for an id that
names nothing. The texts are those seen in public reports and client libraries; the 404's is this emulator's.
Rate limit: ``per_token`` requests per 10 s per token (100), every answer carrying the
``x-rate-limit-api-token-*`` headers, then 429 with ``{"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate
limit exceeded"}`` and no Retry-After (https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

from okrsync.testing import Emulator, Request, Response, route

TRELLO_ID = re.compile(r"^[0-9a-fA-F]{24}$")
OAUTH = re.compile(r'(\w+)="([^"]*)"')
VIEW_FILTER = ("all", "closed", "none", "open")
WINDOW_MS = 10_000
NOT_FOUND = "The requested resource was not found."


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


class TrelloEmulator(Emulator):
    vendor = "trello"

    def __init__(self, key: str, token: str, per_token: int = 100, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.key, self.token, self.per_token, self.clock = key, token, per_token, clock
        self.boards: dict[str, dict] = {}  # id -> {"name", "visible"}
        self.lists: dict[str, dict] = {}  # id -> {"name", "idBoard", "closed"}
        self.cards: list[dict] = []
        self._ids = (f"{n:024x}" for n in itertools.count(0x5ABBE4B7DDC1B351EF961414))
        self._window: tuple[float, int] = (clock(), 0)

    def add_board(self, name: str, visible: bool = True) -> str:
        board = next(self._ids)
        self.boards[board] = {"name": name, "visible": visible}
        return board

    def add_list(self, board: str, name: str, closed: bool = False) -> str:
        list_id = next(self._ids)
        self.lists[list_id] = {"name": name, "idBoard": board, "closed": closed, "pos": 16384 * (len(self.lists) + 1)}
        return list_id

    def add_card(
        self, list_id: str, labels: tuple[str, ...] = (), active: str = "2026-10-15T09:30:00.000Z", closed: bool = False
    ) -> str:
        """A card in ``list_id`` with labels by name (green, one id per board and name), last active ``active``."""
        board = self.lists[list_id]["idBoard"]
        card = next(self._ids)
        shown = [
            {"id": f"{board[:12]}{sum(map(ord, n)):012x}", "idBoard": board, "name": n, "color": "green"}
            for n in labels
        ]
        self.cards.append(
            {
                "id": card,
                "name": f"Card {len(self.cards) + 1}",
                "closed": closed,
                "idBoard": board,
                "idList": list_id,
                "idLabels": [x["id"] for x in shown],
                "labels": shown,
                "dateLastActivity": active,
                "shortUrl": f"https://trello.com/c/{card[-8:]}",
            }
        )
        return card

    # -- gate ------------------------------------------------------------------------------------

    def _gate(self, req: Request, ident: str | None = None) -> tuple[Response | None, dict[str, str]]:
        given = dict(OAUTH.findall(req.headers.get("authorization", "")))
        key = given.get("oauth_consumer_key") or (req.query.get("key") or [""])[0]
        token = given.get("oauth_token") or (req.query.get("token") or [""])[0]
        if key != self.key:
            return plain(401, "invalid key"), {}
        if token != self.token:
            return plain(401, "invalid token"), {}
        start, used = self._window
        now = self.clock()
        if (now - start) * 1000 >= WINDOW_MS:
            start, used = now, 0
        self._window = (start, used + 1)
        headers = {
            "x-rate-limit-api-token-interval-ms": str(WINDOW_MS),
            "x-rate-limit-api-token-max": str(self.per_token),
            "x-rate-limit-api-token-remaining": str(max(0, self.per_token - used - 1)),
        }
        if used >= self.per_token:
            return Response(429, {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}, headers), {}
        if ident is not None and not TRELLO_ID.match(ident):
            return plain(400, "invalid id", headers), {}
        return None, headers

    def _board_of(self, board: str, headers: dict[str, str]) -> Response | None:
        if board not in self.boards:
            return plain(404, NOT_FOUND, headers)
        if not self.boards[board]["visible"]:
            return plain(401, "unauthorized permission requested", headers)
        return None

    def _answer(self, req: Request, ident: str | None, board: Callable[[], str | None], make) -> Response:
        refused, headers = self._gate(req, ident)
        if refused:
            return refused
        owner = board()
        refused = plain(404, NOT_FOUND, headers) if owner is None else self._board_of(owner, headers)
        return refused or Response(200, make(), headers)

    # -- routes ----------------------------------------------------------------------------------

    @route("GET", r"/1/lists/([^/]+)/cards")
    def list_cards(self, req: Request, list_id: str):
        def cards() -> list[dict]:
            return [c for c in self.cards if c["idList"] == list_id and not c["closed"]]

        return self._answer(req, list_id, lambda: self._list_board(list_id), cards)

    @route("GET", r"/1/boards/([^/]+)/lists")
    def board_lists(self, req: Request, board: str):
        refused, headers = self._gate(req, board)
        refused = refused or self._board_of(board, headers)
        wanted = (req.query.get("filter") or ["open"])[0]
        if refused or wanted not in VIEW_FILTER:
            return refused or plain(400, "invalid value for filter", headers)
        mine = [{"id": i, **x} for i, x in self.lists.items() if x["idBoard"] == board]
        kept = [
            x
            for x in mine
            if wanted == "all" or (wanted == "open" and not x["closed"]) or (wanted == "closed" and x["closed"])
        ]
        return Response(200, [_fields(req, x) for x in kept], headers)

    @route("GET", r"/1/lists/([^/]+)")
    def one_list(self, req: Request, list_id: str):
        return self._answer(req, list_id, lambda: self._list_board(list_id), lambda: _fields(req, self._list(list_id)))

    @route("GET", r"/1/boards/([^/]+)")
    def one_board(self, req: Request, board: str):
        return self._answer(req, board, lambda: board, lambda: _fields(req, {"id": board, **self.boards[board]}))

    @route("GET", r"/1/members/([^/]+)")
    def member(self, req: Request, member: str):
        refused, headers = self._gate(req, None if member == "me" else member)
        me = {"id": "5b02e7f4e1facdc393169f9d", "username": "opsreader", "fullName": "Ops Reader"}
        return refused or Response(200, me, headers)

    def _list_board(self, list_id: str) -> str | None:
        return self.lists[list_id]["idBoard"] if list_id in self.lists else None

    def _list(self, list_id: str) -> dict:
        return {"id": list_id, **self.lists[list_id]}


def _fields(req: Request, record: dict) -> dict:
    """``fields``: ``all`` (the default) or a comma-separated list; the id always comes."""
    names = (req.query.get("fields") or ["all"])[0]
    if names == "all":
        return {k: v for k, v in record.items() if k != "visible"}
    return {"id": record["id"], **{n: record[n] for n in names.split(",") if n in record and n != "visible"}}
