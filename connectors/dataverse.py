"""Dataverse (Dynamics 365, Power Apps): a count, sum, average, minimum or maximum over one table's rows.

Connection: ``url`` (the environment URL, e.g. https://acme.crm4.dynamics.com) and the Entra ID keys of
an app registration (``tenant_id``, ``client_id``, ``client_secret`` or ``certificate_file``); the token
is for the environment itself (scope ``{url}/.default``). ``endpoint`` replaces the scheme, host and port
of ``url`` (a proxy, an emulator); the path /api/data/v9.2/ stays. Metric: ``entity_set`` (the table's
EntitySetName, plural: ``opportunities``, ``accounts``), ``filter`` (an OData $filter expression, may use
{cycle.start} {cycle.end} {as_of}: they become dates such as 2026-10-01, an OData date literal, written
unquoted: ``createdon ge 2026-10-01``), ``aggregate`` (count by default; sum, avg, min, max of ``field``,
a column's logical name such as ``actualvalue``). One request a metric:

    GET {url}/api/data/v9.2/opportunities?$apply=filter(statecode eq 1)/aggregate(actualvalue with sum as total)

Vendor rules followed here:
- The URL is "Protocol + Environment Name + Region + Base URL + Web API path + Version + Resource" with
  "The path to the web API is /api/data/", "The current version is v9.2", the resource "The EntitySetName
  of the table"; requests carry "Accept: application/json, OData-MaxVersion: 4.0, OData-Version: 4.0".
  Errors are ``{"error": {"code": "0x...", "message": ...}}``; 401 for BadAuthTicket, ExpiredAuthTicket,
  InvalidUserAuth, UnauthorizedAccess; 403 for PrivilegeDenied, AccessDenied; 404 "when the resource
  doesn't exist"; 429 "when API limits are exceeded".
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
- Aggregates: ``$apply=aggregate(revenue with sum as total)``, ``filter(...)/`` before it, the value in
  ``value[0].total``; "The aggregate functions are limited to a collection of 50,000 records" (beyond,
  Dataverse answers an error whose exact text no Microsoft page quotes: it is quoted as it comes).
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data
- Why not ``$count=true``: it counts "up to 5,000" (and flags totalrecordcountlimitexceeded beyond), while
  ``aggregate($count as total)`` counts exactly up to the aggregates' 50,000.
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows
- Query options are percent-encoded with a space as %20 and a plus as %2B, never a space as ``+``: the OData
  grammar's whitespace is "SP / HTAB / %20 / %09" (OData ABNF construction rules, RWS,
  https://docs.oasis-open.org/odata/odata/v4.01/os/abnf/odata-abnf-construction-rules.txt), so a ``+`` is a
  literal plus to an OData parser (janhommes/o.js#157: spaces sent as ``+`` broke a $filter).
- Service protection limits, "evaluated per user" (the application user here): "6000 within the 5 minute
  sliding window", "Execution time ... 20 minutes (1200 seconds) within the 5 minute sliding window",
  "Number of concurrent requests ... 52 or higher"; "With the Web API, we return a 429 Too Many Requests
  error" and "the response will include a Retry-After with number of seconds" (honoured, bounded).
  https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
- The token's resource is the environment URL: Microsoft's quickstart sets ``resource`` to the environment
  URL (https://learn.microsoft.com/samples/microsoft/powerapps-samples/a-quickstart-to-the-dataverse-web-api/);
  an app signs in as an application user created in the environment with a security role
  (https://learn.microsoft.com/power-platform/admin/manage-application-users).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import ValidationInfo, field_validator, model_validator

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
    WebUrl,
    origin_only,
    parse_number,
    retry_after_seconds,
)

API = "/api/data/v9.2"
ROWS_LIMIT = 50_000  # rows one aggregate may read (aggregate-data)
ALIASES = {"sum": "sum", "avg": "average", "min": "min", "max": "max"}  # OData's aggregation methods
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # an EntitySetName or a column's logical name
SAFE = "$()/',:@!*;"  # kept as they are in a query option's value; the rest (space, +, &, #, %) percent-encoded
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


class DataverseConnection(EntraConnection):
    """An environment (``url``) and the Entra ID keys of an app registration with an application user there."""

    type: Literal["dataverse"]
    endpoint_adds = "the path /api/data/v9.2 is added to it"
    url: WebUrl  # the environment URL: https://<env>.<region>.dynamics.com; also the token's resource

    @field_validator("url")
    @classmethod
    def _environment(cls, value: str) -> str:
        return str(origin_only(value, "the environment URL, e.g. https://acme.crm4.dynamics.com")).rstrip("/")


class DataverseMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum", "avg", "min", "max")
    entity_set: str  # the table's EntitySetName (plural): opportunities, accounts, incidents
    filter: str | None = None  # an OData $filter expression: "statecode eq 1"
    field: str | None = None  # a column's logical name, for sum, avg, min and max

    @field_validator("entity_set", "field")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME.match(value):
            raise ValueError(f"{value[:40]!r} is not a name: letters, digits and _ (e.g. opportunities, actualvalue)")
        return value

    @model_validator(mode="after")
    def _field_for_the_aggregate(self, info: ValidationInfo) -> DataverseMetric:
        how = (info.context or {}).get("aggregate")  # okrsync.config.bind hands the metric's aggregate in
        if how in ALIASES and not self.field:
            raise ValueError(f"aggregate {how} needs field: (a column's logical name, e.g. actualvalue)")
        return self


def apply_option(params: DataverseMetric, how: str, filled_filter: str | None) -> str:
    """The ``$apply`` transformation: ``[filter(F)/]aggregate(...)``, not yet encoded."""
    method = "$count as total" if how == "count" else f"{params.field} with {ALIASES[how]} as total"
    return (f"filter({filled_filter})/" if filled_filter else "") + f"aggregate({method})"


def query_path(entity_set: str, apply: str) -> str:
    """The request's path and query as sent: ``$apply`` percent-encoded (space %20, plus %2B)."""
    return f"{API}/{entity_set}?$apply={quote(apply, safe=SAFE)}"


