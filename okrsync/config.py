"""The config contract: pydantic models for every key a user writes, and the loader.

`load_config` reads one YAML file and either returns a validated :class:`Config` or raises a
:class:`~okrsync.errors.ConfigError` listing *every* problem with ``file:line``, the key path
and what was expected. Credentials are written as ``${ENV_VAR}`` references; they stay
unresolved in the model and are only resolved by :func:`resolve_env` when a connection is
opened, so a validated config (and anything printed from it) never holds a secret.

Connection and output types of the whole contract validate here, including those whose
connector is not built yet; the registry reports "not available yet" when one is used.
Per-type metric keys (``jql``, ``range``, ``query`` ...) are checked against the metric model
of the metric's connection type.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from okrsync import formula
from okrsync.errors import ConfigError, ConfigProblem, SourceError
from okrsync.yamlsource import YamlSyntaxError, line_of, load_with_lines

DEFAULT_CONFIG = "okrsync.yaml"
AGGREGATES = ("count", "sum", "avg", "min", "max", "latest", "percent_done")
Aggregate = Literal["count", "sum", "avg", "min", "max", "latest", "percent_done"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration(value: Any) -> Any:
    """'36h', '2d', '90m' -> timedelta; a bare number means hours."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(hours=value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    if isinstance(value, str):
        raise ValueError("expected a duration such as 36h, 2d or 90m")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Strict(BaseModel):
    """Rejects unknown keys: a typo in the config is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- cycle and status


class Cycle(Strict):
    name: str
    start: date
    end: date
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Oslo)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Cycle:
        if self.end < self.start:
            raise ValueError(f"cycle end {self.end} is before its start {self.start}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StatusThresholds(Strict):
    on_track_within: float = Field(0.10, ge=0, le=1)
    at_risk_within: float = Field(0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> StatusThresholds:
        if self.at_risk_within < self.on_track_within:
            raise ValueError("at_risk_within must be >= on_track_within")
        return self


class Schedule(Strict):
    cron: str
    timezone: str | None = None

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected a 5-field cron expression such as '0 2 * * *'")
        return value


# --------------------------------------------------------------------------- connections


class _Http(Strict):
    endpoint: str | None = None  # replaces the API root: a proxy or a local emulator
    rate_limit: float | None = Field(None, gt=0, description="requests per second, overrides the default")


class CsvConnection(Strict):
    type: Literal["csv"]
    root: str = "."


class SqlConnection(Strict):
    type: Literal["sql"]
    url: str


class GoogleSheetsConnection(_Http):
    type: Literal["google_sheets"]
    credentials_file: str | None = None


class JiraConnection(_Http):
    type: Literal["jira"]
    url: str
    email: str | None = None
    token: str


class HubspotConnection(_Http):
    type: Literal["hubspot"]
    token: str


class SalesforceConnection(_Http):
    type: Literal["salesforce"]
    instance_url: str
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_version: str = "v62.0"


class PipedriveConnection(_Http):
    type: Literal["pipedrive"]
    url: str
    token: str


class BasicAuth(Strict):
    username: str
    password: str


class HttpConnection(_Http):
    type: Literal["http"]
    base_url: str
    headers: dict[str, str] = Field({}, description="sent with every request; values may use ${ENV}")
    params: dict[str, str] = Field({}, description="query parameters sent with every request; may use ${ENV}")
    auth: BasicAuth | None = None
    url: str | None = Field(None, description="alias of endpoint: replaces base_url")


class PluginConnection(BaseModel):
    """A connection served by a third-party connector (entry point group ``okrsync.connectors``).

    Its keys are checked against that connector's own settings model when it is opened.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = Field(
        json_schema_extra={
            "not": {"enum": ["csv", "sql", "google_sheets", "jira", "hubspot", "salesforce", "pipedrive", "http"]}
        }
    )


