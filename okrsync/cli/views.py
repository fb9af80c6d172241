"""What the CLI shows: the status tree, a run's summary and errors, a KR's history table."""

from __future__ import annotations

from collections import Counter

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from okrsync.cli.app import console, err_console
from okrsync.cli.outline import Outline
from okrsync.config.model import BOUND_KINDS
from okrsync.okr.rollup import judged_expected
from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present.checkin import confidence_text, owner_question
from okrsync.present.checkin_text import source_name
from okrsync.present.formats import (
    fmt_trend,
    fmt_value,
    forecast_text,
    human_time,
    label,
    pct,
    printable,
    target_text,
)

STATUS_STYLE = {
    "done": "bold green",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "bold red",
    "no_data": "dim",
}


def bar(progress: float | None, expected: float | None, width: int = 20, style: str = "green") -> Text:
    """``width`` cells: progress filled, the rest dim, the expected share marked "│" (over the cell it falls in)."""
    if progress is None:
        return Text("·" * width, style="dim")
    filled = round(max(0.0, min(1.0, progress)) * width)
    mark = None if expected is None else min(width - 1, int(expected * width))
    mark = None if mark is None or mark < 0 else mark  # an expected share below the bar: no mark
    cells = [("█" * filled, style), ("░" * (width - filled), "dim")]
    if mark is not None:  # the mark replaces the cell it falls in, filled or not
        before, after = ("█" * min(filled, mark), style), ("░" * (mark - filled), "dim")
        cells = [
            before,
            after,
            ("│", "bold"),
            ("█" * (filled - mark - 1), style),
            ("░" * (width - max(filled, mark + 1)), "dim"),
        ]
    return Text.assemble(*((text, s) for text, s in cells if text))


def _pct(x: float | None) -> str:
    return f"{pct(x):>4}"


def objective_label(o: ObjectiveStatus) -> Text:
    style = STATUS_STYLE[o.status]
    return Text.assemble(
        bar(o.progress, o.judged, style=style),
        " ",
        (_pct(o.progress), "bold"),
        f" exp {pct(o.judged)}  ",
        (label(o.status), style),
        "  ",
        (printable(o.title), "bold"),
        (f"  {printable(o.owner)}" if o.owner else "", "dim"),
        (" · aspirational" if o.kind == "aspirational" else "", "dim"),
    )


def kr_label(kr: KrStatus) -> Text:
    style = STATUS_STYLE[kr.status]
    line = Text.assemble(
        bar(kr.progress, kr.judged, 14, style),
        " ",
        _pct(kr.progress),
        f" exp {pct(kr.judged):>4}  ",
        (f"{label(kr.status):<9}", style),
        " ",
        printable(kr.title),
        (f"  {fmt_value(kr.value, kr.unit)} → {target_text(kr)}", "dim"),
    )
    if kr.forecast:
        line.append(f"  {forecast_text(kr)}", style="dim")
    if kr.suspect:
        line.append(f"  ⏸ held back for review: {kr.suspect_reason}", style="bold cyan")
    if kr.stale:
        line.append(f"  ⚠ stale: {kr.stale_reason}", style="yellow")
    if kr.manual:
        line.append("  ✍ manual KR", style="magenta")
    elif kr.override:
        line.append("  ✎ manual value", style="magenta")
    return line


def add_kr(node: Tree, kr: KrStatus, o: ObjectiveStatus, doc: StatusDocument) -> None:
    """A KR's line, and under it the owner's latest note (its first line) and a confidence that disagrees."""
    child = node.add(kr_label(kr))
    if kr.owner_note:
        first = printable(kr.owner_note.text).splitlines()[0]
        said = first if len(first) <= 100 else first[:99] + "…"
        who = printable(kr.owner_note.author or "a note")
        who += f" ({source_name(kr.owner_note.source)})" if kr.owner_note.source != "cli" else ""
        child.add(Text.assemble("💬 ", said, (f"  — {who}, {kr.owner_note.day}", "dim")))
    if question := owner_question(kr, o, doc):
        child.add(Text(f"❓ {question}", "yellow"))


def kpi_label(k: KpiStatus) -> Text:
    health = (
        ("no data", "dim") if k.healthy is None else (("healthy", "green") if k.healthy else ("unhealthy", "bold red"))
    )
    trend = "" if k.trend is None else f"  trend {fmt_trend(k.trend)}"
    return Text.assemble(
        (f"{health[0]:<9}", health[1]),
        " ",
        printable(k.title),
        (f"  {fmt_value(k.value, k.unit)}{trend}", "dim"),
        ("  ⚠ stale" if k.stale else "", "yellow"),
        (f"  ⏸ held back for review: {k.suspect_reason}" if k.suspect else "", "bold cyan"),
    )


def status_tree(doc: StatusDocument) -> Tree:
    team = printable(doc.title or doc.namespace)
    heading = Text.assemble((f"{team} — OKR status ", "bold"), (doc.cycle, "bold cyan"))
    tree = Outline(heading.append(f"  as of {human_time(doc.as_of)}"))
    by_id = {o.id: o for o in doc.objectives}

    def add(o: ObjectiveStatus, parent: Tree) -> None:
        node = parent.add(objective_label(o))
        if o.parent_note:
            node.add(Text(f"⚠ {o.parent_note}", style="yellow"))
        for kr in o.key_results:
            add_kr(node, kr, o, doc)
        for cid in o.children:
            if cid in by_id:
                add(by_id[cid], node)

    for o in doc.objectives:
        if not o.parent or o.parent not in by_id:
            add(o, tree)
    if doc.kpis:
        kpis = tree.add(Text("KPIs", style="bold"))
        for k in doc.kpis:
            kpis.add(kpi_label(k))
    return tree


