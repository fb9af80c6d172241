"""``okrsync import``: rows of objectives and key results (a Viva Goals export, any OKR sheet) in, a commented
config out; nothing guessed (every key result manual, with a ``# TODO: metric``). Rules: docs/import.md.

Viva Goals (read 2026-12-07): Explorer's Actions -> Export writes a view as CSV or XLSX with the fields the user
picks, "first level key results/children ... along with each objective" (https://learn.microsoft.com/viva/goals/
explorer); Microsoft Graph's goalsExportJob (beta; POST /employeeExperience/goals/exportJobs with
goalsOrganizationId and explorerViewId, https://learn.microsoft.com/graph/api/resources/goalsexportjob) returns
that view as CSV. Neither names the columns; public parsers of real exports (migration scripts on GitHub) read:
Id, Title, Tag, OKR type, Type name, Team, Creator, Owner, Period, Start Date, End Date, Description, "Aligned To
(weight, Objective ID)" (``Parent title(weight: 50%, Id: 2295704)``), Metric Name, Unit, Target, Object Type
(Objective, Key result, Deliverable), Goal Type (Committed Goal, Aspirational Goal), Start, Created At, Last
Check-in, Progress %, Actual Progress (documented nowhere: unused), Status, Last Check-in Note, Score, Checkins.
Viva's import template (Parent OKR, OKR Reference) and custom terms: MicrosoftDocs/Viva Viva/goals/*.md.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import yaml

from okrsync.errors import OkrsyncError
from okrsync.okr.numbers import parse_number

MAX_BYTES, MAX_ROWS, MAX_ID = 20_000_000, 2_000, 60  # 2,000 rows: a config of about 500 kB
COLUMNS: dict[str, tuple[str, ...]] = {  # key -> the header names it takes (case, spaces, _ and - ignored)
    "title": ("Title", "Name"),
    "type": ("Object Type", "Type", "Level"),
    "owner": ("Owner", "Owners"),
    "start_date": ("Start Date",),
    "end_date": ("End Date", "Due Date", "Due"),
    "start": ("Start value", "Start"),
    "target": ("Target value", "Target"),
    "current": ("Current value", "Current"),
    "progress": ("Progress %",),
    "unit": ("Unit",),
    "parent": ("Parent", "Aligned To (weight, Objective ID)", "Aligned To", "Parent OKR", "Parent objective"),
    "tags": ("Tags", "Tag"),
    "goal_type": ("Goal Type",),
    "id": ("Id", "OKR Reference"),
    "period": ("Period", "Time period"),
}
OBJECTIVE = {"objective", "objectives", "o", "obj", "goal", "theme", "bigrock"}
KEY_RESULT = {"keyresult", "keyresults", "kr", "krs", "k", "metric", "result"}
LEFT_OUT = {"deliverable", "initiative", "project", "task", "action", "todo", "milestone"}
ALIGNED = re.compile(r"^(.*)\(weight:[^,)]*,\s*Id:\s*([^)]*)\)$")  # Viva Goals: Title(weight: 50%, Id: 2295704)
Row = tuple[str, tuple[Any, ...]]  # (file:line or file:sheet!row, cells)


class UnreadableImport(OkrsyncError):
    """The file cannot be imported as it is: every problem at once, each ``file:line: column: message``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Table:
    source: str  # the file as the user named it
    headers: list[str]
    rows: list[Row]  # the header row left out


@dataclass(frozen=True)
class Options:
    cycle: str | None = None
    start: date | None = None
    end: date | None = None
    timezone: str = "UTC"
    namespace: str | None = None
    store: str | None = None


@dataclass(frozen=True)
class Imported:
    text: str  # the config
    mapping: list[tuple[str, str]]  # (header, key) in the file's order
    unused: list[str]  # the headers no key takes
    left_out: list[str]  # rows that are neither objectives nor key results
    values: list[tuple[str, float, str]]  # (key result id, its value in the file, file:line)


@dataclass(eq=False)
class Item:
    where: str
    is_objective: bool
    title: str
    cells: dict[str, Any]  # key -> text, number or date (absent when empty)
    id: str = ""
    parent: str | None = None
    notes: list[str] = field(default_factory=list)
    children: list[Item] = field(default_factory=list)


