"""GitLab's REST API v4 lists of issues and merge requests, the server half the gitlab source talks to.

Served, as GitLab describes them (tests/vendor_specs/gitlab.json checks every request):
    GET /api/v4/projects/:id/issues | merge_requests | issues_statistics     (:id a URL-encoded path or an id)
    GET /api/v4/groups/:id/issues | merge_requests | issues_statistics       (subgroups included)
    GET /api/v4/version
Authentication: ``PRIVATE-TOKEN: <token>`` or ``Authorization: Bearer <token>``; anything else is 401
``{"message": "401 Unauthorized"}``; a token without read_api (or api) 403 ``insufficient_scope``; a project or
group that does not exist or that the token cannot see (``hide``) 404 ``{"message": "404 Project Not Found"}``.
A value outside a parameter's enum is 400 ``{"error": "state does not have a valid value"}`` (Grape); a
parameter GitLab does not declare is ignored, as GitLab ignores it (the vendor excerpt catches it instead).

Offset pages (``page``, ``per_page``: default 20, at most 100) carry x-page, x-per-page, x-next-page,
x-prev-page, x-total, x-total-pages and a Link header (prev, next, first, last); above ``total_cap`` (10,000)
x-total, x-total-pages and rel="last" are left out. A project's issues also page by keyset
(``pagination=keyset`` with ``order_by`` and ``sort``): a ``cursor`` in Link rel="next", no totals; keyset on
any other list (and on an instance older than 18.3: ``keyset_issues``) is 405. issues_statistics ignores
``state`` and, for a group, does not leave archived projects out (it has no ``non_archived``; inferred from
GitLab's shared IssuesFinder, not stated on its page).
Every answer carries RateLimit-Name/-Limit/-Observed/-Remaining/-Reset; past ``per_minute`` in a minute, 429
with the plain text "Retry later", RateLimit-ResetTime and Retry-After.
https://docs.gitlab.com/api/rest/ https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import unquote, urlencode

from okrsync.testing import Emulator, Request, Response, route
from tests.vendor_spec import spec

UNAUTHORIZED = {"message": "401 Unauthorized"}
SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api read_api",
}
ISSUE_ORDERS = (
    "created_at due_date label_priority milestone_due popularity priority relative_position title updated_at weight"
)
MR_ORDERS = "created_at label_priority milestone_due popularity priority title updated_at merged_at"
ENUMS = {  # the enums of GitLab's OpenAPI (openapi_v2.yaml)
    "issues": {"state": {"opened", "closed", "all"}, "order_by": set(ISSUE_ORDERS.split())},
    "merge_requests": {"state": {"opened", "closed", "locked", "merged", "all"}, "order_by": set(MR_ORDERS.split())},
}
SORTABLE = {"created_at", "updated_at", "merged_at"}  # the orders this emulator implements
KEYSET_ORDERS = {"created_at", "updated_at", "title", "weight", "due_date", "relative_position"}  # and id
BOOLEANS = {"confidential", "non_archived"}
TIMES = {"created_after", "created_before", "updated_after", "updated_before"}
PASSIVE = {"page", "per_page", "order_by", "sort", "pagination", "cursor", "scope", "with_labels_details", "view"}
FILTERS = {"state", "labels", "not[labels]", "issue_type", "target_branch", "confidential", "non_archived", *TIMES}


def when(text: str) -> datetime:
    """An ISO 8601 time as GitLab reads it; a bare date or a naive time is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class GitlabEmulator(Emulator):
    vendor = "gitlab"
    total_cap = 10_000  # "if a query returns more than 10,000 records, GitLab doesn't return" the totals
    keyset_issues = True  # project issues page by keyset since GitLab 18.3; False: an older instance (405)

    def __init__(self, token: str, per_minute: int = 2000, clock: Callable[[], float] = time.time):
        super().__init__()
        self.token, self.per_minute, self.clock = token, per_minute, clock
        self.scopes = {"read_api"}
        self.projects: dict[str, dict] = {}  # full path -> {id, archived}
        self.hidden: set[str] = set()  # projects and groups that exist but the token cannot see
        self.items: dict[str, list[dict]] = {"issues": [], "merge_requests": []}
        self._window = (0, 0)  # (minute's start, requests in it)

    # -- data ------------------------------------------------------------------------------------

    def add_project(self, path: str, archived: bool = False) -> None:
        self.projects[path] = {"id": len(self.projects) + 1, "archived": archived}

    def add(self, kind: str, project: str, state: str = "opened", labels=(), created: str = "2026-10-15", **more):
        """An issue or merge request; ``more``: updated, merged (merged_at), issue_type, confidential,
        target_branch."""
        if project not in self.projects:
            self.add_project(project)
        listed = self.items[kind]
        created_at = when(created).isoformat().replace("+00:00", "Z")
        merged = more.pop("merged", None)
        item = {"id": len(listed) + 1, "iid": len(listed) + 1, "project": project, "state": state}
        item |= {"labels": list(labels), "created_at": created_at, "updated_at": more.pop("updated", created_at)}
        item |= {"issue_type": "issue", "confidential": False, "target_branch": "main", **more}
        if kind == "merge_requests":
            item["merged_at"] = when(merged).isoformat().replace("+00:00", "Z") if merged else None
        listed.append(item)

    # -- routes ----------------------------------------------------------------------------------

    @route("GET", r"/api/v4/version")
    def version(self, req: Request):
        return self._gate(req) or Response(200, {"version": "18.6.1-ee", "revision": "8c1a2b3d4e5"}, self._quota())

    @route("GET", r"/api/v4/(projects|groups)/([^/]+)/(issues|merge_requests|issues_statistics)")
    def listing(self, req: Request, scope: str, ident: str, what: str):
        if refused := self._gate(req):
            return refused
        headers = self._quota()
        target = unquote(ident)
        found = self._projects(scope, target)
        if found is None:
            return Response(404, {"message": f"404 {scope[:-1].title()} Not Found"}, headers)
        kind = "issues" if what == "issues_statistics" else what
        query = {k: v[-1] for k, v in req.query.items()}
        if bad := self._invalid(kind, query):
            return Response(400, {"error": f"{bad} does not have a valid value"}, headers)
        declared = {
            n
            for op in spec("gitlab")["operations"]
            if op["path"].endswith(f"{scope}/{{id}}/{what}")
            for n in op["query"]
        }
        unknown = (set(query) & declared) - PASSIVE - FILTERS - {"iids[]"}  # undeclared ones GitLab ignores
        if unknown or query.get("order_by", "created_at") not in SORTABLE:
            return Response(501, {"message": f"emulator: {sorted(unknown) or query['order_by']} not implemented"})
        if what == "issues_statistics":
            return Response(200, self._statistics(found, query), headers)
        archived_out = scope == "groups" and query.get("non_archived", "true") == "true"
        matched = [i for i in self._matching(kind, found, query, req) if not (archived_out and self._archived(i))]
        if query.get("pagination") == "keyset":
            if (scope, kind) != ("projects", "issues") or not self.keyset_issues:
                return Response(405, {"error": "Keyset pagination is not yet available for this type of request"})
            if query.get("order_by") in KEYSET_ORDERS and query.get("sort") in ("asc", "desc"):
                return self._keyset(req, matched, query, headers)
        return self._offset(req, matched, query, headers)

    # -- the parts -------------------------------------------------------------------------------

    def _gate(self, req: Request) -> Response | None:
        """401 without this token (either header), 403 without the scope, 429 past the minute's quota."""
        sent = req.headers.get("private-token") or req.headers.get("authorization", "").removeprefix("Bearer ")
        if sent != self.token:
            return Response(401, UNAUTHORIZED)
        if not self.scopes & {"read_api", "api"}:
            return Response(403, SCOPE)
        now = int(self.clock())
        start, used = self._window
        start, used = (now, 0) if now - start >= 60 else (start, used)
        self._window = (start, used + 1)
        if used >= self.per_minute:
            wait = {"Retry-After": str(start + 60 - now), "RateLimit-ResetTime": formatdate(start + 60, usegmt=True)}
            return Response(429, "Retry later", {**self._quota(), **wait})
        return None

    def _quota(self) -> dict[str, str]:
        start, used = self._window
        return {
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": str(self.per_minute),
            "RateLimit-Observed": str(used),
            "RateLimit-Remaining": str(max(0, self.per_minute - used)),
            "RateLimit-Reset": str(start + 60),
        }

    def _projects(self, scope: str, target: str) -> list[str] | None:
        """The projects a project or group path (or a project id) stands for; None: 404 (or hidden)."""
        if target in self.hidden:
            return None
        if scope == "projects":
            path = next((p for p, v in self.projects.items() if target in (p, str(v["id"]))), None)
            return [path] if path else None
        inside = [p for p in self.projects if p.startswith(target + "/")]
        return inside or None

    def _archived(self, item: dict) -> bool:
        return bool(self.projects[item["project"]]["archived"])

    @staticmethod
    def _invalid(kind: str, query: dict[str, str]) -> str | None:
        for name, allowed in ENUMS[kind].items():
            if name in query and query[name] not in allowed:
                return name
        if query.get("sort", "desc") not in ("asc", "desc"):
            return "sort"
        if any(query[b] not in ("true", "false") for b in BOOLEANS if b in query):
            return next(b for b in BOOLEANS if b in query and query[b] not in ("true", "false"))
        for name in TIMES & set(query):
            try:
                when(query[name])
            except ValueError:
                return name
        return None

    def _matching(self, kind: str, projects: list[str], query: dict[str, str], req: Request) -> list[dict]:
        state = query.get("state", "all")
        items = [i for i in self.items[kind] if i["project"] in projects and state in ("all", i["state"])]
        iids = {int(v) for v in req.query.get("iids[]", [])}
        return [i for i in items if self._holds(i, query) and (not iids or i["iid"] in iids)]

    @staticmethod
    def _holds(item: dict, query: dict[str, str]) -> bool:
        labels = set(item["labels"])
        wanted = [w for w in query.get("labels", "").split(",") if w]
        if wanted == ["None"] and labels or wanted == ["Any"] and not labels:
            return False
        if wanted not in (["None"], ["Any"]) and not set(wanted) <= labels:
            return False
        if labels & {w for w in query.get("not[labels]", "").split(",") if w}:
            return False
        for name in TIMES & set(query):
            moment, bound = when(item[name.rsplit("_", 1)[0] + "_at"]), when(query[name])
            if (moment < bound) if name.endswith("_after") else (moment > bound):  # "on or after/before"
                return False
        exact = {"issue_type": "issue_type", "target_branch": "target_branch"}
        if any(name in query and query[name] != str(item[field]) for name, field in exact.items()):
            return False
        return "confidential" not in query or query["confidential"] == str(item["confidential"]).lower()

    def _statistics(self, projects: list[str], query: dict[str, str]) -> dict:
        every = [i for i in self.items["issues"] if i["project"] in projects and self._holds(i, query)]
        opened = sum(i["state"] == "opened" for i in every)
        return {"statistics": {"counts": {"all": len(every), "closed": len(every) - opened, "opened": opened}}}

    @staticmethod
    def _per_page(query: dict[str, str]) -> int:
        asked = query.get("per_page", "20")
        return min(100, int(asked)) if asked.isdigit() and int(asked) > 0 else 20

    def _link(self, req: Request, **changes: str) -> str:
        query = {k: v for k, v in req.query.items() if k not in changes} | {k: [v] for k, v in changes.items()}
        return f"<{self.url}{req.path}?{urlencode(query, doseq=True)}>"

    @staticmethod
    def _ordered(items: list[dict], query: dict[str, str]) -> list[dict]:
        field = query.get("order_by") or "created_at"
        present = sorted((i for i in items if i.get(field)), key=lambda i: (i[field], i["id"]))
        present = present[::-1] if query.get("sort", "desc") == "desc" else present
        return present + [i for i in items if not i.get(field)]  # without a value (merged_at): last

    def _offset(self, req: Request, items: list[dict], query: dict[str, str], headers: dict) -> Response:
        size, page = self._per_page(query), int(query.get("page", "1") or "1")
        pages = max(1, -(-len(items) // size))
        shown = self._ordered(items, query)[(page - 1) * size : page * size]
        links = {"first": self._link(req, page="1")}
        headers = {**headers, "x-page": str(page), "x-per-page": str(size)}
        headers |= {
            "x-next-page": str(page + 1) if page < pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        if page < pages:
            links["next"] = self._link(req, page=str(page + 1))
        if page > 1:
            links["prev"] = self._link(req, page=str(page - 1))
        if len(items) <= self.total_cap:
            headers |= {"x-total": str(len(items)), "x-total-pages": str(pages)}
            links["last"] = self._link(req, page=str(pages))
        headers["Link"] = ", ".join(f'{url}; rel="{rel}"' for rel, url in links.items())
        return Response(200, [self._shown(i) for i in shown], headers)

    def _keyset(self, req: Request, items: list[dict], query: dict[str, str], headers: dict) -> Response:
        ordered = self._ordered(items, query)
        after = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else None
        start = next((n + 1 for n, i in enumerate(ordered) if i["id"] == after), 0) if after else 0
        shown = ordered[start : start + self._per_page(query)]
        if start + len(shown) < len(ordered):
            cursor = base64.urlsafe_b64encode(str(shown[-1]["id"]).encode()).decode()
            headers = {**headers, "Link": f'{self._link(req, cursor=cursor)}; rel="next"'}
        return Response(200, [self._shown(i) for i in shown], headers)

    def _shown(self, item: dict) -> dict:
        out = {k: v for k, v in item.items() if k != "project"}
        return out | {"project_id": self.projects[item["project"]]["id"]}
