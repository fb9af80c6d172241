"""Power BI: one number from a dataset (semantic model), the first cell of a DAX query's answer.

Connection: the Entra ID keys of an app registration (``tenant_id``, ``client_id``, ``client_secret`` or
``certificate_file``; or ``login: device`` for a user), ``endpoint`` to replace https://api.powerbi.com
(scheme, host and port only: the path /v1.0/myorg/ is kept). Metric: ``dataset`` (its id), ``dax`` (one DAX
query, e.g. ``EVALUATE ROW("v", [Total Revenue])``) and ``workspace`` (its id; leave it out for the signed-in
user's My workspace). The value is the first cell of the first row of the answer's table.

The DAX computes the value, so a metric takes no ``aggregate:`` (write SUM, AVERAGE, COUNTROWS ... in the
DAX). ``{cycle.start}``, ``{cycle.end}`` and ``{as_of}`` become DAX dates, ``DATE(2026, 10, 1)``, to be
written outside quotes: ``CALCULATE([Revenue], 'Date'[Date] >= {cycle.start})``.
https://learn.microsoft.com/dax/date-function-dax

Vendor rules followed here (Power BI REST API v1.0, Datasets - Execute Queries; Microsoft's Swagger in
microsoft/PowerBI-CSharp sdk/swaggers/swagger.json, the excerpt in tests/vendor_specs/power_bi.json):
https://learn.microsoft.com/rest/api/power-bi/datasets/execute-queries
- ``POST /v1.0/myorg[/groups/{groupId}]/datasets/{datasetId}/executeQueries`` with
  ``{"queries": [{"query": ...}], "serializerSettings": {"includeNulls": true}}``; "One query per API call."
  and "One table request per query."; "Columns that are renamed or created in the query will be returned
  within square bracket, for example, [MyNewColumn]" (so ``rows[0] == {"[v]": ...}``).
- "DAX query errors will result in: A response error, such as DAX query failure. A failure HTTP status code
  (400)." and a query with more than one table or too many rows gives "Limited data being returned. A
  response error ... A successful HTTP status code (200)": an ``error`` on the answer, the result or the
  table of a 200 is a failure, quoted.
- "Maximum of 100,000 rows or 1,000,000 values per query"; "Maximum of 15MB of data per query";
  "There's a limit of 120 query requests per minute per user, regardless of the dataset that's queried."
- Permissions: "The tenant setting Dataset Execute Queries REST API, found under Integration settings, must
  be enabled."; "The user must have access to the workspace, and dataset read and build permissions.";
  service principals need "Allow service principals to use Power BI APIs" (Developer settings) and "aren't
  supported for datasets with RLS ... or datasets with SSO enabled". Power BI's 401/403 does not say which:
  the message lists the causes that fit the sign-in.
- Service principals: the resource is https://analysis.windows.net/powerbi/api (scope .../.default, as in
  https://learn.microsoft.com/power-bi/developer/embedded/embed-service-principal); "add the service
  principal entity as a member or admin to your workspace"; "My Workspace isn't supported when using
  service principal" (powerbi-docs includes/service-principal-limitations.md).
- Throttling: "Power BI returns an HTTP status code 429 (Too many requests) with a Retry-After HTTP header
  ... indicating how many seconds the calling application has to wait". https://learn.microsoft.com/rest/api/power-bi
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import field_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Connector,
    EntraAuth,
    EntraConnection,
    HttpError,
    MetricParams,
    MetricQuery,
    TransientError,
    checked,
    retry_after_seconds,
)

# Power BI's Entra ID resource: the token's scope is https://analysis.windows.net/powerbi/api/.default
POWER_BI_RESOURCE = "https://analysis.windows.net/powerbi/api"
PLACEHOLDER = re.compile(r"\{(?:cycle\.start|cycle\.end|as_of)\}")
STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')  # a DAX string: "..." with "" for a quote
SETTING = '"Dataset Execute Queries REST API" (Admin portal, Tenant settings, Integration settings) is off'
EXAMPLE = 'EVALUATE ROW("v", [Total Revenue])'
ONE_ROW = f"the DAX must return one table with one row, e.g. {EXAMPLE}"


class PowerBiConnection(EntraConnection):
    """The Entra ID keys of an app registration (a service principal), or ``login: device`` for a user."""

    type: Literal["power_bi"]

    endpoint_adds = "okrsync adds /v1.0/myorg/"


class PowerBiMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ()  # the DAX aggregates: SUM, AVERAGE, COUNTROWS ...
    dataset: str
    dax: str
    workspace: str | None = None  # None: the signed-in user's My workspace

    @field_validator("dataset", "workspace")
    @classmethod
    def _an_id(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or re.search(r"[/\s?#]", value)):
            raise ValueError("the id from the Power BI address (…/groups/<workspace>/datasets/<dataset>/…)")
        return value

    @field_validator("dax")
    @classmethod
    def _a_dax_query(cls, value: str) -> str:
        if not re.search(r"\bEVALUATE\b", value, re.IGNORECASE):
            raise ValueError(f"a DAX query starts with EVALUATE (or DEFINE ... EVALUATE), e.g. {EXAMPLE}")
        for literal in STRING_LITERAL.findall(value):
            if found := PLACEHOLDER.search(literal):
                raise ValueError(
                    f"{found.group(0)} becomes a DAX date such as DATE(2026, 10, 1): write it outside quotes, "
                    f"e.g. 'Date'[Date] >= {found.group(0)}"
                )
        return value


class PowerBiSource(ApiSource[PowerBiConnection, PowerBiMetric]):
    api_root = "https://api.powerbi.com"
    auth = EntraAuth(POWER_BI_RESOURCE)
    headers = {"Accept": "application/json"}
    limits = [(120, 60.0)]  # "120 query requests per minute per user" (Execute Queries, Limitations)
    token_hint = "the Entra ID app of connection {name!r}"
    vendor = "Power BI"

    def client(self) -> ApiClient:
        client = super().client()
        client.throttled = self.answer
        return client

    def check_paths(self) -> list[str]:
        """The workspaces the app or user sees (Groups - Get Groups): the token and the Power BI API at once."""
        return ["/v1.0/myorg/groups?$top=100"]

    def describe_check(self, answer: object) -> str:
        seen = answer.get("value") if isinstance(answer, dict) else None
        count = len(seen) if isinstance(seen, list) else 0
        who = "the signed-in user" if self.settings.login == "device" else "the service principal"
        return f"token for Power BI obtained; {who} is a member of {count} workspace(s)"

    def read(self, client: ApiClient, q: MetricQuery[PowerBiMetric]) -> float:
        p = q.params
        ws = f"/groups/{quote(p.workspace, safe='')}" if p.workspace else ""
        path = f"/v1.0/myorg{ws}/datasets/{quote(p.dataset, safe='')}/executeQueries"
        body = {"queries": [{"query": fill_dates(p.dax, q)}], "serializerSettings": {"includeNulls": True}}
        response = client.request("POST", path, json=body)  # a read: safe to repeat after a lost answer
        return first_cell(_decoded(response), _where(p.dataset, p.workspace))

    def answer(self, response: httpx.Response) -> TransientError | None:
        """Power BI's own answers, before the shared classification: throttling named with its limit, and
        refusals named with what to fix."""
        if response.status_code == 429:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            return TransientError(
                "Power BI is throttling this connection (120 query requests a minute per user)", after, throttled=True
            )
        if response.status_code in (400, 401, 403, 404):
            raise self.refusal(response)
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, said = response.status_code, _said(response)
        found = re.search(r"/v1\.0/myorg(?:/groups/([^/]+))?/datasets/([^/]+)/", response.request.url.path)
        quoted = f": {said}" if said else ""
        if found is None:  # the connection test's list of workspaces
            who = "the signed-in user" if self.settings.login == "device" else "the app (service principal)"
            text = f"HTTP {status} from Power BI listing the workspaces of {who}{quoted}; {self.causes(None, None)}"
            return HttpError(REDACTOR(text), kind="bad_config", status=status)
        workspace, dataset = found.group(1), found.group(2)
        where = _where(dataset, workspace)
        if status == 400:
            text = f"Power BI could not run the DAX on {where} (HTTP 400){quoted}"
        elif status == 404:
            text = (
                f"HTTP 404 from Power BI: {where} not found, or not visible to connection {self.name!r} "
                f"(check dataset: and workspace:){quoted}"
            )
        else:
            text = f"HTTP {status} from Power BI on {where}{quoted}; {self.causes(dataset, workspace)}"
        return HttpError(REDACTOR(text), kind="fatal" if status == 400 else "bad_config", status=status)

    def causes(self, dataset: str | None, workspace: str | None) -> str:
        """The known causes of a 401/403 that fit this sign-in and request: Power BI's answer does not say which."""
        device = self.settings.login == "device"
        if dataset is None:
            if device:
                return "the app registration may lack the delegated permission Workspace.Read.All"
            return (
                'the tenant setting "Allow service principals to use Power BI APIs" (Developer settings) may exclude it'
            )
        if device:
            return (
                f"Power BI does not say which: the tenant setting {SETTING}; the app registration lacks the delegated "
                "permission Dataset.Read.All; or the user lacks Read and Build permission on the dataset"
            )
        if workspace is None:
            return (
                "a service principal has no My workspace (\"My Workspace isn't supported when using service "
                'principal"): add workspace: <the id of the workspace that holds the dataset>'
            )
        return (
            f"Power BI does not say which: the tenant setting {SETTING}; the app may not use Power BI APIs "
            "(Developer settings) or is not a Member of the workspace; or the dataset has RLS or SSO"
        )


