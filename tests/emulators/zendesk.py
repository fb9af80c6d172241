"""Zendesk Support's API v2, the server half the zendesk source talks to (tests/vendor_specs/zendesk.json
checks every request against Zendesk's description).

Served:
    GET /api/v2/search/count?query=...      {"count": N} over a small seeded set of tickets (agents, admins)
    GET /api/v2/satisfaction_ratings        cursor pages of ratings (admins only), filtered by score,
                                            start_time and end_time (epoch seconds)
Auth is HTTP Basic with ``{email}/token`` and the API token: a password (no ``/token``), a wrong token, or
any token while API token access is off is a 401 ``{"error": "Couldn't authenticate you"}`` (Zendesk treats
such requests as anonymous); an end user searching, or an agent listing ratings, is a 403 in Zendesk's object
form ``{"error": {"title": "Forbidden", "message": ...}}``. Every answer carries ``X-Rate-Limit`` and
``X-Rate-Limit-Remaining``; past the per-minute allowance, 429 with ``Retry-After`` (the seconds left in the
minute). Unknown query parameters are ignored, as Zendesk ignores them (the vendor-description check, not
this server, refuses them in the tests).
https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/
https://developer.zendesk.com/api-reference/ticketing/ticket-management/satisfaction_ratings/
https://developer.zendesk.com/api-reference/introduction/rate-limits

The search is an honest subset of Zendesk's syntax: space-separated ``key op value`` terms, all of which must
hold, with ``type:ticket`` required; ``status`` and ``priority`` (``:``, ``<``, ``>``, ``<=``, ``>=`` in
Zendesk's order new < open < pending < hold < solved < closed, low < normal < high < urgent), ``tags:``,
``created`` and ``solved`` (the same operators with a YYYY-MM-DD day: a bare date means that whole day).
Anything else (free text, quotes, negation, wildcards, relative or timed dates, other keys or types, a key
repeated with ``:``) is refused loudly: a 501 naming the term, and a problem that fails the test, since what
Zendesk would answer is not guessed here. Texts this server makes up (the 429's and a too-large page's
bodies) say so in their description; Zendesk publishes neither.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from okrsync.testing import Emulator, Request, Response, route
from tests import vendor_spec

NOT_AUTHENTICATED = {"error": "Couldn't authenticate you"}
FORBIDDEN = {
    "error": {
        "title": "Forbidden",
        "message": "You do not have access to this page. Please contact the account owner of this help desk for "
        "further help.",
    }
}
STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]
PRIORITIES = ["low", "normal", "high", "urgent"]
TERM = re.compile(r"^([a-z_]+)(>=|<=|:|<|>)(.+)$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SCORES = {  # the score filter: which ratings each value selects (and whether a comment is required)
    "offered": ({"offered"}, None),
    "unoffered": ({"unoffered"}, None),
    "received": ({"good", "bad"}, None),
    "received_with_comment": ({"good", "bad"}, True),
    "received_without_comment": ({"good", "bad"}, False),
    "good": ({"good"}, None),
    "good_with_comment": ({"good"}, True),
    "good_without_comment": ({"good"}, False),
    "bad": ({"bad"}, None),
    "bad_with_comment": ({"bad"}, True),
    "bad_without_comment": ({"bad"}, False),
}


class Unsupported(Exception):
    """A search term this emulator will not guess an answer for."""


class ZendeskEmulator(Emulator):
    vendor = "zendesk"

    def __init__(self, email: str, token: str, *, per_minute: int = 700, clock: Callable[[], float] = time.time):
        super().__init__()
        self.email, self.token = email, token
        self.role = "admin"  # or "agent", "end-user"
        self.token_access = True  # Admin Center's "Allow API token access"
        self.per_minute = per_minute
        self.clock = clock
        self.tickets: list[dict] = []
        self.ratings: list[dict] = []
        self.unsupported: list[str] = []  # what it refused to evaluate (each also fails the test)
        self._window = (0, 0)  # (minute's start, requests in it)

    def ticket(self, status="open", priority="normal", tags=(), created="2026-10-01", solved=None) -> None:
        """A ticket; ``created`` and ``solved`` are days (YYYY-MM-DD) in the account's time zone."""
        self.tickets.append(
            {"status": status, "priority": priority, "tags": set(tags), "created": created, "solved": solved}
        )

    def rating(self, score: str, created_at: str, comment: str = "") -> None:
        """A satisfaction rating created at ``created_at`` (ISO 8601 with Z): offered, unoffered, good or bad."""
        number = len(self.ratings) + 1
        self.ratings.append(
            {
                "id": number,
                "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{number}",
                "assignee_id": 135,
                "group_id": 44,
                "requester_id": 7881,
                "ticket_id": 200 + number,
                "score": score,
                "comment": comment,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )

    # -- gate: credentials, role, rate limit ---------------------------------------------------------

    def _gate(self, req: Request, roles: set[str]) -> tuple[Response | None, dict[str, str]]:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        if not self.token_access or req.headers.get("authorization") != f"Basic {expected}":
            return Response(401, NOT_AUTHENTICATED), {}
        now = int(self.clock())
        start, used = self._window
        if now - start >= 60:
            start, used = now, 0
        allowed = used < self.per_minute
        self._window = (start, used + allowed)
        headers = {"X-Rate-Limit": str(self.per_minute), "X-Rate-Limit-Remaining": str(self.per_minute - used - 1)}
        if not allowed:
            body = {"error": "TooManyRequests", "description": "Rate limit exceeded (this emulator's wording)"}
            retry = {"Retry-After": str(max(1, start + 60 - now)), "X-Rate-Limit-Remaining": "0"}
            return Response(429, body, {**headers, **retry}), {}
        if self.role not in roles:
            return Response(403, FORBIDDEN, headers), {}
        return None, headers

    def _refuse(self, req: Request, why: str) -> Response:
        problem = f"zendesk emulator: cannot evaluate {why} ({req.method} {req.path})"
        self.unsupported.append(why)
        vendor_spec.PROBLEMS.append(problem)
        return Response(501, {"error": "EmulatorUnsupported", "description": problem})

    # -- routes --------------------------------------------------------------------------------------

    @route("GET", r"/api/v2/search/count")
    def search_count(self, req: Request):
        refused, headers = self._gate(req, {"admin", "agent"})
        if refused:
            return refused
        query = (req.query.get("query") or [""])[0]
        try:
            count = sum(all(_holds(term, t) for term in _terms(query)) for t in self.tickets)
        except Unsupported as exc:
            return self._refuse(req, str(exc))
        return Response(200, {"count": count}, headers)

    @route("GET", r"/api/v2/satisfaction_ratings")
    def satisfaction_ratings(self, req: Request):
        refused, headers = self._gate(req, {"admin"})
        if refused:
            return refused
        args = {k: v[0] for k, v in req.query.items()}
        if "page[size]" not in args:
            return self._refuse(req, "offset pagination (send page[size])")
        if not args["page[size]"].isdigit() or not 1 <= int(args["page[size]"]) <= 100:
            body = {"error": "InvalidPaginationParameter", "description": "page[size] is 1 to 100 (emulator's words)"}
            return Response(400, body, headers)
        try:
            picked = [r for r in self.ratings if _rating_matches(r, args)]
        except Unsupported as exc:
            return self._refuse(req, str(exc))
        return Response(200, self._page(picked, args), headers)

    def _page(self, picked: list[dict], args: dict[str, str]) -> dict:
        size = int(args["page[size]"])
        after = args.get("page[after]")
        first = int(base64.b64decode(after).decode()) if after else 0
        rows = picked[first : first + size]
        more = first + size < len(picked)
        cursor = base64.b64encode(str(first + size).encode()).decode() if rows else None
        query = {k: v for k, v in args.items() if k != "page[after]"}
        next_url = f"{self.url}/api/v2/satisfaction_ratings?{urlencode({**query, 'page[after]': cursor})}"
        return {
            "satisfaction_ratings": rows,
            "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": after},
            "links": {"next": next_url if more else None, "prev": None},
        }


