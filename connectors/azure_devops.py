"""Azure DevOps Boards: counts, sums, averages and shares done over a WIQL query.

Connection: ``organization``, ``project``, a personal access ``token`` (scope *Work Items (Read)*,
``vso.work``; by ``${ENV}``), ``endpoint`` to replace https://dev.azure.com (scheme, host and port only:
an Azure DevOps Server collection URL or an emulator). Metric: ``wiql`` (may use {cycle.start}
{cycle.end} {as_of}) and ``aggregate``:

- ``count`` (default): the number of work item ids the WIQL returns (one request).
- ``sum`` / ``avg`` of ``field`` (a reference name, e.g. Microsoft.VSTS.Scheduling.StoryPoints): the ids'
  field read 200 at a time with workitemsbatch, as of the moment the WIQL ran; a work item without a
  value in the field is skipped (it adds nothing to a sum and is not counted in an average).
- ``percent_done``: 100 x the share of the ids whose state is in the state category Completed of its
  work item type (each type's states read once a run).

Vendor rules followed here (Azure DevOps Services REST API 7.1, Work Item Tracking):
- WIQL returns ids only: "Gets the results of the query given its WIQL", ``POST
  {organization}/{project}/_apis/wit/wiql?api-version=7.1`` with ``{"query": ...}``.
  https://learn.microsoft.com/rest/api/azure/devops/wit/wiql/query-by-wiql?view=azure-devops-rest-7.1
- A query returns at most 20,000 work items ("Query results 20,000 items"), beyond which the server
  answers VS402337 ("The number of work items returned exceeds the size limit of 20000. Change the
  query to return fewer items.", as quoted in public bug reports; no Microsoft page quotes it).
  https://learn.microsoft.com/azure/devops/organizations/settings/work/object-limits
- Fields of many work items: "Gets work items for a list of work item ids (Maximum 200)", ``POST
  {organization}/_apis/wit/workitemsbatch``; a field without a value is absent from ``fields``.
  https://learn.microsoft.com/rest/api/azure/devops/wit/work-items/get-work-items-batch?view=azure-devops-rest-7.1
- States and their categories (Proposed, InProgress, Resolved, Completed, Removed), per type:
  https://learn.microsoft.com/rest/api/azure/devops/wit/work-item-type-states/list?view=azure-devops-rest-7.1
- A PAT is HTTP Basic with an empty user name ("Authorization: Basic BASE64USERNAME:PATSTRING", the
  user name left empty in Microsoft's sample). https://learn.microsoft.com/azure/devops/integrate/get-started/rest/samples
- Rate limits are in TSTUs, not requests: "The global limit is 200 TSTUs within any sliding five-minute
  window"; a delayed answer is still a 200 with ``Retry-After`` ("Honor the Retry-After header"); a
  blocked one is a 429 (TF400733). ``X-RateLimit-Resource`` is for humans, ``X-RateLimit-Remaining``
  / ``X-RateLimit-Reset`` (epoch seconds) say when usage is back to zero. Microsoft publishes no
  request count, so okrsync sends at most 10 requests a second and lets these headers slow it further.
  https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits
- A bad PAT may be answered 203 Non-Authoritative Information with an HTML sign-in page instead of a
  401 (MicrosoftDocs/vsts-rest-api-specs#97, #574; no Microsoft reference page): detected and named.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import ValidationInfo, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    Auth,
    Connector,
    Credentials,
    EntraAuth,
    EntraConnection,
    HttpError,
    MetricParams,
    MetricQuery,
    TransientError,
    parse_number,
    retry_after_seconds,
)

API_VERSION = "7.1"
BATCH = 200  # ids per workitemsbatch request (the operation's "Maximum 200")
QUERY_LIMIT = 20_000  # work items one WIQL may return
COMPLETED = "Completed"  # the state category that counts as done
SCOPE = "Work Items (Read) (vso.work)"
ADO_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"  # Azure DevOps's Entra ID resource (for the Entra auth)


class AzureDevopsConnection(EntraConnection):
    """A PAT (``token``), or the Entra ID keys of an app registration (``tenant_id``, ``client_id``, ...)."""

    entra_optional: ClassVar[bool] = True
    type: Literal["azure_devops"]
    organization: str
    project: str
    token: str | None = None  # a personal access token (Basic auth, empty user)

    @model_validator(mode="after")
    def _one_credential(self) -> AzureDevopsConnection:
        if (self.token is None) == (self.tenant_id is None and self.client_id is None):
            raise ValueError("give either token: (a personal access token) or the Entra ID keys (tenant_id, client_id)")
        return self

    endpoint_adds = "organization: and project: name the rest"


class AzureDevopsMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum", "avg", "percent_done")
    wiql: str
    field: str | None = None  # a field's reference name, for sum and avg

    @model_validator(mode="after")
    def _field_for_sum_and_avg(self, info: ValidationInfo) -> AzureDevopsMetric:
        how = (info.context or {}).get("aggregate")  # okrsync.config.bind hands the metric's aggregate in
        if how in ("sum", "avg") and not self.field:
            raise ValueError(
                f"aggregate {how} needs field: (a field's reference name, e.g. Microsoft.VSTS.Scheduling.StoryPoints)"
            )
        return self


@dataclass(frozen=True)
class PersonalAccessToken(Auth):
    """Basic auth with an empty user name and the PAT as the password (Microsoft's REST samples)."""

    key: str = "token"

    def describe(self, settings: Any) -> str | None:
        return "a personal access token"

    def credentials(self, settings: Any, where: str) -> Credentials:
        token = self.resolve(settings, self.key, where)
        if token is None:
            return Credentials()
        REDACTOR.add_basic("", token)  # the header's base64 form too, should a server echo it
        return Credentials(basic=("", token))


class AzureDevopsSource(ApiSource[AzureDevopsConnection, AzureDevopsMetric]):
    api_root = "https://dev.azure.com"
    # Entra ID for the Azure DevOps resource when the connection gives its keys, else the PAT:
    # https://learn.microsoft.com/rest/api/azure/devops/tokens (scope 499b84ac-1321-427f-aa17-267ca6975798/.default)
    auth = EntraAuth(ADO_RESOURCE, fallback=PersonalAccessToken())
    headers = {"Accept": "application/json"}
    # X-RateLimit-Remaining: 0 says delays begin, not that requests are refused; the server delays them
    # (up to 30 s) and Retry-After says how long to hold: rate-limits page, cited above
    quota_headers_pause = False
    limits = [(10, 1.0)]  # no published request count (TSTUs): a modest pace, slowed further by Retry-After
    token_hint = "the personal access token of connection {name!r} (it may have expired or been revoked)"
    vendor = "Azure DevOps"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._states: dict[str, dict[str, str]] = {}  # work item type -> state -> category, for this run
        self._states_lock = threading.Lock()

    def client(self) -> ApiClient:
        client = super().client()
        client.throttled = lambda response: self.answer(client, response)
        return client

    def check_paths(self) -> list[str]:
        """The project's work item types: the PAT, the organization, the project and vso.work at once."""
        return [f"{self.project_path()}/_apis/wit/workitemtypes?api-version={API_VERSION}"]

    def describe_check(self, answer: object) -> str:
        types = answer.get("count") if isinstance(answer, dict) else None
        return f"personal access token accepted; project {self.settings.project!r} has {types} work item types"

    def project_path(self) -> str:
        org, project = (quote(v, safe="") for v in (self.settings.organization, self.settings.project))
        return f"/{org}/{project}"

    def answer(self, client: ApiClient, response: httpx.Response) -> TransientError | None:
        """Azure DevOps's own answers, before the shared classification: a sign-in page instead of JSON, a
        delay requested on a good answer, a block (429), and refusals named with what to fix."""
        if response.status_code == 203 or (response.is_success and _is_html(response)):
            raise HttpError(
                f"Azure DevOps answered with a sign-in page (HTTP {response.status_code}) instead of data: the "
                f"personal access token of connection {self.name!r} is not valid for organization "
                f"{self.settings.organization!r} (wrong, expired or revoked): create a new one",
                kind="bad_config",
                status=response.status_code,
            )
        after = retry_after_seconds(response.headers.get("Retry-After"))
        if response.is_success and after:  # "delayed": the answer stands, the next request waits
            client.guard.pacer.pause(min(after, client.guard.policy.max_delay))
        if response.status_code == 429:
            resource = response.headers.get("X-RateLimit-Resource")
            named = f" (resource {resource})" if resource else ""
            return TransientError(f"Azure DevOps is throttling this connection{named}", after, throttled=True)
        if response.status_code in (400, 401, 403, 404):
            raise self.refusal(response)
        return None

    def refusal(self, response: httpx.Response) -> HttpError:
        status, said = response.status_code, _message(response)
        quoted = f": {said}" if said else ""
        if status == 400 and "VS402337" in said:
            text = (
                f"the WIQL matches more than {QUERY_LIMIT:,} work items, the most Azure DevOps returns for one "
                "query (VS402337): narrow the query (a date, area path, iteration or state condition)"
            )
        elif status == 400:
            text = f"Azure DevOps refused the request (HTTP 400){quoted}"
        elif status == 401:
            text = f"HTTP 401: authentication failed, check {self.token_hint.format(name=self.name)}{quoted}"
        elif status == 403:
            text = (
                f"HTTP 403: the personal access token of connection {self.name!r} lacks the scope {SCOPE}, or its "
                f"user may not read project {self.settings.project!r}{quoted}"
            )
        else:
            text = (
                f"HTTP 404: organization {self.settings.organization!r} or project {self.settings.project!r} "
                f"not found (check organization: and project: of connection {self.name!r}){quoted}"
            )
        return HttpError(REDACTOR(text), kind="fatal" if status == 400 else "bad_config", status=status)

    def read(self, client: ApiClient, q: MetricQuery[AzureDevopsMetric]) -> float:
        how = q.aggregate or "count"
        if how in ("sum", "avg") and not q.params.field:
            raise ValueError(
                f"aggregate {how} needs field: (a field's reference name, e.g. Microsoft.VSTS.Scheduling.StoryPoints)"
            )
        ids, as_of = self.query(client, q.fill(q.params.wiql))
        if how == "count":
            return float(len(ids))
        if how == "percent_done":
            return self.percent_done(client, ids, as_of)
        field = str(q.params.field)
        values = [v for item in self.work_items(client, ids, [field], as_of) if (v := _number(item, field)) is not None]
        if how == "avg" and not values:
            raise ValueError(f"none of the {len(ids)} work items the WIQL matches has a value in {field}")
        return sum(values) / len(values) if how == "avg" else float(sum(values))

    def query(self, client: ApiClient, wiql: str) -> tuple[list[int], str | None]:
        """The ids a WIQL returns, and the moment it ran (asOf), so that fields are read as of then."""
        path = f"{self.project_path()}/_apis/wit/wiql"
        data = client.json("POST", path, params={"api-version": API_VERSION}, json={"query": wiql})
        if isinstance(data, dict) and data.get("queryResultType") == "workItemLink":
            raise ValueError("the WIQL is a links query (FROM WorkItemLinks): write FROM WorkItems")
        items = data.get("workItems") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), int) for i in items):
            raise ValueError("Azure DevOps answered the WIQL without a list of work items")
        as_of = data.get("asOf")
        return [i["id"] for i in items], as_of if isinstance(as_of, str) else None

    def work_items(self, client: ApiClient, ids: list[int], fields: list[str], as_of: str | None) -> Iterator[dict]:
        """The ``fields`` of every id, 200 ids a request; an id gone since the WIQL ran is left out."""
        path = f"/{quote(self.settings.organization, safe='')}/_apis/wit/workitemsbatch"
        for start in range(0, len(ids), BATCH):
            body: dict[str, Any] = {"ids": ids[start : start + BATCH], "fields": fields, "errorPolicy": "omit"}
            if as_of:
                body["asOf"] = as_of
            data = client.json("POST", path, params={"api-version": API_VERSION}, json=body)
            value = data.get("value") if isinstance(data, dict) else None
            if not isinstance(value, list):
                raise ValueError("Azure DevOps answered workitemsbatch without a list of work items")
            yield from (item for item in value if isinstance(item, dict))

    def percent_done(self, client: ApiClient, ids: list[int], as_of: str | None) -> float:
        if not ids:
            raise ValueError("no work items match the WIQL, so there is no share done")
        done = read = 0
        for item in self.work_items(client, ids, ["System.WorkItemType", "System.State"], as_of):
            fields = item.get("fields") or {}
            kind, state = fields.get("System.WorkItemType"), fields.get("System.State")
            read += 1
            done += isinstance(kind, str) and self.categories(client, kind).get(str(state)) == COMPLETED
        if not read:
            raise ValueError("none of the work items the WIQL matched could be read, so there is no share done")
        return 100.0 * done / read

    def categories(self, client: ApiClient, kind: str) -> dict[str, str]:
        """State name -> state category of one work item type, read once a run."""
        with self._states_lock:
            if kind not in self._states:
                path = f"{self.project_path()}/_apis/wit/workitemtypes/{quote(kind, safe='')}/states"
                data = client.json("GET", path, params={"api-version": API_VERSION})
                states = data.get("value") if isinstance(data, dict) else None
                if not isinstance(states, list):
                    raise ValueError(f"Azure DevOps answered the states of {kind!r} without a list")
                self._states[kind] = {str(s.get("name")): str(s.get("category")) for s in states if isinstance(s, dict)}
            return self._states[kind]


def _number(item: dict, field: str) -> float | None:
    """The item's value in ``field`` as a number; None when the field has no value (absent or empty)."""
    raw = (item.get("fields") or {}).get(field)
    if raw is None or raw == "":
        return None
    try:
        return parse_number(raw)
    except ValueError:
        raise ValueError(f"work item {item.get('id')}: {field} is not a number ({str(raw)[:40]!r})") from None


def _is_html(response: httpx.Response) -> bool:
    return "text/html" in response.headers.get("content-type", "").lower()


def _message(response: httpx.Response) -> str:
    """Azure DevOps's own words: ``{"$id", "message", "typeKey", ...}`` (a short excerpt, redacted)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return REDACTOR(str(message))[:300] if message else ""


connector = Connector(
    "azure_devops",
    connection=AzureDevopsConnection,
    metric=AzureDevopsMetric,
    source=AzureDevopsSource,
    description="Azure DevOps Boards (WIQL)",
)
