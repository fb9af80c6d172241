"""What a chat digest says, decided once for Slack and Teams (pure: documents in, sections out).

A run's digest lists, per the output's ``on:`` triggers: KRs whose status changed since the
previous run, KRs that became done, KRs that are stale (with the reason) and sources that failed.
Nothing matched, nothing is sent. The weekly check-in lists every objective with progress and
forecast and, for KRs at risk or off track, the team's check-in questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from okrsync.document import iter_krs

LABEL = {"done": "done", "on_track": "on track", "at_risk": "at risk", "off_track": "off track", "no_data": "no data"}
EMOJI = {"done": "✅", "on_track": "🟢", "at_risk": "🟠", "off_track": "🔴", "no_data": "⚪"}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f}%"


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


def run_digest(doc: dict, previous: dict | None, triggers: list[str], link: str | None = None) -> Digest:
    before = {kr["id"]: kr for _, kr in iter_krs(previous or {"objectives": []})}
    changed, done, stale = Section("Status changes"), Section("Done"), Section("Stale")
    for _, kr in iter_krs(doc):
        prev = before.get(kr["id"])
        line = (
            f"{EMOJI[kr['status']]} {kr['title']}: {LABEL[kr['status']]} ({pct(kr['progress'])}, expected "
            f"{pct(kr['expected'])})"
        )
        if kr["status"] == "done" and (prev is None or prev["status"] != "done"):
            if "done" in triggers or "every_run" in triggers:
                done.lines.append(line)
        elif prev is not None and prev["status"] != kr["status"]:
            if "status_change" in triggers or "every_run" in triggers:
                changed.lines.append(f"{line}, was {LABEL[prev['status']]}")
        if kr["stale"] and ("stale" in triggers or "every_run" in triggers):
            stale.lines.append(f"{kr['title']}: {kr['stale_reason']}")
    errors = Section("Failing sources")
    if "error" in triggers or "every_run" in triggers:
        errors.lines = [f"{e['metric']} ({e['connection'] or 'formula'}): {e['message']}" for e in doc["errors"]]
    return Digest(f"OKR update — {doc['cycle']}, {doc['as_of'][:10]}", [changed, done, stale, errors], link)


def weekly_digest(doc: dict, questions: list[str], link: str | None = None) -> Digest:
    sections = []
    for o in doc["objectives"]:
        s = Section(f"{EMOJI[o['status']]} {o['title']} — {pct(o['progress'])} (expected {pct(o['expected'])})")
        for kr in o["key_results"]:
            forecast = f", forecast {pct(kr['forecast']['progress'])}" if kr["forecast"] else ""
            s.lines.append(f"{EMOJI[kr['status']]} {kr['title']}: {pct(kr['progress'])}{forecast}")
            if kr["status"] in ("at_risk", "off_track"):
                s.lines.extend(f"    ❓ {q}" for q in questions)
        sections.append(s)
    return Digest(f"Weekly OKR check-in — {doc['cycle']}, week of {doc['as_of'][:10]}", sections, link)
