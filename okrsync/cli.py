"""`okrsync`: the front door. Parses arguments, calls the pipeline or the store, presents results.

Exit codes: 0 all good · 1 the sync completed but a source or an output failed (or there is
nothing to show yet) · 2 bad config or usage · 3 the sync could not complete (store unreachable).
User errors print one located, coloured message and no traceback; ``--verbose`` adds details.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from okrsync.config import DEFAULT_CONFIG, Config, json_schema, load_config
from okrsync.document import iter_krs
from okrsync.errors import ConfigError, OkrsyncError, StoreError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="OKRs that track themselves: pull KPI values, evaluate key results, write status back.",
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

STATUS_STYLE = {
    "done": "bold green",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "bold red",
    "no_data": "dim",
}
STATUS_LABEL = {
    "done": "done",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_data": "no data",
}


class State:
    config_path: Path = Path(DEFAULT_CONFIG)
    verbose: bool = False


state = State()


@app.callback()
def main_options(
    config: Annotated[
        Path | None, typer.Option("-c", "--config", help="config file [default: ./okrsync.yaml or $OKRSYNC_CONFIG]")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show details and tracebacks")] = False,
) -> None:
    state.config_path = config or Path(os.environ.get("OKRSYNC_CONFIG") or DEFAULT_CONFIG)
    state.verbose = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # Client libraries log full URLs (httpx at INFO) or request headers and bodies (jira, urllib3 at
    # DEBUG), which hold tokens and webhook URLs: they stay at WARNING even with --verbose.
    for noisy in ("httpx", "httpcore", "urllib3", "requests", "requests_oauthlib", "jira", "google", "gspread"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _config() -> Config:
    return load_config(state.config_path)


def _now(config: Config) -> datetime:
    return datetime.now(config.cycle.tz)


def _parse_as_of(text: str | None, config: Config) -> datetime:
    """A date means 00:00 of that day in the cycle's time zone; a datetime without zone likewise."""
    if text is None:
        return _now(config)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=config.cycle.tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO datetime", param_hint="--as-of"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=config.cycle.tz)


# --------------------------------------------------------------------------- presenting


def bar(progress: float | None, expected: float | None, width: int = 20, style: str = "green") -> Text:
    text = Text()
    if progress is None:
        return Text("·" * width, style="dim")
    filled = round(max(0.0, min(1.0, progress)) * width)
    mark = None if expected is None else min(width - 1, int(expected * width))
    for i in range(width):
        if i == mark:
            text.append("│", style="bold")
        elif i < filled:
            text.append("█", style=style)
        else:
            text.append("░", style="dim")
    return text


def _pct(x: float | None) -> str:
    return "  –" if x is None else f"{x * 100:3.0f}%"


def status_tree(doc: dict) -> Tree:
    from okrsync.report import _target_text, fmt_value

    tree = Tree(Text.assemble(("OKR status ", "bold"), (doc["cycle"], "bold cyan"), f"  as of {doc['as_of']}"))
    nodes: dict[str, Tree] = {}
    by_id = {o["id"]: o for o in doc["objectives"]}

    def add(o: dict, parent: Tree) -> None:
        style = STATUS_STYLE[o["status"]]
        label = Text.assemble(
            bar(o["progress"], o["expected"], style=style),
            " ",
            (_pct(o["progress"]), "bold"),
            f" exp {_pct(o['expected']).strip()}  ",
            (STATUS_LABEL[o["status"]], style),
            "  ",
            (o["title"], "bold"),
            (f"  {o['owner']}" if o["owner"] else "", "dim"),
            (" · aspirational" if o["kind"] == "aspirational" else "", "dim"),
        )
        node = parent.add(label)
        nodes[o["id"]] = node
        for kr in o["key_results"]:
            kstyle = STATUS_STYLE[kr["status"]]
            line = Text.assemble(
                bar(kr["progress"], kr["expected"], 14, kstyle),
                " ",
                _pct(kr["progress"]),
                f" exp {_pct(kr['expected']).strip():>4}  ",
                (f"{STATUS_LABEL[kr['status']]:<9}", kstyle),
                " ",
                kr["title"],
                (f"  {fmt_value(kr['value'], kr['unit'])} → {_target_text(kr)}", "dim"),
            )
            if kr["forecast"]:
                line.append(f"  forecast {fmt_value(kr['forecast']['value'], kr['unit'])}", style="dim")
            if kr["stale"]:
                line.append(f"  ⚠ stale: {kr['stale_reason']}", style="yellow")
            if kr["override"]:
                line.append("  ✎ manual value", style="magenta")
            node.add(line)
        for cid in o.get("children", []):
            if cid in by_id:
                add(by_id[cid], node)

    for o in doc["objectives"]:
        if not o["parent"] or o["parent"] not in by_id:
            add(o, tree)
    if doc["kpis"]:
        kpis = tree.add(Text("KPIs", style="bold"))
        for k in doc["kpis"]:
            health = (
                ("no data", "dim")
                if k["healthy"] is None
                else (("healthy", "green") if k["healthy"] else ("unhealthy", "bold red"))
            )
            trend = "" if k["trend"] is None else f"  trend {k['trend']:+.2f}"
            kpis.add(
                Text.assemble(
                    (f"{health[0]:<9}", health[1]),
                    " ",
                    k["title"],
                    (f"  {fmt_value(k['value'], k['unit'])}{trend}", "dim"),
                    ("  ⚠ stale" if k["stale"] else "", "yellow"),
                )
            )
    return tree