def fill_dates(dax: str, q: MetricQuery) -> str:
    """{cycle.start} {cycle.end} {as_of} as DAX dates: DATE(2026, 10, 1) (any locale reads it alike)."""
    days = {"cycle.start": q.cycle.start, "cycle.end": q.cycle.end, "as_of": q.as_of_day}
    for key, day in days.items():
        dax = dax.replace("{" + key + "}", f"DATE({day.year}, {day.month}, {day.day})")
    return dax


def first_cell(answer: Any, where: str) -> float:
    """The first cell of the first row of the first table; an error anywhere in a 200 answer is quoted."""
    results = answer.get("results") if isinstance(answer, dict) else None
    result = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
    tables = result.get("tables")
    table = tables[0] if isinstance(tables, list) and tables and isinstance(tables[0], dict) else {}
    for part in (answer, result, table):
        if isinstance(part, dict) and part.get("error"):
            raise ValueError(f"Power BI answered the DAX on {where} with an error: {_error_text(part['error'])}")
    rows = table.get("rows")
    if not isinstance(rows, list):
        raise ValueError(f"Power BI answered the DAX on {where} without a table of rows")
    if not rows or not isinstance(rows[0], dict) or not rows[0]:
        raise ValueError(f"the DAX on {where} returned an empty table: {ONE_ROW}")
    column, value = next(iter(rows[0].items()))
    if value is None:
        raise ValueError(f"the DAX on {where} returned a blank {column}: the measure has no value for these filters")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the DAX on {where} returned {column} = {str(value)[:40]!r}, not a number")
    try:
        return checked(float(value))
    except ValueError as exc:
        raise ValueError(f"the DAX on {where} returned {column}: {exc}") from None


