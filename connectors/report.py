"""The ``report`` output: the status document as a page a lead can read (.html), or .md/.json/.csv.

The HTML page (okrsync.present.html_report) is self-contained: no script, no request beyond the page. The
same document always renders the same bytes (no clock read), and a file is rewritten only when its
content changes.

``on:`` says when it is written: ``every_run`` (the default: the status document after each sync) and
``checkin``: the weekly check-in when it is published, to a file of its own next to the report
(:func:`checkin_path`: ``okr.html`` -> ``okr-checkin.html``; ``.md`` and ``.json`` likewise, and a ``.csv`` report
gets ``okr-checkin.json``, a check-in's notes and prompts being no table), rewritten only when its bytes differ.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
from html import escape
from pathlib import Path
from typing import Literal, cast

from pydantic import field_validator

from okrsync.errors import SinkError
from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present import checkin_text as checkins
from okrsync.present.formats import LABEL as STATUS_LABELS
from okrsync.present.formats import fmt_trend, fmt_value, forecast_text, human_time, pct, range_text, target_text
from okrsync.present.html_report import render_html
from okrsync.present.triggers import StateTrigger
from okrsync.sdk.connector import CheckinContext, Connector, OutputSettings, Sink, SinkContext

# --------------------------------------------------------------------------- markdown / json / csv


def render_json(doc: StatusDocument, history: dict | None = None) -> str:
    return json.dumps(doc.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_markdown(doc: StatusDocument, history: dict | None = None) -> str:
    out = [f"# {doc.title or doc.namespace} — OKR status {doc.cycle}", "", f"As of {human_time(doc.as_of)}", ""]
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
            mark = (" ⚠ stale" if kr.stale else "") + (" ⏸ held back" if kr.suspect else "")
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


# columns are only ever appended; a KPI is a row of kind "kpi" with its healthy band as min and max
CSV_COLUMNS = [
    "objective_id", "objective", "kr_id", "key_result", "owner", "kind", "start", "value", "target", "progress",
    "expected", "status", "stale", "forecast", "observed_at", "error", "min", "max", "judged_against",
    "forecast_low", "forecast_high", "forecast_probability", "suspect",
]  # fmt: skip


def render_csv(doc: StatusDocument, history: dict | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(_kr_cells(o, kr)) for o, kr in doc.key_results())
    writer.writerows(_csv_row(_kpi_cells(k)) for k in doc.kpis)
    return buf.getvalue()


def _csv_row(cells: dict[str, object]) -> list[object]:
    """The cells in CSV_COLUMNS order, blank where a row has none."""
    return [_blank(cells.get(column)) for column in CSV_COLUMNS]


def _kr_cells(o: ObjectiveStatus, kr: KrStatus) -> dict[str, object]:
    forecast = kr.forecast
    return {
        "objective_id": o.id,
        "objective": o.title,
        "kr_id": kr.id,
        "key_result": kr.title,
        "owner": kr.owner or "",
        "kind": kr.kind,
        "start": kr.start,
        "value": kr.value,
        "target": kr.target,
        "progress": kr.progress,
        "expected": kr.expected,
        "status": kr.status,
        "stale": "yes" if kr.stale else "",
        "forecast": forecast.value if forecast else None,
        "observed_at": kr.observed_at.isoformat() if kr.observed_at else "",
        "error": kr.error or "",
        "min": kr.min,
        "max": kr.max,
        "judged_against": kr.judged,
        "forecast_low": forecast.low if forecast else None,
        "forecast_high": forecast.high if forecast else None,
        "forecast_probability": forecast.probability if forecast else None,
        "suspect": kr.suspect_reason or "",
    }


def _kpi_cells(k: KpiStatus) -> dict[str, object]:
    return {
        "kr_id": k.id,
        "key_result": k.title,
        "kind": "kpi",
        "value": k.value,
        "status": "" if k.healthy is None else "healthy" if k.healthy else "unhealthy",
        "stale": "yes" if k.stale else "",
        "observed_at": k.observed_at.isoformat() if k.observed_at else "",
        "error": k.error or "",
        "min": k.min,
        "max": k.max,
        "suspect": k.suspect_reason or "",
    }


def _blank(x: object) -> object:
    return "" if x is None else x


def _md(text: str) -> str:
    """User text in a Markdown table cell: no cell breaks, and no HTML (Markdown renderers pass it through)."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


RENDERERS = {".html": render_html, ".md": render_markdown, ".json": render_json, ".csv": render_csv}

# --------------------------------------------------------------------------- the check-in

CHECKIN_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}"
    "main{max-width:60rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}h2{margin-top:1.5rem}"
    "h3{font-size:1rem;margin-bottom:.25rem}ul{margin-top:0;padding-left:1.2rem}b{color:#57606a;font-weight:600}"
    ".note{background:#fff8c5;padding:.5rem}"
)


