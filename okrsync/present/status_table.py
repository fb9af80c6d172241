"""The status table the spreadsheet outputs write (Google Sheets, Excel Online): one header row, then one row
per key result, every cell a text as a user would type it (numbers and percentages stay numbers once typed).

The last two columns are the owners': "Note" holds the latest note on the KR (of any source) and "Confidence" the
latest confidence given, as a person would type them; the Google Sheets output reads back what people change
there (and a manual KR's "Current"): docs/checkin.md, "Notes from Sheets and Jira"."""

from __future__ import annotations

from okrsync.okr.status import StatusDocument
from okrsync.present.formats import cell, fmt_chance, label, pct

STATUS_HEADER = [
    "Objective",
    "Key result",
    "Owner",
    "Start",
    "Current",
    "Target",
    "Progress",
    "Expected",
    "Status",
    "Forecast",
    "Last updated",
    "Stale / error",
    "Chance of target",  # added last: formulas that read the earlier columns keep working
    "Note",  # the owners' columns, after every earlier one for the same reason
    "Confidence",
]
NOTE, CONFIDENCE, CURRENT = (
    STATUS_HEADER.index("Note"),
    STATUS_HEADER.index("Confidence"),
    STATUS_HEADER.index("Current"),
)


def status_rows(doc: StatusDocument) -> list[list[str]]:
    rows = [STATUS_HEADER]
    for o, kr in doc.key_results():
        observed = kr.observed_at.strftime("%Y-%m-%d %H:%M") if kr.observed_at else ""
        if kr.manual:  # a manual key result's value was typed by its owner: when, and that it was by hand
            observed = f"{observed} (set by hand)" if observed else "manual: not set yet"
        target = kr.target if kr.kind != "between" else f"{kr.min}–{kr.max}"
        forecast = kr.forecast.value if kr.forecast else None
        rows.append(
            [
                text(o.title),
                text(kr.title),
                text(kr.owner or ""),
                cell(kr.start),
                cell(kr.value),
                cell(target),
                pct(kr.progress, ""),
                pct(kr.judged, ""),
                label(kr.status),
                cell(forecast),
                observed,
                text(kr.caution),
                fmt_chance(kr.forecast.probability if kr.forecast else None),
                text(kr.owner_note.text) if kr.owner_note else "",
                confidence_cell(kr.owner_confidence),
            ]
        )
    return rows


def confidence_cell(confidence: str | None) -> str:
    """A confidence as a person types it in the table: "on track" (a label, spaced), "7" (a score), "" (none)."""
    return (confidence or "").replace("_", " ")


def unguarded(value: str) -> str:
    """A cell read back as the text it holds: the apostrophe :func:`text` puts before = + - @ is the programs' mark
    for text, which neither shows; a reader that does show it (or an older copy) gets it taken off here."""
    return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@") else value


def text(value: str) -> str:
    """User text as text. Both outputs write the table as typed input, so numbers and percentages stay
    numbers: Sheets USER_ENTERED ("as if the user typed them into the UI",
    https://developers.google.com/workspace/sheets/api/reference/rest/v4/ValueInputOption); Excel's range
    values ("If the returned value starts with a plus ("+"), minus ("-"), or equal sign ("="), Excel
    interprets this value as a formula", https://learn.microsoft.com/javascript/api/excel/excel.range).
    A title typed as "=IMPORTXML(…)" would become a formula: a leading apostrophe keeps any text that could
    start one (= + - @) as text, as typing it in either program does."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
