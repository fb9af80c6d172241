"""What people change in the status table's owners' columns, read back by the Google Sheets output (docs/checkin.md,
"Notes from Sheets and Jira"). Pure: the read comes in, what was heard and what to write instead go out.

With each confirmed write of the table okrsync keeps, in the ledger's detail, what it wrote for each key result
(:func:`recorded`): the row's key (its Objective and Key result texts, so a sorted table still matches) and its
Note, Confidence and Current cells (a note as a hash). At the next publish the output reads those columns in one
spreadsheets.get (:func:`read_ranges`); a non-empty cell whose text differs from what okrsync wrote there was
changed by a person (:func:`listen`):

* the row is heard as one note: the Note cell's text as it stands (or, when it is empty, what was typed), the
  Confidence cell when it changed (the sync reads it with okrsync.store.notes.parsed_confidence), and for a manual
  key result a changed Current, read in the spreadsheet's locale: its sticky override;
* an unreadable confidence or value is said (a warning naming the cell) and not kept; the person's text stays in
  the cell until they fix it;
* a Current typed over a key result with a metric is said, not used, and written back at once: that cell is
  okrsync's;
* an emptied cell says nothing (it is filled again at the next write).

Its identity is the edit: the spreadsheet, the tab, the key result, what okrsync had written and what the cells
hold. Heard and kept once, it is not heard again; until then okrsync writes the person's cells as they are, so a
table rewritten in the same sync never undoes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from okrsync.connectors.google_sheets.client import col_letters, range_origin
from okrsync.okr.numbers import parse_number
from okrsync.okr.status import StatusDocument
from okrsync.present.formats import cell as number_cell
from okrsync.present.status_table import CONFIDENCE, CURRENT, NOTE, STATUS_HEADER, text, unguarded
from okrsync.sdk.connector import Heard, heard_identity
from okrsync.sdk.delivery import fingerprint

SPANS = ((0, 1), (CURRENT, CURRENT), (NOTE, CONFIDENCE))  # the columns read back (0-based, inclusive)
EMPTY_NOTE = "typed in the status table"


@dataclass(frozen=True)
class Written:
    """What okrsync wrote at the table's last confirmed write (the ledger's detail): its rows, header included,
    and per key result [row key, note hash, confidence, current]; and the marker of the last write back."""

    rows: int = 0
    cells: dict[str, list[str]] = field(default_factory=dict)
    marker: str | None = None

    @classmethod
    def of(cls, detail: str | None) -> Written:
        found = json.loads(detail or "{}")
        return cls(int(found.get("rows", 0)), dict(found.get("cells") or {}), found.get("marker"))


def norm(value: str) -> str:
    return unguarded(value).replace("\r\n", "\n").strip()


def note_hash(value: str) -> str:
    return fingerprint(norm(value))[:16] if norm(value) else ""


def row_key(objective: str, title: str) -> str:
    return fingerprint([norm(objective), norm(title)])[:16]


def recorded(doc: StatusDocument, rows: list[list[str]]) -> dict[str, list[str]]:
    """What okrsync writes for each key result (``rows``: its own table, header first), to keep with the write."""
    return {
        kr.id: [row_key(row[0], row[1]), note_hash(row[NOTE]), row[CONFIDENCE], row[CURRENT]]
        for (_, kr), row in zip(doc.key_results(), rows[1:], strict=True)
    }


def read_ranges(tab: str, rows: int) -> list[str]:
    """The owners' columns and the row keys of the table as last written: one range per span."""
    return [f"{tab}!{col_letters(a + 1)}1:{col_letters(b + 1)}{rows}" for a, b in SPANS]


def grid_cells(value_ranges: list[dict]) -> dict[tuple[int, int], str]:
    """(row, 0-based column) -> the formatted text, from the read's value ranges."""
    out = {}
    for block in value_ranges:
        _, top, left = range_origin(block.get("range", ""))
        for i, row in enumerate(block.get("values") or []):
            for j, value in enumerate(row):
                out[(top + i, left - 1 + j)] = str(value)
    return out


@dataclass
class Listened:
    heard: list[Heard] = field(default_factory=list)
    kept: dict[str, dict[int, str]] = field(default_factory=dict)  # KR -> column -> the person's text, written as is
    said: list[str] = field(default_factory=list)  # warnings, each naming its cell
    drift: list[str] = field(default_factory=list)  # okrsync's own cells typed over: written back at once

    def marker(self, before: str | None) -> str | None:
        """The write's marker: a new one when okrsync's cells must be written back (the table is then written
        even though its content did not change), else the last one (nothing to write)."""
        return fingerprint([before, self.drift])[:16] if self.drift else before


@dataclass(frozen=True)
class Table:
    """Where the table is and how its numbers read: the spreadsheet, the tab (and its quoted name), the locale's
    decimal and group symbols (None: a locale whose numbers cannot be read safely)."""

    spreadsheet: str
    worksheet: str
    tab: str
    symbols: tuple[str, str] | None