BUILTIN_CONNECTIONS: dict[str, type[BaseModel]] = {
    "csv": CsvConnection,
    "sql": SqlConnection,
    "google_sheets": GoogleSheetsConnection,
    "jira": JiraConnection,
    "hubspot": HubspotConnection,
    "salesforce": SalesforceConnection,
    "pipedrive": PipedriveConnection,
    "http": HttpConnection,
}


def _connection_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILTIN_CONNECTIONS else "plugin"


Connection = Annotated[
    Annotated[CsvConnection, Tag("csv")]
    | Annotated[SqlConnection, Tag("sql")]
    | Annotated[GoogleSheetsConnection, Tag("google_sheets")]
    | Annotated[JiraConnection, Tag("jira")]
    | Annotated[HubspotConnection, Tag("hubspot")]
    | Annotated[SalesforceConnection, Tag("salesforce")]
    | Annotated[PipedriveConnection, Tag("pipedrive")]
    | Annotated[HttpConnection, Tag("http")]
    | Annotated[PluginConnection, Tag("plugin")],
    Discriminator(_connection_tag),
]


# --------------------------------------------------------------------------- metric parameters per type


class CsvMetric(Strict):
    path: str
    column: str
    where: dict[str, str | int | float] = Field({}, description="keep only rows whose columns equal these values")
    date_column: str | None = Field(None, description="ISO dates; rows dated after the run's as_of are ignored")


class SqlMetric(Strict):
    query: str


class GoogleSheetsMetric(Strict):
    spreadsheet: str
    range: str


class JiraMetric(Strict):
    jql: str
    field: str | None = None


class HubspotFilter(Strict):
    property: str
    operator: str = "EQ"
    value: Any = None


class HubspotMetric(Strict):
    object: str = "deals"
    filters: list[HubspotFilter] = []
    property: str | None = None


class SalesforceMetric(Strict):
    soql: str


class PipedriveMetric(Strict):
    status: Literal["open", "won", "lost"] | None = None
    filter_id: int | None = None
    pipeline_id: int | None = None
    user_id: int | None = None


class HttpPagination(Strict):
    next: str = Field(description="JMESPath to the next page's cursor or URL in each response; absent/null ends")
    param: str | None = Field(None, description="query parameter that carries the cursor; omit when next is a URL")
    max_pages: int = Field(100, gt=0)


class HttpMetric(Strict):
    path: str = ""
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = {}
    body: Any = None
    headers: dict[str, str] = {}
    select: str | None = Field(None, description="JMESPath to a number, or to a list of numbers to aggregate")
    paginate: HttpPagination | None = None

    @field_validator("select")
    @classmethod
    def _valid_jmespath(cls, value: str | None) -> str | None:
        if value is not None:
            import jmespath
            from jmespath.exceptions import JMESPathError

            try:
                jmespath.compile(value)
            except JMESPathError as exc:
                raise ValueError(f"invalid JMESPath {value!r}: {exc}") from None
        return value


BUILTIN_METRIC_PARAMS: dict[str, type[BaseModel]] = {
    "csv": CsvMetric,
    "sql": SqlMetric,
    "google_sheets": GoogleSheetsMetric,
    "jira": JiraMetric,
    "hubspot": HubspotMetric,
    "salesforce": SalesforceMetric,
    "pipedrive": PipedriveMetric,
    "http": HttpMetric,
}

METRIC_COMMON_KEYS = {"connection", "formula", "aggregate", "max_age", "offset_days", "unit", "description"}


