"""Commands on the stored days of this config's cycle: `runs` (and `runs delete`, e.g. a mistaken future day),
`accept` (values a data contract held back) and `backfill` (past days replayed)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.markup import escape

from okrsync.cli.app import console, current_config, err_console

runs_app = typer.Typer(help="List the stored runs of this cycle (the default), or delete one.")


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    cycle: Annotated[str | None, typer.Option("--cycle", help="another (e.g. the previous) cycle's name")] = None,
) -> None:
    """List the stored runs of this cycle, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    from okrsync.sync.persist import open_store

    if format not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--format")
    config = current_config()
    store = open_store(config, access="read")
    try:
        found = store.list_runs(config.namespace, cycle or config.cycle.name)
    finally:
        store.close()
    if format == "json":
        rows = [
            dict(
                day=r.day.isoformat(),
                as_of=r.as_of.astimezone(config.cycle.tz).isoformat(timespec="seconds"),
                trigger=r.trigger,
                outcome=r.outcome,
                attempts=r.attempts,
            )
            for r in found
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not found:
        err_console.print(f"No runs stored for {cycle or config.cycle.name} yet.")
        raise typer.Exit(1)
    from rich.table import Table

    table = Table(title=f"runs of {config.namespace} in {cycle or config.cycle.name}")
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
    from okrsync.sync.persist import open_store

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


def accept(
    metric_id: Annotated[str | None, typer.Argument(help="the metric whose held-back values to publish")] = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a run of this config")] = 120.0,
) -> None:
    """Publish the values a metric's data contract (expect:) held back, when they were right after all;
    without METRIC, list what waits for review. The stored days from the first accepted value on are
    evaluated again and the newest is published."""
    from okrsync.cli.app import clock
    from okrsync.sync.accept import accept_held
    from okrsync.sync.persist import open_store

    config = current_config()
    if metric_id is not None and metric_id not in config.metrics:
        raise typer.BadParameter(f"no metric {metric_id!r} in {config.path}", param_hint="METRIC")
    store = open_store(config)
    try:
        if metric_id is None:
            return _print_held(store.held(config.namespace, config.cycle.name))
        done = accept_held(config, store, metric_id, now=clock(config), wait=wait)
    finally:
        store.close()
    for r in done.held_since:
        err_console.print(
            f"[yellow]note:[/] {escape(metric_id)} = {r.value:g} on {r.day} was held back while this waited "
            f"(held: {escape(r.reason)}); not accepted: review it, then `okrsync accept {escape(metric_id)}` again"
        )
    if not done.rows:
        if not done.held_since:
            err_console.print(f"Nothing of {escape(metric_id)} is held back in {config.cycle.name}.")
        raise typer.Exit(1)
    for r in done.rows:
        console.print(f"accepted {escape(metric_id)} = {r.value:g} on {r.day} (held: {escape(r.reason)})")
    if done.again:
        console.print(f"evaluated again: {', '.join(d.isoformat() for d in done.again)}")
    if done.published is not None:
        console.print(f"published {done.published.document.day}")
        for e in done.published.output_errors:
            err_console.print(f"[red]✗[/] output {escape(e.output or '')}: {escape(e.message)}")
        raise typer.Exit(1 if done.published.output_errors or done.held_since else 0)
    raise typer.Exit(1 if done.held_since else 0)


def _print_held(rows) -> None:
    if not rows:
        console.print("Nothing is held back for review.")
        return
    from rich.table import Table

    table = Table(title="held back for review (okrsync accept METRIC publishes them)")
    for col in ("metric", "day", "value", "why"):
        table.add_column(col)
    for r in rows:
        table.add_row(escape(r.metric_id), r.day.isoformat(), f"{r.value:g}", escape(r.reason))
    console.print(table)


def backfill(
    start: Annotated[str, typer.Option("--from", help="first day to replay, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="last day to replay, YYYY-MM-DD (not after today)")],
    every: Annotated[str, typer.Option("--every", help="day or week")] = "day",
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a run of this config")] = 120.0,
) -> None:
    """Replay past days from the sources that can answer for them (csv date_column, sql :as_of, {as_of}
    in JQL, HubSpot, Salesforce or API texts); others are skipped with a note. Later stored days are
    evaluated again, and the newest is published once at the end."""
    from okrsync.cli.app import clock
    from okrsync.sync.backfill import days_between

    if every not in ("day", "week"):
        raise typer.BadParameter("expected day or week", param_hint="--every")
    config = current_config()
    first, last = _day(start, "--from"), _day(end, "--to")
    today, cycle = clock(config).date(), config.cycle
    if first > last:
        raise typer.BadParameter(f"{first} is after --to {last}", param_hint="--from")
    if last > today:
        raise typer.BadParameter(f"{last} is in the future: only past days can be replayed", param_hint="--to")
    if first < cycle.start or last > cycle.end:
        raise typer.BadParameter(f"days must lie in cycle {cycle.name} ({cycle.start} to {cycle.end})")
    _print_backfill(_replay(config, days_between(first, last, 7 if every == "week" else 1), wait))


def _replay(config, days: list[date], wait: float):
    """The backfill of ``days``, with a progress bar on a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from okrsync.cli.app import clock
    from okrsync.sync.backfill import backfill
    from okrsync.sync.persist import open_store

    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
    store = open_store(config)
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("", total=len(days))

            def advance(day: date) -> None:
                progress.update(task, advance=1, description=str(day))

            return backfill(config, days, now=clock(config), store=store, wait=wait, on_day=advance)
    finally:
        store.close()


def _print_backfill(report) -> None:
    if not report.days:
        for metric, why in sorted(report.skipped.items()):
            err_console.print(f"[yellow]skipped[/] {escape(metric)}: {escape(why)}")
        err_console.print("Nothing replayed: no metric of this config can answer for a past day.")
        raise typer.Exit(1)
    console.print(
        f"Replayed {len(report.days)} day(s), {report.days[0]} to {report.days[-1]}: "
        f"{len(report.replayed)} metric(s) read for the past ({', '.join(report.replayed) or 'none'})."
    )
    for metric, why in sorted(report.skipped.items()):
        err_console.print(f"[yellow]skipped[/] {escape(metric)}: {escape(why)}")
    for day, count in sorted(report.failed.items()):
        err_console.print(f"[red]✗[/] {day}: {count} metric(s) failed (`okrsync status --as-of {day}` shows them)")
    if report.reevaluated:
        console.print(f"Evaluated {len(report.reevaluated)} later stored day(s) again on the new history.")
    if report.published is not None:
        console.print(f"Published the newest day, {report.published.document.day}.")
    raise typer.Exit(1 if report.failed else 0)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None
