"""The typed, versioned status document: what `status --format json`, reports and every output share.

It serialises to the stable JSON keys of DESIGN.md (add, never rename; ``version`` says which
shape a stored document has). Progress values are fractions 0..1, rounded to six digits by the
document itself. Days are ``date`` values and moments aware ``datetime`` values in the cycle's time
zone; the JSON holds their ISO 8601 text (``isoformat()``), as it always has. Each entry is made from
its result (:class:`~okrsync.okr.results.Evaluation`) by a conversion that takes every field the two
share by name and adds the config's titles, owners, units and dates. The document holds no secrets:
connection names only, never their settings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PlainSerializer

from okrsync.config.model import Config, KeyResult
from okrsync.defaults import DEFAULT_NAMESPACE
from okrsync.okr.owners import disagrees
from okrsync.okr.results import Evaluation, KpiResult, KrResult, ObjectiveResult, Status

VERSION = 1


def _fixed_offset(moment: datetime) -> datetime:
    """The moment in a fixed zone of its UTC offset, as ``datetime.fromisoformat`` reads its ISO text: a fresh
    document and the same one loaded from the store behave alike (``%Z``, arithmetic, equality)."""
    offset = moment.utcoffset()
    return moment if offset is None else moment.replace(tzinfo=timezone(offset))


def _round(x: float) -> float:
    return round(x, 6)


def _probability(p: float) -> float:
    """Six digits, but a chance that is merely tiny (a normal's tail) never rounds to a certain 0 or 1."""
    if p in (0.0, 1.0):
        return p
    return min(max(round(p, 6), 1e-6), 1 - 1e-6)


# What the JSON holds is ``value.isoformat()``, written out as before these fields held dates: pydantic's own
# JSON form would write UTC as "Z".
Day = Annotated[date, PlainSerializer(date.isoformat, return_type=str, when_used="json")]
Moment = Annotated[
    AwareDatetime, AfterValidator(_fixed_offset), PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]
Rounded = Annotated[float, AfterValidator(_round)]  # a fraction or a value: six digits
Chance = Annotated[float, AfterValidator(_probability)]


class _Doc(BaseModel):
    # from_attributes: an entry takes a result's nested values (a Forecast, an Override, a phase) by name
    model_config = ConfigDict(frozen=True, extra="ignore", from_attributes=True)


def _shared(result: object, entry: type[_Doc]) -> dict[str, Any]:
    """The result's value of every field the document entry also has, by name (dataclass fields and
    properties): what evaluation computed carries over without a line per field."""
    return {name: getattr(result, name) for name in entry.model_fields if hasattr(result, name)}


def _local(moment: datetime | None, config: Config) -> datetime | None:
    return moment.astimezone(config.cycle.tz) if moment else None


class ForecastDoc(_Doc):
    value: Rounded | None
    progress: Rounded | None
    low: Rounded | None = None  # 10th percentile of the value at the due date (okrsync.okr.confidence)
    high: Rounded | None = None  # 90th percentile
    probability: Chance | None = None  # chance of reaching the target by the due date, 0..1


class PhaseDoc(_Doc):
    date: Day
    target: float


class OverrideDoc(_Doc):
    value: float
    sticky: bool
    note: str | None = None
    set_at: Moment | None = None  # when it was recorded (a manual key result's value ages from then)


class NoteDoc(_Doc):
    """An owner's note (``okrsync note``): the synced day it comments on, when, by whom, with what confidence."""

    day: Day
    written_at: Moment
    author: str | None = None
    text: str
    confidence: str | None = None  # on_track | at_risk | off_track | "0".."10"
    source: str = "cli"  # where it was written: cli (okrsync note), or heard in sheets or jira


class KrStatus(_Doc):
    id: str
    title: str
    metric: str | None  # None: a manual key result (its value set by hand)
    manual: bool = False
    kind: str
    owner: str | None = None
    unit: str | None = None
    value: Rounded | None = None
    start: float | None = None
    target: float | None = None
    min: float | None = None
    max: float | None = None
    weight: float = 1.0
    due: Day
    progress: Rounded | None = None
    progress_raw: Rounded | None = None
    expected: Rounded
    judged_against: Rounded | None = None  # what the status compares progress with: expected x 0.7 if aspirational
    status: Status
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: Moment | None = None
    forecast: ForecastDoc | None = None
    override: OverrideDoc | None = None
    jira_issue: str | None = None
    sheet_cell: str | None = None
    suspect: bool = False  # the metric's new value broke its contract: held back, the last good one shown
    suspect_reason: str | None = None
    start_date: Day | None = None  # the window's first day (start_date, else the cycle's): the expected path's
    phases: list[PhaseDoc] = []  # check-points of the expected path
    owner_note: NoteDoc | None = None  # the latest note on the KR up to this day (okrsync note)
    owner_confidence: str | None = None  # the latest confidence given in a note (even an older one's)
    confidence_disagrees: bool = False  # it differs from the data (okrsync.okr.owners): a question, not a status

    @property
    def judged(self) -> float:
        """The expected progress to show: the figure the status is judged against (older documents: expected)."""
        return self.expected if self.judged_against is None else self.judged_against

    @property
    def caution(self) -> str:
        """Why this KR's number should be read with care: held back, else the stale reason, else its error (not
        an owner's note: that is ``owner_note``)."""
        if self.suspect:
            return f"held back for review: {self.suspect_reason}"
        return (self.stale_reason if self.stale else self.error) or ""

    @classmethod
    def from_result(cls, kr: KrResult, spec: KeyResult, config: Config, owner: str | None = None) -> KrStatus:
        """The entry of a KR's result: every field the two share by name, then what the config adds (the
        objective's ``owner`` unless the KR names its own)."""
        metric = config.metrics.get(kr.metric) if kr.metric else None
        return cls.model_validate(
            _shared(kr, cls)
            | {
                "title": kr.title or spec.title or kr.id,
                "owner": spec.owner or owner,
                "unit": metric.unit if metric else None,
                "due": kr.due or config.cycle.end,
                "observed_at": _local(kr.observed_at, config),
                "jira_issue": spec.jira_issue,
                "sheet_cell": spec.sheet_cell,
                "start_date": spec.start_date or config.cycle.start,
                "phases": spec.phases,
                "manual": spec.manual,
            }
        )


class ObjectiveStatus(_Doc):
    id: str
    title: str
    owner: str | None = None
    kind: str = "committed"
    parent: str | None = None
    children: list[str] = []
    progress: Rounded | None = None
    expected: Rounded
    judged_against: Rounded | None = None
    status: Status
    key_results: list[KrStatus] = []
    weight: float = 1.0
    parent_note: str | None = None
    levels_only: bool = False  # every member keeps a level: expected 100 %, never done

    @property
    def judged(self) -> float:
        return self.expected if self.judged_against is None else self.judged_against

    @classmethod
    def from_result(cls, o: ObjectiveResult, config: Config, specs: dict[str, KeyResult]) -> ObjectiveStatus:
        """The entry of an objective's result: every field the two share by name, its KRs' entries."""
        key_results = [KrStatus.from_result(kr, specs[kr.id], config, o.owner) for kr in o.key_results]
        return cls.model_validate(_shared(o, cls) | {"key_results": key_results})


class KpiStatus(_Doc):
    id: str
    title: str
    metric: str
    unit: str | None = None
    value: Rounded | None = None
    healthy: bool | None = None
    trend: Rounded | None = None
    min: float | None = None
    max: float | None = None
    stale: bool = False
    stale_reason: str | None = None
    error: str | None = None
    observed_at: Moment | None = None
    suspect: bool = False
    suspect_reason: str | None = None
    leads: list[str] = []  # key results it is a leading indicator for (config kpis[].leads)

    @classmethod
    def from_result(cls, k: KpiResult, config: Config) -> KpiStatus:
        """The entry of a KPI's result: every field the two share by name, then what the config adds."""
        metric = config.metrics.get(k.metric)
        return cls.model_validate(
            _shared(k, cls)
            | {
                "title": k.title or k.id,
                "unit": metric.unit if metric else None,
                "observed_at": _local(k.observed_at, config),
                "leads": next((spec.leads for spec in config.kpis if spec.id == k.id), []),
            }
        )


class ErrorEntry(_Doc):
    metric: str
    connection: str | None = None
    message: str


class StatusRulesDoc(_Doc):
    """The status rules the document was judged by (``status:``), for outputs that explain a status."""

    use_forecast: bool = False
    likely: float = 0.7
    unlikely: float = 0.3


class StatusDocument(_Doc):
    version: int = VERSION
    cycle: str
    cycle_start: Day
    cycle_end: Day
    namespace: str = DEFAULT_NAMESPACE
    title: str | None = None  # the team's name (config ``title:``); outputs fall back to the namespace
    as_of: Moment  # in the cycle's time zone
    timezone: str | None = None  # the cycle's IANA zone (documents before 2026-11-30: none)
    objectives: list[ObjectiveStatus] = []
    kpis: list[KpiStatus] = []
    errors: list[ErrorEntry] = []
    status_rules: StatusRulesDoc | None = None  # documents before issue 25: none (the defaults applied)

    def key_results(self) -> Iterator[tuple[ObjectiveStatus, KrStatus]]:
        for o in self.objectives:
            for kr in o.key_results:
                yield o, kr

    def kr(self, kr_id: str) -> KrStatus | None:
        return next((kr for _, kr in self.key_results() if kr.id == kr_id), None)

    @property
    def day(self) -> date:
        """The synced day: as_of's date in the cycle's time zone."""
        return self.as_of.date()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusDocument:
        return cls.model_validate(data)


def build_document(
    evaluation: Evaluation, config: Config, notes: Mapping[str, Sequence[NoteDoc]] | None = None
) -> StatusDocument:
    """The status document (stored with the run, shown by `status`, handed to every output); ``notes``: the
    owners' notes of each KR up to this day, oldest first."""
    specs = {kr.id: kr for _, kr in config.key_results()}
    document = StatusDocument(
        cycle=evaluation.cycle,
        cycle_start=config.cycle.start,
        cycle_end=config.cycle.end,
        namespace=config.namespace,
        title=config.title,
        as_of=evaluation.as_of.astimezone(config.cycle.tz),
        timezone=config.cycle.timezone,
        objectives=[ObjectiveStatus.from_result(o, config, specs) for o in evaluation.objectives],
        kpis=[KpiStatus.from_result(k, config) for k in evaluation.kpis],
        errors=[ErrorEntry.model_validate(e) for e in evaluation.errors],
        status_rules=StatusRulesDoc.model_validate(
            config.status.model_dump(include={"use_forecast", "likely", "unlikely"})
        ),
    )
    if not notes:
        return document
    objectives = [
        o.model_copy(update={"key_results": [_noted(kr, notes.get(kr.id, ()), o, config) for kr in o.key_results]})
        for o in document.objectives
    ]
    return document.model_copy(update={"objectives": objectives})


def _noted(kr: KrStatus, notes: Sequence[NoteDoc], objective: ObjectiveStatus, config: Config) -> KrStatus:
    """The KR with its latest note, the latest confidence given, and whether that confidence disagrees with the
    data (okrsync.okr.owners)."""
    if not notes:
        return kr
    given = next((n.confidence for n in reversed(notes) if n.confidence is not None), None)
    chance = kr.forecast.probability if kr.forecast else None
    aspirational = objective.kind == "aspirational"
    differs = given is not None and disagrees(given, str(kr.status), chance, aspirational, config.status)
    return kr.model_copy(update={"owner_note": notes[-1], "owner_confidence": given, "confidence_disagrees": differs})
