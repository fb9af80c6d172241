"""HubSpot CRM search, Salesforce REST query (+ OAuth token), Pipedrive deals summary, a generic JSON
API and a webhook receiver (Slack, Teams, any JSON hook) — the server halves the connectors talk to."""

from __future__ import annotations

import base64
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from typing import Any

from okrsync.testing import Emulator, Request, Response, route

OPS = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
}


HUBSPOT_401 = Response(
    401, {"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}
)
SALESFORCE_401 = Response(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
PIPEDRIVE_401 = Response(401, {"success": False, "error": "unauthorized access", "errorCode": 401})


def _cmp_value(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


# HubSpot's date and datetime properties: filters take epoch milliseconds only (an ISO date is a 400),
# records hold ISO date-times. https://developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis
DATE_PROPERTIES = {"closedate", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"}
HUBSPOT_400 = {"status": "error", "message": "There was a problem with the request.", "category": "VALIDATION_ERROR"}


def _epoch_ms(text: str) -> float:
    if text.isdigit():
        return float(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000


def _matches(record: dict, f: dict) -> bool:
    name, op = f["propertyName"], f["operator"]
    stored = record["id"] if name == "hs_object_id" else record["properties"].get(name)  # every record has it
    if stored is None:
        return op == "NOT_HAS_PROPERTY"
    if op == "HAS_PROPERTY":
        return True
    if name in DATE_PROPERTIES:
        value, low, high = _epoch_ms(stored), float(f.get("value", 0)), float(f.get("highValue", 0))
    else:
        value, low, high = _cmp_value(stored), _cmp_value(f.get("value")), _cmp_value(f.get("highValue"))
    if op == "BETWEEN":
        return low <= value <= high
    return OPS[op](value, low)


def _too_many_filters(body: dict) -> bool:
    """ "A maximum of five filterGroups with up to 6 filters in each group, with a maximum of 18 filters in
    total" (https://developers.hubspot.com/docs/guides/api/crm/search#limitations)."""
    groups = [len(g.get("filters", [])) for g in body.get("filterGroups", [])]
    return len(groups) > 5 or any(n > 6 for n in groups) or sum(groups) > 18


def _bad_date_filter(body: dict) -> bool:
    """A filter on a date property whose value is not epoch milliseconds: HubSpot answers 400."""
    return any(
        f["propertyName"] in DATE_PROPERTIES and any(k in f and not str(f[k]).isdigit() for k in ("value", "highValue"))
        for group in body.get("filterGroups", [])
        for f in group.get("filters", [])
    )


class HubspotEmulator(Emulator):
    vendor = "hubspot"  # each request is checked against tests/vendor_specs/hubspot.json

    def __init__(self, token: str, scopes: set[str] | None = None):
        super().__init__()
        self.token = token
        self.objects: dict[str, list[dict]] = {"deals": [], "contacts": [], "companies": [], "tickets": []}
        self.scopes = scopes if scopes is not None else set(self.objects)  # objects the private app may read
        self.daily_limit, self.daily_used = 250_000, 0  # the account's requests per day, shared by its apps
        self._sorted: tuple = (None, [], [])  # (which record list, records by id, their ids): see _by_id_range

    def _dispatch(self, req: Request) -> Response:
        """Every request counts against the account's daily limit, reported in X-HubSpot-RateLimit-Daily(-Remaining);
        past it HubSpot answers 429 with policyName DAILY."""
        with self._lock:
            self.daily_used += 1
            used = self.daily_used
        if used > self.daily_limit:
            return Response(
                429,
                {
                    "status": "error",
                    "message": "You have reached your daily limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "DAILY",
                },
            )
        response = super()._dispatch(req)
        response.headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
        response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(self.daily_limit - used)
        return response

    def _ok(self, req: Request) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.token}"

    def _scoped(self, obj: str) -> Response | None:
        """HubSpot's answer when the private app lacks crm.objects.<obj>.read."""
        if obj in self.objects and obj not in self.scopes:
            message = f"This app hasn't been granted all required scopes to make this call: crm.objects.{obj}.read"
            return Response(403, {"status": "error", "message": message, "category": "MISSING_SCOPES"})
        return None

    def _by_id_range(self, obj: str, filters: list[dict]) -> tuple[list[dict], list[dict]]:
        """An hs_object_id BETWEEN filter answered from the records sorted by id (HubSpot's own index; a
        scan of 25,000 records per request made one test take 13 s), and the filters left to check."""
        ranges = [f for f in filters if f["propertyName"] == "hs_object_id" and f["operator"] == "BETWEEN"]
        rows = self.objects[obj]
        if not ranges:
            return rows, filters
        key = (id(rows), len(rows))
        if self._sorted[0] != key:
            ordered = sorted(rows, key=lambda r: int(r["id"]))
            self._sorted = (key, ordered, [int(r["id"]) for r in ordered])
        _, ordered, ids = self._sorted
        for f in ranges:
            ordered_slice = slice(bisect_left(ids, int(f["value"])), bisect_right(ids, int(f["highValue"])))
            ordered, ids = ordered[ordered_slice], ids[ordered_slice]
        return ordered, [f for f in filters if f not in ranges]

    @route("GET", r"/crm/v3/objects/([a-z]+)")
    def list_objects(self, req: Request, obj: str):
        if not self._ok(req):
            return HUBSPOT_401
        if refused := self._scoped(obj):
            return refused
        return {"results": self.objects.get(obj, [])[:1]}

    @route("POST", r"/crm/v3/objects/([a-z]+)/search")
    def search(self, req: Request, obj: str):
        if not self._ok(req):
            return HUBSPOT_401
        if obj not in self.objects:
            return Response(404, {"status": "error", "message": f"Unable to infer object type from: {obj}"})
        if refused := self._scoped(obj):
            return refused
        body = req.json()
        limit = body.get("limit", 10)
        if limit > 200:
            return Response(400, {"status": "error", "message": "limit must be <= 200"})
        if _bad_date_filter(body) or _too_many_filters(body):
            return Response(400, HUBSPOT_400)
        rows = self.objects[obj]
        for group in body.get("filterGroups", [])[:1]:
            rows, rest = self._by_id_range(obj, group["filters"])
            rows = [r for r in rows if all(_matches(r, f) for f in rest)]
        start = int(body.get("after") or 0)
        if start >= 10_000:
            return Response(400, {"status": "error", "message": "paging beyond 10000 results is not allowed"})
        page = rows[start : start + limit]
        props = body.get("properties") or []
        out = {
            "total": len(rows),
            "results": [{"id": r["id"], "properties": {p: r["properties"].get(p) for p in props}} for r in page],
        }
        if start + limit < len(rows):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return out


class SalesforceEmulator(Emulator):
    def __init__(self, client_id: str, client_secret: str, version: str = "v62.0"):
        super().__init__()
        self.client_id, self.client_secret, self.version = client_id, client_secret, version
        self.tokens: set[str] = set()
        self.view_setup = False  # the integration user's "View Setup and Configuration" permission
        self.soql: dict[str, dict] = {}
        self.api_allocation, self.api_used = 15000, 0  # the org's API requests per 24 hours, and used so far

    def _dispatch(self, req: Request) -> Response:
        """Every REST call counts against the org's allocation and reports it in Sforce-Limit-Info; past
        it Salesforce answers 403 REQUEST_LIMIT_EXCEEDED (the OAuth token endpoint is not counted)."""
        if not req.path.startswith("/services/data/"):
            return super()._dispatch(req)
        with self._lock:
            self.api_used += 1
            used = self.api_used
        if used > self.api_allocation:
            return Response(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        response = super()._dispatch(req)
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{self.api_allocation}"
        return response

    @route("POST", "/services/oauth2/token")
    def token(self, req: Request):
        form = {k: v[0] for k, v in req.form().items()}
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Response(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        token = f"00Dxx0000001gPL!emulator{len(self.tokens)}"
        self.tokens.add(token)
        return {"access_token": token, "instance_url": self.url, "token_type": "Bearer", "issued_at": "0"}

    @route("GET", r"/services/data/(v[\d.]+)/query")
    def query(self, req: Request, version: str):
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return SALESFORCE_401
        q = req.query.get("q", [""])[0]
        if q not in self.soql:
            return Response(
                400, [{"message": f"unexpected token: '{q.split()[-1] if q else ''}'", "errorCode": "MALFORMED_QUERY"}]
            )
        return {"done": True, **self.soql[q]}

    @route("GET", r"/services/data/(v[\d.]+)/limits")
    def limits(self, req: Request, version: str):
        """Needs "View Setup and Configuration", which an integration user usually lacks."""
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return SALESFORCE_401
        if not self.view_setup:
            return Response(
                403,
                [
                    {
                        "message": "The REST API is not enabled for this Organization.",
                        "errorCode": "API_DISABLED_FOR_ORG",
                    }
                ],
            )
        return {"DailyApiRequests": {"Max": 15000, "Remaining": 14999}}

    @route("GET", r"/services/data/(v[\d.]+)/")
    def resources(self, req: Request, version: str):
        """The version's resource list: any user with API access."""
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return SALESFORCE_401
        return {"query": f"/services/data/{version}/query", "limits": f"/services/data/{version}/limits"}


class PipedriveEmulator(Emulator):
    vendor = "pipedrive"  # each request is checked against tests/vendor_specs/pipedrive.json

    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.deals: list[dict] = []  # {"status", "value_eur", "filter_ids", "pipeline_id", "user_id"}

    def _ok(self, req: Request) -> bool:
        """The token in the x-api-token header (Pipedrive's documented way); a token in the URL is
        refused here so that a client that puts it there fails its tests."""
        return req.headers.get("x-api-token") == self.token and "api_token" not in req.query

    @route("GET", "/api/v1/users/me")
    def me(self, req: Request):
        if not self._ok(req):
            return PIPEDRIVE_401
        return {"success": True, "data": {"email": "ops@acme.example"}}

    @route("GET", "/api/v1/deals/summary")
    def summary(self, req: Request):
        if not self._ok(req):
            return PIPEDRIVE_401
        deals = self.deals
        q = {k: v[0] for k, v in req.query.items()}
        if "status" in q:
            deals = [d for d in deals if d["status"] == q["status"]]
        if "filter_id" in q:
            deals = [d for d in deals if int(q["filter_id"]) in d.get("filter_ids", [])]
        for key in ("pipeline_id", "user_id"):
            if key in q:
                deals = [d for d in deals if str(d.get(key)) == q[key]]
        return {
            "success": True,
            "data": {
                "total_count": len(deals),
                "total_currency_converted_value": sum(d["value_eur"] for d in deals),
                "total_currency_converted_value_formatted": "€0",
                "values_total": {},
            },
        }


class JsonApiEmulator(Emulator):
    """An internal billing API: bearer auth, one nested value, and a cursor-paginated list."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.items = [{"amount": a} for a in (10, 20, 30, 40, 50)]
        self.loop = False

    @route("GET", "/api/metrics/mrr")
    def mrr(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, {"message": "invalid token"})
        return {"data": {"current": {"value": "152,300.50", "currency": "EUR"}}, "as_of": req.query.get("date")}

    @route("GET", "/api/invoices")
    def invoices(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, {"message": "invalid token"})
        start = int(req.query.get("cursor", ["0"])[0])
        page = self.items[start : start + 2]
        nxt = None if start + 2 >= len(self.items) else str(0 if self.loop else start + 2)
        return {"items": page, "meta": {"next_cursor": nxt}}


class HookReceiver(Emulator):
    """Accepts JSON posts on any path, like Slack/Teams incoming webhooks or a customer's endpoint."""

    def __init__(self, answer: Any = "ok"):
        super().__init__()
        self.answer = answer
        self.received: list[Request] = []

    @route("POST", r"/(.*)")
    def hook(self, req: Request, path: str):
        self.received.append(req)
        return Response(200, self.answer)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
