"""The Dataverse Web API v9.2 (Dynamics 365), the server half the dataverse source talks to.

Served (tests/vendor_specs/dataverse.json checks every request's path and query option names):
    GET /api/data/v9.2/WhoAmI                            the application user's ids
    GET /api/data/v9.2/{entity_set}?$apply=...           [filter(F)/]aggregate($count as A | col with M as A)
    GET /api/data/v9.2/{entity_set}?$top=N[&$filter=F]   rows (connection test)

Query options are decoded from the raw request as an OData parser does: percent-decoding only, so a space
sent as ``+`` stays a ``+`` and the expression is a syntax error (the OData ABNF's whitespace is SP, HTAB,
%20, %09). The $filter language is a small, honest subset: ``prop op literal`` joined by ``and`` (eq, ne,
gt, ge, lt, le; integers, decimals, 'strings', null, true, false, dates 2026-10-01 and date-times).

Answers follow Microsoft's pages: the aggregate in ``value[0]`` under its alias (aggregate-data), errors as
``{"error": {"code", "message"}}`` (compose-http-requests-handle-errors), 429 with Retry-After and the
documented 0x80072322 text (api-limits). Texts Microsoft does not publish are this emulator's own and say
so where they could pass for Dataverse's: the answer to an aggregate over more than 50,000 rows; the
wording of the 403 (modelled on the "missing prv... privilege" reports) and of the 400s (the OData library's
"Could not find a property named ..."); a 401 comes with an empty body and a WWW-Authenticate header.
"""

from __future__ import annotations

import re
import tempfile
import threading
import uuid
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

from okrsync.testing import Emulator, Request, Response, route
from okrsync.testing.emulator import TestCertificates
from tests.emulators.entra import App, EntraEmulator

API = "/api/data/v9.2"
ROWS_LIMIT = 50_000
NAMESPACE = "Microsoft.Dynamics.CRM"
LITERAL = r"'(?:[^']|'')*'|null|true|false|\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2}))?|-?\d+(?:\.\d+)?"
CONDITION = re.compile(rf"^([A-Za-z_]\w*) (eq|ne|gt|ge|lt|le) ({LITERAL})$")
APPLY = re.compile(r"^(?:filter\((.+)\)/)?aggregate\((.+)\)$")
METHOD = re.compile(r"^(?:([A-Za-z_]\w*) with (sum|average|min|max) as ([A-Za-z_]\w*)|\$count as ([A-Za-z_]\w*))$")


