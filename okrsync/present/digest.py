"""What a chat digest says, decided once for Slack and Teams (pure: documents in, sections out).

A run's digest lists what the output's ``on:`` triggers fired for (see :mod:`okrsync.present.triggers`):
KRs that became done, other status changes, KRs whose new value was held back by its data contract
(only that: nothing else is said about them), KRs that became stale (with the reason) and sources
that started failing. With ``every_run`` it also lists every KR still stale and every source still
failing, and a summary line, so a message goes out on every run. Nothing matched, nothing is sent.
The weekly check-in lists every objective with progress and forecast and, for KRs at risk or off
track, the team's check-in questions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from okrsync.okr.status import StatusDocument
from okrsync.present.formats import EMOJI, fmt_chance, kr_line, label, pct
from okrsync.present.triggers import fired, new_errors, previous_krs


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Digest:
    title: str
    sections: list[Section]
    link: str | None = None

    @property
    def empty(self) -> bool:
        return not any(s.lines for s in self.sections)

    def text(self) -> str:
        """The plain-text fallback (notifications, clients without Block Kit)."""
        parts = [self.title]
        for s in self.sections:
            if s.lines:
                parts.append(f"{s.title}:\n" + "\n".join(f"• {line}" for line in s.lines))
        if self.link:
            parts.append(f"Report: {self.link}")
        return "\n\n".join(parts)


def run_digest(
    doc: StatusDocument, previous: StatusDocument | None, triggers: list[str], link: str | None = None
) -> Digest:
    before = previous_krs(previous)
    always = "every_run" in triggers
    changed, done, stale = Section("Status changes"), Section("Done"), Section("Stale")
    held = Section("Held back for review (okrsync accept METRIC publishes a value that is right)")
    for _, kr in doc.key_results():
        prev = before.get(kr.id)
        events = fired(kr, prev, triggers)
        if kr.suspect:  # its new number waits for review: say so, announce nothing about it
            if "suspect" in events or always:
                held.lines.append(f"{kr.title}: {kr.suspect_reason}")
            continue
        if "done" in events:
            done.lines.append(kr_line(kr))
        elif prev is not None and ("status_change" in events or (always and prev.status != kr.status)):
            changed.lines.append(f"{kr_line(kr)}, was {label(prev.status)}")
        if kr.stale and ("stale" in events or always):
            stale.lines.append(f"{kr.title}: {kr.stale_reason}")
    errors = Section("Failing sources")
    if "error" in triggers or always:
        failing = doc.errors if always else new_errors(doc, previous)
        errors.lines = [f"{e.metric} ({e.connection or 'formula'}): {e.message}" for e in failing]
    sections = [changed, done, held, stale, errors]
    if always:
        counts = Counter(kr.status for _, kr in doc.key_results())
        summary = ", ".join(f"{n} {label(s)}" for s, n in counts.items()) or "no key results"
        sections.insert(0, Section("Summary", [summary]))
    return Digest(f"OKR update — {doc.cycle}, {doc.day}", sections, link)


def weekly_digest(doc: StatusDocument, questions: list[str], link: str | None = None) -> Digest:
    sections = []
    for o in doc.objectives:
        s = Section(f"{EMOJI[o.status]} {o.title} — {pct(o.progress)} (expected {pct(o.judged)})")
        for kr in o.key_results:
            forecast = f", forecast {pct(kr.forecast.progress)}" if kr.forecast else ""
            if kr.forecast and kr.forecast.probability is not None:
                forecast += f" ({fmt_chance(kr.forecast.probability)} likely)"
            held = " ⏸ held back for review" if kr.suspect else ""
            manual = " ✍ set by hand" if kr.manual else ""
            s.lines.append(f"{EMOJI[kr.status]} {kr.title}: {pct(kr.progress)}{forecast}{held}{manual}")
            if kr.status in ("at_risk", "off_track"):
                s.lines.extend(f"    ❓ {q}" for q in questions)
        sections.append(s)
    team = doc.title or doc.namespace
    return Digest(f"Weekly OKR check-in — {team}, {doc.cycle}, week of {doc.day}", sections, link)
