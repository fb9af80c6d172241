"""The weekly check-in (`okrsync checkin`): what moved between two stored days, and what to ask about it. Pure.

From the store alone, read by the caller: the status documents of two stored days (``until``, the latest, and
the day the period starts from), each KR's stored value per day, the values held back and the owners' notes. No
fetch, no clock: a given store and day always give the same check-in. docs/checkin.md has every rule with a
worked example: a change is ``to - from`` of the two documents' figures (six digits); stalled days
(:func:`stalled`); the notes of the days after ``since`` up to ``until``, and the latest confidence given; the
disagreement of that confidence with the data (:func:`confidence_flag`), a question, never a change of status;
the configured prompts for at-risk and off-track KRs only. The text (okrsync.cli) and Markdown show the same
facts (:func:`kr_facts`), user text escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from okrsync.config.checkin import CheckinPrompts
from okrsync.config.model import Config, StatusThresholds
from okrsync.okr.owners import LABELS, confidence_label, disagrees
from okrsync.okr.status import KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present.formats import fmt_chance, label

Series = Sequence[tuple[date, float | None]]
SOURCES = {"sheets": "Sheets", "jira": "Jira"}  # a heard note's source as the check-in names it


@dataclass(frozen=True)
class NoteEntry:
    day: date
    written_at: datetime
    author: str | None
    confidence: str | None
    text: str
    source: str | None = None  # where it was written: cli, or heard in sheets or jira ("(Jira, Ana)"); None: unsaid
    kept_at: datetime | None = None  # when okrsync stored it (a heard comment: after it was written)


@dataclass(frozen=True)
class HeldEntry:
    metric: str
    day: date
    value: float
    reason: str


@dataclass(frozen=True)
class FailingEntry:
    metric: str
    connection: str | None
    message: str


@dataclass(frozen=True)
class CheckinReads:
    """What the check-in reads from the store besides the two documents."""

    notes: Mapping[str, Sequence[NoteEntry]] = field(default_factory=dict)  # per KR, oldest first, up to until
    held: Sequence[HeldEntry] = ()  # values waiting for `okrsync accept`
    series: Mapping[str, Series] = field(default_factory=dict)  # each KR's value per stored day, up to until
    published: datetime | None = None  # when the check-in of ``since`` went out (None: it was never published)
    leading: Mapping[str, Sequence[str]] = field(default_factory=dict)  # KR -> its leading KPIs' lines


@dataclass(frozen=True)
class Confidence:
    given: str  # as written: a label or "0".."10"
    label: str  # what it means: on_track | at_risk | off_track
    day: date
    author: str | None


@dataclass(frozen=True)
class KrCheckin:
    id: str
    objective: str
    owner: str | None
    value_from: float | None
    value_to: float | None
    progress_change: float | None
    status_from: str | None
    status_to: str
    chance_change: float | None
    stalled_days: int | None
    notes: list[NoteEntry]
    prompts: list[str]
    title: str
    unit: str | None
    kind: str
    manual: bool
    progress_from: float | None
    progress_to: float | None
    chance_from: float | None
    chance_to: float | None
    stalled_since: date | None
    stale: str | None  # why its value is stale, if it is
    held_back: list[HeldEntry]
    failing: list[FailingEntry]
    confidence: Confidence | None
    confidence_flag: str | None
    leading: list[str] = field(default_factory=list)  # a leading KPI's line (kpis[].leads), as the report shows it


@dataclass(frozen=True)
class ObjectiveCheckin:
    id: str
    title: str
    owner: str | None
    kind: str
    status_from: str | None
    status_to: str
    progress_from: float | None
    progress_to: float | None
    progress_change: float | None
    key_results: list[str]


@dataclass(frozen=True)
class Checkin:
    since: date
    until: date
    objectives: list[ObjectiveCheckin]
    key_results: list[KrCheckin]
    from_day: date  # the stored day the figures start from
    period_note: str | None  # why from_day is not since
    namespace: str
    title: str
    cycle: str
    failing: list[FailingEntry]


# --------------------------------------------------------------------------- the rules


def confidence_text(confidence: str) -> str:
    """'on track', or '8/10 (on track)' for a score."""
    meaning = label(confidence_label(confidence))
    return meaning if confidence in LABELS else f"{confidence}/10 ({meaning})"


def chance(kr: KrStatus | None) -> float | None:
    return kr.forecast.probability if kr is not None and kr.forecast is not None else None


def confidence_flag(confidence: str, kr: KrStatus, aspirational: bool, thresholds: StatusThresholds) -> str | None:
    """'owner: on track · data: at risk, 12% likely' when the owner's confidence disagrees with the data
    (okrsync.okr.owners.disagrees); None when they agree or the data says nothing."""
    p = chance(kr)
    if not disagrees(confidence, str(kr.status), p, aspirational, thresholds):
        return None
    shown = None if aspirational else p
    data = label(kr.status) + ("" if shown is None else f", {fmt_chance(shown)} likely")
    return f"owner: {confidence_text(confidence)} · data: {data}"


def owner_question(kr: KrStatus, objective: ObjectiveStatus, doc: StatusDocument) -> str | None:
    """The question a stored document asks about a KR's owner confidence (:func:`confidence_flag`, judged by the
    document's own status rules), or None when there is no confidence or it agrees with the data."""
    if kr.owner_confidence is None or not kr.confidence_disagrees:
        return None
    rules = doc.status_rules
    thresholds = StatusThresholds(**rules.model_dump()) if rules else StatusThresholds()
    return confidence_flag(kr.owner_confidence, kr, objective.kind == "aspirational", thresholds)