def print_errors(doc: dict) -> None:
    for e in doc.get("errors", []):
        where = f"connection {e['connection']}" if e["connection"] else "formula"
        err_console.print(f"[red]✗[/] metric [bold]{escape(e['metric'])}[/] ({escape(where)}): {escape(e['message'])}")


# --------------------------------------------------------------------------- commands


@app.command()
def validate() -> None:
    """Check the config (all problems at once, with file:line) and lint OKR quality (warnings)."""
    from okrsync.lint import lint

    config = _config()
    warnings = lint(config)
    n_krs = len(config.key_results())
    console.print(
        f"[green]✓[/] {escape(str(state.config_path))}: {len(config.objectives)} objectives, {n_krs} key "
        f"results, {len(config.kpis)} KPIs, {len(config.metrics)} metrics, "
        f"{len(config.connections)} connections"
    )
    for w in warnings:
        console.print(f"[yellow]warning[/] {escape(str(w))}")


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
) -> None:
    """Sync now: fetch every metric, evaluate, store, write the outputs."""
    from okrsync import pipeline

    config = _config()
    moment = _parse_as_of(as_of, config)
    if (prefect or os.environ.get("PREFECT_API_URL")) and not dry_run:
        from flows.sync_flow import sync_flow

        summary = sync_flow(str(state.config_path), moment.isoformat())
        if not quiet:
            console.print(
                f"Prefect flow finished: {summary['krs']} key results, {len(summary['errors'])} failed metric(s)"
            )
        raise typer.Exit(summary["exit_code"])

    result = _run_with_progress(pipeline, config, moment, dry_run, quiet)
    if not quiet:
        console.print(status_tree(result.document))
        _summary(result)
    print_errors(result.document)
    for e in result.output_errors:
        err_console.print(f"[red]✗[/] output {escape(e.output or '')}: {escape(e.message)}")
    raise typer.Exit(result.exit_code)


def _run_with_progress(pipeline, config: Config, moment: datetime, dry_run: bool, quiet: bool):
    show = console.is_terminal and not quiet
    if not show:
        return pipeline.sync(config, moment, now=_now(config), dry_run=dry_run)
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def on_event(event: str, connection: str, detail: str) -> None:
            if event == "start":
                tasks[connection] = progress.add_task(f"fetching {connection} ({detail})", total=1)
            else:
                progress.update(tasks[connection], completed=1, description=f"{connection}: {detail}")

        return pipeline.sync(config, moment, now=_now(config), dry_run=dry_run, on_event=on_event)


def _summary(result) -> None:
    counts: dict[str, int] = {}
    krs = [kr for o in result.document["objectives"] for kr in o["key_results"]]
    for kr in krs:
        counts[kr["status"]] = counts.get(kr["status"], 0) + 1
    parts = [f"[{STATUS_STYLE[s]}]{n} {STATUS_LABEL[s]}[/]" for s, n in counts.items()]
    stale = sum(kr["stale"] for kr in krs)
    head = "[bold]Dry run[/] (nothing stored or written)" if result.dry_run else "[bold]Synced[/]"
    console.print(
        f"{head}: {len(krs)} key results · "
        + " · ".join(parts)
        + (f" · [yellow]{stale} stale[/]" if stale else "")
        + f" · {len(result.fetched)} values fetched, {len(result.errors)} failed"
    )
    if result.dry_run:
        console.print(f"would store {len(result.fetched)} metric value(s) and {len(krs)} key result(s)")
    for line in result.writes:
        console.print(f"  {escape(line)}")


