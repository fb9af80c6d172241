"""The commands: each parses its arguments, calls the pipeline or the store, and presents."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.markup import escape
from rich.text import Text

from okrsync.cli.app import Wait, app, clock, console, current_config, err_console, parse_as_of, state
from okrsync.defaults import DEFAULT_CONFIG

if TYPE_CHECKING:  # the config models, the views and the status document load when a command runs, not for --help
    from okrsync.config import Config
    from okrsync.okr.status import KrStatus


@app.command()
def validate() -> None:
    """Check the config (all problems at once, with file:line) and lint OKR quality (warnings)."""
    from okrsync.errors import ConfigError
    from okrsync.validate.checks import problems
    from okrsync.validate.lint import lint

    config = current_config()
    errors, notes = problems(config)
    if errors:
        raise ConfigError(errors)
    warnings = lint(config)
    n_krs = len(config.key_results())
    console.print(
        f"[green]✓[/] {escape(str(state.config_path))}: {len(config.objectives)} objectives, {n_krs} key "
        f"results, {len(config.kpis)} KPIs, {len(config.metrics)} metrics, "
        f"{len(config.connections)} connections"
    )
    for w in [*map(str, warnings), *notes]:
        console.print(f"[yellow]warning[/] {escape(w)}")


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="evaluate as of this date (YYYY-MM-DD) or ISO datetime; default now")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="fetch and evaluate, print what would be stored and written, change nothing"),
    ] = False,
    prefect: Annotated[
        bool, typer.Option("--prefect", help="run as a tracked Prefect flow (default when PREFECT_API_URL is set)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only errors")] = False,
    wait: Wait = 120.0,
    future: Annotated[bool, typer.Option("--future", help="allow an --as-of after now")] = False,
    publish_past: Annotated[
        bool, typer.Option("--publish", help="write the outputs even when a newer day is already stored")
    ] = False,
) -> None:
    """Sync now: fetch every metric, evaluate, store, write the outputs."""
    from okrsync.cli.views import print_errors, print_summary, status_tree

    config = current_config()
    moment = parse_as_of(as_of, config, future=future)
    if (prefect or os.environ.get("PREFECT_API_URL")) and not dry_run:
        raise typer.Exit(_run_as_flow(moment, quiet, wait))

    result = _run_with_progress(config, moment, dry_run, quiet, wait, publish_past)
    if not quiet:
        console.print(status_tree(result.document))
        print_summary(result)
    if result.unpublished:
        err_console.print(f"[yellow]note:[/] {escape(result.unpublished)}")
        if not dry_run:  # the earlier day's values may change later days (start: auto, forecasts, trends)
            n = len(result.later_days)
            err_console.print(f"Evaluated {n} later stored day(s) again; published the newest.")
    print_errors(result.document)
    for e in result.output_errors:
        err_console.print(f"[red]✗[/] output {escape(e.output or '')}: {escape(e.message)}")
    raise typer.Exit(result.exit_code)


def _run_as_flow(moment: datetime, quiet: bool, wait: float) -> int:
    """The same run as a tracked Prefect flow; prints what a plain run prints and returns its exit code.

    Without PREFECT_HOME, Prefect's files (the temporary server's database when no PREFECT_API_URL is
    set) go to `.okrsync/prefect` here, where the user finds them, not silently to ~/.prefect."""
    if "prefect" not in sys.modules and not os.environ.get("PREFECT_HOME"):
        home = Path(".okrsync/prefect").resolve()
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    if quiet and "prefect" not in sys.modules:  # -q: Prefect's INFO lines (run created, finished) too
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from okrsync.cli.views import print_errors, status_tree
    from okrsync.flows.sync_flow import sync_flow
    from okrsync.okr.status import StatusDocument

    flow_state = sync_flow(str(state.config_path), moment.isoformat(), wait, return_state=True)  # type: ignore[call-arg]  # sync_flow is the Flow (rebound as @flow does); mypy keeps the function's type
    summary = flow_state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise summary  # the sync could not complete: the same message and exit code as a plain run
    doc = StatusDocument.from_dict(summary["document"])
    if not quiet:
        console.print(status_tree(doc))
        console.print(f"Prefect flow run ended [bold]{escape(flow_state.name)}[/]: {summary['krs']} key results")
    print_errors(doc)
    for e in summary["output_errors"]:
        err_console.print(f"[red]✗[/] output {escape(e['output'] or '')}: {escape(e['message'])}")
    return summary["exit_code"]


def _run_with_progress(config: Config, moment: datetime, dry_run: bool, quiet: bool, wait: float, past: bool):
    from okrsync.sync.sequence import sync

    now = clock(config)
    if not console.is_terminal or quiet:
        return sync(config, moment, now=now, dry_run=dry_run, wait=wait, publish_past=past)
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def on_event(event: str, connection: str, detail: str) -> None:
            if event == "start":
                tasks[connection] = progress.add_task(f"fetching {connection} ({detail})", total=1)
            else:
                progress.update(tasks[connection], completed=1, description=f"{connection}: {detail}")

        return sync(config, moment, now=now, dry_run=dry_run, on_event=on_event, wait=wait, publish_past=past)


@app.command()
def status(
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    every: Annotated[bool, typer.Option("--all", help="every namespace in the store: the company tree")] = False,
    objectives: Annotated[
        bool, typer.Option("--objectives", help="with --all: every team's objectives, not only the aligned ones")
    ] = False,
    krs: Annotated[
        bool, typer.Option("--krs", help="with --all: every objective with its key results, and every team's KPIs")
    ] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="show the status stored for this past day")] = None,
    cycle: Annotated[str | None, typer.Option("--cycle", help="another (e.g. the previous) cycle's name")] = None,
) -> None:
    """Show the latest stored status: objectives and KRs with progress, expected, status, stale marks."""
    from okrsync.cli.views import print_errors, status_tree
    from okrsync.okr.alignment import refresh_parent_notes, with_parent_notes
    from okrsync.okr.status import StatusDocument
    from okrsync.sync.persist import open_store, parent_documents

    if format not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--format")
    config = current_config()
    day = parse_as_of(as_of, config).date() if as_of else None
    if (krs or objectives) and not every:
        flag = "--krs" if krs else "--objectives"
        raise typer.BadParameter(f"{flag} goes with --all (`okrsync status` shows this team's objectives and KRs)")
    if every:
        from okrsync.cli.company_status import status_all

        return status_all(config, format, day, "krs" if krs else "objectives" if objectives else "teams")
    store = open_store(config, access="read")
    try:
        name = cycle or config.cycle.name
        latest = store.run_on(config.namespace, name, day) if day else store.latest_run(config.namespace, name)
        earlier = None if latest or cycle else store.latest_run(config.namespace)
        doc = StatusDocument.from_dict(latest.document) if latest and latest.document else None
        parents = parent_documents(store, doc, day) if doc else {}
    finally:
        store.close()
    if latest is None or doc is None:
        when = f"on or before {day}" if day else "yet"
        hint = f" ({earlier.cycle} has: `okrsync status --cycle {earlier.cycle}`)" if earlier else ""
        err_console.print(f"No sync has been stored for {name} {when}: run `okrsync run` first{hint}.")
        raise typer.Exit(1)
    doc = refresh_parent_notes(doc, parents)
    if format == "json":
        shown = with_parent_notes(cast(dict, latest.document), doc)
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
    else:
        console.print(status_tree(doc))
        print_errors(doc)


@app.command()
def history(
    kr_id: Annotated[str, typer.Argument(help="key result id")],
    cycle: Annotated[str | None, typer.Option("--cycle", help="another (e.g. the previous) cycle's name")] = None,
) -> None:
    """Values of one key result over the cycle, a row per synced day."""
    from okrsync.cli.views import history_table
    from okrsync.sync.persist import open_store

    config = current_config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known and not cycle:  # an older cycle may hold key results the config no longer has
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    store = open_store(config, access="read")
    try:
        rows = store.kr_history(config.namespace, cycle or config.cycle.name, kr_id)
    finally:
        store.close()
    if not rows:
        err_console.print(f"No stored results for {kr_id} in {cycle or config.cycle.name} yet.")
        raise typer.Exit(1)
    owner, spec = next(((o, kr) for o, kr in config.key_results() if kr.id == kr_id), (None, None))
    metric = config.metrics.get(spec.metric) if spec and spec.metric else None
    aspirational = owner is not None and owner.kind == "aspirational"
    console.print(history_table(kr_id, cycle or config.cycle.name, rows, metric.unit if metric else None, aspirational))


@app.command()
def override(
    kr_id: Annotated[str, typer.Argument(help="key result id")],
    value: Annotated[float | None, typer.Argument(help="the value to use instead of the fetched one")] = None,
    sticky: Annotated[
        bool, typer.Option("--sticky", help="keep it until --clear (default: the next sync replaces it)")
    ] = False,
    clear: Annotated[bool, typer.Option("--clear", help="remove the override of this key result")] = False,
    note: Annotated[str | None, typer.Option("--note", help="why (shown in status and reports)")] = None,
    wait: Wait = 120.0,
) -> None:
    """Set a key result's value by hand, once (the next sync replaces it) or sticky, and re-evaluate."""
    from okrsync.cli.views import STATUS_STYLE
    from okrsync.okr.numbers import LIMIT, checked
    from okrsync.present.formats import label, pct
    from okrsync.sync.persist import open_store
    from okrsync.sync.sequence import reevaluate

    config = current_config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known:
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    if clear == (value is not None):
        raise typer.BadParameter("give either a VALUE or --clear")
    try:
        value = None if value is None else checked(value)  # the rule of a fetched value, before anything is stored
    except ValueError:
        raise typer.BadParameter(
            f"must be a finite number within ±{LIMIT:.0e}, not {value:g}; write the value in its metric's unit "
            "as a plain number (e.g. 88 or 1250000)",
            param_hint="VALUE",
        ) from None
    manual = not any(kr.metric for _, kr in config.key_results() if kr.id == kr_id)
    sticky = sticky or manual  # a manual KR's value is its only one: kept
    store = open_store(config)
    try:
        now = clock(config)
        if value is None:  # --clear (checked above: a VALUE or --clear)
            n = store.end_overrides(config.namespace, now, kr_id=kr_id)
            console.print(f"cleared {n} override(s) of {kr_id}")
        else:
            store.add_override(config.namespace, kr_id, value, sticky, note, now, manual=manual)
            console.print(f"{kr_id} = {value:g} ({'sticky until --clear' if sticky else 'until the next sync'})")
        result = reevaluate(config, store, now=now, wait=wait)
    finally:
        store.close()
    if result is None:
        console.print("No sync stored yet: the override applies from the first `okrsync run`.")
        return
    kr = cast("KrStatus", result.document.kr(kr_id))  # a key result of the config (checked above): in its document
    console.print(Text.assemble(f"{kr_id}: progress {pct(kr.progress)}, ", (label(kr.status), STATUS_STYLE[kr.status])))


