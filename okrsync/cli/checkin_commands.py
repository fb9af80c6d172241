"""`okrsync note` (an owner's note and confidence on a key result) and `okrsync checkin` (the weekly check-in).

A note is stored for the synced day it comments on: the latest stored run's day in the config's cycle (the
numbers `okrsync status` shows when the owner writes), or today in the cycle's time zone while nothing is synced
yet; with the moment it was written (the clock, read here once). The check-in is computed from the store alone
(okrsync.present.checkin): the latest stored day, the day the period starts from, the notes, the values held
back and each KR's values per day; never a fetch. docs/checkin.md says what every figure means.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from okrsync.cli.app import Wait, app, clock, console, current_config, err_console
from okrsync.cli.outline import Outline

if TYPE_CHECKING:
    from okrsync.config import Config
    from okrsync.present.checkin import Checkin

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
    value: Annotated[
        float | None, typer.Option("--value", help="a manual key result's new value (one without a metric)")
    ] = None,
    wait: Wait = 120.0,
) -> None:
    """Write a note on a key result, with the owner's confidence (and a manual KR's value): kept as history, shown
    by the check-in, and on the latest day's status (evaluated again at once; outputs update what changed)."""
    from okrsync.store.notes import checked_note
    from okrsync.sync.persist import open_store
    from okrsync.sync.sequence import reevaluate_run

    config = current_config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known:
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    try:
        checked = checked_note(text, author, confidence)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    value = manual_value(config, kr_id, value)
    store = open_store(config)
    try:
        now = clock(config)
        with store.run_lock(config.namespace, config.cycle.name, wait=wait):  # no sync moves the day meanwhile
            latest = store.latest_run(config.namespace, config.cycle.name)
            day = latest.day if latest else now.astimezone(config.cycle.tz).date()
            store.add_note(config.namespace, config.cycle.name, kr_id, day, checked, now=now)
            if value is not None:  # the same record `okrsync override` makes for a manual key result
                store.add_override(config.namespace, kr_id, value, True, checked.text, now, manual=True)
            if latest:
                reevaluate_run(config, store, latest, now=now, trigger="note")
    finally:
        store.close()
    which = "the latest synced day" if latest else "today: nothing is synced yet"
    said = f", confidence {checked.confidence}" if checked.confidence else ""
    said += f", value {value:g}" if value is not None else ""
    console.print(Text(f"✓ noted on {kr_id} for {day} ({which}){said}"))


def manual_value(config: Config, kr_id: str, value: float | None) -> float | None:
    """``--value`` as a manual key result's value: finite and within the limit of any value; a KR with a metric
    gets its values from the metric (a usage error that says what to do instead)."""
    from okrsync.okr.numbers import LIMIT, checked

    if value is None:
        return None
    if any(kr.metric for _, kr in config.key_results() if kr.id == kr_id):
        raise typer.BadParameter(
            f"{kr_id} reads a metric: its value is fetched (`okrsync override {kr_id} VALUE` sets it by hand once)",
            param_hint="--value",
        )
    try:
        return checked(value)
    except ValueError:
        raise typer.BadParameter(
            f"must be a finite number within ±{LIMIT:.0e}, not {value:g}", param_hint="--value"
        ) from None


@app.command()
def checkin(
    since: Annotated[
        str | None,
        typer.Option("--since", help="the previous check-in's day, YYYY-MM-DD [default: latest day - since_days]"),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, markdown or json")] = "text",
    publish: Annotated[
        bool, typer.Option("--publish", help="deliver it to the outputs with on: [checkin], once per period")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="with --publish: say what would be sent")] = False,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="with --publish: seconds to wait for another run of this config")
    ] = 120.0,
) -> None:
    """The weekly check-in, from the store alone: what moved since the last one per objective and owner, what is
    stalled, held back or failing, the owners' notes, and questions for at-risk and off-track key results."""
    from okrsync.present.checkin_text import render_json, render_markdown

    if format not in FORMATS:
        raise typer.BadParameter("expected text, markdown or json", param_hint="--format")
    if dry_run and not publish:
        raise typer.BadParameter("--dry-run goes with --publish", param_hint="--dry-run")
    if publish and since is not None:
        raise typer.BadParameter("--publish publishes the configured period (checkin.since_days)", param_hint="--since")
    if publish and format != "text":
        raise typer.BadParameter(
            "--publish says what each output got; leave --publish out to print it", param_hint="--format"
        )
    asked = _day(since) if since is not None else None
    config = current_config()
    found = _publish(config, dry_run, wait) if publish else read_checkin(config, asked)
    if found is None:
        err_console.print(f"No sync has been stored for {config.cycle.name} yet: run `okrsync run` first.")
        raise typer.Exit(1)
    if publish:
        return
    if format == "json":
        sys.stdout.write(render_json(found))
    elif format == "markdown":
        sys.stdout.write(render_markdown(found))
    else:
        console.print(checkin_tree(found))


def _publish(config: Config, dry_run: bool, wait: float) -> Checkin | None:
    """Publish the check-in (okrsync.sync.checkin_publish) and say what each output did; exit 1 when one failed."""
    from okrsync.sync.checkin_publish import publish_checkin

    done = publish_checkin(config, now=clock(config), dry_run=dry_run, wait=wait)
    if done.checkin is None:
        return None
    c = done.checkin
    head = "Dry run (nothing written)" if dry_run else "Published"
    console.print(Text(f"{head}: the check-in of {c.since} → {c.until} ({c.title})", style="bold"))
    for line in done.writes:
        console.print(Text(f"  {line}"))
    for e in done.output_errors:
        err_console.print(Text.assemble(("✗ ", "red"), f"output {e.output or ''}: {e.message}"))
    if done.exit_code:
        raise typer.Exit(done.exit_code)
    return c


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint="--since") from None


def read_checkin(config: Config, asked: date | None) -> Checkin | None:
    """Read what the check-in needs, then compute it; None when nothing is stored in the cycle (the same reading
    the published check-in makes: okrsync.sync.checkin_publish.stored_checkin)."""
    from okrsync.sync.checkin_publish import stored_checkin
    from okrsync.sync.persist import open_store

    store = open_store(config, access="read")
    try:
        found = stored_checkin(config, store, since=asked)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    finally:
        store.close()
    return found[0] if found else None


def checkin_tree(c: Checkin) -> Tree:
    """The check-in as a tree: objectives, their key results, each KR's facts; every text a Text (no markup)."""
    from okrsync.present.checkin_text import heading, kr_facts, objective_facts

    tree = Outline(Text(heading(c), style="bold"))  # drawn as rich's Tree draws it, a line at a time
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
