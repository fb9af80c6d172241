"""How the weekly check-in reads (okrsync.present.checkin computes it): the facts of each objective and key result
that the terminal (okrsync.cli), Markdown, chat and the published check-in show alike, and its JSON. User text
(titles, notes) is escaped for Markdown here; the terminal shows it as text, chat as plain text."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date

from okrsync.okr.leading import NOT_ENOUGH_EVIDENCE, NoEvidence, leading_indicator
from okrsync.okr.status import StatusDocument
from okrsync.present.checkin import (
    SOURCES,
    Checkin,
    FailingEntry,
    KrCheckin,
    NoteEntry,
    ObjectiveCheckin,
    confidence_text,
)
from okrsync.present.formats import fmt_chance, fmt_value, label, pct


def heading(c: Checkin) -> str:
    return f"Check-in: {c.title} · {c.cycle} · {c.since} → {c.until}"


def points(before: float | None, after: float | None) -> str:
    """The change between two fractions as the difference of the whole percentages shown beside it (48% -> 55%
    reads +7 pts even when the fractions differ by 0.0766): ' (+7 pts)'; '' without both."""
    if before is None or after is None:
        return ""
    return f" ({int(pct(after)[:-1]) - int(pct(before)[:-1]):+d} pts)"


def _status(status: str | None) -> str:
    return label(status) if status else "–"


def objective_facts(o: ObjectiveCheckin) -> list[tuple[str, str]]:
    facts = [("owner", o.owner)] if o.owner else []
    facts.append(("status", f"{_status(o.status_from)} → {_status(o.status_to)}"))
    facts.append(("progress", f"{pct(o.progress_from)} → {pct(o.progress_to)}{points(o.progress_from, o.progress_to)}"))
    return facts


def kr_facts(kr: KrCheckin) -> list[tuple[str, str]]:
    """The KR's lines, (label, text) in plain text: each renderer styles and escapes them its own way."""
    facts = [("owner", kr.owner)] if kr.owner else []
    facts += [
        ("value", f"{fmt_value(kr.value_from, kr.unit)} → {fmt_value(kr.value_to, kr.unit)}"),
        ("progress", f"{pct(kr.progress_from)} → {pct(kr.progress_to)}{points(kr.progress_from, kr.progress_to)}"),
        ("status", f"{_status(kr.status_from)} → {_status(kr.status_to)}"),
    ]
    if kr.chance_from is not None or kr.chance_to is not None:
        shown = f"{fmt_chance(kr.chance_from, '–')} → {fmt_chance(kr.chance_to, '–')}"
        facts.append(("chance of target", shown + points(kr.chance_from, kr.chance_to)))
    if kr.stalled_days:
        days = f"{kr.stalled_days} day{'s' if kr.stalled_days > 1 else ''}"
        facts.append(("stalled", f"{days} without movement (the same value since {kr.stalled_since})"))
    if kr.stale:
        facts.append(("stale", kr.stale))
    waiting = "waiting for okrsync accept"
    facts += [
        ("held back", f"{h.metric} = {fmt_value(h.value, kr.unit)} on {h.day}: {h.reason} ({waiting} {h.metric})")
        for h in kr.held_back
    ]
    facts += [("failing", f"{f.metric} ({_where(f)}): {f.message}") for f in kr.failing]
    if kr.confidence_flag:
        facts.append(("question", kr.confidence_flag))
    facts += [("leading", line) for line in kr.leading]
    facts += [("note", note_text(n)) for n in kr.notes]
    facts += [("ask", prompt) for prompt in kr.prompts]
    return facts


def source_name(source: str) -> str:
    """Where a note was written, as a person says it: Sheets, Jira (okrsync note's own: cli)."""
    return SOURCES.get(source, source.title())


def note_text(n: NoteEntry) -> str:
    where = SOURCES.get(n.source, n.source.title()) if n.source not in (None, "cli") else ""
    who = f" ({', '.join(filter(None, (where, n.author)))})" if where else f" · {n.author}" if n.author else ""
    confidence = f" · confidence {confidence_text(n.confidence)}" if n.confidence else ""
    return f"{n.day}{who}{confidence}: {n.text}"


def _where(f: FailingEntry) -> str:
    return f"connection {f.connection}" if f.connection else "formula"


def render_json(c: Checkin) -> str:
    """The check-in as JSON: days and moments in ISO 8601 (the only values JSON has no type for)."""
    return json.dumps(asdict(c), indent=2, ensure_ascii=False, default=lambda day: day.isoformat()) + "\n"


MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|#~"})


def md(text: str) -> str:
    """User text in Markdown: emphasis, code, links, table cells and headings escaped with a backslash, HTML
    (which renderers pass through) as entities, a line break as <br> (the text stays in its list item)."""
    return html.escape(text.translate(MARKDOWN_SPECIAL), quote=False).replace("\n", "<br>")


def render_markdown(c: Checkin) -> str:
    out = [f"# {md(heading(c))}", ""]
    if c.period_note:
        out += [f"> {md(c.period_note)}", ""]
    if c.failing:
        out += ["## Sources that failed", ""]
        out += [f"- {md(f.metric)} ({md(_where(f))}): {md(f.message)}" for f in c.failing] + [""]
    by_id = {kr.id: kr for kr in c.key_results}
    for o in c.objectives:
        out += [f"## {md(o.title)}", ""] + [f"- **{name}**: {md(text)}" for name, text in objective_facts(o)] + [""]
        for kr in (by_id[k] for k in o.key_results if k in by_id):
            out += [f"### {md(kr.title)}", ""] + [f"- **{name}**: {md(text)}" for name, text in kr_facts(kr)] + [""]
    return "\n".join(out)


def leading_metrics(doc: StatusDocument) -> set[str]:
    """The metrics :func:`leading_lines` compares: each KPI's that leads, and the key results' it leads."""
    led = {kr_id for k in doc.kpis for kr_id in k.leads}
    wanted = {k.metric for k in doc.kpis if k.leads}
    return wanted | {kr.metric for _, kr in doc.key_results() if kr.metric and kr.id in led}


def leading_lines(doc: StatusDocument, daily: Mapping[str, Mapping[date, float]]) -> dict[str, list[str]]:
    """For each key result a KPI leads (``kpis[].leads``): the KPI and the lag at which its weekly changes move
    with the KR's, or "not enough evidence yet" and why (okrsync.okr.leading; docs/okr-semantics.md). ``daily``:
    each metric's value per synced day. The report and the check-in show the same lines."""
    krs = {kr.id: kr for _, kr in doc.key_results()}
    lines: dict[str, list[str]] = {}
    for k in doc.kpis:
        for kr_id in k.leads:
            kr = krs.get(kr_id)
            if kr is None:
                continue
            if not kr.metric:  # a manual KR's values are typed now and then: no daily series to compare
                lines.setdefault(kr_id, []).append(f"{k.title}: {NOT_ENOUGH_EVIDENCE} (a manual key result)")
                continue
            leading, own = daily.get(k.metric, {}), daily.get(kr.metric, {})
            found = leading_indicator(leading, own, doc.day, leading_name=k.title, kr_name=kr.title)
            text = f"{k.title}: {found.text} ({found.reason})" if isinstance(found, NoEvidence) else found.text
            lines.setdefault(kr_id, []).append(text)
    return lines