connections_app = typer.Typer(no_args_is_help=True, help="Check the connections of the config.")
app.add_typer(connections_app, name="connections")


@connections_app.command("test")
def connections_test(
    as_of: Annotated[str | None, typer.Option("--as-of", help="date for the {as_of} placeholders")] = None,
) -> None:
    """Check every connection (auth, reachability) and preview each metric's value, storing nothing."""
    from okrsync.errors import SourceError
    from okrsync.present.formats import fmt_value
    from okrsync.sync.fetch import check_connection, fetch_connection
    from okrsync.sync.plan import compile_plan as plan

    config = current_config()
    sync_plan = plan(config, parse_as_of(as_of, config))
    failed = 0
    for name in config.connections:
        kind = config.connections[name].type
        try:
            detail = check_connection(config, name)
        except SourceError as exc:
            failed += 1
            console.print(f"[red]✗[/] [bold]{escape(name)}[/] ({kind}): {escape(exc.message)}")
            continue
        console.print(f"[green]✓[/] [bold]{escape(name)}[/] ({kind}): {escape(detail)}")
        for metric_id, value in sorted(fetch_connection(sync_plan, name).items()):
            if isinstance(value, SourceError):
                failed += 1
                console.print(f"    [red]✗[/] {escape(metric_id)}: {escape(value.message)}")
            else:
                unit = config.metrics[metric_id].unit
                console.print(f"    [green]✓[/] {escape(metric_id)} = {fmt_value(value.value, unit)}")
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here instead of stdout")] = None,
) -> None:
    """Print (or write) the JSON Schema of the config, for editor autocompletion."""
    from okrsync.config.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


