"""`okrsync note` (an owner's note and confidence on a key result) and `okrsync checkin` (the weekly check-in).

A note is stored for the synced day it comments on: the latest stored run's day in the config's cycle (the
numbers `okrsync status` shows when the owner writes), or today in the cycle's time zone while nothing is synced
yet; with the moment it was written (the clock, read here once). The check-in is computed from the store alone
(okrsync.present.checkin): the latest stored day, the day the period starts from, the notes, the values held
back and each KR's values per day; never a fetch. docs/checkin.md says what every figure means.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.text import Text
from rich.tree import Tree

from okrsync.cli.app import app, clock, console, current_config, err_console

if TYPE_CHECKING:
    from okrsync.config import Config
    from okrsync.present.checkin import Checkin
    from okrsync.store import RunInfo, Store

FORMATS = ("text", "markdown", "json")
STATUS_STYLE = {"done": "bold green", "on_track": "green", "at_risk": "yellow", "off_track": "bold red"}
FACT_STYLE = {
    "stalled": "yellow",
    "stale": "yellow",
    "held back": "bold cyan",
    "failing": "red",
    "question": "bold magenta",
    "ask": "cyan",
}


@app.command()
def note(
    kr_id: Annotated[str, typer.Argument(help="key result id")],
    text: Annotated[str, typer.Argument(help="what moved, why, what comes next (at most 2,000 characters)")],
    confidence: Annotated[
        str | None, typer.Option("--confidence", help="on_track, at_risk, off_track, or 0-10 (0-3 off track, 7-10 on)")
    ] = None,
    author: Annotated[str | None, typer.Option("--author", help="who says so (default: nobody named)")] = None,
) -> None:
    """Write a note on a key result, with the owner's confidence: kept as history, shown by the check-in."""
    from okrsync.store.notes import checked_note
    from okrsync.sync.persist import open_store

    config = current_config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known:
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    try:
        checked = checked_note(text, author, confidence)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    store = open_store(config)
    try:
        now = clock(config)
        latest = store.latest_run(config.namespace, config.cycle.name)
        day = latest.day if latest else now.astimezone(config.cycle.tz).date()
        store.add_note(config.namespace, config.cycle.name, kr_id, day, checked, now=now)
    finally:
        store.close()
    which = "the latest synced day" if latest else "today: nothing is synced yet"
    said = f", confidence {checked.confidence}" if checked.confidence else ""
    console.print(Text(f"✓ noted on {kr_id} for {day} ({which}){said}"))


@app.command()
def checkin(
    since: Annotated[
        str | None,
        typer.Option("--since", help="the previous check-in's day, YYYY-MM-DD [default: latest day - since_days]"),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, markdown or json")] = "text",
) -> None:
    """The weekly check-in, from the store alone: what moved since the last one per objective and owner, what is
    stalled, held back or failing, the owners' notes, and questions for at-risk and off-track key results."""
    from okrsync.present.checkin import render_json, render_markdown

    if format not in FORMATS:
        raise typer.BadParameter("expected text, markdown or json", param_hint="--format")
    asked = _day(since) if since is not None else None
    config = current_config()
    found = read_checkin(config, asked)
    if found is None:
        err_console.print(f"No sync has been stored for {config.cycle.name} yet: run `okrsync run` first.")
        raise typer.Exit(1)
    if format == "json":
        sys.stdout.write(render_json(found))
    elif format == "markdown":
        sys.stdout.write(render_markdown(found))
    else:
        console.print(checkin_tree(found))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint="--since") from None


def read_checkin(config: Config, asked: date | None) -> Checkin | None:
    """Read what the check-in needs, then compute it; None when nothing is stored in the cycle."""
    from okrsync.okr.status import StatusDocument
    from okrsync.present.checkin import HeldEntry, NoteEntry, Stored, build_checkin
    from okrsync.sync.persist import open_store

    ns, cycle = config.namespace, config.cycle.name
    store = open_store(config, access="read")
    try:
        latest = store.latest_run(ns, cycle)
        if latest is None:
            return None
        since = asked or latest.day - timedelta(days=config.checkin.since_days)
        if since > latest.day:
            raise typer.BadParameter(f"{since} is after the latest stored day, {latest.day}", param_hint="--since")
        start = store.run_on(ns, cycle, since) or _first_run(store, ns, cycle)
        notes: dict[str, list[NoteEntry]] = {}
        for n in store.notes(ns, cycle, until=latest.day):  # the moment written in the cycle's time zone
            written = n.written_at.astimezone(config.cycle.tz)
            notes.setdefault(n.kr_id, []).append(NoteEntry(n.day, written, n.author, n.confidence, n.text))
        held = [HeldEntry(h.metric_id, h.day, h.value, h.reason) for h in store.held(ns, cycle)]
        stored = Stored(notes, held, store.kr_series(ns, cycle, latest.day))
    finally:
        store.close()
    until_doc = StatusDocument.from_dict(cast(dict, latest.document))  # a finished run: it has its document
    start_doc = StatusDocument.from_dict(cast(dict, start.document)) if start else None
    return build_checkin(config, until_doc, start_doc, since, stored)


def _first_run(store: Store, namespace: str, cycle: str) -> RunInfo | None:
    """The first finished run of the cycle, with its document."""
    first = next((r for r in store.list_runs(namespace, cycle) if r.outcome), None)
    return store.run_on(namespace, cycle, first.day) if first else None


def checkin_tree(c: Checkin) -> Tree:
    """The check-in as a tree: objectives, their key results, each KR's facts; every text a Text (no markup)."""
    from okrsync.present.checkin import heading, kr_facts, objective_facts

    tree = Tree(Text(heading(c), style="bold"))
    if c.period_note:
        tree.add(Text(f"note: {c.period_note}", style="yellow"))
    for f in c.failing:
        where = f"connection {f.connection}" if f.connection else "formula"
        tree.add(Text(f"✗ {f.metric} ({where}): {f.message}", style="red"))
    by_id = {kr.id: kr for kr in c.key_results}
    for o in c.objectives:
        node = tree.add(Text.assemble((o.title, "bold"), "  ", *_facts(objective_facts(o), o.status_to)))
        for kr in (by_id[k] for k in o.key_results if k in by_id):
            kr_node = node.add(Text(kr.title, style="bold"))
            for name, text in kr_facts(kr):
                style = STATUS_STYLE.get(kr.status_to, "") if name == "status" else FACT_STYLE.get(name, "")
                kr_node.add(Text.assemble((f"{name}: ", "dim"), (text, style)))
    return tree


def _facts(facts: list[tuple[str, str]], status: str) -> list[tuple[str, str]]:
    """An objective's facts on its one line, the status in its colour."""
    parts: list[tuple[str, str]] = []
    for name, text in facts:
        parts += [(f"{name} ", "dim"), (text, STATUS_STYLE.get(status, "") if name == "status" else ""), ("  ", "")]
    return parts[:-1]
