"""GitHub's search API, the server half the github source talks to (as strict as github.com).

GET /search/issues?q=... answers {total_count, incomplete_results, items[:per_page]}; GET
/rate_limit reports the search quota. Bad or missing credentials: 401 "Bad credentials". A query
naming a repository that does not exist (or the token cannot see): 422 Validation Failed, as
GitHub answers. The search quota is 30 requests per 60 s per token; past it, 403 with
x-ratelimit-remaining: 0 and x-ratelimit-reset, and every answer carries the x-ratelimit-* headers.
https://docs.github.com/en/rest/search/search#search-issues-and-pull-requests
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from okrsync.testing import Emulator, Request, Response, route

DOCS = "https://docs.github.com/rest"
UNSEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not exist "
    "or you do not have permission to view them."
)


class GithubEmulator(Emulator):
    def __init__(self, token: str, per_minute: int = 30, clock: Callable[[], float] = time.time):
        super().__init__()
        self.token = token
        self.per_minute = per_minute
        self.clock = clock
        self.items: list[dict] = []  # {repo, kind: issue|pr, state, labels, created}
        self.incomplete = False
        self._window: tuple[int, int] = (0, 0)  # (window start, requests in it)

    def add(self, repo: str, kind: str = "issue", state: str = "open", labels=(), created: str = "2026-10-15"):
        self.items.append({"repo": repo, "kind": kind, "state": state, "labels": set(labels), "created": created})

    def _auth(self, req: Request) -> bool:
        return req.headers.get("authorization") in (f"Bearer {self.token}", f"token {self.token}")

    def _quota(self) -> tuple[dict[str, str], bool]:
        now = int(self.clock())
        start, used = self._window
        if now - start >= 60:
            start, used = now, 0
        allowed = used < self.per_minute
        used += allowed
        self._window = (start, used)
        headers = {
            "x-ratelimit-limit": str(self.per_minute),
            "x-ratelimit-remaining": str(self.per_minute - used),
            "x-ratelimit-reset": str(start + 60),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "search",
        }
        return headers, allowed

    @route("GET", r"/rate_limit")
    def rate_limit(self, req: Request):
        if not self._auth(req):
            return Response(401, {"message": "Bad credentials", "documentation_url": DOCS})
        search = {"limit": self.per_minute, "remaining": self.per_minute - self._window[1], "reset": 0, "used": 0}
        return {"resources": {"search": search, "core": {"limit": 5000, "remaining": 5000}}, "rate": search}

    @route("GET", r"/search/issues")
    def search(self, req: Request):
        if not self._auth(req):
            return Response(401, {"message": "Bad credentials", "documentation_url": DOCS})
        headers, allowed = self._quota()
        if not allowed:
            return Response(403, {"message": "API rate limit exceeded", "documentation_url": DOCS}, headers)
        q = (req.query.get("q") or [""])[0].strip()
        if not q:
            errors = [{"resource": "Search", "field": "q", "code": "missing"}]
            return Response(422, {"message": "Validation Failed", "errors": errors}, headers)
        per_page = int((req.query.get("per_page") or ["30"])[0])
        if not 1 <= per_page <= 100:
            return Response(422, {"message": "Validation Failed", "errors": [{"field": "per_page"}]}, headers)
        try:
            matched = self._match(q.split())
        except LookupError as exc:
            errors = [{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}]
            return Response(422, {"message": "Validation Failed", "errors": errors}, headers)
        items = [{"number": i + 1, "state": m["state"]} for i, m in enumerate(matched[:per_page])]
        body = {"total_count": len(matched), "incomplete_results": self.incomplete, "items": items}
        return Response(200, body, headers)

    def _match(self, terms: list[str]) -> list[dict]:
        repos = {t.split(":", 1)[1] for t in terms if t.startswith("repo:")}
        if repos - {i["repo"] for i in self.items}:
            raise LookupError(UNSEARCHABLE)
        return [i for i in self.items if all(_holds(t, i) for t in terms)]


def _holds(term: str, item: dict) -> bool:
    key, _, value = term.partition(":")
    if key == "repo":
        return item["repo"] == value
    if key == "is":
        return value in ({"issue": "issue", "pr": "pr"}.get(item["kind"]), item["state"])
    if key == "state":
        return item["state"] == value
    if key == "label":
        return value in item["labels"]
    if key == "created":
        op = value[:2] if value[:2] in (">=", "<=") else value[:1] if value[:1] in "<>" else ""
        day = date.fromisoformat(value[len(op) :])
        created = date.fromisoformat(item["created"])
        return {">=": created >= day, "<=": created <= day, ">": created > day, "<": created < day, "": created == day}[
            op
        ]
    return True  # free text: every item matches
