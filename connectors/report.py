"""The ``report`` output: the status document as a page a lead can read (.html), or .md/.json/.csv.

The HTML page (okrsync.present.html_report) is self-contained: no script, no request beyond the page. The
same document always renders the same bytes (no clock read), and a file is rewritten only when its
content changes.
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
from typing import Literal

from pydantic import field_validator

from okrsync.errors import SinkError
from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present.formats import LABEL as STATUS_LABELS
from okrsync.present.formats import fmt_trend, fmt_value, forecast_text, human_time, pct, range_text, target_text
from okrsync.present.html_report import render_html
from okrsync.sdk.connector import Connector, OutputSettings, Sink, SinkContext

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
        try:
            changed = write_if_changed(path, content)
        except OSError as exc:  # a folder at the path, no permission, a full disk: say which
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from None
        if changed:
            ctx.planned.append(f"report: wrote {path}")
        else:
            ctx.planned.append(f"report: {path} unchanged")


connector = Connector("report", output=ReportOutput, sink=ReportSink, description="an HTML, Markdown, JSON or CSV file")