@app.command()
def status(
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Show the latest stored status: objectives and KRs with progress, expected, status, stale marks."""
    from okrsync.pipeline import open_store

    if format not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--format")
    config = _config()
    store = open_store(config)
    try:
        latest = store.latest_run(config.namespace, config.cycle.name)
    finally:
        store.close()
    if latest is None or not latest.document:
        err_console.print(f"No sync has been stored for {config.cycle.name} yet: run `okrsync run` first.")
        raise typer.Exit(1)
    if format == "json":
        sys.stdout.write(json.dumps(latest.document, indent=2, ensure_ascii=False) + "\n")
    else:
        console.print(status_tree(latest.document))
        print_errors(latest.document)


@app.command()
def history(kr_id: Annotated[str, typer.Argument(help="key result id")]) -> None:
    """Values of one key result over the cycle, a row per synced day."""
    from okrsync.pipeline import open_store

    config = _config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known:
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    store = open_store(config)
    try:
        rows = store.kr_history(config.namespace, config.cycle.name, kr_id)
    finally:
        store.close()
    if not rows:
        err_console.print(f"No stored results for {kr_id} in {config.cycle.name} yet.")
        raise typer.Exit(1)
    table = Table(title=f"{kr_id} in {config.cycle.name}")
    for col in ("day", "value", "progress", "expected", "status", ""):
        table.add_column(col, justify="right" if col in ("value", "progress", "expected") else "left")
    for r in rows:
        marks = ("stale " if r["stale"] else "") + ("manual" if r["overridden"] else "")
        table.add_row(
            r["day"].isoformat(),
            "–" if r["value"] is None else f"{r['value']:,.2f}",
            _pct(r["progress"]),
            _pct(r["expected"]),
            Text(STATUS_LABEL[r["status"]], style=STATUS_STYLE[r["status"]]),
            marks,
        )
    console.print(table)


@app.command()
def override(
    kr_id: Annotated[str, typer.Argument(help="key result id")],
    value: Annotated[float | None, typer.Argument(help="the value to use instead of the fetched one")] = None,
    sticky: Annotated[
        bool, typer.Option("--sticky", help="keep it until --clear (default: the next sync replaces it)")
    ] = False,
    clear: Annotated[bool, typer.Option("--clear", help="remove the override of this key result")] = False,
    note: Annotated[str | None, typer.Option("--note", help="why (shown in status and reports)")] = None,
) -> None:
    """Set a key result's value by hand, once (the next sync replaces it) or sticky, and re-evaluate."""
    from okrsync.pipeline import open_store, reevaluate

    config = _config()
    known = {kr.id for _, kr in config.key_results()}
    if kr_id not in known:
        raise typer.BadParameter(f"no key result {kr_id!r} (known: {', '.join(sorted(known))})", param_hint="KR_ID")
    if clear == (value is not None):
        raise typer.BadParameter("give either a VALUE or --clear")
    store = open_store(config)
    try:
        now = _now(config)
        if clear:
            n = store.end_overrides(config.namespace, now, kr_id=kr_id)
            console.print(f"cleared {n} override(s) of {kr_id}")
        else:
            store.add_override(config.namespace, kr_id, value, sticky, note, now)
            console.print(f"{kr_id} = {value:g} ({'sticky until --clear' if sticky else 'until the next sync'})")
        result = reevaluate(config, store, now=now)
    finally:
        store.close()
    if result is None:
        console.print("No sync stored yet: the override applies from the first `okrsync run`.")
        return
    kr = next(k for _, k in iter_krs(result.document) if k["id"] == kr_id)
    console.print(
        Text.assemble(
            f"{kr_id}: progress {_pct(kr['progress']).strip()}, ",
            (STATUS_LABEL[kr["status"]], STATUS_STYLE[kr["status"]]),
        )
    )


connections_app = typer.Typer(no_args_is_help=True, help="Check the connections of the config.")
app.add_typer(connections_app, name="connections")


@connections_app.command("test")
def connections_test(
    as_of: Annotated[str | None, typer.Option("--as-of", help="date for the {as_of} placeholders")] = None,
) -> None:
    """Check every connection (auth, reachability) and preview each metric's value, storing nothing."""
    from okrsync.errors import SourceError
    from okrsync.pipeline import check_connection, fetch_connection, plan_fetches
    from okrsync.report import fmt_value

    config = _config()
    plan = plan_fetches(config, _parse_as_of(as_of, config))
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
        for metric_id, value in sorted(fetch_connection(config, name, plan.get(name, [])).items()):
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
  # warehouse: {{type: sql, url: ${{WAREHOUSE_URL}}}}

metrics:                                # defined once, used by any number of KRs and KPIs
  signups: {{connection: files, path: signups.csv, column: count, aggregate: sum}}
  # active: {{connection: warehouse, query: "select count(*) from users where last_seen >= :cycle_start"}}
  # conversion: {{formula: "paid / signups * 100"}}

objectives:
  - id: grow
    title: Grow self-serve adoption
    owner: you@example.com
    kind: committed                     # or aspirational (70% counts as success)
    key_results:
      - {{id: signups, title: "Signups from 0 to 1,000", metric: signups, start: 0, target: 1000}}
      # kinds: increase/decrease (inferred), at_least, at_most, between (min/max), milestone

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


# --------------------------------------------------------------------------- entry point


def main() -> None:
    """Run the app; turn okrsync's own errors into one red message and a meaningful exit code."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit
        sys.exit(code if isinstance(code, int) else 0)
    except ConfigError as exc:
        err_console.print(f"[red bold]config has {len(exc.problems)} problem(s):[/]")
        for p in exc.problems:
            err_console.print(f"  [red]✗[/] {escape(str(p))}")
        sys.exit(2)
    except StoreError as exc:
        _fail(exc, 3)
    except OkrsyncError as exc:
        _fail(exc, 2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, bad parameter
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            err_console.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except KeyboardInterrupt:
        sys.exit(130)


def _fail(exc: Exception, code: int) -> None:
    err_console.print(f"[red]error:[/] {escape(str(exc))}")
    if state.verbose:
        err_console.print_exception()
    sys.exit(code)


if __name__ == "__main__":
    main()
