"""Jira REST API v2, enough for the jira package: Cloud and Data Center flavours.

Served under /rest/api/2: serverInfo, field, search/jql (Cloud, nextPageToken paging),
search/approximate-count (Cloud), search (Data Center; 410 Gone on Cloud, as Jira Cloud now
answers), issue GET/PUT, issue comments GET/POST. Auth: Cloud takes basic auth (email + API
token), Data Center a bearer personal access token, or basic auth (user + password) with ``basic=True``
(https://developer.atlassian.com/server/jira/platform/basic-authentication/).

Comments answer as Jira's PageOfComments does (id, body, author with its displayName, created, updated: the
excerpt in tests/vendor_specs/jira.json); okrsync's own comments are authored by the connection's account
("okrsync bot"), a person's are added with :meth:`JiraEmulator.person_comment`. ``now`` is the emulator's clock
for ``created`` (the real time when unset); a comment a test stored without one reads as created long ago.

JQL is not interpreted: a test registers each query string with the issue keys it matches
(``emulator.jql[...] = [...]``); ``(Q) AND statusCategory = Done`` is derived from Q. Any other
query answers 400 with Jira's error shape, like an invalid JQL would.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from itertools import count

from okrsync.testing import Emulator, Request, Response, route

API = "/rest/api/2"
LONG_AGO = "2020-01-01T00:00:00.000+0000"  # the created of a comment a test stored without one
DONE_SUFFIX = re.compile(r"^\((.*)\) AND statusCategory = Done$", re.S)


def jira_error(status: int, *messages: str) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": {}})


class JiraEmulator(Emulator):
    vendor = "jira"  # each request is checked against tests/vendor_specs/jira.json

    def __init__(
        self,
        deployment: str = "Cloud",
        email: str = "bot@acme.example",
        token: str = "jira-api-token",
        page_size: int = 100,
        basic: bool | None = None,
    ):
        super().__init__()
        self.deployment = deployment
        self.basic = deployment == "Cloud" if basic is None else basic
        self.email, self.token = email, token
        self.page_size = page_size
        self.fields = [
            {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"]},
            {"id": "status", "name": "Status", "custom": False, "clauseNames": ["status"]},
            {"id": "timespent", "name": "Time Spent", "custom": False, "clauseNames": ["timespent"]},
            {
                "id": "customfield_10016",
                "name": "Story Points",
                "custom": True,
                "clauseNames": ["cf[10016]", "Story Points"],
                "schema": {"type": "number"},
            },
            {
                "id": "customfield_10100",
                "name": "OKR progress",
                "custom": True,
                "clauseNames": ["cf[10100]", "OKR progress"],
                "schema": {"type": "number"},
            },
        ]
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self.jql: dict[str, list[str]] = {}
        self.loop_token = False  # misbehave: hand out the same nextPageToken forever
        self.now: datetime | None = None  # the clock for comments' created (None: the real time)
        self._ids = count(10000)

    def add_issue(self, key: str, done: bool = False, **fields) -> None:
        category = {"key": "done", "name": "Done"} if done else {"key": "indeterminate", "name": "In Progress"}
        self.issues[key] = {
            "id": str(next(self._ids)),
            "key": key,
            "fields": {
                "summary": key,
                "status": {"name": "Done" if done else "In Progress", "statusCategory": category},
                **fields,
            },
        }
        self.comments.setdefault(key, [])

    def person_comment(self, key: str, body: str, author: str = "Ana Lima", created: datetime | None = None) -> dict:
        """A comment a person wrote on issue ``key`` (in the UI, say): appended, so it is the newest."""
        comment = self._comment(key, body, self._user(author), created)
        self.comments[key].append(comment)
        return comment

    @staticmethod
    def _user(name: str) -> dict:
        account = "557058:" + base64.b32encode(name.encode()).decode().lower().rstrip("=")[:24]
        return {"accountId": account, "displayName": name, "active": True}

    def _comment(self, key: str, body: str, author: dict, created: datetime | None) -> dict:
        at = (created or self.now or datetime.now(UTC)).astimezone(UTC)
        moment = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
        number = str(next(self._ids))
        url = f"{self.url}{API}/issue/{self.issues[key]['id']}/comment/{number}"
        shape = {"self": url, "id": number, "author": author, "body": body, "updateAuthor": author}
        return shape | {"created": moment, "updated": moment}

    # -- plumbing -----------------------------------------------------------------------------

    def _authorized(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if self.basic:
            expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return auth == f"Basic {expected}"
        return auth == f"Bearer {self.token}"

    def _dispatch(self, req: Request) -> Response:
        if not self._authorized(req):
            return Response(401, "<html><body>Unauthorized (401)</body></html>", {"Content-Type": "text/html"})
        return super()._dispatch(req)

    def _match(self, jql: str) -> list[str] | None:
        if jql in self.jql:
            return [k for k in self.jql[jql] if k in self.issues]
        if m := DONE_SUFFIX.match(jql):
            base = self._match(m.group(1))
            if base is not None:
                return [k for k in base if self.issues[k]["fields"]["status"]["statusCategory"]["key"] == "done"]
        return None

    def _bad_jql(self, jql: str) -> Response:
        return jira_error(400, f"Error in the JQL Query: the query '{jql}' is not valid here.")

    @staticmethod
    def _unbounded(jql: str) -> Response | None:
        """Jira Cloud's search/jql and approximate-count refuse a JQL with no search restriction."""
        if not re.sub(r"(?i)\border\s+by\b.*$", "", jql).strip():
            return jira_error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
        return None

    def _issue_json(self, key: str, fields: list[str] | None) -> dict:
        issue = self.issues[key]
        chosen = (
            issue["fields"]
            if not fields or "*all" in fields
            else {f: issue["fields"].get(f) for f in fields if f in issue["fields"] or f.startswith("customfield_")}
        )
        return {"id": issue["id"], "key": key, "self": f"{self.url}{API}/issue/{issue['id']}", "fields": chosen}

    @staticmethod
    def _fields_param(req: Request) -> list[str]:
        return [f for value in req.query.get("fields", []) for f in value.split(",") if f]

    # -- routes -------------------------------------------------------------------------------

    @route("GET", API + "/serverInfo")
    def server_info(self, req: Request):
        version = [1001, 0, 0] if self.deployment == "Cloud" else [9, 12, 4]
        return {
            "baseUrl": self.url,
            "version": ".".join(map(str, version)),
            "versionNumbers": version,
            "deploymentType": self.deployment,
            "serverTitle": "Jira (emulator)",
        }

    @route("GET", API + "/field")
    def field(self, req: Request):
        return self.fields

    @route("GET", API + "/search/jql")
    def search_jql(self, req: Request):
        if self.deployment != "Cloud":
            return jira_error(404, "Not found")
        jql = req.query.get("jql", [""])[0]
        if refused := self._unbounded(jql):
            return refused
        keys = self._match(jql)
        if keys is None:
            return self._bad_jql(jql)
        size = min(int(req.query.get("maxResults", ["50"])[0]), self.page_size)
        start = int(req.query.get("nextPageToken", ["p0"])[0][1:] or 0)
        page = keys[start : start + size]
        body = {
            "issues": [self._issue_json(k, self._fields_param(req)) for k in page],
            "isLast": start + size >= len(keys),
        }
        if not body["isLast"]:
            body["nextPageToken"] = "p0" if self.loop_token else f"p{start + size}"
        return body

    @route("POST", API + "/search/approximate-count")
    def approximate_count(self, req: Request):
        if self.deployment != "Cloud":
            return jira_error(404, "Not found")
        jql = req.json().get("jql", "")
        if refused := self._unbounded(jql):
            return refused
        keys = self._match(jql)
        return self._bad_jql(jql) if keys is None else {"count": len(keys)}

    @route("GET", API + "/search")
    def search(self, req: Request):
        if self.deployment == "Cloud":
            return jira_error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                "API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        jql = req.query.get("jql", [""])[0]
        keys = self._match(jql)
        if keys is None:
            return self._bad_jql(jql)
        start = int(req.query.get("startAt", ["0"])[0])
        size = min(int(req.query.get("maxResults", ["50"])[0]), self.page_size)
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(keys),
            "issues": [self._issue_json(k, self._fields_param(req)) for k in keys[start : start + size]],
        }

    def _find(self, key_or_id: str) -> str | None:
        if key_or_id in self.issues:
            return key_or_id
        return next((k for k, v in self.issues.items() if v["id"] == key_or_id), None)

    @route("GET", API + r"/issue/([^/]+)")
    def get_issue(self, req: Request, key: str):
        found = self._find(key)
        if found is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        return self._issue_json(found, self._fields_param(req))

    @route("PUT", API + r"/issue/([^/]+)")
    def put_issue(self, req: Request, key: str):
        found = self._find(key)
        if found is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        for field, value in (req.json() or {}).get("fields", {}).items():
            if field not in {f["id"] for f in self.fields}:
                return Response(400, {"errorMessages": [], "errors": {field: f"Field '{field}' cannot be set."}})
            self.issues[found]["fields"][field] = value
        return Response(204, b"")

    @route("GET", API + r"/issue/([^/]+)/comment")
    def list_comments(self, req: Request, key: str):
        found = self._find(key)
        if found is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        stored = [{"created": LONG_AGO, "updated": LONG_AGO} | c for c in self.comments[found]]
        comments = sorted(stored, key=lambda c: c["created"])  # oldest first (one format, UTC: text order)
        if req.query.get("orderBy", [""])[0] == "-created":
            comments = comments[::-1]
        start = int(req.query.get("startAt", ["0"])[0])
        size = min(int(req.query.get("maxResults", ["100"])[0]), 100)  # Cloud: at most 100 a page
        page = comments[start : start + size]
        return {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}

    @route("POST", API + r"/issue/([^/]+)/comment")
    def add_comment(self, req: Request, key: str):
        found = self._find(key)
        if found is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        bot = self._user("okrsync bot") | {"emailAddress": self.email}
        comment = self._comment(found, req.json()["body"], bot, None)
        self.comments[found].append(comment)
        return Response(201, comment)