def company_tree(docs: dict[str, StatusDocument]) -> Tree:
    """Every namespace's latest objectives as one tree: children under their parents across configs."""
    from okrsync.okr.alignment import company_order

    cycle = next(iter(docs.values())).cycle
    tree = Outline(Text.assemble(("OKR status ", "bold"), (cycle, "bold cyan"), f"  {len(docs)} namespaces"))
    stack: list[Tree] = [tree]
    for ns, o, depth in company_order(docs):
        del stack[depth + 1 :]
        node = stack[depth].add(Text.assemble((f"[{ns}] ", "cyan"), objective_label(o)))
        if o.parent_note:
            node.add(Text(f"⚠ {o.parent_note}", style="yellow"))
        for kr in o.key_results:
            add_kr(node, kr, o, docs[ns])
        stack.append(node)
    kpis = [(ns, k) for ns, doc in sorted(docs.items()) for k in doc.kpis]
    if kpis:
        node = tree.add(Text("KPIs", style="bold"))
        for ns, k in kpis:
            node.add(Text.assemble((f"[{ns}] ", "cyan"), kpi_label(k)))
    return tree


def print_errors(doc: StatusDocument) -> None:
    """One line per failure: metrics of one connection failing for the same reason (a missing token, an
    unreachable server) are one line naming them all, not the same message once per metric."""
    grouped: dict[tuple[str | None, str], list[str]] = {}
    for e in doc.errors:
        grouped.setdefault((e.connection, e.message), []).append(e.metric)
    for (connection, message), metrics in grouped.items():
        where = f"connection {connection}" if connection else "formula"
        if len(metrics) == 1:
            head = f"metric [bold]{escape(metrics[0])}[/] ({escape(where)})"
        else:
            head = f"{escape(where)}, {len(metrics)} metrics ([bold]{escape(', '.join(metrics))}[/])"
        err_console.print(f"[red]✗[/] {head}: {escape(message)}")


def print_summary(result) -> None:
    """One line of counts after a run, then what each output wrote (or would write)."""
    krs = [kr for _, kr in result.document.key_results()]
    counts = Counter(kr.status for kr in krs)
    parts = [f"[{STATUS_STYLE[s]}]{n} {label(s)}[/]" for s, n in counts.items()]
    stale = sum(kr.stale for kr in krs)
    held = sum(kr.suspect for kr in krs)
    head = "[bold]Dry run[/] (nothing stored or written)" if result.dry_run else "[bold]Synced[/]"
    console.print(
        f"{head}: {len(krs)} key results · "
        + " · ".join(parts)
        + (f" · [yellow]{stale} stale[/]" if stale else "")
        + (f" · [bold cyan]{held} held back[/] (okrsync accept)" if held else "")
        + f" · {len(result.fetched)} values fetched, {len(result.errors)} failed"
    )
    if result.dry_run:
        console.print(f"would store {len(result.fetched)} metric value(s) and {len(krs)} key result(s)")
    for line in result.writes:
        console.print(f"  {escape(line)}")


def history_table(kr_id: str, cycle: str, rows: list[dict], unit: str | None = None, aspirational=False) -> Table:
    """In an aspirational objective "expected" is the figure each day was judged against (x 0.7). The owners'
    notes of each day (``notes``, okrsync.store.Store.kr_history) are listed on it, every note shown as written
    (a Text: no markup); a day with notes and no stored result has only its notes."""
    table = Table(title=f"{kr_id} in {cycle}")
    for col in ("day", "value", "progress", "expected", "status"):  # figures never wrap: the texts do
        table.add_column(col, justify="right" if col in ("value", "progress", "expected") else "left", no_wrap=True)
    table.add_column("note", overflow="fold")  # a word longer than its column folds: nothing is cut off
    table.add_column("owners' notes", overflow="fold")
    for r in rows:
        notes = _notes_cell(r.get("notes") or [])
        if r.get("status") is None:  # notes on a day without a stored result
            table.add_row(r["day"].isoformat(), "", "", "", "", "", notes)
            continue
        marks = " ".join(
            filter(None, ["stale" if r["stale"] else "", "manual" if r["overridden"] else "", _held_note(r, unit)])
        )
        table.add_row(
            r["day"].isoformat(),
            fmt_value(r["value"], unit),
            _pct(r["progress"]),
            _pct(r["expected"] if r["kind"] in BOUND_KINDS else judged_expected(r["expected"], aspirational)),
            Text(label(r["status"]), style=STATUS_STYLE[r["status"]]),
            Text(marks),
            notes,
        )
    return table


def _notes_cell(notes: list) -> Text:
    """Each note of a day on its own line: 'author · confidence: text' (okrsync.store.NoteRow)."""

    lines = []
    for n in notes:
        said = " · ".join(filter(None, [n.author, confidence_text(n.confidence) if n.confidence else None]))
        lines.append(printable(f"{said}: {n.text}" if said else n.text))
    return Text("\n".join(lines))


def _held_note(row: dict, unit: str | None) -> str:
    """A day whose value its metric's contract held back: the value and why, and whether it was accepted."""
    if row.get("held_value") is None:
        return ""
    verdict = "accepted later" if row.get("held_accepted") else "waiting for `okrsync accept`"
    return f"held back {fmt_value(row['held_value'], unit)}: {row['held_reason']} ({verdict})"
