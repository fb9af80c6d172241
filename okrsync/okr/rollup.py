"""How a status is judged, and how an objective rolls up its members. Pure, like okrsync.okr.evaluate.

* **Judged against**: a status compares progress with the expected progress, times 0.7 in an
  aspirational objective (70 % counts as success); that figure is reported as ``judged_against``.
* **Moving members** (increase, decrease and milestone KRs, child objectives) make an objective's
  progress and expected progress: weighted means over those with data.
* **Levels** (at_least, at_most, between KRs, and child objectives made of levels only) have no path
  in time: they hold or not. They never enter the means, so a quarter's first days do not expect 100 %.
  A broken level caps the objective at ``at_risk`` (it needs attention) but never makes it off track
  on its own, and keeps it from ``done``. An objective of levels only has the share of them holding as
  progress, expects 100 %, and is on track when all hold, off track when none does, else at risk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from okrsync.config.model import BOUND_KINDS, Objective, StatusThresholds
from okrsync.okr.results import AlignedChild, KrResult, ObjectiveResult, Status

ASPIRATIONAL_FACTOR = 0.7
_SEVERITY = [Status.DONE, Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK]


def judged_expected(expected: float, aspirational: bool) -> float:
    """The expected progress a status compares with."""
    return expected * (ASPIRATIONAL_FACTOR if aspirational else 1.0)


def classify(progress: float, expected: float, thresholds: StatusThresholds, aspirational: bool) -> Status:
    if progress >= 1.0:
        return Status.DONE
    gap = judged_expected(expected, aspirational) - progress
    if gap <= thresholds.on_track_within + 1e-12:
        return Status.ON_TRACK
    if gap <= thresholds.at_risk_within + 1e-12:
        return Status.AT_RISK
    return Status.OFF_TRACK


def likely_status(chance: float, thresholds: StatusThresholds) -> Status:
    """``use_forecast``: on track when reaching the target is likely, off track when it is unlikely."""
    if chance >= thresholds.likely:
        return Status.ON_TRACK
    if chance >= thresholds.unlikely:
        return Status.AT_RISK
    return Status.OFF_TRACK


@dataclass(frozen=True)
class Member:
    weight: float
    progress: float
    expected: float
    level: bool  # holds (progress 1) or not (0); no expected path


def roll_up(
    objectives: Sequence[Objective],
    kr_results: Mapping[str, Sequence[KrResult]],
    thresholds: StatusThresholds,
    aligned: Mapping[str, Sequence[AlignedChild]] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[ObjectiveResult]:
    """Objective progress/expected over KRs with data, aligned children in this config, and ``aligned``
    children in other configs (their latest stored results)."""
    aligned, notes = aligned or {}, notes or {}
    ids = {o.id for o in objectives}
    children: dict[str, list[Objective]] = {}
    for o in objectives:
        if o.parent in ids:
            children.setdefault(o.parent, []).append(o)
    done: dict[str, ObjectiveResult] = {}

    def visit(o: Objective, trail: frozenset[str]) -> ObjectiveResult:
        if o.id in done:
            return done[o.id]
        krs = tuple(kr_results.get(o.id, ()))
        kids = [visit(c, trail | {o.id}) for c in children.get(o.id, []) if c.id not in trail]
        others = list(aligned.get(o.id, ()))
        members = members_of(krs, kids, others, {c.id: c.weight for c in children.get(o.id, [])})
        aspirational = o.kind == "aspirational"
        progress, expected, status = judge(members, thresholds, aspirational)
        if progress is None:
            expected = _fallback_expected(krs, kids, others)
        done[o.id] = ObjectiveResult(
            id=o.id,
            title=o.title,
            owner=o.owner,
            kind=o.kind,
            parent=o.parent,
            progress=progress,
            expected=expected,
            status=status,
            key_results=krs,
            children=tuple(k.id for k in kids) + tuple(a.ref for a in others),
            weight=o.weight,
            parent_note=notes.get(o.id),
            judged_against=judged_expected(expected, aspirational),
            levels_only=bool(members) and all(m.level for m in members),
        )
        return done[o.id]

    return [visit(o, frozenset()) for o in objectives]


def judge(
    members: Sequence[Member], thresholds: StatusThresholds, aspirational: bool
) -> tuple[float | None, float, Status]:
    """(progress, expected, status) of an objective from its members (see the module docstring)."""
    if not members:
        return None, 0.0, Status.NO_DATA
    moving = [m for m in members if not m.level]
    levels = [m for m in members if m.level]
    holding = sum(m.weight for m in levels if m.progress >= 1)
    if not moving:
        share = holding / sum(m.weight for m in levels)
        status = Status.ON_TRACK if share >= 1 else Status.OFF_TRACK if holding == 0 else Status.AT_RISK
        return share, 1.0, status
    total = sum(m.weight for m in moving)
    progress = sum(m.weight * m.progress for m in moving) / total
    expected = sum(m.weight * m.expected for m in moving) / total
    status = classify(progress, expected, thresholds, aspirational)
    if any(m.progress < 1 for m in levels):
        status = max(status, Status.AT_RISK, key=_SEVERITY.index)
    return progress, expected, status


def members_of(
    krs: Sequence[KrResult], kids: Sequence[ObjectiveResult], others: Sequence[AlignedChild], weights: dict[str, float]
) -> list[Member]:
    members = [
        Member(kr.weight, kr.progress, kr.expected, kr.kind in BOUND_KINDS) for kr in krs if kr.progress is not None
    ]
    members += [Member(weights[k.id], k.progress, k.expected, k.levels_only) for k in kids if k.progress is not None]
    members += [Member(a.weight, a.progress, a.expected, a.levels_only) for a in others if a.progress is not None]
    return members


def _fallback_expected(
    krs: Sequence[KrResult], kids: Sequence[ObjectiveResult], others: Sequence[AlignedChild]
) -> float:
    """Before any data: the plain mean of the moving members' expected progress (0 with none)."""
    moving = [kr.expected for kr in krs if kr.kind not in BOUND_KINDS]
    moving += [k.expected for k in kids if not k.levels_only] + [a.expected for a in others if not a.levels_only]
    return sum(moving) / len(moving) if moving else 0.0