def listen(
    doc: StatusDocument, cells: dict[tuple[int, int], str], before: Written, table: Table, known: Callable[[str], bool]
) -> Listened:
    """What people changed in the table as last written (``cells``: :func:`grid_cells` of the read); ``known``
    says whether an identity was heard and kept before."""
    out = Listened()
    if any(cells.get((1, c), "") != STATUS_HEADER[c] for a, b in SPANS for c in range(a, b + 1)):
        return out  # not the table okrsync wrote (columns moved, or an older layout): nothing is heard
    rows: dict[str, list[int]] = {}
    for r in range(2, before.rows + 1):
        rows.setdefault(row_key(cells.get((r, 0), ""), cells.get((r, 1), "")), []).append(r)
    for _, kr in doc.key_results():
        record = before.cells.get(kr.id)
        found = rows.get(record[0], []) if record else []
        if record and len(found) == 1:  # a row key two KRs share (titled alike) is left alone
            now = [cells.get((found[0], c), "") for c in (NOTE, CONFIDENCE, CURRENT)]
            _hear_row(out, table, (kr.id, kr.manual, found[0]), record, now, known)
    return out


def _hear_row(
    out: Listened, table: Table, row: tuple[str, bool, int], record: list[str], now: list[str], known: Callable
) -> None:
    """One row: what changed in its owners' cells since okrsync wrote them, heard as one note."""
    kr_id, manual, r = row
    note, confidence, current = norm(now[0]), now[1].strip(), now[2].strip()
    changed_note = bool(note) and note_hash(note) != record[1]
    changed_confidence = bool(confidence) and _word(confidence) != _word(record[2])
    changed_value = bool(current) and not same_number(current, record[3], table.symbols)
    if changed_value and not manual:
        out.said.append(f"{_at(table, CURRENT, r)} ({kr_id}) is read from its metric: a value typed there is not used")
        out.drift.append(f"{_at(table, CURRENT, r)}={current}")
        changed_value = False
    if not (changed_note or changed_confidence or changed_value):
        return
    # what the person typed, and only that: okrsync's own cells (a Current that moved with its metric) change
    # from run to run, and an identity made of them would keep the same edit again at every sync
    typed = [note_hash(note) if changed_note else "", _word(confidence) if changed_confidence else ""]
    typed.append(current if changed_value else "")
    identity = heard_identity("sheets", table.spreadsheet, table.worksheet, kr_id, fingerprint(typed)[:24])
    if known(identity):
        return  # heard and kept before: okrsync's own texts carry it now (or a newer note)
    value, kept = None, {}
    if changed_confidence:  # read by the sync (the store's rule), which names the cell when it cannot
        kept[CONFIDENCE] = text(confidence)
    if changed_value:
        kept[CURRENT] = text(current)
        try:
            value = read_number(current, table.symbols)
        except ValueError:
            out.said.append(
                f"{_at(table, CURRENT, r)} ({kr_id}) is not a number in this spreadsheet's locale: not kept"
            )
    if changed_note:
        kept[NOTE] = text(note)
    out.kept[kr_id] = kept
    if changed_note or changed_confidence or value is not None:
        given = confidence if changed_confidence else None
        words = note or _typed(changed_confidence, value)
        at = _at(table, CONFIDENCE, r)
        item = Heard(kr_id, words, "sheets", identity, given, value, restated=not changed_note, confidence_at=at)
        out.heard.append(item)


def _typed(confidence: bool, value: float | None) -> str:
    """A note's text when the Note cell is empty: what was typed, e.g. "Current 2.5 typed in the status table"."""
    parts = ["confidence"] if confidence else []
    parts += [f"Current {number_cell(value)}"] if value is not None else []
    return f"{' and '.join(parts)} {EMPTY_NOTE}"


def _word(confidence: str) -> str:
    return confidence.strip().lower().replace(" ", "_").replace("-", "_")


def _at(table: Table, column: int, row: int) -> str:
    return f"{table.tab}!{col_letters(column + 1)}{row}"


def read_number(value: str, symbols: tuple[str, str] | None) -> float:
    if symbols is None:
        raise ValueError("the spreadsheet's locale is unknown here")
    return parse_number(value, decimal=symbols[0], group=symbols[1])


def same_number(now: str, written: str, symbols: tuple[str, str] | None) -> bool:
    """Whether a Current cell still holds what okrsync wrote: the same text, or the same number as the cell shows
    it (a format a person gave the column: 1,234.50 for 1234.5)."""
    if now == written.strip():
        return True
    try:
        return abs(read_number(now, symbols) - parse_number(written)) <= 1e-9 * max(1.0, abs(parse_number(written)))
    except ValueError:
        return False
