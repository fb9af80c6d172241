"""``okrsync status --all``: every namespace of the cycle in the store, at one of three depths.

- by default, a table of the teams (each one's objectives counted by status) and the objectives aligned across
  configs (the company's objectives with the team objectives under them);
- ``--objectives``: every objective of every team as one company tree;
- ``--krs``: that tree with each objective's key results, and every team's KPIs.

The first two read each team's latest document cut down to its objectives (``Store.latest_objectives``: 10 kB
for a team of 200 key results, not 160 kB); ``--krs`` and ``--format json`` read the documents whole. What a
terminal can show quickly is a few thousand lines: 100 teams of 40 objectives are 4,000, of 200 key results
24,000 (bench/RESULTS.md), hence the teams table by default.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from typing import cast

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from okrsync.cli.app import console, err_console
from okrsync.cli.outline import Outline
from okrsync.cli.views import STATUS_STYLE, company_tree, objective_label
from okrsync.config import Config
from okrsync.okr.alignment import across_configs, company_order, refresh_parent_notes, with_parent_notes
from okrsync.okr.results import Status
from okrsync.okr.status import StatusDocument
from okrsync.present.formats import human_time, label, printable

DEPTHS = ("teams", "objectives", "krs")
_STATUSES = tuple(Status)  # done, on track, at risk, off track, no data


def status_all(config: Config, format: str, day: date | None, depth: str) -> None:
    """Every namespace as it stood on ``day`` (each one's run of that day, else its newest before it)."""
    from okrsync.sync.persist import open_store

    whole = depth == "krs" or format == "json"
    store = open_store(config, access="read")
    try:
        if whole:  # latest_runs returns finished runs, and a finished run has its document
            runs = store.latest_runs(config.cycle.name, until_day=day)
            found = {ns: cast(dict, run.document) for ns, run in runs.items()}
        else:
            found = store.latest_objectives(config.cycle.name, until_day=day)
    finally:
        store.close()
    if not found:
        when = f"on or before {day}" if day else "yet"
        err_console.print(f"No sync has been stored for {config.cycle.name} {when}: run `okrsync run` first.")
        raise typer.Exit(1)
    stored = {ns: StatusDocument.from_dict(document) for ns, document in found.items()}
    docs = {ns: refresh_parent_notes(doc, stored) for ns, doc in stored.items()}
    if format == "json":
        shown = {ns: with_parent_notes(document, docs[ns]) for ns, document in found.items()}
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
    elif depth == "teams":
        console.print(teams_table(docs))
        console.print(aligned_tree(docs))
        console.print("[dim]Every objective: `okrsync status --all --objectives`; with key results and KPIs: --krs.[/]")
    else:
        console.print(company_tree(docs))


def teams_table(docs: dict[str, StatusDocument]) -> Table:
    """A row per namespace: its name, when its run stood, and its objectives counted by status."""
    cycle = next(iter(docs.values())).cycle
    table = Table(title=Text.assemble(("OKR status ", "bold"), (cycle, "bold cyan"), f"  {len(docs)} namespaces"))
    table.add_column("team")
    table.add_column("as of")
    table.add_column("objectives", justify="right")
    for status in _STATUSES:
        table.add_column(label(status), justify="right", style=STATUS_STYLE[status])
    table.add_column("notes")
    for ns, doc in docs.items():
        counts = Counter(o.status for o in doc.objectives)
        notes = sum(o.parent_note is not None for o in doc.objectives)
        name = Text(ns if not doc.title or doc.title == ns else f"{printable(doc.title)} ({ns})")  # never markup
        cells = [str(counts[s]) if counts[s] else "" for s in _STATUSES]
        table.add_row(name, human_time(doc.as_of), str(len(doc.objectives)), *cells, f"⚠ {notes}" if notes else "")
    return table


def aligned_tree(docs: dict[str, StatusDocument]) -> Tree | Text:
    """The objectives aligned across configs, each under the objective it aligns to (with that one's parents)."""
    order = across_configs(company_order(docs))
    if not order:
        return Text("No objective aligns to another config's.", style="dim")
    tree = Outline(Text("Aligned across configs", style="bold"))
    stack: list[Tree] = [tree]
    for ns, o, depth in order:
        del stack[depth + 1 :]
        node = stack[depth].add(Text.assemble((f"[{ns}] ", "cyan"), objective_label(o)))
        if o.parent_note:
            node.add(Text(f"⚠ {o.parent_note}", style="yellow"))
        stack.append(node)
    return tree
