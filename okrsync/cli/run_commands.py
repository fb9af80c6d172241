"""`okrsync runs`: the stored runs of this config's cycle, and removing one (e.g. a mistaken future day)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from okrsync.cli.app import console, current_config, err_console

runs_app = typer.Typer(help="List the stored runs of this cycle (the default), or delete one.")


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """List the stored runs of this cycle, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    from okrsync.pipeline import open_store

    if format not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--format")
    config = current_config()
    store = open_store(config)
    try:
        found = store.list_runs(config.namespace, config.cycle.name)
    finally:
        store.close()
    if format == "json":
        rows = [dict(day=r.day.isoformat(), as_of=r.as_of.astimezone(config.cycle.tz).isoformat(timespec="seconds"),
                     trigger=r.trigger, outcome=r.outcome, attempts=r.attempts) for r in found]  # fmt: skip
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not found:
        err_console.print(f"No runs stored for {config.cycle.name} yet.")
        raise typer.Exit(1)
    table = Table(title=f"runs of {config.namespace} in {config.cycle.name}")
    for col in ("day", "as of", "trigger", "outcome", "attempts"):
        table.add_column(col, justify="right" if col == "attempts" else "left")
    for r in found:
        as_of = r.as_of.astimezone(config.cycle.tz).strftime("%Y-%m-%d %H:%M %Z")
        table.add_row(r.day.isoformat(), as_of, r.trigger, r.outcome or "unfinished", str(r.attempts))
    console.print(table)


@runs_app.command("delete")
def delete(
    day: Annotated[str, typer.Argument(help="the run's day, YYYY-MM-DD")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a run of this config")] = 120.0,
) -> None:
    """Delete one day's run with the values and results it stored. What outputs received stays delivered:
    the write ledger keeps its record, so the next run never sends it twice."""
    from okrsync.pipeline import open_store

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)", param_hint="DAY") from None
    config = current_config()
    if not yes and not (sys.stdin.isatty() and typer.confirm(f"Delete the run of {when} and its values?")):
        err_console.print("Nothing deleted (pass --yes to delete without asking).")
        raise typer.Exit(1)
    store = open_store(config)
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=wait):
            counts = store.delete_run(config.namespace, config.cycle.name, when)
        latest = store.latest_run(config.namespace, config.cycle.name)
    finally:
        store.close()
    if counts is None:
        err_console.print(f"No run of {config.cycle.name} on {when}.")
        raise typer.Exit(1)
    console.print(
        f"Deleted the run of {when}: {counts['metric_values']} values, {counts['kr_results']} KR results."
        + (f" `okrsync status` now shows {latest.day}." if latest else " No run is left in this cycle.")
    )
    if latest:
        console.print(escape("Outputs keep what they last received until the next `okrsync run`."))
