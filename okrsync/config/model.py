"""The core of the config contract: cycle, metrics, OKRs, KPIs, schedule and status thresholds.

Connections and outputs are written as ``{type: ..., ...}``; their keys belong to the connector
registered for that type (see :mod:`okrsync.config.bind`), so nothing about a connector lives
here. :class:`ConfigFile` is the file as written; :class:`Config`, what the loader makes of it,
holds each connector's own models in ``connections`` and ``outputs``, and each connection metric's
keys as its connector's metric model in ``params``.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from okrsync.config.checkin import CheckinSettings
from okrsync.config.dates import Day
from okrsync.config.env import resolve_env
from okrsync.config.settings import ConnectionSettings, MetricParams, OutputSettings
from okrsync.config.storage import StoreSettings
from okrsync.config.types import Aggregate, Duration, Strict, Window
from okrsync.defaults import DEFAULT_CONFIG, DEFAULT_NAMESPACE
from okrsync.okr import formula

METRIC_COMMON_KEYS = frozenset(
    {"connection", "formula", "aggregate", "window", "max_age", "offset_days", "unit", "description", "expect"}
)


class UnboundSettings(BaseModel):
    """A connection or output as written: its ``type`` plus keys that its connector's model checks."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    type: str


class Cycle(Strict):
    name: str
    start: Day
    end: Day
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _iana(value)

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
    use_forecast: bool = Field(
        False, description="judge increase/decrease KRs with 3+ weeks of history by their chance of reaching target"
    )
    likely: float = Field(0.7, ge=0, le=1, description="use_forecast: on track from this chance up")
    unlikely: float = Field(0.3, ge=0, le=1, description="use_forecast: off track below this chance")

    @model_validator(mode="after")
    def _ordered(self) -> StatusThresholds:
        if self.at_risk_within < self.on_track_within:
            raise ValueError("at_risk_within must be >= on_track_within")
        if self.unlikely > self.likely:
            raise ValueError("unlikely must be <= likely")
        return self


