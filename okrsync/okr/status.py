"""The typed, versioned status document: what `status --format json`, reports and every output share.

It serialises to the stable JSON keys of DESIGN.md (add, never rename; ``version`` says which
shape a stored document has). Progress values are fractions 0..1, times ISO 8601 in the cycle's
time zone. It is built from an :class:`~okrsync.okr.results.Evaluation` plus the config's titles and
owners and holds no secrets: connection names only, never their settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from okrsync.config.model import Config, KeyResult
from okrsync.okr.results import Evaluation, Forecast, KpiResult, KrResult, ObjectiveResult, Status

VERSION = 1


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ForecastDoc(_Doc):
    value: float | None
    progress: float | None
    low: float | None = None  # 10th percentile of the value at the due date (okrsync.okr.confidence)
    high: float | None = None  # 90th percentile
    probability: float | None = None  # chance of reaching the target by the due date, 0..1


class PhaseDoc(_Doc):
    date: str
    target: float


class OverrideDoc(_Doc):
    value: float
    sticky: bool
    note: str | None = None


class KrStatus(_Doc):
    id: str
    title: str
    metric: str
    kind: str
    owner: str | None = None
    unit: str | None = None
    value: float | None = None
    start: float | None = None
    target: float | None = None
    min: float | None = None
    max: float | None = None
    weight: float = 1.0
    due: str
    progress: float | None = None
    progress_raw: float | None = None
    expected: float
    judged_against: float | None = None  # what the status compares progress with: expected x 0.7 if aspirational
    status: Status
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: str | None = None
    forecast: ForecastDoc | None = None
    override: OverrideDoc | None = None
    jira_issue: str | None = None
    sheet_cell: str | None = None
    suspect: bool = False  # the metric's new value broke its contract: held back, the last good one shown
    suspect_reason: str | None = None
    start_date: str | None = None  # the window's first day (start_date, else the cycle's): the expected path's
    phases: list[PhaseDoc] = []  # check-points of the expected path

    @property
    def judged(self) -> float:
        """The expected progress to show: the figure the status is judged against (older documents: expected)."""
        return self.expected if self.judged_against is None else self.judged_against

    @property
    def note(self) -> str:
        """Why this KR's number should be read with care: held back, else the stale reason, else its error."""
        if self.suspect:
            return f"held back for review: {self.suspect_reason}"
        return (self.stale_reason if self.stale else self.error) or ""


class ObjectiveStatus(_Doc):
    id: str
    title: str
    owner: str | None = None
    kind: str = "committed"
    parent: str | None = None
    children: list[str] = []
    progress: float | None = None
    expected: float
    judged_against: float | None = None
    status: Status
    key_results: list[KrStatus] = []
    weight: float = 1.0
    parent_note: str | None = None
    levels_only: bool = False  # every member keeps a level: expected 100 %, never done

    @property
    def judged(self) -> float:
        return self.expected if self.judged_against is None else self.judged_against


class KpiStatus(_Doc):
    id: str
    title: str
    metric: str
    unit: str | None = None
    value: float | None = None
    healthy: bool | None = None
    trend: float | None = None
    min: float | None = None
    max: float | None = None
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: str | None = None
    suspect: bool = False
    suspect_reason: str | None = None


class ErrorEntry(_Doc):
    metric: str
    connection: str | None = None
    message: str


class StatusDocument(_Doc):
    version: int = VERSION
    cycle: str
    cycle_start: str
    cycle_end: str
    namespace: str = "default"
    as_of: str
    timezone: str | None = None  # the cycle's IANA zone (documents before 2026-11-30: none)
    objectives: list[ObjectiveStatus] = []
    kpis: list[KpiStatus] = []
    errors: list[ErrorEntry] = []

    def key_results(self) -> Iterator[tuple[ObjectiveStatus, KrStatus]]:
        for o in self.objectives:
            for kr in o.key_results:
                yield o, kr

    def kr(self, kr_id: str) -> KrStatus | None:
        return next((kr for _, kr in self.key_results() if kr.id == kr_id), None)

    @property
    def day(self) -> str:
        return self.as_of[:10]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusDocument:
        return cls.model_validate(data)