class DataverseSource(ApiSource[DataverseConnection, DataverseMetric]):
    api_root_from = ("url",)  # endpoint: replaces it
    auth = EntraAuth(resource_from="url")  # scope {url}/.default
    headers = ODATA_HEADERS
    limits = [(6000, 300.0)]  # service protection: 6,000 requests per user in any 5 minutes (api-limits)
    max_concurrency = 8  # far below the 52 concurrent requests per user the same page allows
    token_hint = "the application user of connection {name!r}"
    vendor = "Dataverse"

    def check_paths(self) -> list[str]:
        """WhoAmI (the token and the application user), then one row of each table the metrics read."""
        tables = sorted({m.entity_set for m in self.metrics})
        return [f"{API}/WhoAmI", *(f"{API}/{t}?$top=1" for t in tables)]

    def describe_check(self, answer: object) -> str:
        tables = sorted({m.entity_set for m in self.metrics})
        readable = f"; reads {', '.join(tables)}" if tables else ""
        return f"token accepted for {self.settings.url} (application user found){readable}"

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Dataverse's refusals in the user's terms, its OData error quoted with its code; 429 waits."""
        if response.status_code == 429:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            said = _odata_error(response)
            return TransientError(
                f"Dataverse's service protection limits ({said or 'HTTP 429'})", after, throttled=True
            )
        if response.status_code in (400, 401, 403, 404):
            raise self.refusal(response)
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, said = response.status_code, _odata_error(response)
        quoted = f" ({said})" if said else ""
        table = response.request.url.path.rstrip("/").rsplit("/", 1)[-1]
        tables = "the tables its metrics read" if table == "WhoAmI" else table
        user = (
            f"create an application user for client_id {self.settings.client_id} in the Power Platform admin "
            f"center (environment {self.settings.url}) with a security role that reads {tables}"
        )
        if status == 401:
            text = f"Dataverse did not accept the token of connection {self.name!r} (HTTP 401){quoted}: {user}"
        elif status == 403 and "not a member of the organization" in said:  # no application user, as users report
            text = f"Dataverse knows no user for connection {self.name!r} (HTTP 403){quoted}: {user}"
        elif status == 403:
            text = (
                f"HTTP 403: the application user of connection {self.name!r} lacks a privilege on {tables}{quoted}: "
                f"give it a security role with Read on {tables} (Power Platform admin center, application users)"
            )
        elif status == 404:
            text = (
                f"HTTP 404: environment {self.settings.url} has no entity set {table!r}{quoted}: entity_set is the "
                "table's EntitySetName, plural (e.g. opportunities, accounts, not opportunity)"
            )
        elif _beyond_rows_limit(said):
            text = (
                f"Dataverse refused the aggregate over {table}{quoted}: an aggregate reads at most "
                f"{ROWS_LIMIT:,} rows, narrow the filter"
            )
        else:
            text = f"Dataverse refused the query on {table} (HTTP 400){quoted}: check filter: and field:"
        return HttpError(REDACTOR(text), kind="fatal" if status == 400 else "bad_config", status=status)

    def read(self, client: ApiClient, q: MetricQuery[DataverseMetric]) -> float:
        how = q.aggregate or "count"
        if how in ALIASES and not q.params.field:
            raise ValueError(f"aggregate {how} needs field: (a column's logical name, e.g. actualvalue)")
        filled = q.fill(q.params.filter) if q.params.filter else None
        data = client.json("GET", query_path(q.params.entity_set, apply_option(q.params, how, filled)))
        rows = data.get("value") if isinstance(data, dict) else None
        if not isinstance(rows, list) or len(rows) > 1 or (rows and not isinstance(rows[0], dict)):
            raise ValueError("Dataverse answered the aggregate without one row in value")
        total = rows[0].get("total") if rows else None
        if total is None:  # OData: no non-null values to aggregate
            if how in ("count", "sum"):
                return 0.0
            where = f" matching {filled!r}" if filled else ""
            raise ValueError(f"no {q.params.entity_set}{where} has a value in {q.params.field}, so no {how}")
        try:
            return parse_number(total)
        except ValueError:
            raise ValueError(f"Dataverse answered a total that is not a number ({str(total)[:40]!r})") from None


def _odata_error(response: httpx.Response) -> str:
    """``code: message`` of an OData error body (the code "is frequently empty"), redacted and short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error: Any = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    return REDACTOR(f"{code}: {message}" if code else message)[:300]


def _beyond_rows_limit(said: str) -> bool:
    """Whether a 400 is about the aggregates' 50,000 rows (the wording is unpublished: a few forms are tried)."""
    return bool(re.search(r"AggregateQueryRecordLimit|50,?000", said))


connector = Connector(
    "dataverse",
    connection=DataverseConnection,
    metric=DataverseMetric,
    source=DataverseSource,
    description="Dataverse / Dynamics 365 (Web API aggregates)",
)