class Metric(BaseModel):
    """A value defined once and used by any number of KRs and KPIs.

    Either ``connection`` + that connection type's keys, or ``formula`` over other metrics.
    The type-specific keys are kept in ``params`` after validation.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    connection: str | None = None
    formula: str | None = None
    aggregate: Aggregate | None = None
    max_age: Duration = timedelta(hours=36)
    offset_days: int = Field(0, ge=0, description="evaluate this metric as of N days earlier (closing periods)")
    unit: str | None = None
    description: str | None = None
    _params: BaseModel | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _one_source(self) -> Metric:
        if (self.connection is None) == (self.formula is None):
            raise ValueError("a metric needs exactly one of 'connection' or 'formula'")
        if self.formula is not None:
            formula.parse(self.formula)
            if self.model_extra:
                raise ValueError(f"a formula metric takes no {', '.join(sorted(self.model_extra))}")
        return self

    @property
    def params(self) -> BaseModel | None:
        return self._params


# --------------------------------------------------------------------------- OKRs

KrKind = Literal["increase", "decrease", "at_least", "at_most", "between", "milestone"]
BOUND_KINDS = ("at_least", "at_most", "between")


class Phase(Strict):
    date: date
    target: float


class KeyResult(Strict):
    id: str
    title: str | None = None
    metric: str
    kind: KrKind | None = Field(None, description="omitted: increase or decrease, inferred from start vs target")
    start: float | Literal["auto"] | None = None
    target: float | None = None
    min: float | None = None
    max: float | None = None
    weight: float = Field(1.0, gt=0)
    start_date: date | None = None
    due: date | None = None
    phases: list[Phase] = []
    owner: str | None = None
    jira_issue: str | None = None
    sheet_cell: str | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> KeyResult:
        kind = self.kind
        if kind in (None, "increase", "decrease"):
            missing = [k for k in ("start", "target") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"an increase/decrease key result needs {' and '.join(missing)}")
            if kind and self.start != "auto" and self.start != self.target:
                if (kind == "increase") != (self.target > self.start):  # type: ignore[operator]
                    raise ValueError(f"kind {kind} contradicts start {self.start} and target {self.target}")
        elif kind in ("at_least", "at_most") and self.target is None:
            raise ValueError(f"a {kind} key result needs a target")
        elif kind == "between":
            if self.min is None or self.max is None:
                raise ValueError("a between key result needs min and max")
            if self.min > self.max:
                raise ValueError(f"min {self.min} is above max {self.max}")
        if self.phases and kind not in (None, "increase", "decrease"):
            raise ValueError("phases apply to increase/decrease key results only")
        if self.start_date and self.due and self.due < self.start_date:
            raise ValueError(f"due {self.due} is before start_date {self.start_date}")
        return self

    @property
    def is_bound(self) -> bool:
        return self.kind in BOUND_KINDS


class Objective(Strict):
    id: str
    title: str
    owner: str | None = None
    kind: Literal["committed", "aspirational"] = "committed"
    parent: str | None = Field(None, description="id of the objective this one rolls up into")
    weight: float = Field(1.0, gt=0, description="weight in the parent's roll-up")
    key_results: list[KeyResult] = []


class HealthyRange(Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> HealthyRange:
        if self.min is None and self.max is None:
            raise ValueError("healthy needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Kpi(Strict):
    id: str
    metric: str
    title: str | None = None
    owner: str | None = None
    healthy: HealthyRange


# --------------------------------------------------------------------------- outputs

Trigger = Literal["status_change", "done", "stale", "error", "every_run"]


class GoogleSheetsOutput(Strict):
    type: Literal["google_sheets"]
    connection: str
    spreadsheet: str
    worksheet: str = "OKR status"


class JiraOutput(Strict):
    type: Literal["jira"]
    connection: str
    progress_field: str | None = None
    comment_on: list[Trigger] = ["status_change"]


DEFAULT_QUESTIONS = [
    "What has had the most impact so far?",
    "What is blocking progress, and who can unblock it?",
    "What will we change this week to get back on track?",
]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class WeeklyCheckin(Strict):
    """A weekly digest of every objective for the OKR meeting, with check-in questions for KRs in trouble."""

    weekday: Weekday = "monday"
    questions: list[str] = Field(DEFAULT_QUESTIONS, min_length=1)


class SlackOutput(Strict):
    type: Literal["slack"]
    webhook_url: str
    on: list[Trigger] = ["status_change", "done", "stale", "error"]
    report_url: str | None = None
    weekly: WeeklyCheckin | None = None
    rate_limit: float | None = Field(None, gt=0, description="messages per second (default 1)")


class TeamsOutput(Strict):
    type: Literal["teams"]
    webhook_url: str
    on: list[Trigger] = ["status_change", "done", "stale", "error"]
    report_url: str | None = None
    weekly: WeeklyCheckin | None = None
    rate_limit: float | None = Field(None, gt=0, description="messages per second (default 1)")


class WebhookOutput(Strict):
    type: Literal["webhook"]
    url: str
    secret: str | None = None
    headers: dict[str, str] = {}


class ReportOutput(Strict):
    type: Literal["report"]
    path: str

    @field_validator("path")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if Path(value).suffix.lower() not in (".html", ".md", ".json", ".csv"):
            raise ValueError("report path must end in .html, .md, .json or .csv")
        return value


Output = Annotated[
    GoogleSheetsOutput | JiraOutput | SlackOutput | TeamsOutput | WebhookOutput | ReportOutput,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- the document


class Config(Strict):
    version: Literal[1]
    namespace: str = Field("default", description="separates configs (teams) that share one store")
    cycle: Cycle
    store: str = "sqlite:///okrsync.db"
    connections: dict[str, Connection] = {}
    metrics: dict[str, Metric] = {}
    objectives: list[Objective] = []
    kpis: list[Kpi] = []
    outputs: list[Output] = []
    schedule: Schedule | None = None
    status: StatusThresholds = StatusThresholds()
    _path: Path = PrivateAttr(Path(DEFAULT_CONFIG))

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (csv roots, report paths, sqlite files) start here."""
        return self._path.parent

    def key_results(self) -> list[tuple[Objective, KeyResult]]:
        return [(o, kr) for o in self.objectives for kr in o.key_results]

    def store_url(self, environ: dict[str, str] | None = None) -> str:
        """OKRSYNC_STORE_URL overrides ``store:``; a relative sqlite path starts at the config's folder."""
        env = os.environ if environ is None else environ
        url = env.get("OKRSYNC_STORE_URL") or resolve_env(self.store, "store", environ=env)
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            rel = url[len(prefix) :]
            if rel and rel != ":memory:":
                url = prefix + str((self.base_dir / rel).resolve())
        return url


