"""``okrsync import FILE -o team.yaml``: a Viva Goals export or any OKR sheet (.csv, .xlsx) as a commented config.

The work is okrsync.config.importing's (rows in, config text out); this command parses the options, checks the
text loads as a config, prints which column became which key, writes the file and records each key result's
value in the file as a sticky override (what ``okrsync override KR VALUE --sticky`` stores), once: a value
already active for that key result is not recorded again. Exit 2 for a file it cannot read (every problem,
each with its line), 3 when the store cannot record the values (the config is written).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from okrsync.cli.app import app, clock, console, err_console

if TYPE_CHECKING:
    from okrsync.config import Config
    from okrsync.config.importing import Imported


GLOSS = {  # what a key does in the config, where it is not a key of the same name
    "type": "objective or key result",
    "goal_type": "kind (aspirational or committed)",
    "start_date": "start_date",
    "end_date": "due",
    "current": "the value (a sticky override)",
    "progress": "the value: start + progress × (target − start) (a sticky override)",
    "parent": "parent (its objective, or the objective it aligns to)",
    "id": "finds parents by their Id",
    "period": "the cycle's name",
    "unit": "a comment",
    "tags": "a comment",
}


@app.command(name="import")
def import_file(
    file: Annotated[Path, typer.Argument(help="a .csv or .xlsx file: a Viva Goals Explorer export, or any OKR sheet")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the config to write (team.yaml)")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="the .xlsx sheet [default: the first]")] = None,
    cycle: Annotated[str | None, typer.Option("--cycle", help="the cycle's name [default: the file's Period]")] = None,
    start: Annotated[str | None, typer.Option("--start", help="the cycle's first day [default: the file's]")] = None,
    end: Annotated[str | None, typer.Option("--end", help="the cycle's last day [default: the file's]")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="the cycle's time zone (IANA)")] = "UTC",
    namespace: Annotated[str | None, typer.Option("--namespace", help="the team's namespace in a shared store")] = None,
    store: Annotated[str | None, typer.Option("--store", help="the store URL to write [default: okrsync.db]")] = None,
    no_overrides: Annotated[bool, typer.Option("--no-overrides", help="record no values from the file")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the config and the mapping; write nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing config that differs")] = False,
) -> None:
    """Turn a Viva Goals export or an OKR sheet into a config: objectives, key results (manual: bind their
    metrics later), alignment, and each key result's value in the file as a sticky override."""
    from okrsync.config.importing import Options, UnreadableImport, import_table, read_table
    from okrsync.config.load import parse_config

    options = Options(cycle, _day(start, "--start"), _day(end, "--end"), _zone(timezone), namespace, store)
    if (options.start is None) != (options.end is None):
        raise typer.BadParameter("give both --start and --end, or neither (the file's dates are used)")
    try:
        imported = import_table(read_table(file, sheet), options)
    except UnreadableImport as exc:
        err_console.print(f"[red bold]{escape(str(file))} cannot be imported: {len(exc.problems)} problem(s)[/]")
        for problem in exc.problems:
            err_console.print(f"  [red]✗[/] {escape(problem)}")
        raise typer.Exit(2) from None
    config = parse_config(imported.text, str(output), base_path=output)  # what `okrsync validate` loads
    _show(imported, config, err_console if dry_run else console)
    if dry_run:
        typer.echo(imported.text, nl=False)
        err_console.print("dry run: nothing written, no value recorded")
        return
    _write(output, imported.text, force)
    if no_overrides or not imported.values:
        console.print("no value recorded" + (" (--no-overrides)" if no_overrides else ": the file holds none"))
        return
    _record(config, imported, Path(file).name)


def _day(text: str | None, option: str) -> date | None:
    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {name!r} (an IANA name such as Europe/Oslo)") from None
    return name


def _show(imported: Imported, config: Config, out: Console) -> None:
    """Which column became which key, the columns not used, the rows left out, what the config holds."""
    out.print("columns:")
    width = max((len(header) for header, _ in imported.mapping), default=0)
    for header, key in imported.mapping:
        out.print(f"  {escape(header.ljust(width))}  → {GLOSS.get(key, key)}")
    out.print(f"not used: {escape(', '.join(imported.unused)) or 'none'}")
    for row in imported.left_out:
        out.print(f"left out: {escape(row)}")
    krs = len(config.key_results())
    out.print(f"{len(config.objectives)} objectives, {krs} key results (manual), {len(imported.values)} values")


def _write(output: Path, text: str, force: bool) -> None:
    """A new file, or the same text again (nothing to do), or with --force a file that differs, replaced whole."""
    from okrsync.config.writing import write_config

    data = text.encode("utf-8")
    if output.is_dir():
        raise typer.BadParameter(f"{output} is a folder: give the config file's path", param_hint="-o")
    if not output.exists():
        try:
            with output.open("xb") as new:
                new.write(data)
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {output}: {exc.strerror}", param_hint="-o") from None
        console.print(f"wrote {escape(str(output))}")
        return
    old = output.read_bytes()
    if old == data:
        console.print(f"{escape(str(output))} is unchanged")
        return
    if not force:
        err_console.print(
            f"[red]error:[/] {escape(str(output))} exists and differs from this import: --force replaces it "
            "(--dry-run shows the new text)"
        )
        raise typer.Exit(2)
    write_config(output, data, expected=old)
    console.print(f"replaced {escape(str(output))}")


def _record(config: Config, imported: Imported, source: str) -> None:
    """Each value as a sticky override, unless the key result's active value is that same one, or was set by
    hand (``okrsync override``) since an import: an owner's word is newer than the file's."""
    from okrsync.errors import StoreError
    from okrsync.sync.persist import open_store

    recorded, kept, by_hand = 0, 0, []
    note = f"imported from {source}"
    try:
        store = open_store(config)
        try:
            now = clock(config)
            active = store.active_overrides(config.namespace)
            for kr_id, value, _where in imported.values:
                if kr_id in active and not (active[kr_id].note or "").startswith("imported from "):
                    by_hand.append(kr_id)  # an owner's word since the import: the file's value is older
                elif kr_id in active and active[kr_id].sticky and active[kr_id].value == value:
                    kept += 1
                else:
                    store.add_override(config.namespace, kr_id, value, True, note, now, manual=True)
                    recorded += 1
        finally:
            store.close()
    except StoreError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        err_console.print(f"{escape(str(config.path))} is written; import again to record the values")
        raise typer.Exit(3) from None
    console.print(f"recorded {recorded} value(s) as sticky overrides; {kept} already recorded")
    if by_hand:
        console.print(f"kept the values set with `okrsync override` since: {escape(', '.join(by_hand))}")
