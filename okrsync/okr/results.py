"""The value types of the OKR evaluation: metric states in, results out (pure data, no logic
beyond ordering a metric's points). :mod:`okrsync.okr.evaluate` computes them; the store persists them;
:mod:`okrsync.okr.status` turns them into the status document."""

from __future__ import annotations

import operator
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property


class Status(StrEnum):
    DONE = "done"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Point:
    """A metric value on the sync-day timeline, kept as POSIX seconds: cheap to compare, sort and fit.

    ``ts`` is the moment the value was read for (its synced day's as-of, ``offset_days`` applied): its
    place in history, forecasts and charts. ``source_ts`` is the source's own time of the value (a csv
    row's date), when it differs: what staleness is judged on."""

    ts: float
    value: float
    source_ts: float | None = None

    @classmethod
    def of(cls, at: datetime, value: float, observed_at: datetime | None = None) -> Point:
        if at.tzinfo is None or (observed_at is not None and observed_at.tzinfo is None):
            raise ValueError("a point in time must be timezone-aware")
        source = None if observed_at is None or observed_at == at else observed_at.timestamp()
        return cls(at.timestamp(), value, source)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)

    @property
    def observed_at(self) -> datetime:
        """When the source says the value is from (default: the moment it was read for)."""
        return datetime.fromtimestamp(self.ts if self.source_ts is None else self.source_ts, UTC)


@dataclass(frozen=True)
class MetricState:
    """Everything known about one metric at evaluation time."""

    history: tuple[Point, ...] = ()  # values in the cycle up to as_of, any order
    as_of: datetime | None = None  # the metric's as_of (offset_days applied); None: the run's
    max_age: timedelta = timedelta(hours=36)
    error: str | None = None  # the fetch failed in this run
    connection: str | None = None
    percent: bool = False  # aggregate percent_done: milestones default to target 100
    suspect: str | None = None  # this run's value broke the metric's contract and is held back (why)
    bounds: tuple[float | None, float | None] = (None, None)  # (lo, hi) its values cannot leave (forecasts)

    @cached_property
    def series(self) -> tuple[list[float], list[Point]]:
        """(POSIX times, points), oldest first; computed once, shared by every KR on this metric."""
        points = list(self.history)
        times = [p.ts for p in points]
        if any(map(operator.gt, times, times[1:])):
            order = sorted(range(len(times)), key=times.__getitem__)
            points, times = [points[i] for i in order], [times[i] for i in order]
        return times, points

    def ordered(self) -> list[Point]:
        return self.series[1]

    def count_until(self, moment: datetime) -> int:
        """How many points lie at or before ``moment``."""
        return bisect_right(self.series[0], moment.timestamp())


@dataclass(frozen=True)
class Override:
    value: float
    note: str | None = None
    sticky: bool = False
    set_at: datetime | None = None  # when it was recorded: a manual key result's value ages from then


@dataclass(frozen=True)
class Forecast:
    """The projection at the due date (clipped to the metric's bounds; past due: the value itself); with
    enough history also its 80 % range, the chance of reaching the target, and the normal behind both:
    its standard deviation and its centre, the unclipped projection (okrsync.okr.confidence)."""

    value: float
    progress: float
    low: float | None = None
    high: float | None = None
    probability: float | None = None
    sd: float | None = None
    center: float | None = None


@dataclass(frozen=True)
class KrResult:
    id: str
    objective_id: str
    metric: str | None  # None: a manual key result
    kind: str
    title: str | None
    weight: float
    value: float | None
    start: float | None
    target: float | None
    min: float | None
    max: float | None
    progress: float | None
    progress_raw: float | None
    expected: float
    status: Status
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: datetime | None = None
    due: date | None = None
    forecast: Forecast | None = None
    override: Override | None = None
    judged_against: float | None = None  # the expected progress the status compares with (x 0.7 aspirational)
    suspect_reason: str | None = None  # the metric's new value is held back: this KR shows its last good one

    @property
    def suspect(self) -> bool:
        return self.suspect_reason is not None


@dataclass(frozen=True)
class ObjectiveResult:
    id: str
    title: str
    owner: str | None
    kind: str
    parent: str | None
    progress: float | None
    expected: float
    status: Status
    key_results: tuple[KrResult, ...]
    children: tuple[str, ...] = ()  # local objective ids, and "namespace/id" of objectives in other configs
    weight: float = 1.0
    parent_note: str | None = None  # why a parent in another config is not rolled into (yet)
    judged_against: float | None = None  # the expected progress the status compares with (x 0.7 aspirational)
    levels_only: bool = False  # every member keeps a level: to a parent it is one level, held or not


@dataclass(frozen=True)
class AlignedChild:
    """An objective of another config (namespace) that names one of ours as its parent, as its latest
    stored run left it: it enters our roll-up like a local child."""

    ref: str  # "namespace/objective id"
    weight: float
    progress: float | None
    expected: float
    status: str
    levels_only: bool = False


@dataclass(frozen=True)
class KpiResult:
    id: str
    metric: str
    title: str | None
    value: float | None
    healthy: bool | None
    trend: float | None
    min: float | None
    max: float | None
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: datetime | None = None
    suspect_reason: str | None = None

    @property
    def suspect(self) -> bool:
        return self.suspect_reason is not None


@dataclass(frozen=True)
class MetricError:
    metric: str
    connection: str | None
    message: str


@dataclass(frozen=True)
class Evaluation:
    cycle: str
    as_of: datetime
    objectives: tuple[ObjectiveResult, ...]
    kpis: tuple[KpiResult, ...]
    errors: tuple[MetricError, ...] = field(default=())

    def key_results(self) -> list[KrResult]:
        return [kr for o in self.objectives for kr in o.key_results]
