"""What owners say about their key results, beside what the data says (pure).

An owner's note may give a confidence: a label (on_track, at_risk, off_track) or a score 0-10, read as a
label (0-3 off track, 4-6 at risk, 7-10 on track). It *disagrees* with the data when its label differs from
any of the data's own readings (:func:`data_labels`): the KR's status, and its chance of reaching the target
as ``use_forecast`` reads a chance. A disagreement is a question for the check-in meeting; it never changes a
status. docs/checkin.md has the rule with a worked example.
"""

from __future__ import annotations

from okrsync.config.model import StatusThresholds
from okrsync.okr.rollup import likely_status

LABELS = ("on_track", "at_risk", "off_track")


def confidence_label(confidence: str) -> str:
    """An owner's confidence as a status label: a label as is; 0-3 off_track, 4-6 at_risk, 7-10 on_track."""
    if confidence in LABELS:
        return confidence
    score = int(confidence)
    return "off_track" if score <= 3 else "at_risk" if score <= 6 else "on_track"


def data_labels(status: str, chance: float | None, aspirational: bool, thresholds: StatusThresholds) -> list[str]:
    """What the data says, as labels: the status (done reads as on track; no data says nothing) and the chance
    of reaching the target read as ``use_forecast`` reads it (from ``likely`` up on track, from ``unlikely`` at
    risk, else off track). Not in an aspirational objective: there the chance is of the whole target, which the
    objective does not expect, and the status already judges against 70 %."""
    reading = "on_track" if status == "done" else status
    views = [reading] if reading in LABELS else []
    if chance is not None and not aspirational:
        views.append(str(likely_status(chance, thresholds)))
    return views


def disagrees(
    confidence: str, status: str, chance: float | None, aspirational: bool, thresholds: StatusThresholds
) -> bool:
    """Whether the owner's confidence differs from any of the data's readings (none: nothing to disagree with)."""
    owner = confidence_label(confidence)
    return any(view != owner for view in data_labels(status, chance, aspirational, thresholds))
