"""Asana: the tasks of a project completed since a date, counted, or a number custom field summed over them.

Connection: ``token``, a personal access token (by ``${ENV}``), sent as ``Authorization: Bearer``;
``endpoint`` replaces https://app.asana.com (scheme, host and port only: requests keep ``/api/1.0``). Metric:
``project`` (the project's gid, or the project's URL), ``completed_since`` (a date or a date-time, by default
``{cycle.start}``; a bare date is midnight in the cycle's time zone) and ``aggregate``:

- ``count`` (default): the tasks of the project with ``completed`` true and ``completed_at`` from
  ``completed_since`` up to the end of the as-of day.
- ``sum`` of ``field``, the gid of a number custom field, over those tasks; a task without a value is skipped.

Vendor rules followed here (Asana REST API 1.0):
- Get tasks from a project: ``GET /projects/{project_gid}/tasks``, scope ``tasks:read``. ``completed_since``:
  "Only return tasks that are either incomplete or that have been completed since this time", so incomplete
  tasks come back too and only completed ones inside the window are kept here. Records are compact unless
  ``opt_fields`` (a comma-separated list) names the fields wanted.
  https://developers.asana.com/reference/gettasksforproject
- Pagination: ``limit`` between 1 and 100; "If more results exist, then the response will contain a next_page
  attribute, which will include an offset ..."; ``next_page`` is null on the last page. Unpaginated requests
  to "grandfathered" endpoints "are still ultimately subject to a timeout limit" (users report a 400 "The result
  is too large. You should use pagination", Asana/ruby-asana#149 and #170), so every request pages, 100 a page.
  https://developers.asana.com/docs/pagination
- The task search API (``/workspaces/{gid}/tasks/search``, which filters on ``completed_at`` server-side) is
  not used: it "will only be available to premium Asana users" (402 otherwise) and does not page.
  https://developers.asana.com/reference/searchtasksforworkspace
- Personal access tokens go in the Authorization header as a bearer token and are opaque.
  https://developers.asana.com/docs/personal-access-token
- Rate limits are per token: 150 requests a minute on a free domain, 1,500 on a paid one; a 429 carries
  ``Retry-After`` (honoured, bounded, by the shared HTTP layer). Requests are paced at the free domain's 150 a
  minute; a paid domain may say ``rate_limit: 25``. Asana also caps reads in flight at 50 per token: at most
  4 here unless ``max_concurrency:`` says otherwise. https://developers.asana.com/docs/rate-limits
- Errors are ``{"errors": [{"message", "help", "phrase"}]}``: 400 (a missing or malformed parameter), 401
  (no valid token), 402 (a premium feature), 403 (the user may not read the object), 404 (no such object or
  route); Asana's own message is quoted. https://developers.asana.com/docs/errors
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import ValidationInfo, field_validator, model_validator

from okrsync.sdk import (
    REDACTOR,
    Aggregate,
    ApiClient,
    ApiSource,
    BearerToken,
    Connector,
    CursorPaginator,
    HttpError,
    MetricParams,
    MetricQuery,
    PageRequest,
    RemoteConnection,
    TransientError,
    parse_instant,
)

API = "/api/1.0"
PAGE = 100  # the most Asana serves a page ("The value must be between 1 and 100")
FIELDS = "completed,completed_at"
SUM_FIELDS = f"{FIELDS},custom_fields.number_value,custom_fields.resource_subtype"
PROJECT_URL = re.compile(r"^https?://[^/]+/(?:\d+/(?:[^/]+/)*project|0)/(\d+)(?:[/?#]|$)")
PROJECT_PATH = re.compile(r"/projects/([^/]+)")
GID_HINT = "the project's gid: the number after /project/ (or /0/) in the project's URL"


class AsanaConnection(RemoteConnection):
    type: Literal["asana"]
    token: str  # a personal access token

    endpoint_adds = f"requests keep {API}"


class AsanaMetric(MetricParams):
    aggregates: ClassVar[tuple[Aggregate, ...]] = ("count", "sum")
    project: str  # a project gid, or the project's URL
    completed_since: str = "{cycle.start}"  # a date or date-time; {cycle.start} {cycle.end} {as_of} are filled in
    field: str | None = None  # the gid of a number custom field, for sum

    @field_validator("project")
    @classmethod
    def _project_gid(cls, value: str) -> str:
        """A project's URL (https://app.asana.com/1/<workspace>/project/<gid>/list/..., or /0/<gid>/...) becomes
        its gid; anything else is taken as the gid itself."""
        found = PROJECT_URL.match(value.strip())
        if value.strip().startswith(("http://", "https://")) and not found:
            raise ValueError(f"not the URL of an Asana project ({value[:60]!r}): write {GID_HINT}")
        return found.group(1) if found else value.strip()

    @field_validator("completed_since")
    @classmethod
    def _a_moment(cls, value: str) -> str:
        if "{" not in value:
            parse_instant(value, None, "completed_since")  # raises ValueError with the reason
        return value

    @model_validator(mode="after")
    def _field_for_sum(self, info: ValidationInfo) -> AsanaMetric:
        if (info.context or {}).get("aggregate") == "sum" and not self.field:
            raise ValueError("aggregate sum needs field: (the gid of a number custom field of the project)")
        return self


class AsanaSource(ApiSource[AsanaConnection, AsanaMetric]):
    api_root = "https://app.asana.com"
    auth = BearerToken()
    limits = [(150, 60.0)]  # a free domain's 150 requests a minute per token (paid: 1,500): rate-limits page
    pagination = CursorPaginator("next_page.offset", "offset")
    token_hint = "the personal access token of connection {name!r}"
    vendor = "Asana"

    def throttled(self, response: httpx.Response) -> TransientError | None:
        """Asana's refusals in plain words, its own message quoted; 429 and 5xx are left to the shared layer."""
        status = response.status_code
        if status in (400, 401, 402, 403, 404):
            raise HttpError(
                REDACTOR(self.refusal(status, _said(response), response.request.url.path)),
                kind="fatal" if status in (400, 402) else "bad_config",
                status=status,
            )
        return None

    def refusal(self, status: int, said: str, path: str) -> str:
        quoted = f" ({said})" if said else ""
        found = PROJECT_PATH.search(path)
        what = f"project {found.group(1)!r}" if found else "the signed-in user"
        if status == 400:
            return f"Asana refused the request (HTTP 400){quoted}: check completed_since: and project: of the metric"
        if status == 401:
            return (
                f"HTTP 401: Asana did not accept {self.token_hint.format(name=self.name)}{quoted}: it may be wrong, "
                "expired or revoked; create a new one in Asana's developer console (My apps)"
            )
        if status == 402:
            return f"HTTP 402: Asana asks for a paid plan for this request{quoted}"
        if status == 403:
            return (
                f"HTTP 403: the token's user may not read {what}{quoted}: share the project with that user, "
                "or use the token of a user who can see it"
            )
        return f"HTTP 404: {what} not found{quoted}: check project: of the metric ({GID_HINT})"

    def check_paths(self) -> list[str]:
        """Each project the metrics read (the token and the project at once), else the token's user."""
        projects = dict.fromkeys(m.project for m in self.metrics)
        if not projects:
            return [f"{API}/users/me?opt_fields=name"]
        return [f"{API}/projects/{quote(gid, safe='')}?opt_fields=name" for gid in projects]

    def describe_check(self, answer: object) -> str:
        data = answer.get("data") if isinstance(answer, dict) else None
        name = data.get("name") if isinstance(data, dict) else None
        return f"personal access token accepted; can read {name!r}" if name else "personal access token accepted"

    def read(self, client: ApiClient, q: MetricQuery[AsanaMetric]) -> float:
        how = q.aggregate or "count"
        if how == "sum" and not q.params.field:
            raise ValueError("aggregate sum needs field: (the gid of a number custom field of the project)")
        since = parse_instant(q.fill(q.params.completed_since), q.cycle.tz, "completed_since")
        until = datetime.combine(q.as_of_day + timedelta(days=1), time(0), tzinfo=q.cycle.tz)  # after the as-of day
        done = [t for t in self.tasks(client, q, since, how) if _completed_between(t, since, until)]
        return float(len(done)) if how == "count" else _sum(done, str(q.params.field))

    def tasks(self, client: ApiClient, q: MetricQuery[AsanaMetric], since: datetime, how: str) -> list[dict]:
        """Every task of the project that is incomplete or completed since ``since``, 100 a page."""
        params = {
            "completed_since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "limit": PAGE,
            "opt_fields": SUM_FIELDS if how == "sum" else FIELDS,
        }
        first = PageRequest(f"{API}/projects/{quote(q.params.project, safe='')}/tasks", params)
        tasks: list[dict] = []
        for page in self.pages(client, "GET", first):
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise ValueError("Asana answered the project's tasks without a data list")
            tasks += [t for t in data if isinstance(t, dict)]
        return tasks