class Schedule(Strict):
    """When the sync runs by itself (`okrsync serve`, `okrsync deploy`): a 5-field cron in ``timezone``
    (an IANA name; default: the cycle's). ``enabled: false`` keeps the schedule but pauses it."""

    cron: str = Field(description="minute hour day-of-month month day-of-week, e.g. '0 2 * * *'")
    timezone: str | None = Field(None, description="IANA time zone of the cron; default: the cycle's")
    enabled: bool = True
    checkin: str | None = Field(
        None, description="a second cron for the weekly check-in (outputs with on: [checkin]), e.g. '0 8 * * 1'"
    )

    @field_validator("cron", "checkin")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # cronsim is what Prefect itself uses to read cron schedules: the same rules, checked at load time
        from cronsim import CronSim, CronSimError

        if len(value.split()) != 5:
            raise ValueError(f"expected a 5-field cron expression such as '0 2 * * *', got {value!r}")
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(
                f"cron {value!r}: {str(exc).lower()} (minute 0-59, hour 0-23, day 1-31, month 1-12 or jan-dec, "
                "weekday 0-7 or sun-sat)"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else _iana(value)


def _iana(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Oslo)") from None
    return value


_CHANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class Expect(Strict):
    """A metric's data contract: a value outside it is held back for review instead of published
    (okrsync.okr.contracts). ``max_change`` is against the last good value: a number, or a share such as 50%."""

    min: float | None = None
    max: float | None = None
    max_change: float | str | None = Field(None, description="largest believable change: 50 (absolute) or '50%'")

    @field_validator("max_change")
    @classmethod
    def _change(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and not _CHANGE.match(value):
            raise ValueError("max_change is a number (an absolute change) or a percentage such as 50%")
        if isinstance(value, int | float) and value <= 0:
            raise ValueError("max_change must be above 0")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Expect:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.min is None and self.max is None and self.max_change is None:
            raise ValueError("expect needs min, max or max_change")
        return self

    @property
    def relative_change(self) -> float | None:
        """max_change as a fraction (0.5 for '50%'), or None when it is absolute or unset."""
        m = _CHANGE.match(self.max_change) if isinstance(self.max_change, str) else None
        return float(m.group(1)) / 100 if m else None


class Metric(BaseModel):
    """A value defined once and used by any number of KRs and KPIs.

    Either ``connection`` + that connection type's keys, or ``formula`` over other metrics.
    The type-specific keys are validated by the connector's metric model (``Config.params`` once loaded).
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    connection: str | None = None
    formula: str | None = None
    aggregate: Aggregate | None = None
    window: Window = Field(
        "cycle",
        description="which dated rows an aggregate reads: cycle (start to as-of, default), kr (the KR's "
        "start_date to due), all (every row: a running total)",
    )
    max_age: Duration = timedelta(hours=36)
    offset_days: int = Field(0, ge=0, description="evaluate this metric as of N days earlier (closing periods)")
    unit: str | None = None
    description: str | None = None
    expect: Expect | None = Field(None, description="data contract: {min, max, max_change}; breaking values held back")

    @model_validator(mode="after")
    def _one_source(self) -> Metric:
        if (self.connection is None) == (self.formula is None):
            raise ValueError("a metric needs exactly one of 'connection' or 'formula'")
        if self.formula is not None:
            formula.parse(self.formula)
            if self.model_extra:
                raise ValueError(f"a formula metric takes no {', '.join(sorted(self.model_extra))}")
        return self


KrKind = Literal["increase", "decrease", "at_least", "at_most", "between", "milestone"]
BOUND_KINDS = ("at_least", "at_most", "between")


class Phase(Strict):
    date: Day
    target: float


Id = Annotated[str, Field(min_length=1, max_length=200)]  # the store keeps ids in 200 characters


class KeyResult(Strict):
    id: Id
    title: str | None = None
    metric: str | None = Field(
        None, description="the metric it reads; left out: a manual key result, its value set by okrsync override"
    )
    max_age: Duration | None = Field(
        None, description="a manual key result's: how old its value may be before it is stale (default 8d)"
    )
    kind: KrKind | None = Field(None, description="omitted: increase or decrease, inferred from start vs target")
    start: float | Literal["auto"] | None = None
    target: float | None = None
    min: float | None = None
    max: float | None = None
    weight: float = Field(1.0, gt=0)
    start_date: Day | None = None
    due: Day | None = None
    phases: list[Phase] = Field(
        [], description="check-points {date, target}: the expected path (a milestone's share due by then)"
    )
    owner: str | None = None
    jira_issue: str | None = None
    sheet_cell: str | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> KeyResult:
        problem = _kind_problem(self)
        if problem:
            raise ValueError(problem)
        if self.phases and self.kind not in (None, "increase", "decrease", "milestone"):
            raise ValueError("phases apply to increase, decrease and milestone key results only (levels have no path)")
        if self.start_date and self.due and self.due < self.start_date:
            raise ValueError(f"due {self.due} is before start_date {self.start_date}")
        if self.metric is not None and self.max_age is not None:
            raise ValueError(f"max_age belongs to the metric here: set metrics.{self.metric}.max_age instead")
        if self.metric is None and self.start == "auto":
            raise ValueError(
                "start: auto takes the metric's first value of the cycle: a manual key result needs a start"
            )
        return self

    @property
    def manual(self) -> bool:
        """No metric: its value is set by hand (``okrsync override``) and kept until changed."""
        return self.metric is None

    @property
    def is_bound(self) -> bool:
        return self.kind in BOUND_KINDS


def _kind_problem(kr: KeyResult) -> str | None:
    """What a key result of its kind lacks or contradicts, or None."""
    kind = kr.kind
    if kind in (None, "increase", "decrease"):
        start, target = kr.start, kr.target
        if start is None or target is None:
            missing = [k for k, v in (("start", start), ("target", target)) if v is None]
            return f"an increase/decrease key result needs {' and '.join(missing)}"
        if kind and start != "auto" and start != target:
            if (kind == "increase") != (target > start):
                return f"kind {kind} contradicts start {start} and target {target}"
    elif kind in ("at_least", "at_most") and kr.target is None:
        return f"a {kind} key result needs a target"
    elif kind == "between":
        if kr.min is None or kr.max is None:
            return "a between key result needs min and max"
        if kr.min > kr.max:
            return f"min {kr.min} is above max {kr.max}"
    return None


class Objective(Strict):
    id: Id
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
    id: Id
    metric: str
    title: str | None = None
    owner: str | None = None
    healthy: HealthyRange
    leads: list[Id] = Field(
        [], description="key results this KPI is a leading indicator for (shown beside them, with the lag)"
    )


class Deadlines(Strict):
    """How long a sync waits (``deadlines:``). A connection's fetch that has not finished after
    ``connection`` (or its own ``deadline:``), or anything still fetching when the ``run`` budget is
    spent, fails its metrics with that reason: their KRs go stale, everything else is stored and
    published. Per request, each API connection has ``timeout:`` (seconds, default 30)."""

    connection: Duration = Field(timedelta(minutes=10), description="default per connection, e.g. 10m")
    run: Duration = Field(timedelta(minutes=30), description="the whole fetch of one sync, e.g. 30m")


class ConfigBody(Strict):
    """What a config file holds besides its connections and outputs (whose keys belong to connectors)."""

    version: Literal[1]
    namespace: str = Field(
        DEFAULT_NAMESPACE, min_length=1, max_length=100, description="separates configs (teams) that share one store"
    )
    title: str | None = Field(
        None, max_length=200, description="the team's name in reports and check-ins (default: the namespace)"
    )
    cycle: Cycle
    store: StoreSettings = Field(StoreSettings(), json_schema_extra={"default": "sqlite:///okrsync.db"})
    metrics: dict[Id, Metric] = {}
    deadlines: Deadlines = Deadlines()
    objectives: list[Objective] = []
    kpis: list[Kpi] = []
    schedule: Schedule | None = None
    status: StatusThresholds = StatusThresholds()
    checkin: CheckinSettings = CheckinSettings()

    def key_results(self) -> list[tuple[Objective, KeyResult]]:
        return [(o, kr) for o in self.objectives for kr in o.key_results]


class ConfigFile(ConfigBody):
    """The config as written: each connection and output a ``type`` and keys its connector checks. The JSON
    Schema is this model's; ``okrsync.config.load`` binds it into a :class:`Config`."""

    connections: dict[str, UnboundSettings] = {}
    outputs: list[UnboundSettings] = []


class Config(ConfigBody):
    """A loaded config: each connection, output and connection metric's keys held by its connector's own
    models (``okrsync.config.load``), and where the file was read."""

    connections: dict[str, ConnectionSettings] = {}
    outputs: list[OutputSettings] = []
    # each connection metric's own keys, as its connector's model (metric id -> params)
    params: SkipJsonSchema[dict[str, MetricParams]] = Field(default_factory=dict, exclude=True)
    # the file it was read from, and the line each key was written on
    path: SkipJsonSchema[Path] = Field(Path(DEFAULT_CONFIG), exclude=True)
    lines: SkipJsonSchema[dict[tuple, int]] = Field(default_factory=dict, exclude=True, repr=False)

    def line_of(self, loc: tuple) -> int | None:
        """The line of the file on which the key at ``loc`` was written (None for a config built in code)."""
        return self.lines.get(loc)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (csv roots, report paths, sqlite files) start here."""
        return self.path.parent

    @property
    def schedule_timezone(self) -> str:
        """The schedule's time zone: its own, else the cycle's."""
        return (self.schedule.timezone if self.schedule else None) or self.cycle.timezone

    def store_url(self, environ: dict[str, str] | None = None) -> str:
        """OKRSYNC_STORE_URL overrides ``store:``; a relative sqlite path starts at the config's folder."""
        env = os.environ if environ is None else environ
        url = env.get("OKRSYNC_STORE_URL") or resolve_env(self.store.url, "store", environ=env)
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            rel = url[len(prefix) :]
            if rel and rel != ":memory:":
                url = prefix + str((self.base_dir / rel).resolve())
        return url