def _where(dataset: str, workspace: str | None) -> str:
    return f"dataset {dataset!r} in " + (f"workspace {workspace!r}" if workspace else "My workspace")


def _decoded(response: httpx.Response) -> Any:
    """The answer's JSON; read as UTF-8 with or without a byte order mark (harmless if Power BI sends none)."""
    try:
        return json.loads(response.content.decode("utf-8-sig"))
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise HttpError(f"Power BI answered with {kind}, not JSON", kind="fatal", status=response.status_code) from None


def _error_text(error: Any, *, hint: bool = True) -> str:
    """``{code, message}`` (the Swagger's DatasetExecuteQueriesError), or Power BI's ``pbi.error`` details."""
    if not isinstance(error, dict):
        return REDACTOR(str(error))[:300]
    details = (error.get("pbi.error") or {}).get("details") if isinstance(error.get("pbi.error"), dict) else None
    words = [str(error["message"])] if error.get("message") else []
    for item in details if isinstance(details, list) else []:
        value = (item.get("detail") or {}).get("value") if isinstance(item, dict) else None
        if value and item.get("code") == "DetailsMessage":
            words.append(str(value))
    text = " ".join([str(error.get("code") or "error") + ":", *words]) if words else str(error.get("code") or "")
    more = hint and re.search(r"More than|result table", text, re.IGNORECASE)
    return REDACTOR(text)[:300] + (f" ({ONE_ROW})" if more else "")


def _said(response: httpx.Response) -> str:
    """Power BI's own words on a refusal: ``{"error": {"code", "message" | "pbi.error"}}`` (short, redacted)."""
    try:
        body = json.loads(response.content.decode("utf-8-sig"))
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    text = _error_text(error, hint=False) if error else ""
    info = response.headers.get("x-powerbi-error-info")
    return f"{text} [{info[:80]}]".strip() if info else text


connector = Connector(
    "power_bi",
    connection=PowerBiConnection,
    metric=PowerBiMetric,
    source=PowerBiSource,
    description="Power BI datasets (a DAX query's first cell)",
)
