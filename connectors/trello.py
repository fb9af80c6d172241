"""Trello: the open cards of a list, counted (optionally only those with a label, or active since a date).

Connection: ``key`` (the API key of a Power-Up) and ``token`` (a token that key was granted), both by
``${ENV}``, sent in the ``Authorization`` header, never in the URL; ``endpoint`` replaces
https://api.trello.com (scheme, host and port only: requests keep ``/1``). Metric, ``aggregate: count`` only:

- ``list``: the list's id, or ``board`` (the board's id) with ``list_name`` (an open list of that board, named
  exactly so; two open lists with that name are an error asking for ``list``);
- ``label`` (optional): only cards carrying a label of that name (or id);
- ``active_since`` (optional): only cards whose ``dateLastActivity`` is on or after this date or date-time
  (``{cycle.start}`` is filled in; a bare date is midnight in the cycle's time zone). Trello keeps the last
  activity of a card, not when it entered the list: a comment counts as activity too.

Vendor rules followed here (Trello REST API, https://api.trello.com/1):
- Get Cards in a List: ``GET /1/lists/{id}/cards`` "List the cards in a list" (Atlassian's OpenAPI declares no
  query parameter for it): the list's open cards, archived ones left out. Get Lists on a Board:
  ``GET /1/boards/{id}/lists`` with ``filter`` (ViewFilter: all, closed, none, open) and ``fields``.
  https://developer.atlassian.com/cloud/trello/rest/api-group-lists/#api-lists-id-cards-get
  https://developer.atlassian.com/cloud/trello/rest/api-group-boards/#api-boards-id-lists-get
- Key and token: the OpenAPI description declares them as query parameters ``key`` and ``token``; the
  authorization guide also takes them in a header, ``Authorization: OAuth oauth_consumer_key="{key}",
  oauth_token="{token}"``, which okrsync sends so that neither ends up in a URL, a proxy log or an error.
  https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/#passing-token-and-key-in-api-requests
- Rate limits: "300 requests per 10 seconds for each API key and 100 requests per 10 second interval for each
  token", 429 with ``{"error": "API_TOKEN_LIMIT_EXCEEDED" | "API_KEY_LIMIT_EXCEEDED", "message": "Rate limit
  exceeded"}``; the ``x-rate-limit-api-token-interval-ms`` header gives the window. Requests are paced at the
  token's 100 in 10 s; a 429 waits ``Retry-After`` if sent, else the token's interval, then retries (bounded).
  Connections that share one key share its 300: give them ``rate_limit:``.
  https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/
- Status codes: 400 (a field is invalid: Trello answers ``invalid id`` in plain text), 401 (invalid credentials
  *or* "the user doesn't have permissions to do that": ``invalid key``, ``invalid token``, ``unauthorized
  permission requested``), 404 (no such route or model). https://developer.atlassian.com/cloud/trello/guides/rest-api/status-codes
- A board holds at most 5,000 open cards (the limits guide's example, ``cards.openPerBoard``), which one list
  request returns. https://developer.atlassian.com/cloud/trello/guides/rest-api/limits
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import field_validator, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Auth,
    Connector,
    Credentials,
    HttpError,
    MetricParams,
    MetricQuery,
    RemoteConnection,
    TransientError,
    parse_instant,
    retry_after_seconds,
)

API = "/1"
OBJECT_PATH = re.compile(r"^/1/(lists|boards)/([^/]+)")
ID_HINT = "the 24-character id: open the board, add .json to its URL and find it there"
FIX = {
    "key": "the API key of your Power-Up (https://trello.com/power-ups/admin)",
    "token": "a token granted to that key; it may have expired or been revoked",
}


class TrelloConnection(RemoteConnection):
    type: Literal["trello"]
    key: str  # the API key of a Power-Up (https://trello.com/power-ups/admin)
    token: str  # a token granted to that key

    endpoint_adds = f"requests keep {API}"


class TrelloMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count",)
    list: str | None = None  # a list's id
    board: str | None = None  # a board's id, with list_name
    list_name: str | None = None
    label: str | None = None  # a label's name (or id) the cards must carry
    active_since: str | None = None  # a date or date-time; {cycle.start} {cycle.end} {as_of} are filled in

    @model_validator(mode="after")
    def _one_list(self) -> TrelloMetric:
        if self.list and (self.board or self.list_name):
            raise ValueError("give either list: (a list's id) or board: with list_name:, not both")
        if not self.list and not (self.board and self.list_name):
            raise ValueError("give list: (a list's id), or board: (a board's id) with list_name: (the list's name)")
        return self

    @field_validator("active_since")
    @classmethod
    def _a_moment(cls, value: str | None) -> str | None:
        if value and "{" not in value:
            parse_instant(value, None, "active_since")  # raises ValueError with the reason
        return value


@dataclass(frozen=True)
class KeyAndToken(Auth):
    """``Authorization: OAuth oauth_consumer_key="KEY", oauth_token="TOKEN"`` (Trello's authorization guide)."""

    def credentials(self, settings: Any, where: str) -> Credentials:
        key, token = self.resolve(settings, "key", where), self.resolve(settings, "token", where)
        return Credentials(headers={"Authorization": f'OAuth oauth_consumer_key="{key}", oauth_token="{token}"'})

    def describe(self, settings: Any) -> str | None:
        return "an API key and token"


class TrelloSource(ApiSource[TrelloConnection, TrelloMetric]):
    api_root = "https://api.trello.com"
    auth = KeyAndToken()
    limits = [(100, 10.0)]  # a token's 100 requests in any 10 s (a key's 300 is shared by its tokens)
    token_hint = "key: and token: of connection {name!r}"
    vendor = "Trello"

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Trello's own answers: which rate limit a 429 is, and refusals in plain words."""
        status = response.status_code
        if status == 429:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            interval = response.headers.get("x-rate-limit-api-token-interval-ms", "")
            if after is None and interval.isdigit():
                after = int(interval) / 1000
            limit = _body(response).get("error") or "a rate limit"
            return TransientError(f"Trello answered 429 ({limit})", after, throttled=True)
        if status in (400, 401, 403, 404):
            raise HttpError(
                REDACTOR(self.refusal(status, _said(response), response.request.url.path)),
                kind="fatal" if status == 400 else "bad_config",
                status=status,
            )
        return None

    def refusal(self, status: int, said: str, path: str) -> str:
        found = OBJECT_PATH.match(path)
        kind, ident = found.groups() if found else ("", "")
        what = f"{kind[:-1]} {ident!r}" if found else "the requested object"
        key = "list" if kind == "lists" else "board"
        quoted = f" ({said})" if said else ""
        if status == 400:
            return f"HTTP 400: Trello refused {what}{quoted}: {key}: takes {ID_HINT}"
        if status == 401 and said in ("invalid key", "invalid token"):
            which = said.split()[1]
            return (
                f"HTTP 401: Trello did not accept the {which} of connection {self.name!r} ({said}): "
                f"check {which}: ({FIX[which]})"
            )
        if status in (401, 403):
            return (
                f"HTTP {status}: the token's member may not read {what}{quoted}: add that member to the board, "
                "or use a token of a board member"
            )
        return f"HTTP 404: {what} not found{quoted}: check {key}: of the metric ({ID_HINT})"

    def check_paths(self) -> list[str]:
        """Each list and board the metrics read (credentials and access at once), else the token's member."""
        found = [f"{API}/lists/{quote(m.list, safe='')}?fields=name" for m in self.metrics if m.list]
        found += [f"{API}/boards/{quote(m.board, safe='')}?fields=name" for m in self.metrics if m.board]
        return list(dict.fromkeys(found)) or [f"{API}/members/me"]

    def describe_check(self, answer: object) -> str:
        name = answer.get("name") or answer.get("username") if isinstance(answer, dict) else None
        return f"accepted; can read {name!r}" if name else "accepted"

    def read(self, client: ApiClient, q: MetricQuery[TrelloMetric]) -> float:
        p = q.params
        list_id = p.list or self.list_named(client, str(p.board), str(p.list_name))
        cards = client.json("GET", f"{API}/lists/{quote(list_id, safe='')}/cards")
        if not isinstance(cards, list):
            raise ValueError("Trello answered the list's cards without a list of cards")
        since = parse_instant(q.fill(p.active_since), q.cycle.tz, "active_since") if p.active_since else None
        return float(sum(1 for card in cards if isinstance(card, dict) and _counts(card, p.label, since)))

    def list_named(self, client: ApiClient, board: str, name: str) -> str:
        """The id of the one open list of ``board`` named ``name``."""
        path = f"{API}/boards/{quote(board, safe='')}/lists"
        lists = client.json("GET", path, params={"filter": "open", "fields": "id,name"})
        if not isinstance(lists, list):
            raise ValueError(f"Trello answered the lists of board {board!r} without a list")
        named = [str(x.get("id")) for x in lists if isinstance(x, dict) and x.get("name") == name]
        if len(named) > 1:
            raise ValueError(f"board {board!r} has {len(named)} open lists named {name!r}: give list: (its id) instead")
        if not named:
            shown = ", ".join(repr(x.get("name")) for x in lists[:12] if isinstance(x, dict)) or "none"
            raise ValueError(f"board {board!r} has no open list named {name!r} (its open lists: {shown})")
        return named[0]


def _counts(card: dict, label: str | None, since: datetime | None) -> bool:
    if label is not None:
        labels = [x for x in card.get("labels") or [] if isinstance(x, dict)]
        if not any(label in (x.get("name"), x.get("id")) for x in labels):
            return False
    if since is not None:
        active = str(card.get("dateLastActivity") or "")
        try:
            return bool(active) and datetime.fromisoformat(active) >= since
        except ValueError:
            raise ValueError(f"card {card.get('id')}: dateLastActivity {active[:40]!r} is not a date-time") from None
    return True


def _body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(response: httpx.Response) -> str:
    """Trello's own words: a plain-text body (``invalid id``) or a JSON ``message`` (a short excerpt, redacted)."""
    body = _body(response)
    text = str(body.get("message") or body.get("error") or "") if body else response.text.strip()
    return "" if text.startswith("<") else REDACTOR(text)[:200]


connector = Connector(
    "trello",
    connection=TrelloConnection,
    metric=TrelloMetric,
    source=TrelloSource,
    description="Trello (cards in a list)",
)
