"""Azure DevOps Boards' REST API 7.1 (Work Item Tracking), the server half the azure_devops source talks to.

Served, as Microsoft describes them (tests/vendor_specs/azure_devops.json checks every request):
    POST /{org}/{project}/_apis/wit/wiql                   {"query"} -> ids only, at most 20,000 (VS402337)
    POST /{org}[/{project}]/_apis/wit/workitemsbatch       {"ids" (at most 200: VS403474), "fields", ...}
    GET  /{org}/{project}/_apis/wit/workitemtypes[/{type}/states]   types; states with their categories
Every call needs ``api-version=7.1`` and Basic auth with an empty user name and the PAT as password. A
wrong PAT gets 203 with an HTML sign-in page (as users report it; ``bad_pat_status=401`` answers 401
instead), a PAT without ``vso.work`` 403, an unknown organization or project 404. ``throttle()`` blocks
requests (429 + Retry-After, TF400733) or delays them (200 + Retry-After), with the X-RateLimit-* headers
of https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits.

The WIQL is a small, honest subset: ``SELECT ... FROM WorkItems [WHERE c AND c ...] [ORDER BY ...]`` where
each condition is ``[Reference.Name] op value`` (=, <>, <, <=, >, >=; a 'quoted' string, a number or
@project). Anything else is a 400 like Azure DevOps's syntax error. The TF/VS codes are those seen in public
reports; the texts of the 403 and of the syntax error are this emulator's own.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from urllib.parse import unquote

from okrsync.testing import Emulator, Request, Response, route

SIGN_IN_PAGE = "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body></body></html>"
AGILE = {  # the Agile process's states and categories (Bug, User Story, Task)
    "Bug": [("New", "Proposed"), ("Active", "InProgress"), ("Resolved", "Resolved"), ("Closed", "Completed")],
    "User Story": [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    ],
    "Task": [("New", "Proposed"), ("Active", "InProgress"), ("Closed", "Completed"), ("Removed", "Removed")],
}
SYSTEM_FIELDS = {"System.Id", "System.WorkItemType", "System.State", "System.Title", "System.TeamProject"}
CONDITION = re.compile(r"^\[([\w.]+)\]\s*(=|<>|<=|>=|<|>)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?|@project)$", re.I)
QUERY = re.compile(r"^\s*SELECT\s+.+?\s+FROM\s+WorkItems(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+.+)?\s*$", re.I | re.S)


def error(status: int, message: str, type_key: str = "VssServiceException") -> Response:
    """Azure DevOps's error body: {"$id", "innerException", "message", "typeName", "typeKey", ...}."""
    body = {"$id": "1", "innerException": None, "message": message, "typeName": type_key, "typeKey": type_key}
    return Response(status, {**body, "errorCode": 0, "eventId": 3000})