def _completed_between(task: dict, since: datetime, until: datetime) -> bool:
    when = task.get("completed_at")
    if task.get("completed") is not True or not isinstance(when, str):
        return False
    try:
        return since <= datetime.fromisoformat(when) < until
    except ValueError:
        raise ValueError(f"task {task.get('gid')}: completed_at {when[:40]!r} is not a date-time") from None


def _sum(tasks: list[dict], field: str) -> float:
    """The sum of custom field ``field`` over ``tasks`` (one without a value adds nothing). A field none of the
    tasks carries is an error, not a zero: it is not a custom field of the project."""
    values: list[float] = []
    carried = 0
    for task in tasks:
        entry = next(
            (f for f in task.get("custom_fields") or [] if isinstance(f, dict) and f.get("gid") == field), None
        )
        if entry is None:
            continue
        carried += 1
        if entry.get("resource_subtype") not in (None, "number"):
            raise ValueError(f"custom field {field} is a {entry.get('resource_subtype')} field, not a number field")
        value = entry.get("number_value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            values.append(float(value))
    if tasks and not carried:
        raise ValueError(
            f"none of the {len(tasks)} completed tasks has custom field {field}: check field: "
            "(the gid of a number custom field added to the project)"
        )
    return float(sum(values))


def _said(response: httpx.Response) -> str:
    """Asana's own words: the messages of ``{"errors": [{"message": ...}]}`` (a short excerpt, redacted)."""
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    messages = [str(e["message"]) for e in errors or [] if isinstance(e, dict) and e.get("message")]
    return REDACTOR("; ".join(messages))[:300]


connector = Connector(
    "asana",
    connection=AsanaConnection,
    metric=AsanaMetric,
    source=AsanaSource,
    description="Asana (tasks completed in a project)",
)