def in_period(note: NoteEntry, since: date, published: datetime | None) -> bool:
    """A note belongs to the check-in after ``since``: dated after it, or dated ``since`` itself but kept after the
    check-in of ``since`` went out (``published``): it missed that one, so this one shows it."""
    kept = note.kept_at or note.written_at  # a comment written before but read after it went out missed it too
    return note.day > since or (note.day == since and published is not None and kept > published)


def stalled(series: Series, until: date) -> tuple[int | None, date | None]:
    """(days, since): the earliest stored day ``since`` from which the KR's value (six digits, as the document
    shows it) was the same on every stored day up to ``until``, and ``(until - since).days``. (0, until) when
    it moved on ``until``'s run or only that day is stored; (None, None) without a value on ``until``."""
    points = [(day, value) for day, value in series if day <= until]
    if not points or points[-1][0] != until or points[-1][1] is None:
        return None, None
    now, since = round(points[-1][1], 6), until
    for day, value in reversed(points[:-1]):
        if value is None or round(value, 6) != now:
            break
        since = day
    return (until - since).days, since


def prompts_for(title: str, status: str, prompts: CheckinPrompts) -> list[str]:
    """The questions for an at-risk or off-track KR, ``{kr}`` replaced by its title (only that placeholder)."""
    asked = {"at_risk": prompts.at_risk, "off_track": prompts.off_track}.get(status, [])
    return [question.replace("{kr}", title) for question in asked]


def change(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 6)


# --------------------------------------------------------------------------- building it


@dataclass(frozen=True)
class _Period:
    config: Config
    since: date
    until: date
    stored: CheckinReads
    errors: Mapping[str, list[FailingEntry]]


def build_checkin(
    config: Config, until: StatusDocument, start: StatusDocument | None, since: date, stored: CheckinReads
):
    """The check-in of the period (``since``, ``until``]: ``until`` is the latest stored document, ``start`` the
    one of the stored day the figures start from (None: nothing before; the figures start from ``until``)."""
    start = start or until
    errors: dict[str, list[FailingEntry]] = {}
    for e in until.errors:
        errors.setdefault(e.metric, []).append(FailingEntry(e.metric, e.connection, e.message))
    period = _Period(config, since, until.day, stored, errors)
    before = {kr.id: kr for _, kr in start.key_results()}
    before_objectives = {o.id: o for o in start.objectives}
    return Checkin(
        since=since,
        until=until.day,
        objectives=[_objective(o, before_objectives.get(o.id)) for o in until.objectives],
        key_results=[_kr(period, o, kr, before.get(kr.id)) for o, kr in until.key_results()],
        from_day=start.day,
        period_note=_period_note(since, start.day),
        namespace=config.namespace,
        title=config.title or config.namespace,
        cycle=until.cycle,
        failing=[entry for entries in errors.values() for entry in entries],
    )


def _period_note(since: date, from_day: date) -> str | None:
    if from_day < since:
        return f"nothing is stored for {since}: the figures start from {from_day}, the nearest stored day before it"
    if from_day > since:
        return f"nothing is stored on or before {since}: the figures start from the first stored day, {from_day}"
    return None


def _objective(o: ObjectiveStatus, before: ObjectiveStatus | None) -> ObjectiveCheckin:
    progress_from = before.progress if before else None
    return ObjectiveCheckin(
        id=o.id,
        title=o.title,
        owner=o.owner,
        kind=o.kind,
        status_from=str(before.status) if before else None,
        status_to=str(o.status),
        progress_from=progress_from,
        progress_to=o.progress,
        progress_change=change(progress_from, o.progress),
        key_results=[kr.id for kr in o.key_results],
    )


def _kr(period: _Period, o: ObjectiveStatus, kr: KrStatus, before: KrStatus | None) -> KrCheckin:
    notes = [n for n in period.stored.notes.get(kr.id, ()) if n.day <= period.until]
    days, still_since = stalled(period.stored.series.get(kr.id, ()), period.until)
    given = _latest_confidence(notes)
    aspirational, thresholds = o.kind == "aspirational", period.config.status
    return KrCheckin(
        id=kr.id,
        objective=o.id,
        owner=kr.owner,
        value_from=before.value if before else None,
        value_to=kr.value,
        progress_change=change(before.progress if before else None, kr.progress),
        status_from=str(before.status) if before else None,
        status_to=str(kr.status),
        chance_change=change(chance(before), chance(kr)),
        stalled_days=days,
        notes=[n for n in notes if in_period(n, period.since, period.stored.published)],
        prompts=prompts_for(kr.title, str(kr.status), period.config.checkin.prompts),
        title=kr.title,
        unit=kr.unit,
        kind=kr.kind,
        manual=kr.manual,
        progress_from=before.progress if before else None,
        progress_to=kr.progress,
        chance_from=chance(before),
        chance_to=chance(kr),
        stalled_since=still_since,
        stale=(kr.stale_reason or "stale") if kr.stale else None,
        held_back=[h for h in period.stored.held if h.metric == kr.metric and h.day <= period.until],
        failing=list(period.errors.get(kr.metric, [])) if kr.metric else [],
        confidence=given,
        confidence_flag=confidence_flag(given.given, kr, aspirational, thresholds) if given else None,
        leading=list(period.stored.leading.get(kr.id, ())),
    )


def _latest_confidence(notes: Sequence[NoteEntry]) -> Confidence | None:
    """The confidence of the note written last that gives one (a later note on the same moment wins)."""
    latest = None
    for n in notes:
        if n.confidence is not None and (latest is None or n.written_at >= latest.written_at):
            latest = n
    if latest is None or latest.confidence is None:
        return None
    return Confidence(latest.confidence, confidence_label(latest.confidence), latest.day, latest.author)