def read_table(path: Path, sheet: str | None = None) -> Table:
    """The header and the non-empty rows of a .csv (UTF-8; comma, semicolon or tab) or .xlsx file."""
    shown = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UnreadableImport([f"{shown}: larger than {MAX_BYTES // 1_000_000} MB"])
        if path.suffix.lower() not in (".csv", ".xlsx"):
            raise UnreadableImport([f"{shown}: not a .csv or .xlsx file"])
        rows = _csv_rows(path, shown) if path.suffix.lower() == ".csv" else _xlsx_rows(path, shown, sheet)
    except OSError as exc:
        raise UnreadableImport([f"{shown}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise UnreadableImport([f"{shown}: not UTF-8 text: save it as CSV UTF-8"]) from None
    if len(rows) > MAX_ROWS + 1:  # empty rows count too: an .xlsx is read no further
        raise UnreadableImport([f"{shown}: more than {MAX_ROWS:,} rows: split the file"])
    rows = [(where, cells) for where, cells in rows if any(_text(c) for c in cells)]
    if not rows:
        raise UnreadableImport([f"{shown}: the file is empty"])
    return Table(shown, [_text(c) or "" for c in rows[0][1]], rows[1:])


def _csv_rows(path: Path, shown: str) -> list[Row]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=max(",;\t", key=text.split("\n", 1)[0].count))
    rows, line = [], 1
    try:
        for cells in reader:
            rows.append((f"{shown}:{line}", tuple(cells)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UnreadableImport([f"{shown}:{line}: not CSV: {exc}"]) from None
    return rows


def _xlsx_rows(path: Path, shown: str, sheet: str | None) -> list[Row]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, ValueError):
        raise UnreadableImport([f"{shown}: not an .xlsx workbook"]) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise UnreadableImport([f"{shown}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})"])
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = islice(ws.iter_rows(values_only=True), MAX_ROWS + 2)  # the header, MAX_ROWS rows, one too many
        return [(f"{shown}:{ws.title}!{n}", tuple(c)) for n, c in enumerate(rows, 1)]
    finally:
        book.close()


def _text(cell: Any) -> str | None:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return " ".join(str(cell).split()) or None if cell is not None else None


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


def map_columns(headers: list[str]) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """key -> column index (its first name present); the (header, key) pairs; the headers no key takes."""
    columns: dict[str, int] = {}
    for key, names in COLUMNS.items():
        found = [i for name in names for i, h in enumerate(headers) if _norm(h) == _norm(name)]
        found = [i for i in found if i not in columns.values()]
        if found:
            columns[key] = found[0]
    taken = {i: key for key, i in columns.items()}
    unused = [h for i, h in enumerate(headers) if h and i not in taken]
    return columns, [(headers[i], taken[i]) for i in sorted(taken)], unused


def read_item(row: Row, table: Table, columns: dict[str, int], problems: list[str], left_out: list[str]) -> Item | None:
    """One row as an Item; None when wrong (each problem appended) or left out (a deliverable: listed)."""
    where, cells = row
    raw = {key: cells[i] if i < len(cells) else None for key, i in columns.items()}
    kind, title, bad = _norm(_text(raw["type"]) or ""), _text(raw["title"]), len(problems)
    if kind in LEFT_OUT:
        left_out.append(f"{where}: {_text(raw['type'])} {title!r}: neither an objective nor a key result")
        return None
    if kind not in OBJECTIVE | KEY_RESULT:
        message = f"{_text(raw['type'])!r} is neither an objective nor a key result" if kind else "empty"
        problems.append(f"{where}: {table.headers[columns['type']]}: {message}")
    if title is None:
        problems.append(f"{where}: {table.headers[columns['title']]}: empty: every row needs a title")
    parsed = {}
    for key, cell in raw.items():
        try:
            value = _parse(key, cell) if _text(cell) is not None else None
        except ValueError as exc:
            problems.append(f"{where}: {table.headers[columns[key]]}: {exc}")
        else:
            parsed.update({key: value} if value is not None else {})
    if len(problems) > bad or title is None:
        return None
    return Item(where, kind in OBJECTIVE, title, parsed)


def _parse(key: str, cell: Any) -> Any:
    text = _text(cell) or ""
    if key in ("start", "target", "current", "progress"):
        return parse_number(cell)
    if key in ("start_date", "end_date"):
        if isinstance(cell, date):
            return cell.date() if isinstance(cell, datetime) else cell
        try:
            return date.fromisoformat(re.split(r"[T ]", text, maxsplit=1)[0])
        except ValueError:
            raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD") from None
    if key == "goal_type" and not _norm(text).startswith(("aspirational", "committed")):
        raise ValueError(f"{text!r} is neither committed nor aspirational")
    if key == "goal_type":
        return "aspirational" if _norm(text).startswith("aspirational") else "committed"
    return text


def slug(title: str) -> str:
    """An id from a title: its ASCII letters and digits in lowercase, joined by '-', at most MAX_ID long."""
    ascii_only = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()  # é -> e, € -> nothing
    text = "-".join(re.findall(r"[a-z0-9]+", ascii_only.lower()))
    while len(text) > MAX_ID and "-" in text:
        text = text.rsplit("-", 1)[0]
    return text[:MAX_ID]


def assign_ids(items: list[Item]) -> None:
    """Slugs of the titles in file order; a slug taken already gets -2, then -3: the same file, the same ids."""
    used: set[str] = set()
    for item in items:
        base = slug(item.title) or ("objective" if item.is_objective else "key-result")
        item.id, n = base, 1
        while item.id in used:
            n += 1
            item.id = f"{base}-{n}"
        used.add(item.id)


def _index(items: list[Item]) -> dict[tuple[str, str], list[Item]]:  # the rows by Id, title, title in any case
    index: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        for key in (("id", item.cells.get("id", "")), ("title", item.title), ("fold", item.title.casefold())):
            index.setdefault(key, []).append(item)
    return index


def _find(text: str, index: dict[tuple[str, str], list[Item]]) -> tuple[str, list[Item]]:
    """A Parent cell's title and the rows it names: by Id (Viva's ``Title(weight: 50%, Id: 7)``), else by title."""
    match = ALIGNED.match(text)
    title, ref = (match.group(1).strip(), match.group(2).strip()) if match else (text, text)
    return title, index.get(("id", ref)) or index.get(("title", title)) or index.get(("fold", title.casefold()), [])


def build_tree(items: list[Item], problems: list[str]) -> list[Item]:
    """The objectives in file order with their key results (each under its Parent, else the objective above
    it). An objective's Parent in the file is ``parent:``; one elsewhere (or a key result) is a comment."""
    above, index = None, _index(items)
    for item in items:
        title, found = _find(item.cells["parent"], index) if "parent" in item.cells else ("", [])
        found = [i for i in found if i is not item]
        objectives = [o for o in found if o.is_objective]
        if item.is_objective:
            above = item
            if "parent" in item.cells:
                _align(item, title, objectives, found)
        elif "parent" not in item.cells and above is not None:
            above.children.append(item)  # no Parent: the objective above it
        elif len(objectives) == 1:
            objectives[0].children.append(item)
        else:
            what = f"{len(objectives)} objectives: name it by its Id" if objectives else "not an objective in this file"
            what = f"{title!r} is {what}" if title else "empty, and no objective above it"
            problems.append(f"{item.where}: Parent: {what}")
    return [i for i in items if i.is_objective]


def _align(item: Item, title: str, objectives: list[Item], found: list[Item]) -> None:
    if len(objectives) == 1:
        item.parent = objectives[0].id
    elif objectives:
        item.notes.append(f"parent {title!r} is {len(objectives)} objectives in the file: write parent: by hand")
    elif found:
        item.notes.append(f"aligned to the key result {found[0].id!r}; okrsync aligns objectives to objectives")
    else:
        item.notes.append(f"parent {title!r} is not in this file (in another config: parent: NAMESPACE/ID)")


def kr_shape(kr: Item) -> tuple[list[tuple[str, Any]], float | None, str | None]:
    """(keys to write, its value in the file, what is wrong): start and target make an increase or decrease,
    no numbers a milestone. The value: Current, else start + Progress % × (target − start) rounded to 6
    decimals (for a milestone 1 from 100 % on, else 0)."""
    start, target, current, progress = (kr.cells.get(k) for k in ("start", "target", "current", "progress"))
    if start is not None and target is not None:
        if start == target:
            return [], None, f"start and target are both {start:g}: at least or at most? Write this one by hand"
        derived = None if progress is None else round(start + progress * (target - start) / 100, 6)
        kind = "increase" if target > start else "decrease"
        return [("kind", kind), ("start", start), ("target", target)], derived if current is None else current, None
    if start is not None or target is not None or current not in (None, 0, 1):
        what = f"start {start:g}" if start is not None else f"target {target:g}" if target is not None else "a value"
        return [], None, f"{what} alone: a manual key result needs a start and a target, never guessed"
    done = current if current is not None else None if progress is None else float(progress >= 100)
    return [("kind", "milestone")], done, None


def choose_cycle(items: list[Item], options: Options, source: str) -> tuple[str, date, date]:
    """--start/--end, else the file's earliest Start and latest End Date; named --cycle, the Period, START..END."""
    start = options.start or min((i.cells["start_date"] for i in items if "start_date" in i.cells), default=None)
    end = options.end or max((i.cells["end_date"] for i in items if "end_date" in i.cells), default=None)
    if start is None or end is None or end < start:
        why = f"the cycle would end ({end}) before it starts ({start})" if start and end else "no Start and End Date"
        raise UnreadableImport([f"{source}: {why}: pass --start and --end"])
    periods = {i.cells.get("period") for i in items if i.is_objective}
    name = options.cycle or (next(iter(periods)) if len(periods) == 1 else None)
    return name or f"{start}..{end}", start, end


def import_table(table: Table, options: Options) -> Imported:
    """Every problem of the file at once (UnreadableImport), else the config (which the caller loads to check)."""
    columns, mapping, unused = map_columns(table.headers)
    problems = [f"{table.source}:1: no {COLUMNS[k][0]} column" for k in ("title", "type") if k not in columns]
    left_out: list[str] = []
    items = [i for row in ([] if problems else table.rows) if (i := read_item(row, table, columns, problems, left_out))]
    assign_ids(items)
    objectives = build_tree(items, problems)
    shapes = {kr.id: kr_shape(kr) for o in objectives for kr in o.children}
    problems += [f"{kr.where}: {shapes[kr.id][2]}" for o in objectives for kr in o.children if shapes[kr.id][2]]
    if problems or not objectives:
        raise UnreadableImport(problems or [f"{table.source}: no objective in the file"])
    name, start, end = choose_cycle(items, options, table.source)
    values = [(kr.id, v, kr.where) for o in objectives for kr in o.children if (v := shapes[kr.id][1]) is not None]
    lines = _header(Path(table.source).name, options, (name, start, end))
    for objective in objectives:
        lines += _objective(objective, shapes, start, end)
    return Imported("\n".join(lines) + "\n", mapping, unused, left_out, values)


def _header(source: str, options: Options, cycle: tuple[str, date, date]) -> list[str]:
    lines = [
        f"# Imported by `okrsync import` from {_line(source)}. Every key result is manual until it is bound to a",
        "# metric (each `# TODO: metric`): its value comes from `okrsync override KR VALUE --sticky`, which is how",
        "# the values in the file were recorded. See docs/import.md.",
        "version: 1",
    ]
    lines += [f"namespace: {_q(options.namespace)}"] if options.namespace else []
    name, start, end = cycle
    lines.append(f"cycle: {{name: {_q(name)}, start: {start}, end: {end}, timezone: {_q(options.timezone)}}}")
    lines += [f"store: {_q(options.store)}"] if options.store else []
    return [*lines, "", "objectives:"]


def _objective(o: Item, shapes: dict[str, Any], start: date, end: date) -> list[str]:
    lines = [f"  # {_origin(o.where)}", f"  - id: {o.id}", f"    title: {_q(o.title)}"]
    lines += [f"    owner: {_q(o.cells['owner'])}"] if "owner" in o.cells else []
    lines += ["    kind: aspirational"] if o.cells.get("goal_type") == "aspirational" else []
    lines += [f"    parent: {o.parent}"] if o.parent else []
    lines += [f"    # tags: {_line(o.cells['tags'])}"] if "tags" in o.cells else []
    lines += [f"    # {_line(note)}" for note in o.notes]
    lines.append("    key_results:" if o.children else "    key_results: []  # none in the file")
    for kr in o.children:
        keys, value, _ = shapes[kr.id]
        first = kr.cells.get("start_date", o.cells.get("start_date", start))
        last = kr.cells.get("end_date", o.cells.get("end_date", end))
        unit = f" (unit: {_line(kr.cells['unit'])})" if "unit" in kr.cells else ""
        lines += [f"      # {_origin(kr.where)}", f"      - id: {kr.id}", f"        title: {_q(kr.title)}"]
        lines += [f"        # TODO: metric{unit}", *(f"        {k}: {_number(v)}" for k, v in keys)]
        lines += [f"        owner: {_q(kr.cells['owner'])}"] if "owner" in kr.cells else []
        lines += [f"        start_date: {first}"] if first != start else []
        lines += [f"        due: {last}"] if last != end else []
        lines += [f"        # tags: {_line(kr.cells['tags'])}"] if "tags" in kr.cells else []
        how = f" (Progress % {kr.cells['progress']:g})" if "current" not in kr.cells and "progress" in kr.cells else ""
        lines += [f"        # value in the file: {_number(value)}{how}"] if value is not None else []
    return lines


def _origin(where: str) -> str:  # file.csv:7 -> "line 7", file.xlsx:OKRs!7 -> "OKRs row 7"
    place = where.rsplit(":", 1)[1]
    return _line(place.replace("!", " row ") if "!" in place else f"line {place}")


def _q(text: str) -> str:
    """User text as a YAML double-quoted scalar: every quote, colon, hash and line break escaped."""
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=2**31).rstrip("\n")


def _line(text: str) -> str:  # user text in a comment: one line, of characters YAML takes
    return re.sub("[^\t\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "?", " ".join(text.split()))


def _number(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))
