"""Power BI's REST API v1.0 (Datasets - Execute Queries), the server half the power_bi source talks to.

Served, as Microsoft describes them (tests/vendor_specs/power_bi.json checks every request):
    POST /v1.0/myorg[/groups/{groupId}]/datasets/{datasetId}/executeQueries   one DAX query -> one table
    GET  /v1.0/myorg/groups                                                    the caller's workspaces
Every call needs a bearer token the identity platform issued (``bearers``: an EntraEmulator's
``issued.access``). Microsoft's rules kept here (https://learn.microsoft.com/rest/api/power-bi/datasets/execute-queries):
"One query per API call"; a DAX error is a 400; "More than one result table in a query" and "More than
{allowed number} rows in a query result" come back with a 200 and limited data (here on the result and on
the table, so both places are exercised); null (blank) values are left out of rows unless
``serializerSettings.includeNulls`` is true; "120 query requests per minute per user" (a 429 with
Retry-After beyond it, as https://learn.microsoft.com/rest/api/power-bi says for throttling).

Refusals: the tenant setting "Dataset Execute Queries REST API" off (``execute_queries_enabled``), a
workspace the caller is not a member of (``members``), a service principal on My workspace ("My Workspace
isn't supported when using service principal") or on a dataset with RLS all answer ``refusal_status`` (401
unless a test says 403) with the one body users have reported (PowerBINotAuthorizedException,
MicrosoftDocs/powerbi-docs#1109), which says nothing about the cause: which status and body Power BI gives
for which cause is not published. The DAX error body is the shape users report (DatasetExecuteQueriesError
with a DetailsMessage, gbrueckl/PowerBI-VSCode#45); the details' wording is this emulator's own. An unknown
dataset is a 404 PowerBIEntityNotFound (the code users report; the body for this operation is unconfirmed).

The DAX is a small, honest subset: ``EVALUATE ROW("name", expr)`` where expr is ``[Measure]`` or
``CALCULATE([Measure], 'Table'[Column] op DATE(y, m, d), ...)`` (op: >= <= > < =), and ``EVALUATE 'Table'``.
A measure is a number, None (blank), a text, or dated amounts ``[(date, amount), ...]`` summed within the
filters. Anything else is a DAX syntax error (400).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from okrsync.testing import Emulator, Request, Response, route
from okrsync.testing.emulator import TestCertificates
from tests.emulators.entra import App, EntraEmulator

NOT_AUTHORIZED = "PowerBINotAuthorizedException"
ROW = re.compile(r"^\s*EVALUATE\s+ROW\s*\((.*)\)\s*$", re.I | re.S)
TABLE = re.compile(r"^\s*EVALUATE\s+'?([\w ]+?)'?\s*$", re.I)
MEASURE = re.compile(r"^\[([^\]]+)\]$")
CALCULATE = re.compile(r"^CALCULATE\s*\((.*)\)$", re.I | re.S)
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
FILTER = re.compile(
    r"^'?[\w ]+'?\[[\w ]+\]\s*(>=|<=|>|<|=)\s*DATE\s*\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$"
)
COMPARE = {">=": date.__ge__, "<=": date.__le__, ">": date.__gt__, "<": date.__lt__, "=": date.__eq__}


@dataclass
class Dataset:
    measures: dict[str, Any] = field(default_factory=dict)  # name -> number | None | str | [(date, amount)]
    tables: dict[str, list[dict]] = field(default_factory=dict)  # name -> rows ({"Table[Column]": value})
    rls: bool = False  # row-level security: service principals cannot query it


def pbi_error(status: int, code: str, detail: str | None = None) -> Response:
    """Power BI's error body: ``{"error": {"code", "pbi.error": {"code", "parameters", "details", ...}}}``."""
    details = [{"code": "DetailsMessage", "detail": {"type": 1, "value": detail}}] if detail else []
    if detail:
        details.append({"code": "AnalysisServicesErrorCode", "detail": {"type": 1, "value": "3241803789"}})
    inner = {"code": code, "parameters": {}, "details": details, "exceptionCulprit": 1}
    return Response(status, {"error": {"code": code, "pbi.error": inner}})


class DaxError(ValueError):
    pass


