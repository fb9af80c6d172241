"""`okrsync deploy` and `okrsync serve`: the sync of each config on its own schedule, through Prefect, and the
check-in publish (`okrsync-checkin/<name>`) on its `schedule.checkin` for a config whose outputs take it. With
`--company NAME`, one deployment `okrsync-company/NAME` syncs them all each night (flows/deploy.py).

Both need a Prefect server (PREFECT_API_URL): a flow served or deployed against Prefect's temporary
server would vanish with it and never be scheduled. `serve --start-server` starts one here and
stops it on exit; its files go to PREFECT_HOME (default `.okrsync/prefect` in the current directory),
not silently into the home directory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable
from glob import glob
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from okrsync.cli.app import console, state

Configs = Annotated[list[Path], typer.Option("-c", "--config", help="a team config (repeat for several)")]
Glob = Annotated[
    str | None, typer.Option("--glob", help="every config matching this pattern, e.g. 'config/teams/*.yaml'")
]
Company = Annotated[
    str | None,
    typer.Option(
        "--company",
        help="also register okrsync-company/NAME: one nightly run syncs every config, each team as its own "
        "subflow run; the teams' own deployments stay for manual runs, without the schedule",
    ),
]
TeamConcurrency = Annotated[int, typer.Option("--team-concurrency", min=1, help="with --company: teams synced at once")]


def _paths(configs: list[Path], pattern: str | None) -> list[Path]:
    paths = list(configs) + [Path(p) for p in sorted(glob(pattern))] if pattern else list(configs)
    if pattern and len(paths) == len(configs):
        raise typer.BadParameter(f"no file matches {pattern!r}", param_hint="--glob")
    return paths or [state.config_path]


SHUTDOWN_GRACE = 20.0  # seconds the runs in flight get to finish after Ctrl-C or SIGTERM


def exit_now_stopping(servers: list[subprocess.Popen], stopper=None) -> Callable[[int], None]:
    """What ends `okrsync serve` at once when its shutdown does not finish in time (see flows/serve.py): the
    runs still in flight are marked Crashed and their processes killed, the local server
    (``--start-server``) is stopped, and the process exits with 130 after SIGINT, 0 after SIGTERM."""
    from okrsync.flows import server as local
    from okrsync.flows.runner import crash_now
    from okrsync.flows.serve import exit_code

    def exit_now(signum: int) -> None:
        if stopper is not None:
            crash_now(stopper.runner, os.environ.get("PREFECT_API_URL"), stopper.reason())
        for server in servers:
            local.stop(server, grace=5)
        console.print("stopped (serve did not finish its shutdown in time)")
        os._exit(exit_code(getattr(stopper, "signum", None) or signum))

    return exit_now


def deploy(
    configs: Configs = [],  # noqa: B006 - typer reads the default, never mutates it
    pattern: Glob = None,
    pool: Annotated[str, typer.Option("--pool", help="process work pool (created if missing)")] = "okrsync",
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="where workers start runs [default: the current directory]")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be created or changed")] = False,
    company: Company = None,
    team_concurrency: TeamConcurrency = 4,
) -> None:
    """Create or update one Prefect deployment per config: its schedule, concurrency limit 1, namespace tag; and
    its check-in's on schedule.checkin when an output has on: [checkin]; with --company, the company's."""
    from okrsync.flows import deploy as deployments
    from okrsync.flows.server import one_line_if_unreachable, require_api

    where = (workdir or Path.cwd()).resolve()
    paths = _paths(configs, pattern)
    all_specs = deployments.specs(paths, pool=pool, workdir=where, company=company, team_concurrency=team_concurrency)
    require_api()
    with one_line_if_unreachable():
        _deploy(deployments, all_specs, pool, dry_run)


def _deploy(deployments, all_specs: list, pool: str, dry_run: bool) -> None:
    if dry_run:
        for spec, action, diff in deployments.changes(all_specs):
            change = "unchanged" if action == "unchanged" else f"would {action}"
            console.print(f"[bold]{escape(spec.full_name)}[/]: {change}")
            for line in diff:
                console.print(f"    {escape(line)}")
        return
    if deployments.ensure_pool(pool):
        console.print(f"created process work pool {escape(pool)}")
    for name in deployments.replace_other_kind(all_specs, pooled=True):
        console.print(f"replaced {escape(name)}, which `okrsync serve` had registered")
    for spec in all_specs:
        console.print(f"[green]✓[/] {escape(spec.full_name)}: {escape(_what(spec))}, {escape(spec.when)}")
    deployments.apply(all_specs)
    console.print(f"next: `prefect worker start --pool {escape(pool)}` on each machine that runs syncs")
    if all_specs[0].flow == deployments.COMPANY_FLOW:
        console.print(f"the company's night by hand: `prefect deployment run {escape(all_specs[0].full_name)}`")


def _what(spec) -> str:
    if spec.team_configs:
        return f"{len(spec.team_configs)} team configs, {spec.team_concurrency} at once"
    return spec.config_path


def serve(
    configs: Configs = [],  # noqa: B006
    pattern: Glob = None,
    start_server: Annotated[
        bool, typer.Option("--start-server", help="start a local Prefect server and stop it on exit")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="port of the server --start-server starts")] = 4200,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="seconds a run in flight gets to finish after Ctrl-C or SIGTERM")
    ] = SHUTDOWN_GRACE,
    company: Company = None,
    team_concurrency: TeamConcurrency = 4,
) -> None:
    """Run the sync of each config on its schedule (and its check-in on schedule.checkin), in this process, until
    Ctrl-C or SIGTERM."""
    from okrsync.flows import deploy as deployments
    from okrsync.flows import server as local
    from okrsync.flows.serve import Stopper, exit_code

    paths, here = _paths(configs, pattern), Path.cwd().resolve()
    all_specs = deployments.specs(paths, pool="", workdir=here, company=company, team_concurrency=team_concurrency)
    servers: list[subprocess.Popen] = []  # the local server, once --start-server started it
    stopper = Stopper(None, grace)
    stopper.exit_now = exit_now_stopping(servers, stopper)
    stopper.install()  # from here on, Ctrl-C and SIGTERM stop serve: see flows/serve.py
    try:
        if start_server and not os.environ.get("PREFECT_API_URL"):
            api, home = local.start_local_server(servers, port, critical=stopper.deferred)
            console.print(f"started a Prefect server at {api} (files and server.log in {home})")
        local.require_api()
        with local.one_line_if_unreachable():
            _serve(deployments, all_specs, stopper)
    except KeyboardInterrupt:
        pass  # a stop signal before the runner ran: stopping is all there is to do
    finally:
        with contextlib.suppress(KeyboardInterrupt), stopper.deferred():  # a signal now cannot cut the stop
            for server in servers:
                local.stop(server)
    if stopper.signum is not None:
        raise typer.Exit(exit_code(stopper.signum))


def _serve(deployments, all_specs: list, stopper) -> None:
    from okrsync.flows.serve import serve_until_stopped

    for name in deployments.replace_other_kind(all_specs, pooled=False):
        console.print(f"replaced {escape(name)}, which `okrsync deploy` had put on a work pool")
    for spec in all_specs:
        console.print(f"serving {escape(spec.full_name)}: {escape(_what(spec))}, {escape(spec.when)}")
    serve_until_stopped(deployments.served(all_specs), stopper, _say, verbose=state.verbose)


def _say(text: str) -> None:
    console.print(escape(text), soft_wrap=True)