def error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class DataverseEmulator(Emulator):
    vendor = "dataverse"

    def __init__(self, url: str = "https://acme.crm4.dynamics.com", *, app: App | None = None):
        super().__init__()
        self.app = app  # with an app: the identity platform is started beside it (see start)
        self.entra: EntraEmulator | None = None
        self.certificates: TestCertificates | None = None
        self.environment = url  # what @odata.context names (the real environment's URL, not this server's)
        self.tables: dict[str, tuple[str, list[dict], set[str]]] = {}  # entity set -> (logical name, rows, columns)
        self.readable: set[str] = set()  # entity sets the application user's security role reads
        self.bearers: list[str] = []  # access tokens accepted (the identity platform emulator's issued)
        self.app_user = True  # an application user exists for the app in this environment
        self.rows_limit = ROWS_LIMIT
        self.raw: list[str] = []  # each request's path and query exactly as sent
        self._throttle: list[float] = []
        self._here = threading.local()

    def start(self, tls: TestCertificates | None = None) -> DataverseEmulator:
        """With an ``app``: HTTPS on a test CA made here, the identity platform (tenant contoso-tenant, that app)
        beside it on the same CA, and only the access tokens it issued accepted. Else as any emulator."""
        if self.app is None:
            super().start(tls)
            return self
        self.certificates = tls or TestCertificates.make(Path(tempfile.mkdtemp(prefix="okrsync-dataverse-")))
        self.entra = EntraEmulator("contoso-tenant").start(tls=self.certificates)
        self.entra.add_app(self.app)
        self.bearers = self.entra.issued.access
        super().start(self.certificates)
        return self

    def stop(self) -> None:
        super().stop()
        if self.entra is not None:
            self.entra.stop()

    def table(self, entity_set: str, logical: str, rows: list[dict], *columns: str, readable: bool = True) -> None:
        """A table: its EntitySetName, logical name, rows, and columns beyond those the rows hold."""
        self.tables[entity_set] = (logical, rows, {c for r in rows for c in r} | set(columns))
        if readable:
            self.readable.add(entity_set)

    def throttle(self, times: int = 1, retry_after: float = 5) -> None:
        """The next ``times`` requests get 429 (the number-of-requests limit) with Retry-After."""
        self._throttle += [retry_after] * times

    def _handle(self, h) -> None:
        self._here.raw = h.path
        with self._lock:
            self.raw.append(h.path)
        super()._handle(h)

    def options(self) -> dict[str, str]:
        """The query options of the request being served, decoded as OData does (no '+' for a space)."""
        query = str(getattr(self._here, "raw", "")).partition("?")[2]
        pairs = (part.partition("=") for part in query.split("&") if part)
        return {unquote(k): unquote(v) for k, _, v in pairs}

    # -- gate ----------------------------------------------------------------------------------------

    def _gate(self, req: Request) -> Response | None:
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header.removeprefix("Bearer ") not in self.bearers or not self.app_user:
            authority = "https://login.microsoftonline.com/common/oauth2/authorize"
            challenge = f"Bearer authorization_uri={authority}, resource_id={self.environment}/"
            return Response(401, b"", {"WWW-Authenticate": challenge})
        if self._throttle:
            after = self._throttle.pop(0)
            said = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
            answer = error(429, "0x80072322", said)
            answer.headers["Retry-After"] = f"{after:g}"
            return answer
        return None

    # -- routes --------------------------------------------------------------------------------------

    @route("GET", API + r"/WhoAmI")
    def who_am_i(self, req: Request):
        refused = self._gate(req)
        ids = {"BusinessUnitId": str(uuid.uuid4()), "UserId": str(uuid.uuid4()), "OrganizationId": str(uuid.uuid4())}
        context = f"{self.environment}{API}/$metadata#{NAMESPACE}.WhoAmIResponse"
        return refused or {"@odata.context": context, **ids}

    @route("GET", API + r"/([^/?]+)")
    def entity_set(self, req: Request, name: str):
        refused = self._gate(req)
        if refused:
            return refused
        if name not in self.tables:
            return error(404, "0x8006088a", f"Resource not found for the segment '{unquote(name)}'.")
        logical, rows, columns = self.tables[name]
        if name not in self.readable:
            role = f"is missing prvRead{logical} privilege on OTC=3 for entity '{logical}'"
            return error(403, "0x80040220", f"Principal user (Id={uuid.uuid4()}, type=8, roleCount=1) {role}.")
        options = self.options()
        try:
            if "$apply" in options:
                return self._apply(name, (logical, rows, columns), options["$apply"])
            matched = self._filter((logical, rows, columns), options.get("$filter"))
            top = int(options.get("$top", "5000"))
        except ValueError as exc:
            return error(400, "0x80060888", str(exc))
        return {"@odata.context": f"{self.environment}{API}/$metadata#{name}", "value": matched[:top]}

    # -- behaviour -----------------------------------------------------------------------------------

    def _apply(self, name: str, table: tuple[str, list[dict], set[str]], text: str) -> Response | dict:
        found = APPLY.match(text)
        if not found:
            raise ValueError(f"Syntax error in $apply '{text[:80]}' (this emulator reads [filter(..)/]aggregate(..)).")
        matched = self._filter(table, found.group(1))
        method = METHOD.match(found.group(2).strip())
        if not method:
            raise ValueError(f"Syntax error in aggregate '{found.group(2)[:80]}': expected 'with <method> as <alias>'.")
        if len(matched) > self.rows_limit:
            wording = "the emulator's wording: Dataverse's is unpublished"
            return error(400, "", f"Aggregate over more than {self.rows_limit} records ({wording})")
        if method.group(4):
            alias, total = method.group(4), float(len(matched))
        else:
            column, how, alias = method.groups()[:3]
            _known(table, column)
            values = [float(r[column]) for r in matched if r.get(column) is not None]
            total = _aggregate(how, values)
        return {"@odata.context": f"{self.environment}{API}/$metadata#{name}", "value": [{alias: total}]}

    def _filter(self, table: tuple[str, list[dict], set[str]], text: str | None) -> list[dict]:
        rows = table[1]
        if not text:
            return list(rows)
        conditions = []
        for part in re.split(r" and ", text.strip()):
            found = CONDITION.match(part.strip())
            if not found:
                raise ValueError(f"Syntax error at '{part[:60]}' in $filter '{text[:80]}'.")
            column, op, literal = found.groups()
            _known(table, column)
            conditions.append((column, op, _literal(literal)))
        return [r for r in rows if all(_holds(r.get(c), op, v) for c, op, v in conditions)]


def _known(table: tuple[str, list[dict], set[str]], column: str) -> None:
    if column not in table[2]:
        raise ValueError(f"Could not find a property named '{column}' on type '{NAMESPACE}.{table[0]}'.")


def _literal(text: str) -> object:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return text  # dates and date-times compare as ISO 8601 text (same zone, Z, in this emulator)
    return float(text)


def _holds(have: object, op: str, wanted: object) -> bool:
    if wanted is None or have is None:
        return (have is wanted) == (op == "eq") if op in ("eq", "ne") else False
    if isinstance(have, date | datetime):
        have = have.isoformat()
    left: float | str = float(str(have)) if isinstance(wanted, float) else str(have)
    right: float | str = wanted if isinstance(wanted, float) else str(wanted)
    if op in ("eq", "ne"):
        return (left == right) == (op == "eq")
    ordered = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b}
    return ordered.get(op, lambda a, b: a <= b)(left, right)


def _aggregate(how: str, values: list[float]) -> float | None:
    """OData's aggregation methods: null when there is no non-null value (count aside)."""
    if not values:
        return None
    return {"sum": sum(values), "average": sum(values) / len(values), "min": min(values), "max": max(values)}[how]
