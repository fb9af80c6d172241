"""`okrsync cycle next`: the config moved to its next cycle, written in place."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from okrsync.cli.app import console, current_config, err_console

cycle_app = typer.Typer(help="Move the config to its next cycle.")


@cycle_app.command("next")
def cycle_next(
    name: Annotated[str | None, typer.Option("--name", help="the new cycle's name (needed for custom names)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the new cycle, change nothing")] = False,
) -> None:
    """Write the next cycle (2026-Q4 -> 2027-Q1, with its dates) into the config, keeping everything else.
    The old cycle's history stays in the store: `okrsync status --cycle 2026-Q4` shows it.

    Only the cycle's name, start and end change in the file (an anchored value keeps its anchor, an alias
    value is replaced, a name that YAML would read otherwise is quoted); the edited text must load before
    it replaces the file, atomically (okrsync.config.writing.write_config). Errors (read-only file or folder, an
    edit that would not load) exit 2 and leave the file as it was."""
    from okrsync.cli.app import state
    from okrsync.config.cycles import next_cycle, rolled_over
    from okrsync.config.writing import check_writable, write_config

    config = current_config()
    old = config.cycle
    try:
        new = next_cycle(old.name, old.start, old.end, name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--name") from None
    if not dry_run:
        check_writable(state.config_path)  # before anything is printed: the one line says why
    raw, text, moved = rolled_over(state.config_path, new)
    console.print(
        f"cycle {escape(old.name)} ({old.start} to {old.end}) -> {escape(new.name)} ({new.start} to {new.end})"
    )
    _print_meaning_changes(config, new.name)
    if dry_run:
        return
    write_config(state.config_path, text.encode("utf-8"), expected=raw)
    dated = [
        kr.id
        for _, kr in moved.key_results()
        if any(d < new.start for d in (kr.due, kr.start_date, *(p.date for p in kr.phases)) if d)
    ]
    console.print(f"Wrote {escape(str(state.config_path))}.")
    if dated:
        err_console.print(
            f"[yellow]note:[/] {len(dated)} key result(s) still carry dates of the old cycle "
            f"({', '.join(dated)}): `okrsync validate` lists them"
        )


def _print_meaning_changes(config, new_name: str) -> None:
    from okrsync.config.cycles import meaning_changes

    again, on = meaning_changes(config)
    for title, found in ((f"start again in {escape(new_name)}", again), ("keep counting across cycles", on)):
        if found:
            console.print(f"Metrics that {title}:")
            for metric_id, why in found.items():
                console.print(f"  {escape(metric_id)}: {escape(why)}")
