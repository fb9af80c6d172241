"""Asana's REST API 1.0 (the tasks of a project), the server half the asana source talks to.

Served as Asana's OpenAPI description has them (tests/vendor_specs/asana.json checks every request):
    GET /api/1.0/projects/{project_gid}/tasks   completed_since, limit (1..100), offset, opt_fields, opt_pretty
    GET /api/1.0/projects/{project_gid}         opt_fields
    GET /api/1.0/users/{user_gid}               ("me")
Every answer is ``{"data": ...}``, a list page adds ``next_page`` (``{offset, path, uri}``, null on the last
page) when ``limit`` was given; records hold ``gid``, ``resource_type`` and the ``opt_fields`` asked for (each
name must be one the description lists for the operation). ``completed_since`` returns the incomplete tasks and
those completed at or after it ("now": only incomplete ones), as the parameter's description says.

Refusals carry Asana's error body ``{"errors": [{"message", "help"}]}``: 401 "Not Authorized" without a valid
bearer token (Asana's errors page), 403 for a project the token's user may not see, 404 for an unknown gid,
400 for a malformed parameter, and 400 "The result is too large. You should use pagination (may require
specifying a workspace)!" for an unpaginated request over ``unpaginated_max`` tasks (the wording users report
in Asana/ruby-asana#149 and #170). Rate limit: ``per_minute`` requests a minute per token (150: a free domain),
then 429 with ``Retry-After`` and the rate-limits page's message. The wording of the 400s for a bad
``limit``, ``offset``, ``opt_fields`` or ``completed_since``, of the 403 and of the 404 is this emulator's own.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from okrsync.testing import Emulator, Request, Response, route

SPEC = Path(__file__).resolve().parent.parent / "vendor_specs" / "asana.json"
HELP = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors"
RATE_LIMITED = "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
TOO_LARGE = "The result is too large. You should use pagination (may require specifying a workspace)!"
COMPACT = ("name", "resource_subtype")  # a compact task record without opt_fields


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"errors": [{"message": message, "help": HELP}]}, headers or {})


def opt_fields_allowed() -> dict[str, set[str]]:
    """Operation id -> the opt_fields names Asana's description lists for it (the excerpt's items enum)."""
    described = json.loads(SPEC.read_text())
    return {op["id"]: set(op["query"]["opt_fields"]["items"]["enum"]) for op in described["operations"]}


class AsanaEmulator(Emulator):
    vendor = "asana"

    def __init__(self, token: str, per_minute: int = 150, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.token, self.per_minute, self.clock = token, per_minute, clock
        self.projects: dict[str, dict] = {}  # gid -> {"name", "tasks": [task]}
        self.hidden: set[str] = set()  # project gids the token's user may not see (403)
        self.unpaginated_max = 1000
        self.allowed = opt_fields_allowed()
        self._window: tuple[float, int] = (clock(), 0)  # (start, requests in it)
        self._gids = iter(range(1_200_000_000_000_001, 1_300_000_000_000_000))

    def add_project(self, name: str) -> str:
        gid = str(next(self._gids))
        self.projects[gid] = {"name": name, "tasks": []}
        return gid

    def add_task(
        self, project: str, completed_at: str | None = None, numbers: dict[str, float | None] | None = None
    ) -> str:
        """A task of ``project``, completed when ``completed_at`` is given; ``numbers``: its number custom fields
        by gid (None: the field is on the task without a value)."""
        gid = str(next(self._gids))
        fields = [{"gid": k, "resource_subtype": "number", "number_value": v} for k, v in (numbers or {}).items()]
        task = {"gid": gid, "name": f"Task {gid}", "resource_subtype": "default_task", "custom_fields": fields}
        self.projects[project]["tasks"].append(
            {**task, "completed": completed_at is not None, "completed_at": completed_at}
        )
        return gid

    # -- gate ------------------------------------------------------------------------------------

    def _gate(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "Not Authorized")
        start, used = self._window
        now = self.clock()
        if now - start >= 60:
            start, used = now, 0
        self._window = (start, used + 1)
        if used >= self.per_minute:
            return error(429, RATE_LIMITED, {"Retry-After": str(max(1, int(60 - (now - start))))})
        return None

    def _project(self, gid: str) -> Response | dict:
        if gid in self.hidden:
            return error(403, f"project: You do not have access to this project: {gid}")
        if gid not in self.projects:
            return error(404, f"project: Not a recognized ID: {gid}")
        return self.projects[gid]

    def _fields(self, req: Request, operation: str) -> list[str] | Response:
        wanted = [f for v in req.query.get("opt_fields", []) for f in v.split(",") if f]
        unknown = [f for f in wanted if f not in self.allowed[operation]]
        return error(400, f"opt_fields: Unknown field: {unknown[0]}") if unknown else wanted

    # -- routes ----------------------------------------------------------------------------------

    @route("GET", r"/api/1\.0/users/([^/]+)")
    def user(self, req: Request, gid: str):
        refused = self._gate(req) or (None if gid == "me" else error(404, f"user: Not a recognized ID: {gid}"))
        return refused or {"data": {"gid": "1200000000000000", "resource_type": "user", "name": "Ops Reader"}}

    @route("GET", r"/api/1\.0/projects/([^/]+)")
    def project(self, req: Request, gid: str):
        project = self._gate(req) or self._project(gid)
        if isinstance(project, Response):
            return project
        return {"data": {"gid": gid, "resource_type": "project", "name": project["name"]}}

    @route("GET", r"/api/1\.0/projects/([^/]+)/tasks")
    def tasks(self, req: Request, gid: str):
        project = self._gate(req) or self._project(gid)
        if isinstance(project, Response):
            return project
        fields = self._fields(req, "getTasksForProject")
        if isinstance(fields, Response):
            return fields
        try:
            matched = [t for t in project["tasks"] if _since(req, t)]
            return self._page(req, gid, matched, fields)
        except ValueError as exc:
            return error(400, str(exc))

    # -- behaviour -------------------------------------------------------------------------------

    def _page(self, req: Request, gid: str, tasks: list[dict], fields: list[str]) -> Response | dict:
        if "limit" not in req.query:
            if len(tasks) > self.unpaginated_max:
                return error(400, TOO_LARGE)
            return {"data": [_record(t, fields) for t in tasks]}
        limit = int(_one(req, "limit")) if _one(req, "limit").isdigit() else 0
        if not 1 <= limit <= 100:
            raise ValueError(f"limit: The value must be between 1 and 100, not {_one(req, 'limit')!r}")
        start = _offset(req, gid)
        page = tasks[start : start + limit]
        more = start + limit < len(tasks)
        token = base64.urlsafe_b64encode(f"{gid}:{start + limit}".encode()).decode() if more else None
        path = f"/projects/{gid}/tasks?limit={limit}&offset={token}"
        following = {"offset": token, "path": path, "uri": f"https://app.asana.com/api/1.0{path}"} if more else None
        return {"data": [_record(t, fields) for t in page], "next_page": following}


def _one(req: Request, name: str) -> str:
    return (req.query.get(name) or [""])[0]


def _offset(req: Request, gid: str) -> int:
    token = _one(req, "offset")
    if not token:
        return 0
    try:
        project, _, index = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if project == gid and index.isdigit():
            return int(index)
    except ValueError:
        pass
    raise ValueError("offset: Your pagination token is invalid or has expired")


def _since(req: Request, task: dict) -> bool:
    """Incomplete tasks, and tasks completed at or after ``completed_since`` (every task without it)."""
    given = _one(req, "completed_since")
    if not given or not task["completed"]:
        return True
    if given == "now":
        return False
    try:
        since = datetime.fromisoformat(given)
    except ValueError:
        raise ValueError(f"completed_since: Not a valid date-time: {given}") from None
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return datetime.fromisoformat(task["completed_at"]) >= since


def _record(task: dict, fields: list[str]) -> dict:
    """The task as Asana answers it: gid and resource_type, and the fields asked for (a compact record else)."""
    record = {"gid": task["gid"], "resource_type": "task"}
    names = fields or list(COMPACT)
    for name in (n for n in names if "." not in n and n != "custom_fields"):
        record[name] = task.get(name)
    custom = [n.split(".", 1)[1] for n in names if n.startswith("custom_fields.")]
    if custom or "custom_fields" in names:
        keys = custom or ["name", "resource_subtype", "number_value"]
        record["custom_fields"] = [{"gid": f["gid"], **{k: f.get(k) for k in keys}} for f in task["custom_fields"]]
    return record