class PowerBiEmulator(Emulator):
    vendor = "power_bi"

    def __init__(
        self,
        identity: tuple[str, App] | None = None,
        *,
        service_principal: bool = True,
        per_minute: int = 120,
        row_limit: int = 100_000,
    ):
        """``identity``: (tenant, app) of an identity platform started and stopped with this server (see start)."""
        super().__init__()
        self.service_principal = service_principal  # the caller: an app (client credentials) or a user
        self.per_minute, self.row_limit = per_minute, row_limit
        self.datasets: dict[tuple[str | None, str], Dataset] = {}  # (workspace or None: My workspace, id)
        self.members: set[str] = set()  # workspaces the caller is a member of
        self.bearers: list[str] = []
        self.execute_queries_enabled = True  # the tenant setting "Dataset Execute Queries REST API"
        self.service_principals_allowed = True  # the tenant setting "Allow service principals to use Power BI APIs"
        self.refusal_status = 401
        self.bom = False  # start JSON answers with a UTF-8 byte order mark
        self._throttle: list[float] = []  # Retry-After of the next 429s
        self._window: deque[float] = deque()
        self.folder = Path(tempfile.mkdtemp(prefix="pbi-tls-")) if identity else None
        self.certificates = TestCertificates.make(self.folder) if self.folder else None
        self.entra = EntraEmulator(identity[0]) if identity else None
        if identity and self.entra:
            self.entra.add_app(identity[1])
            self.bearers = self.entra.issued.access  # exactly the tokens that identity platform issued

    def start(self, tls: TestCertificates | None = None) -> PowerBiEmulator:
        """With an ``identity``: its EntraEmulator too, both over HTTPS with a test CA made in a temporary folder
        (``certificates.ca_file`` is what a client trusts: SSL_CERT_FILE)."""
        if self.entra:
            self.entra.start(tls=self.certificates)
        super().start(tls=tls or self.certificates)
        return self

    def stop(self) -> None:
        super().stop()
        if self.entra:
            self.entra.stop()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, dataset_id: str, workspace: str | None = None, **measures: Any) -> Dataset:
        self.datasets[(workspace, dataset_id)] = Dataset(dict(measures))
        if workspace:
            self.members.add(workspace)
        return self.datasets[(workspace, dataset_id)]

    def throttle(self, times: int = 1, retry_after: float = 5) -> None:
        self._throttle += [retry_after] * times

    # -- routes ----------------------------------------------------------------------------------

    @route("POST", r"/v1\.0/myorg/datasets/([^/]+)/executeQueries")
    def my_workspace(self, req: Request, dataset: str):
        return self._execute(req, None, dataset)

    @route("POST", r"/v1\.0/myorg/groups/([^/]+)/datasets/([^/]+)/executeQueries")
    def in_group(self, req: Request, workspace: str, dataset: str):
        return self._execute(req, workspace, dataset)

    @route("GET", r"/v1\.0/myorg/groups")
    def groups(self, req: Request):
        if refused := self._unauthenticated(req):
            return refused
        if self.service_principal and not self.service_principals_allowed:
            return pbi_error(self.refusal_status, NOT_AUTHORIZED)
        value = [{"id": ws, "name": ws, "isReadOnly": False, "type": "Workspace"} for ws in sorted(self.members)]
        return self._json(
            200, {"@odata.context": "https://api.powerbi.com/v1.0/myorg/$metadata#groups", "value": value}
        )

    # -- behaviour -------------------------------------------------------------------------------

    def _unauthenticated(self, req: Request) -> Response | None:
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.bearers:
            return pbi_error(401, NOT_AUTHORIZED)
        return None

    def _execute(self, req: Request, workspace: str | None, dataset_id: str) -> Response:
        if refused := self._unauthenticated(req) or self._throttled():
            return refused
        found = self.datasets.get((workspace, dataset_id))
        denied = not self.execute_queries_enabled or (self.service_principal and not self.service_principals_allowed)
        denied |= workspace is not None and workspace not in self.members
        denied |= self.service_principal and (workspace is None or (found is not None and found.rls))
        if denied:
            return pbi_error(self.refusal_status, NOT_AUTHORIZED)
        if found is None:
            return pbi_error(404, "PowerBIEntityNotFound")
        body = req.json()
        queries = body.get("queries") if isinstance(body, dict) else None
        if not isinstance(queries, list) or len(queries) != 1:
            return pbi_error(400, "InvalidRequest", "Only one query per request is supported.")
        nulls = bool((body.get("serializerSettings") or {}).get("includeNulls"))
        try:
            return self._json(200, self._evaluate(found, str(queries[0].get("query")), nulls))
        except DaxError as exc:
            return pbi_error(400, "DatasetExecuteQueriesError", str(exc))

    def _throttled(self) -> Response | None:
        now = time.monotonic()
        while self._window and now - self._window[0] >= 60:
            self._window.popleft()
        if self._throttle or len(self._window) >= self.per_minute:
            after = self._throttle.pop(0) if self._throttle else math.ceil(60 - (now - self._window[0]))
            message = "You have exceeded the amount of requests allowed in the current time frame."
            return Response(
                429, {"error": {"code": "TooManyRequests", "message": message}}, {"Retry-After": f"{after:g}"}
            )
        self._window.append(now)
        return None

    def _evaluate(self, dataset: Dataset, dax: str, nulls: bool) -> dict:
        parts = re.split(r"(?=\bEVALUATE\b)", dax.strip(), flags=re.I)
        statements = [p for p in parts if p.strip()]
        result: dict[str, Any] = {"tables": [self._table(dataset, statements[0] if statements else "")]}
        if len(statements) > 1:  # "More than one result table in a query": the first one, with an error
            result["error"] = {"code": "MultipleTables", "message": "More than one result table in a query"}
        for row in result["tables"][0]["rows"]:
            for key in [k for k, v in row.items() if v is None and not nulls]:
                del row[key]
        return {"results": [result]}

    def _table(self, dataset: Dataset, statement: str) -> dict:
        if row := ROW.match(statement):
            args = arguments(row.group(1))
            if len(args) % 2 or not all(n.startswith('"') and n.endswith('"') for n in args[::2]):
                raise DaxError('Query (1, 10) ROW takes pairs of a "name" and an expression.')
            return {
                "rows": [{f"[{n[1:-1]}]": self._value(dataset, e) for n, e in zip(args[::2], args[1::2], strict=True)}]
            }
        if (table := TABLE.match(statement)) and table.group(1) in dataset.tables:
            rows = [dict(r) for r in dataset.tables[table.group(1)]]
            if len(rows) > self.row_limit:
                message = f"More than {self.row_limit} rows in a query result"
                return {"rows": rows[: self.row_limit], "error": {"code": "RowLimitExceeded", "message": message}}
            return {"rows": rows}
        if table:
            raise DaxError(f"Query (1, 10) Cannot find table '{table.group(1)}'.")
        raise DaxError("Query (1, 1) The syntax for the query is incorrect (this emulator reads EVALUATE ROW/table).")

    def _value(self, dataset: Dataset, expr: str) -> Any:
        filters: list[tuple[str, date]] = []
        if NUMBER.match(expr):
            return float(expr)
        if calc := CALCULATE.match(expr):
            measure, *conditions = arguments(calc.group(1))
            for text in conditions:
                found = FILTER.match(text)
                if not found:
                    raise DaxError(f"Query (1, 20) The expression '{text[:40]}' is not a valid filter.")
                op, y, m, d = found.groups()
                filters.append((op, date(int(y), int(m), int(d))))
            expr = measure
        if not (named := MEASURE.match(expr)):
            raise DaxError(f"Query (1, 17) The syntax for '{expr[:40]}' is incorrect.")
        name = named.group(1)
        if name not in dataset.measures:
            raise DaxError(f"Query (1, 17) The value for '{name}' cannot be determined. The measure does not exist.")
        value = dataset.measures[name]
        if isinstance(value, list):  # dated amounts: the sum within the filters, blank when none is left
            kept = [amount for day, amount in value if all(COMPARE[op](day, bound) for op, bound in filters)]
            return sum(kept) if kept else None
        return value

    def _json(self, status: int, body: dict) -> Response:
        raw = json.dumps(body).encode()
        return Response(status, (b"\xef\xbb\xbf" if self.bom else b"") + raw, {"Content-Type": "application/json"})


def arguments(text: str) -> list[str]:
    """A DAX argument list split at its top-level commas (not inside parentheses or quotes), each stripped."""
    found, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            found.append(text[start:i].strip())
            start = i + 1
    return [*found, text[start:].strip()]