STARTER = """\
# yaml-language-server: $schema=okrsync.schema.json
# okrsync config: where each KPI lives and which key results it drives.
# Check it with `okrsync validate`, sync with `okrsync run`, look with `okrsync status`.
version: 1
cycle: {{name: {name}, start: {start}, end: {end}, timezone: UTC}}
store: sqlite:///okrsync.db            # or postgresql+psycopg://user@host/db; OKRSYNC_STORE_URL overrides

connections:                            # credentials only as ${{ENV_VAR}} references
  files: {{type: csv, root: data/}}
  # warehouse: {{type: sql, url: "${{WAREHOUSE_URL}}"}}   # inside {{...}} a ${{...}} value must be quoted

metrics:                                # defined once, used by any number of KRs and KPIs
  signups: {{connection: files, path: signups.csv, column: count, aggregate: sum}}
  # paid: {{connection: warehouse, query: "select count(*) from users where paid_at >= :cycle_start"}}
  # conversion: {{formula: "paid / signups * 100", unit: "%"}}

objectives:
  - id: grow
    title: Grow self-serve adoption
    owner: you@example.com
    kind: committed                     # or aspirational (70% counts as success)
    key_results:                        # kind: increase/decrease (inferred), at_least, at_most, between, milestone
      - {{id: signups, title: "Signups from 0 to 1,000", metric: signups, start: 0, target: 1000}}
      # - {{id: conversion, title: "Conversion at least 5%", metric: conversion, kind: at_least, target: 5}}

kpis: []                                # e.g. {{id: churn, metric: churn_rate, healthy: {{max: 2.0}}}}

outputs:
  - {{type: report, path: reports/okr.html}}   # also .md, .json, .csv
"""


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the starter config")] = Path(DEFAULT_CONFIG),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented starter config for the current quarter."""
    from okrsync.config.schema import json_schema

    if path.exists() and not force:
        raise typer.BadParameter(f"{path} exists; use --force to overwrite", param_hint="PATH")
    today = date.today()
    q = (today.month - 1) // 3
    start = date(today.year, 3 * q + 1, 1)
    end = date(today.year + (q == 3), (3 * q + 4 - 1) % 12 + 1, 1).toordinal() - 1
    path.write_text(STARTER.format(name=f"{today.year}-Q{q + 1}", start=start, end=date.fromordinal(end)))
    schema_path = path.parent / "okrsync.schema.json"  # the first line points editors at it
    schema_path.write_text(json.dumps(json_schema(), indent=2) + "\n")
    console.print(f"wrote {path} and {schema_path}; next: edit it, then `okrsync -c {path} validate`")