# --------------------------------------------------------------------------- env references


def env_refs(value: str) -> list[str]:
    return _ENV_REF.findall(value)


def resolve_env(value: str, where: str, *, environ: dict[str, str] | os._Environ | None = None) -> str:
    """Replace ``${VAR}`` references; a missing variable is an error naming the key, not the value."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise SourceError(
                f"environment variable {name} is not set (referenced by {where}); "
                f"export it or put it in the environment of the scheduler"
            )
        return env[name]

    return _ENV_REF.sub(sub, value)


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Load and validate one config file. Raises ConfigError with every located problem."""
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                ConfigProblem(
                    shown,
                    None,
                    "",
                    "config file not found (use -c PATH or OKRSYNC_CONFIG; `okrsync init` writes a starter)",
                )
            ]
        ) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(shown, None, "", f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, shown, base_path=path)


def parse_config(text: str, shown: str = "<config>", *, base_path: Path | None = None) -> Config:
    try:
        data, lines, duplicates = load_with_lines(text)
    except YamlSyntaxError as exc:
        raise ConfigError([ConfigProblem(shown, exc.line, "", str(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(shown, lines.get(()), "", "expected a mapping of keys (version, cycle, ...)")])

    problems = [ConfigProblem(shown, line, _dotted(p), f"duplicate key {key!r}") for p, line, key in duplicates]
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            problems.append(ConfigProblem(shown, line_of(lines, loc), _dotted(_clean_loc(loc, data)), _message(err)))
    for loc, message in cross_check(data):
        problems.append(ConfigProblem(shown, line_of(lines, loc), _dotted(loc), message))
    if problems or config is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(_unique(problems))
    _bind_metric_params(config)
    config._path = base_path or Path(shown)
    return config


def _bind_metric_params(config: Config) -> None:
    for metric in config.metrics.values():
        if metric.connection is not None:
            kind = config.connections[metric.connection].type
            model = metric_params_model(kind)
            if model is not None:
                metric._params = model.model_validate(metric.model_extra or {})


def metric_params_model(connection_type: str) -> type[BaseModel] | None:
    """The model of the type-specific metric keys: built-in, or from a plugin connector."""
    if connection_type in BUILTIN_METRIC_PARAMS:
        return BUILTIN_METRIC_PARAMS[connection_type]
    from okrsync.registry import registry

    plugin = registry().sources.get(connection_type)
    return getattr(plugin, "metric_model", None) if plugin else None


def cross_check(data: dict) -> list[tuple[tuple, str]]:
    """Problems no single model can see: references between sections, ids, per-type metric keys.

    Works on the raw data so it can run even when model validation failed elsewhere: one pass
    reports everything.
    """
    out: list[tuple[tuple, str]] = []
    connections = data.get("connections") if isinstance(data.get("connections"), dict) else {}
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    objectives = data.get("objectives") if isinstance(data.get("objectives"), list) else []
    kpis = data.get("kpis") if isinstance(data.get("kpis"), list) else []

    for name, conn in connections.items():
        if isinstance(conn, dict) and conn.get("type") not in BUILTIN_CONNECTIONS and "type" in conn:
            from okrsync.registry import registry

            plugin = registry().sources.get(conn["type"])
            if plugin is None:
                known = ", ".join(sorted(set(BUILTIN_CONNECTIONS) | set(registry().sources)))
                out.append(
                    (
                        ("connections", name, "type"),
                        f"unknown connection type {conn['type']!r}; expected one of: {known}",
                    )
                )
                continue
            try:
                plugin_settings(plugin.connection_model, conn)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    out.append((("connections", name, *err["loc"]), _message(err)))

    for mid, metric in metrics.items():
        if not isinstance(metric, dict):
            continue
        conn_name = metric.get("connection")
        if conn_name is not None and conn_name not in connections:
            out.append((("metrics", mid, "connection"), _unknown("connection", conn_name, connections)))
        elif conn_name is not None and isinstance(connections.get(conn_name), dict):
            model = metric_params_model(str(connections[conn_name].get("type")))
            if model is not None:
                extras = {k: v for k, v in metric.items() if k not in METRIC_COMMON_KEYS}
                try:
                    model.model_validate(extras)
                except ValidationError as exc:
                    for err in exc.errors(include_url=False):
                        kind = connections[conn_name].get("type")
                        msg = _message(err)
                        if err["type"] == "extra_forbidden":
                            allowed = ", ".join(sorted(model.model_fields))
                            msg = f"not a key of a {kind} metric (expected: {allowed})"
                        out.append((("metrics", mid, *err["loc"]), msg))
        if isinstance(metric.get("formula"), str):
            try:
                refs = formula.names(metric["formula"])
            except formula.FormulaError:
                refs = set()  # reported by the model
            for ref in sorted(refs - set(metrics)):
                out.append((("metrics", mid, "formula"), _unknown("metric", ref, metrics)))

    objective_ids = [o.get("id") for o in objectives if isinstance(o, dict)]
    kr_ids: list[tuple[tuple, Any]] = []
    for i, obj in enumerate(objectives):
        if not isinstance(obj, dict):
            continue
        parent = obj.get("parent")
        if parent is not None and parent not in objective_ids:
            out.append((("objectives", i, "parent"), _unknown("objective", parent, objective_ids)))
        krs = obj.get("key_results") if isinstance(obj.get("key_results"), list) else []
        for j, kr in enumerate(krs):
            if not isinstance(kr, dict):
                continue
            kr_ids.append((("objectives", i, "key_results", j, "id"), kr.get("id")))
            if "metric" in kr and kr["metric"] not in metrics:
                out.append((("objectives", i, "key_results", j, "metric"), _unknown("metric", kr["metric"], metrics)))
    for k, kpi in enumerate(kpis):
        if isinstance(kpi, dict) and "metric" in kpi and kpi["metric"] not in metrics:
            out.append((("kpis", k, "metric"), _unknown("metric", kpi["metric"], metrics)))

    out += _duplicates([(("objectives", i, "id"), oid) for i, oid in enumerate(objective_ids)], "objective")
    out += _duplicates(kr_ids, "key result")
    out += _duplicates(
        [(("kpis", k, "id"), kpi.get("id")) for k, kpi in enumerate(kpis) if isinstance(kpi, dict)], "KPI"
    )
    out += _parent_cycles(objectives)
    return out


def plugin_settings(model: type[BaseModel], raw: dict) -> BaseModel:
    """Validate a plugin connection's keys; ``type`` is passed only if the plugin's model declares it."""
    data = dict(raw) if "type" in model.model_fields else {k: v for k, v in raw.items() if k != "type"}
    return model.model_validate(data)


def _duplicates(ids: list[tuple[tuple, Any]], what: str) -> list[tuple[tuple, str]]:
    counts = Counter(i for _, i in ids if i is not None)
    return [
        (loc, f"duplicate {what} id {i!r}: ids address results in the store, status and overrides")
        for loc, i in ids
        if i is not None and counts[i] > 1
    ]


def _parent_cycles(objectives: list) -> list[tuple[tuple, str]]:
    parents = {o.get("id"): o.get("parent") for o in objectives if isinstance(o, dict)}
    out = []
    for i, obj in enumerate(objectives):
        if not isinstance(obj, dict):
            continue
        seen, node = [obj.get("id")], obj.get("parent")
        while node is not None and node in parents:
            if node == obj.get("id"):
                out.append(
                    (
                        ("objectives", i, "parent"),
                        f"objectives align in a circle: {' -> '.join(map(str, seen + [node]))}",
                    )
                )
                break
            if node in seen:
                break
            seen.append(node)
            node = parents[node]
    return out


def _unknown(what: str, name: Any, known: Any) -> str:
    names = ", ".join(sorted(str(k) for k in known if k is not None)) or "none defined"
    return f"unknown {what} {name!r} (defined: {names})"


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop the union tags pydantic inserts into locations, keep the keys the user wrote."""
    out: list = []
    node = data
    for part in loc:
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (
            part in BUILTIN_CONNECTIONS or part in ("plugin", "report", "slack", "teams", "webhook", "function-after")
        ):
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config/okrsync.schema.json)"
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    msg = msg.replace("Input should be", "must be")
    if kind == "union_tag_invalid":
        return msg.replace("Input tag", "type").replace(
            "found using 'type' does not match any of the expected tags:", "is not known; expected one of:"
        )
    msg = msg.removeprefix("Value error, ")
    msg = msg.removeprefix("Assertion failed, ")
    got = err.get("input")
    if kind not in ("value_error", "assertion_error") and not isinstance(got, dict | list) and got is not None:
        return f"{msg} (got {got!r})"
    return msg


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.path, p.message) not in seen:
            seen.add((p.line, p.path, p.message))
            out.append(p)
    return out


def json_schema() -> dict:
    """JSON Schema of the config, for editors (yaml-language-server) and reviewers."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "okrsync config"
    metric = schema["$defs"]["Metric"]
    for model in BUILTIN_METRIC_PARAMS.values():
        sub = model.model_json_schema()
        for key, prop in sub.get("properties", {}).items():
            metric["properties"].setdefault(key, {k: v for k, v in prop.items() if k != "$ref"} or {})
    return schema