def _terms(query: str) -> list[tuple[str, str, str]]:
    """``key op value`` triples; refuses what this emulator cannot evaluate."""
    if any(c in query for c in '"*'):
        raise Unsupported(f"quotes or wildcards in {query!r}")
    terms = []
    for word in query.split():
        match = TERM.match(word)
        if not match:
            raise Unsupported(f"the term {word!r} (free text or negation)")
        terms.append((match.group(1), match.group(2), match.group(3)))
    keys = [key for key, _, _ in terms]
    if ("type", ":", "ticket") not in terms or keys.count("type") > 1:
        raise Unsupported(f"a search that is not exactly type:ticket ({query!r})")
    if repeated := {key for key, op, _ in terms if op == ":" and keys.count(key) > 1}:
        raise Unsupported(f"{', '.join(sorted(repeated))} given more than once")
    return terms


def _holds(term: tuple[str, str, str], ticket: dict) -> bool:
    key, op, value = term
    if key == "type":
        return True
    if key in ("status", "priority"):
        order = STATUSES if key == "status" else PRIORITIES
        if value not in order:
            raise Unsupported(f"{key} value {value!r}")
        return _compare(order.index(ticket[key]), op, order.index(value))
    if key in ("tags", "tag") and op == ":":
        return value in ticket["tags"]
    if key in ("created", "solved"):
        if not DAY.match(value):
            raise Unsupported(f"{key}{op}{value} (only a YYYY-MM-DD day)")
        day = date.fromisoformat(value)
        return ticket[key] is not None and _compare(date.fromisoformat(ticket[key]), op, day)
    raise Unsupported(f"the keyword {key}{op}")


def _compare(left, op: str, right) -> bool:
    return {":": left == right, "<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def _rating_matches(rating: dict, args: dict[str, str]) -> bool:
    """Score, start_time and end_time, each bound inclusive (Zendesk does not say; this emulator's reading)."""
    if "score" in args:
        if args["score"] not in SCORES:
            raise Unsupported(f"score={args['score']!r}")
        scores, commented = SCORES[args["score"]]
        if rating["score"] not in scores or (commented is not None and bool(rating["comment"]) != commented):
            return False
    at = datetime.fromisoformat(rating["created_at"].replace("Z", "+00:00")).astimezone(UTC).timestamp()
    for name, holds in (("start_time", lambda bound: at >= bound), ("end_time", lambda bound: at <= bound)):
        if name in args:
            if not args[name].isdigit():
                raise Unsupported(f"{name}={args[name]!r} (not epoch seconds)")
            if not holds(int(args[name])):
                return False
    return True