def render_checkin_html(c: checkins.Checkin) -> str:
    """The check-in as one self-contained page: the facts `okrsync checkin` shows, in its order; all text escaped."""
    title = escape(checkins.heading(c))
    out = ['<!doctype html>\n<html lang="en"><head><meta charset="utf-8">']
    out += ['<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{title}</title>"]
    out += [f"<style>{CHECKIN_STYLE}</style></head><body><main>", f"<h1>{title}</h1>"]
    if c.period_note:
        out.append(f'<p class="note">{escape(c.period_note)}</p>')
    if c.failing:
        failing = [("failing", f"{f.metric} ({f.connection or 'formula'}): {f.message}") for f in c.failing]
        out += ["<h2>Sources that failed</h2>", _facts_html(failing)]
    by_id = {kr.id: kr for kr in c.key_results}
    for o in c.objectives:
        out += [f"<section><h2>{escape(o.title)}</h2>", _facts_html(checkins.objective_facts(o))]
        for kr in (by_id[k] for k in o.key_results if k in by_id):
            out += [f"<h3>{escape(kr.title)}</h3>", _facts_html(checkins.kr_facts(kr))]
        out.append("</section>")
    return "\n".join(out) + "\n</main></body></html>\n"


def _facts_html(facts: list[tuple[str, str]]) -> str:
    """(label, text) facts as a list; a note's line breaks kept as <br>."""
    items = "".join(f"<li><b>{escape(name)}</b>: {_html_lines(text)}</li>" for name, text in facts)
    return f"<ul>{items}</ul>"


def _html_lines(text: str) -> str:
    return "<br>".join(escape(line) for line in text.split("\n"))


CHECKIN_RENDERERS = {
    ".html": render_checkin_html,
    ".md": checkins.render_markdown,
    ".json": checkins.render_json,
}


def checkin_path(report: Path) -> Path:
    """Where the check-in goes: beside the report, its name with ``-checkin`` (a .csv report's as .json)."""
    suffix = report.suffix.lower()
    return report.with_name(f"{report.stem}-checkin{'.json' if suffix == '.csv' else suffix}")


def write_if_changed(path: Path, content: str) -> bool:
    """Atomically replace ``path`` with ``content`` (UTF-8) unless it already holds exactly those bytes.

    The file is the tool's output: whatever else it holds (another encoding, binary bytes, a file that
    cannot be read) is replaced. A folder at ``path`` raises IsADirectoryError naming it."""
    data = content.encode("utf-8")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(path))
    if _holds(path, data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # from a run killed mid-write
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes 0600; a report is for people and web servers: the file's own mode when it exists,
        # else what the umask gives a new file (0644 with the usual 022), as `open()` would
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already when the replace happened
    return True


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file holding exactly ``data``; False when there is none or it cannot be read."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


class ReportOutput(OutputSettings):
    type: Literal["report"]
    path: str
    on: list[StateTrigger] = ["every_run"]

    @field_validator("path")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if Path(value).suffix.lower() not in (".html", ".md", ".json", ".csv"):
            raise ValueError("report path must end in .html, .md, .json or .csv")
        return value


class ReportSink(Sink[ReportOutput]):
    publishes_checkin = True

    @property
    def path(self) -> Path:
        return (self.base_dir / self.settings.path).resolve()

    def write(self, ctx: SinkContext) -> None:
        if "every_run" not in self.settings.on:
            ctx.planned.append(f"report: on: [checkin] only, {self.path} is not written by a sync")
            return
        path = self.path
        self._write(path, RENDERERS[path.suffix.lower()](ctx.document, ctx.history), ctx.dry_run, ctx.planned)

    def write_checkin(self, ctx: CheckinContext) -> None:
        """The check-in's file next to the report; a file write is idempotent, so no ledger claim is needed: the
        same check-in renders the same bytes, and a file holding them is not written again."""
        path = checkin_path(self.path)
        content = CHECKIN_RENDERERS[path.suffix.lower()](cast(checkins.Checkin, ctx.checkin))
        self._write(path, content, ctx.dry_run, ctx.delivery.planned)

    @staticmethod
    def _write(path: Path, content: str, dry_run: bool, planned: list[str]) -> None:
        if dry_run:
            planned.append(f"report: would write {path}")
            return
        try:
            changed = write_if_changed(path, content)
        except OSError as exc:  # a folder at the path, no permission, a full disk: say which
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from None
        planned.append(f"report: wrote {path}" if changed else f"report: {path} unchanged")


connector = Connector("report", output=ReportOutput, sink=ReportSink, description="an HTML, Markdown, JSON or CSV file")