class AzureDevopsEmulator(Emulator):
    vendor = "azure_devops"

    def __init__(self, organization: str, project: str, token: str, *, query_limit: int = 20_000):
        super().__init__()
        self.organization, self.project, self.token = organization, project, token
        self.query_limit = query_limit
        self.bad_pat_status = 203
        self.scopes = {"vso.work"}
        self.types = {kind: list(states) for kind, states in AGILE.items()}
        self.items: dict[int, dict] = {}  # id -> fields
        self._throttle: list[tuple[int, float, float]] = []  # (status, retry-after, reset in) for the next requests
        self.bearers: list[str] = []  # Entra ID access tokens accepted (an identity platform emulator's issued)

    def add(self, kind: str = "Bug", state: str = "New", **fields) -> int:
        """A work item; ``fields`` by reference name, dots as double underscores (Microsoft__VSTS__...)."""
        item_id = len(self.items) + 1
        named = {k.replace("__", "."): v for k, v in fields.items()}
        self.items[item_id] = {
            "System.Id": item_id,
            "System.WorkItemType": kind,
            "System.State": state,
            "System.TeamProject": self.project,
            **named,
        }
        return item_id

    def throttle(
        self, blocked: int = 0, delayed: int = 0, retry_after: float = 3, reset_in: float | None = None
    ) -> None:
        """The next ``blocked`` requests get 429, then the next ``delayed`` are answered with a delay asked;
        X-RateLimit-Reset is ``reset_in`` seconds away (default: ``retry_after``)."""
        reset = retry_after if reset_in is None else reset_in
        self._throttle += [(429, retry_after, reset)] * blocked + [(200, retry_after, reset)] * delayed

    # -- gate: auth, version, organization and project ---------------------------------------------

    def _gate(self, req: Request, org: str, project: str | None) -> Response | None:
        header = req.headers.get("authorization", "")
        if not header:
            return error(401, "TF400813: The user '' is not authorized to access this resource.")
        bearer = header.startswith("Bearer ") and header.removeprefix("Bearer ") in self.bearers
        if not bearer and header != "Basic " + base64.b64encode(f":{self.token}".encode()).decode():
            if self.bad_pat_status == 203:
                return Response(203, SIGN_IN_PAGE, {"Content-Type": "text/html; charset=utf-8"})
            return error(401, "TF400813: The user '' is not authorized to access this resource.")
        if req.query.get("api-version") != ["7.1"]:
            return error(400, f"The requested REST API version of {req.query.get('api-version')} is not 7.1.")
        if unquote(org) != self.organization:
            return error(404, f"The organization {unquote(org)!r} could not be found.")
        if project is not None and unquote(project) != self.project:
            return error(404, f"TF200016: The following project does not exist: {unquote(project)}.")
        if "vso.work" not in self.scopes:
            return error(403, "Access denied: the personal access token lacks the scope this operation needs.")
        return None

    def _throttled(self) -> tuple[Response | None, dict[str, str]]:
        if not self._throttle:
            return None, {}
        status, after, reset_in = self._throttle.pop(0)
        headers = {
            "Retry-After": f"{after:g}",
            "X-RateLimit-Resource": "WorkItemTracking",
            "X-RateLimit-Delay": "0.500",
            "X-RateLimit-Limit": "200",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(datetime.now(UTC).timestamp()) + int(reset_in)),
        }
        if status == 429:
            message = "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource"
            blocked = error(429, f"{message} 'WorkItemTracking' in namespace 'User'.")
            return Response(429, blocked.body, headers), {}
        return None, headers

    def _answer(self, req: Request, org: str, project: str | None, make) -> Response:
        refused = self._gate(req, org, project)
        if refused:
            return refused
        blocked, headers = self._throttled()
        if blocked:
            return blocked
        answer = make()
        answer = answer if isinstance(answer, Response) else Response(200, answer)
        answer.headers.update(headers)
        return answer

    # -- routes ----------------------------------------------------------------------------------

    @route("POST", r"/([^/]+)/([^/]+)/_apis/wit/wiql")
    def wiql(self, req: Request, org: str, project: str):
        return self._answer(req, org, project, lambda: self._run(req))

    @route("POST", r"/([^/]+)/_apis/wit/workitemsbatch")
    def batch(self, req: Request, org: str):
        return self._answer(req, org, None, lambda: self._batch(req.json() or {}))

    @route("POST", r"/([^/]+)/([^/]+)/_apis/wit/workitemsbatch")
    def project_batch(self, req: Request, org: str, project: str):
        return self._answer(req, org, project, lambda: self._batch(req.json() or {}))

    @route("GET", r"/([^/]+)/([^/]+)/_apis/wit/workitemtypes")
    def work_item_types(self, req: Request, org: str, project: str):
        kinds = [{"name": kind, "referenceName": f"Microsoft.VSTS.WorkItemTypes.{kind}"} for kind in self.types]
        return self._answer(req, org, project, lambda: {"count": len(kinds), "value": kinds})

    @route("GET", r"/([^/]+)/([^/]+)/_apis/wit/workitemtypes/([^/]+)/states")
    def states(self, req: Request, org: str, project: str, kind: str):
        return self._answer(req, org, project, lambda: self._states(unquote(kind)))

    # -- behaviour -------------------------------------------------------------------------------

    def _run(self, req: Request) -> Response | dict:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return error(400, 'The query text is missing: the request body must be {"query": "..."}.')
        try:
            matched = self._match(body["query"])
        except ValueError as exc:
            return error(400, str(exc), "WorkItemTrackingQueryException")
        if len(matched) > self.query_limit:
            limit = f"{self.query_limit}"
            return error(
                400,
                f"VS402337: The number of work items returned exceeds the size limit of {limit}. "
                "Change the query to return fewer items.",
                "WorkItemTrackingQueryResultSizeLimitExceededException",
            )
        url = f"https://dev.azure.com/{self.organization}/_apis/wit/workItems"
        return {
            "queryType": "flat",
            "queryResultType": "workItem",
            "asOf": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "columns": [{"referenceName": "System.Id", "name": "ID", "url": ""}],
            "sortColumns": [],
            "workItems": [{"id": i, "url": f"{url}/{i}"} for i in matched],
        }

    def _match(self, text: str) -> list[int]:
        query = QUERY.match(text)
        if not query:
            raise ValueError(
                "TF51006: The query statement is not valid WIQL (this emulator reads SELECT..FROM WorkItems)."
            )
        conditions = [self._condition(c.strip()) for c in re.split(r"\s+AND\s+", query.group(1) or "", flags=re.I)]
        conditions = [c for c in conditions if c]
        return [i for i, fields in self.items.items() if all(_holds(fields, *c) for c in conditions)]

    def _condition(self, text: str) -> tuple[str, str, object] | None:
        if not text:
            return None
        found = CONDITION.match(text)
        if not found:
            raise ValueError(f"TF51006: Query syntax error in «{text[:60]}».")
        field, op, raw = found.groups()
        if field not in self._fields():
            raise ValueError(
                f"TF51005: The query references a field that does not exist. The error is caused by «{field}»."
            )
        if raw.lower() == "@project":
            return field, op, self.project
        return field, op, raw[1:-1].replace("''", "'") if raw.startswith("'") else float(raw)

    def _fields(self) -> set[str]:
        return SYSTEM_FIELDS | {name for fields in self.items.values() for name in fields}

    def _batch(self, body: dict) -> Response | dict:
        ids, fields = body.get("ids") or [], body.get("fields") or []
        if len(ids) > 200:
            return error(400, f"VS403474: You requested {len(ids)} work items which exceeds the limit of 200")
        if unknown := [f for f in fields if f not in self._fields()]:
            return error(400, f"TF51535: Cannot find field {unknown[0]}.")
        value: list[dict | None] = []
        for item_id in ids:
            if item_id not in self.items:
                if body.get("errorPolicy") != "omit":
                    return error(404, f"TF401232: Work item {item_id} does not exist, or you do not have permissions.")
                value.append(None)
                continue
            stored = self.items[item_id]
            shown = {f: stored[f] for f in (fields or stored) if stored.get(f) is not None}  # no value: absent
            value.append({"id": item_id, "rev": 1, "fields": shown, "url": f"/_apis/wit/workItems/{item_id}"})
        return {"count": len(value), "value": value}

    def _states(self, kind: str) -> Response | dict:
        if kind not in self.types:
            return error(404, f"VS402323: Work item type {kind} does not exist.")
        states = [{"name": name, "color": "b2b2b2", "category": category} for name, category in self.types[kind]]
        return {"count": len(states), "value": states}


def _holds(fields: dict, field: str, op: str, wanted: object) -> bool:
    have = fields.get(field)
    if have is None:
        return op == "<>"
    if isinstance(wanted, float):
        try:
            left, right = float(have), wanted
        except (TypeError, ValueError):
            return False
    else:  # WIQL compares strings without regard to case
        left, right = str(have).lower(), str(wanted).lower()
    return {"=": left == right, "<>": left != right, "<": left < right, "<=": left <= right}.get(
        op, left > right if op == ">" else left >= right
    )