def _iso(moment: datetime | None, config: Config) -> str | None:
    return moment.astimezone(config.cycle.tz).isoformat() if moment else None


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def kr_status(kr: KrResult, config: Config, owner: str | None, spec: KeyResult) -> KrStatus:
    metric = config.metrics.get(kr.metric)
    return KrStatus(
        id=kr.id,
        title=kr.title or spec.title or kr.id,
        metric=kr.metric,
        kind=kr.kind,
        owner=spec.owner or owner,
        unit=metric.unit if metric else None,
        value=_round(kr.value),
        start=kr.start,
        target=kr.target,
        min=kr.min,
        max=kr.max,
        weight=kr.weight,
        due=(kr.due or config.cycle.end).isoformat(),
        progress=_round(kr.progress),
        progress_raw=_round(kr.progress_raw),
        expected=_round(kr.expected),
        judged_against=_round(kr.judged_against),
        status=kr.status,
        stale=kr.stale,
        stale_reason=kr.stale_reason,
        error=kr.error,
        observed_at=_iso(kr.observed_at, config),
        forecast=forecast_doc(kr.forecast) if kr.forecast else None,
        override=OverrideDoc(value=kr.override.value, sticky=kr.override.sticky, note=kr.override.note)
        if kr.override
        else None,
        jira_issue=spec.jira_issue,
        sheet_cell=spec.sheet_cell,
        suspect=kr.suspect,
        suspect_reason=kr.suspect_reason,
        start_date=(spec.start_date or config.cycle.start).isoformat(),
        phases=[PhaseDoc(date=p.date.isoformat(), target=p.target) for p in spec.phases],
    )


def forecast_doc(f: Forecast) -> ForecastDoc:
    return ForecastDoc(
        value=_round(f.value),
        progress=_round(f.progress),
        low=_round(f.low),
        high=_round(f.high),
        probability=_probability(f.probability),
    )


def _probability(p: float | None) -> float | None:
    """Six digits, but a chance that is merely tiny (a normal's tail) never rounds to a certain 0 or 1."""
    if p is None or p in (0.0, 1.0):
        return p
    return min(max(round(p, 6), 1e-6), 1 - 1e-6)


def objective_status(o: ObjectiveResult, config: Config, specs: dict[str, KeyResult]) -> ObjectiveStatus:
    return ObjectiveStatus(
        id=o.id,
        title=o.title,
        owner=o.owner,
        kind=o.kind,
        parent=o.parent,
        children=list(o.children),
        progress=_round(o.progress),
        expected=_round(o.expected),
        judged_against=_round(o.judged_against),
        status=o.status,
        key_results=[kr_status(kr, config, o.owner, specs[kr.id]) for kr in o.key_results],
        weight=o.weight,
        parent_note=o.parent_note,
        levels_only=o.levels_only,
    )


def kpi_status(k: KpiResult, config: Config) -> KpiStatus:
    metric = config.metrics.get(k.metric)
    return KpiStatus(
        id=k.id,
        title=k.title or k.id,
        metric=k.metric,
        unit=metric.unit if metric else None,
        value=_round(k.value),
        healthy=k.healthy,
        trend=_round(k.trend),
        min=k.min,
        max=k.max,
        stale=k.stale,
        stale_reason=k.stale_reason,
        error=k.error,
        observed_at=_iso(k.observed_at, config),
        suspect=k.suspect,
        suspect_reason=k.suspect_reason,
    )


def build_document(evaluation: Evaluation, config: Config) -> StatusDocument:
    """The status document (stored with the run, shown by `status`, handed to every output)."""
    specs = {kr.id: kr for _, kr in config.key_results()}
    return StatusDocument(
        cycle=evaluation.cycle,
        cycle_start=config.cycle.start.isoformat(),
        cycle_end=config.cycle.end.isoformat(),
        namespace=config.namespace,
        as_of=_iso(evaluation.as_of, config),
        timezone=config.cycle.timezone,
        objectives=[objective_status(o, config, specs) for o in evaluation.objectives],
        kpis=[kpi_status(k, config) for k in evaluation.kpis],
        errors=[ErrorEntry(metric=e.metric, connection=e.connection, message=e.message) for e in evaluation.errors],
    )
