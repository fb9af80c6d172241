"""The ``report`` output: the status document as a page a lead can read (.html), or .md/.json/.csv.

The HTML page is self-contained (inline CSS and SVG, no script, no network): objectives with
progress bars, a marker where progress is expected today, status colours, stale and error
marks, and per KR a small chart of its values over the cycle with the target line. The same
document always renders the same bytes (no clock read), and a file is rewritten only when its
content changes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Literal

from pydantic import field_validator

from okrsync.connector import Connector, OutputSettings, Sink, SinkContext
from okrsync.present import LABEL as STATUS_LABELS
from okrsync.present import fmt_trend, fmt_value, forecast_text, human_time, pct, range_text, target_text
from okrsync.status import KrStatus, ObjectiveStatus, StatusDocument

STATUS_COLOURS = {
    "done": "#1a7f37",
    "on_track": "#2da44e",
    "at_risk": "#d4a72c",
    "off_track": "#cf222e",
    "no_data": "#8c959f",
}
STALE_COLOUR = "#6e7781"
# --------------------------------------------------------------------------- markdown / json / csv


def render_json(doc: StatusDocument, history: dict | None = None) -> str:
    return json.dumps(doc.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_markdown(doc: StatusDocument, history: dict | None = None) -> str:
    out = [f"# OKR status — {doc.cycle}", "", f"As of {human_time(doc.as_of)}", ""]
    for o in doc.objectives:
        parent = f" (aligned to {_md(o.parent)})" if o.parent else ""
        out += [
            f"## {_md(o.title)}{parent}",
            "",
            f"{STATUS_LABELS[o.status]} · progress {pct(o.progress)} · expected {pct(o.judged)}"
            + (f" · owner {_md(o.owner)}" if o.owner else "")
            + (" · aspirational" if o.kind == "aspirational" else ""),
            "",
            "| Key result | Current | Target | Progress | Expected | Status | Forecast |",
            "|---|---|---|---|---|---|---|",
        ]
        for kr in o.key_results:
            mark = " ⚠ stale" if kr.stale else ""
            out.append(
                f"| {_md(kr.title)} | {_md(fmt_value(kr.value, kr.unit))} | {_md(target_text(kr))} | "
                f"{pct(kr.progress)} | {pct(kr.judged)} | {STATUS_LABELS[kr.status]}{mark} | "
                f"{_md(forecast_text(kr).removeprefix('forecast ')) or '–'} |"
            )
        out.append("")
    if doc.kpis:
        out += ["## KPIs", "", "| KPI | Value | Healthy range | Healthy | Trend |", "|---|---|---|---|---|"]
        for k in doc.kpis:
            healthy = "–" if k.healthy is None else ("yes" if k.healthy else "**no**")
            trend = fmt_trend(k.trend)
            out.append(
                f"| {_md(k.title)} | {_md(fmt_value(k.value, k.unit))} | {_md(range_text(k))} | {healthy} | {trend} |"
            )
        out.append("")
    if doc.errors:
        out += ["## Sources that failed", ""]
        out += [f"- `{e.metric}` ({e.connection or 'formula'}): {_md(e.message)}" for e in doc.errors]
        out.append("")
    return "\n".join(out)


CSV_COLUMNS = [
    "objective_id", "objective", "kr_id", "key_result", "owner", "kind", "start", "value", "target", "progress",
    "expected", "status", "stale", "forecast", "observed_at", "error", "min", "max", "judged_against",
    "forecast_low", "forecast_high", "forecast_probability", "suspect",
]  # fmt: skip  # columns are only ever appended; a KPI is a row of kind "kpi" with its healthy band as min and max


def render_csv(doc: StatusDocument, history: dict | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for o, kr in doc.key_results():
        writer.writerow(
            [
                o.id,
                o.title,
                kr.id,
                kr.title,
                kr.owner or "",
                kr.kind,
                _blank(kr.start),
                _blank(kr.value),
                _blank(kr.target),
                _blank(kr.progress),
                _blank(kr.expected),
                kr.status,
                "yes" if kr.stale else "",
                _blank(kr.forecast.value if kr.forecast else None),
                kr.observed_at or "",
                kr.error or "",
                _blank(kr.min),
                _blank(kr.max),
                _blank(kr.judged),
                *(_blank(getattr(kr.forecast, key, None)) for key in ("low", "high", "probability")),
                kr.suspect_reason or "",
            ]
        )
    for k in doc.kpis:
        health = "" if k.healthy is None else "healthy" if k.healthy else "unhealthy"
        writer.writerow(
            ["", "", k.id, k.title, "", "kpi", "", _blank(k.value), "", "", "", health, "yes" if k.stale else "",
             "", k.observed_at or "", k.error or "", _blank(k.min), _blank(k.max), "", "", "", "",
             k.suspect_reason or ""]
        )  # fmt: skip
    return buf.getvalue()


def _blank(x: object) -> object:
    return "" if x is None else x


def _md(text: str) -> str:
    """User text in a Markdown table cell: no cell breaks, and no HTML (Markdown renderers pass it through)."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- html

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);
margin:0;background:var(--bg)}header{background:#fff;border-bottom:1px solid var(--line);padding:18px 28px}
h1{font-size:22px;margin:0 0 4px}main{max-width:1100px;margin:0 auto;padding:20px 28px}
.muted{color:var(--muted)}.summary{display:flex;gap:10px;flex-wrap:wrap;margin-top:10px}
.pill{display:inline-block;border-radius:999px;padding:1px 10px;font-size:12.5px;font-weight:600;color:#fff;
white-space:nowrap}.objective{background:#fff;border:1px solid var(--line);border-radius:10px;margin:0 0 18px;
padding:16px 18px}.objective.child{margin-left:34px;border-left:4px solid var(--line)}
.ohead{display:flex;align-items:center;gap:12px;justify-content:space-between}.ohead h2{font-size:18px;margin:0}
.meta{font-size:13px;color:var(--muted)}.bar{position:relative;height:12px;background:#eaeef2;border-radius:6px;
overflow:visible;margin:8px 0}.bar .fill{height:100%;border-radius:6px}.bar .expected{position:absolute;top:-4px;
width:2px;height:20px;background:#1f2328}.kr{display:grid;grid-template-columns:minmax(220px,2.2fr) 1.6fr 250px;
gap:16px;align-items:center;border-top:1px solid #eef1f4;padding:10px 0}.kr .title{font-weight:600}
.nums{font-size:13px;color:var(--muted)}.stale{color:#9a6700;font-size:12.5px}.suspect{color:#0550ae;font-size:12.5px}.error{color:#cf222e;
font-size:12.5px}svg.chart{display:block}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;font-size:14px}
section.block{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin-bottom:18px}
h3{margin:0 0 8px;font-size:16px}.legend{font-size:12.5px;color:var(--muted);margin-top:6px}
"""


def render_html(doc: StatusDocument, history: dict | None = None) -> str:
    """The page; ``history`` (metric -> [[iso time, value], ...]) draws the charts."""
    history = history or {}
    counts: dict[str, int] = {}
    for _, kr in doc.key_results():
        counts[kr.status] = counts.get(kr.status, 0) + 1
    summary = "".join(
        _pill(s, f"{n} {STATUS_LABELS[s]}")
        for s, n in sorted(counts.items(), key=lambda x: list(STATUS_COLOURS).index(x[0]))
    )
    stale = sum(1 for _, kr in doc.key_results() if kr.stale)
    summary += _stale_pill(f"{stale} stale") if stale else ""
    by_id = {o.id: o for o in doc.objectives}
    ordered: list[tuple[ObjectiveStatus, int]] = []

    def add(o: ObjectiveStatus, depth: int, seen: frozenset) -> None:
        ordered.append((o, depth))
        for cid in o.children:
            if cid in by_id and cid not in seen:
                add(by_id[cid], depth + 1, seen | {cid})

    for o in doc.objectives:
        if not o.parent or o.parent not in by_id:
            add(o, 0, frozenset({o.id}))
    body = "".join(_objective_html(o, depth, doc, history) for o, depth in ordered)
    kpis = _kpis_html(doc) if doc.kpis else ""
    errors = ""
    if doc.errors:
        items = "".join(
            f"<li><code>{escape(e.metric)}</code> ({escape(e.connection or 'formula')}): {escape(e.message)}</li>"
            for e in doc.errors
        )
        errors = f'<section class="block" id="errors"><h3>Sources that failed this run</h3><ul>{items}</ul></section>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>OKR status — {escape(doc.cycle)}</title><style>{CSS}</style></head>
<body><header><h1>OKR status — {escape(doc.cycle)}</h1>
<div class="muted">As of {escape(human_time(doc.as_of))} ·
cycle {escape(doc.cycle_start)} to {escape(doc.cycle_end)}</div>
<div class="summary">{summary}</div>
<div class="legend">Bars show progress; the black tick marks where progress is expected today. Charts show the
value over the cycle; the dashed line is the target.</div></header>
<main>{errors}{body}{kpis}</main></body></html>
"""


def _pill(status: str, text: str) -> str:
    return f'<span class="pill status-{status}" style="background:{STATUS_COLOURS[status]}">{escape(text)}</span>'


def _stale_pill(text: str) -> str:
    """Stale is not a health colour: grey with a warning sign, so an old "on track" never looks green."""
    return f'<span class="pill stale-pill" style="background:{STALE_COLOUR}">⚠ {escape(text)}</span>'


def _kr_badge(kr: KrStatus) -> str:
    if kr.stale:
        return _stale_pill(f"stale · {STATUS_LABELS[kr.status]}")
    return _pill(kr.status, STATUS_LABELS[kr.status])


def _bar(progress: float | None, expected: float | None, status: str) -> str:
    width = 0 if progress is None else max(0.0, min(1.0, progress)) * 100
    marker = (
        ""
        if expected is None
        else f'<div class="expected" style="left:{expected * 100:.1f}%" title="expected {pct(expected)}"></div>'
    )
    return (
        f'<div class="bar" role="progressbar" aria-valuenow="{width:.0f}" aria-valuemin="0" aria-valuemax="100">'
        f'<div class="fill" style="width:{width:.1f}%;background:{STATUS_COLOURS[status]}"></div>{marker}</div>'
    )


def _objective_html(o: ObjectiveStatus, depth: int, doc: StatusDocument, history: dict) -> str:
    meta = [f"progress {pct(o.progress)}", f"expected {pct(o.judged)}"]
    if o.owner:
        meta.append(escape(o.owner))
    if o.kind == "aspirational":
        meta.append("aspirational (70% counts as success)")
    if o.parent:
        meta.append(f"aligned to {escape(o.parent)}")
    krs = "".join(_kr_html(kr, doc, history.get(kr.metric, [])) for kr in o.key_results)
    cls = "objective child" if depth else "objective"
    return (
        f'<section class="{cls}" id="objective-{escape(o.id)}" style="margin-left:{depth * 34}px">'
        f'<div class="ohead"><h2>{escape(o.title)}</h2>{_pill(o.status, STATUS_LABELS[o.status])}</div>'
        f'<div class="meta">{" · ".join(meta)}</div>{_bar(o.progress, o.judged, o.status)}{krs}</section>'
    )


def _kr_html(kr: KrStatus, doc: StatusDocument, points: list) -> str:
    notes = f'<div class="suspect">⏸ held back for review: {escape(kr.suspect_reason or "")}</div>' * kr.suspect
    if kr.stale:
        reason = escape(kr.stale_reason or "")
        notes += f'<div class="stale" title="{reason}">⚠ stale: {reason}</div>'
    elif kr.error:
        notes += f'<div class="error">{escape(kr.error)}</div>'
    if kr.override:
        note = kr.override.note
        notes += f'<div class="muted nums">manual value{": " + escape(note) if note else ""}</div>'
    forecast = f" · {escape(forecast_text(kr))}" if kr.forecast else ""
    start = "" if kr.start is None else f"from {_value(kr.start, kr.unit)} · "
    nums = (
        f"{start}now <b>{_value(kr.value, kr.unit)}</b> · target {escape(target_text(kr))}{forecast} · "
        f"due {escape(kr.due)}"
    )
    chart = _chart_svg(kr, points, doc)
    return (
        f'<div class="kr" id="kr-{escape(kr.id)}"><div><div class="title">{escape(kr.title)}</div>'
        f'<div class="nums">{nums}</div>{notes}</div>'
        f'<div>{_bar(kr.progress, kr.judged, kr.status)}<div class="nums">{pct(kr.progress)} '
        f"(expected {pct(kr.judged)}) {_kr_badge(kr)}</div></div>"
        f"<div>{chart}</div></div>"
    )


def _chart_svg(kr: KrStatus, points: list, doc: StatusDocument, width: int = 240, height: int = 64) -> str:
    """Values over the KR's window as a line, the target (or bounds) dashed."""
    t0 = datetime.fromisoformat(doc.cycle_start + "T00:00:00").timestamp()
    t1 = max(datetime.fromisoformat(kr.due + "T23:59:59").timestamp(), t0 + 1)
    pts = [(datetime.fromisoformat(at).replace(tzinfo=None).timestamp(), v) for at, v in points]
    lines = [x for x in (kr.target, kr.min, kr.max) if x is not None]
    ys = [v for _, v in pts] + lines + ([kr.start] if kr.start is not None else [])
    if not ys:
        return f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="no data"></svg>'
    lo, hi = min(ys), max(ys)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.12
    lo, hi = lo - pad, hi + pad

    def x(t: float) -> float:
        return 4 + (width - 8) * min(1.0, max(0.0, (t - t0) / (t1 - t0)))

    def y(v: float) -> float:
        return height - 4 - (height - 8) * (v - lo) / (hi - lo)

    parts = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafbfc" stroke="#eaeef2"/>']
    for v in lines:
        parts.append(
            f'<line class="target" x1="4" x2="{width - 4}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#57606a" stroke-dasharray="4 3" stroke-width="1"/>'
        )
    if pts:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        colour = STATUS_COLOURS[kr.status]
        parts.append(f'<polyline class="values" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        lt, lv = pts[-1]
        parts.append(f'<circle cx="{x(lt):.1f}" cy="{y(lv):.1f}" r="3" fill="{colour}"/>')
    label = f"{len(pts)} value(s) of {kr.metric}; target {target_text(kr)}"
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


def _value(value: float | None, unit: str | None) -> str:
    """A value with its unit, escaped: a unit is user text like any title."""
    return escape(fmt_value(value, unit))


def _kpis_html(doc: StatusDocument) -> str:
    rows = ""
    for k in doc.kpis:
        status = "no_data" if k.healthy is None else ("on_track" if k.healthy else "off_track")
        label = {"no_data": "no data", "on_track": "healthy", "off_track": "unhealthy"}[status]
        trend = fmt_trend(k.trend)
        stale = ' <span class="stale">⚠ stale</span>' if k.stale else ""
        rows += (
            f'<tr id="kpi-{escape(k.id)}"><td>{escape(k.title)}</td><td>{_value(k.value, k.unit)}'
            f"{stale}</td><td>{escape(range_text(k))}</td><td>{_pill(status, label)}</td><td>{trend}</td></tr>"
        )
    return (
        f'<section class="block" id="kpis"><h3>KPIs</h3><table><thead><tr><th>KPI</th><th>Value</th>'
        f"<th>Healthy range</th><th>Health</th><th>Trend</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


RENDERERS = {".html": render_html, ".md": render_markdown, ".json": render_json, ".csv": render_csv}


def write_if_changed(path: Path, content: str) -> bool:
    """Atomically replace ``path`` with ``content`` unless it already holds exactly that."""
    if path.exists() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # from a run killed mid-write
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        # mkstemp makes 0600; a report is for people and web servers: the file's own mode when it exists,
        # else what the umask gives a new file (0644 with the usual 022), as `open()` would
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already when the replace happened
    return True


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


class ReportOutput(OutputSettings):
    type: Literal["report"]
    path: str

    @field_validator("path")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if Path(value).suffix.lower() not in (".html", ".md", ".json", ".csv"):
            raise ValueError("report path must end in .html, .md, .json or .csv")
        return value


class ReportSink(Sink[ReportOutput]):
    @property
    def path(self) -> Path:
        return (self.base_dir / self.settings.path).resolve()

    def write(self, ctx: SinkContext) -> None:
        path = self.path
        content = RENDERERS[path.suffix.lower()](ctx.document, ctx.history)
        if ctx.dry_run:
            ctx.planned.append(f"report: would write {path}")
            return
        if write_if_changed(path, content):
            ctx.planned.append(f"report: wrote {path}")
        else:
            ctx.planned.append(f"report: {path} unchanged")


connector = Connector("report", output=ReportOutput, sink=ReportSink, description="an HTML, Markdown, JSON or CSV file")
