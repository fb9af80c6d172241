"""`okrsync deploy` and `okrsync serve`: the sync of each config on its own schedule, through Prefect.

Both need a Prefect server (PREFECT_API_URL): a flow served or deployed against Prefect's temporary
server would vanish with it and never be scheduled. `serve --start-server` starts one here and
stops it on exit; its files go to PREFECT_HOME (default `.okrsync/prefect` in the current directory),
not silently into the home directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from glob import glob
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from okrsync.cli.app import console, state
from okrsync.errors import OkrsyncError

NO_SERVER = (
    "no Prefect server: set PREFECT_API_URL (start one with `prefect server start`, then "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`), or use `okrsync serve --start-server`"
)
Configs = Annotated[list[Path], typer.Option("-c", "--config", help="a team config (repeat for several)")]
Glob = Annotated[
    str | None, typer.Option("--glob", help="every config matching this pattern, e.g. 'config/teams/*.yaml'")
]


def _paths(configs: list[Path], pattern: str | None) -> list[Path]:
    paths = list(configs) + [Path(p) for p in sorted(glob(pattern))] if pattern else list(configs)
    if pattern and len(paths) == len(configs):
        raise typer.BadParameter(f"no file matches {pattern!r}", param_hint="--glob")
    return paths or [state.config_path]


SHUTDOWN_GRACE = 20.0  # seconds Ctrl-C or SIGTERM leave Prefect's runner to pause schedules and stop


def exit_now_stopping(servers: list[subprocess.Popen]) -> Callable[[int], None]:
    """What ends `okrsync serve` when Prefect's runner does not stop in time (see flows/serve.py): the
    local server (``--start-server``) is stopped and the process exits at once. A flow run already
    started goes on in its own process, under the config's run lock."""

    def exit_now(signum: int) -> None:
        for server in servers:
            server.terminate()
            server.wait(10)
        console.print("stopped (Prefect's runner did not finish its shutdown in time)")
        os._exit(130 if signum == signal.SIGINT else 0)

    return exit_now


def _require_server() -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise OkrsyncError(NO_SERVER)


def deploy(
    configs: Configs = [],  # noqa: B006 - typer reads the default, never mutates it
    pattern: Glob = None,
    pool: Annotated[str, typer.Option("--pool", help="process work pool (created if missing)")] = "okrsync",
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="where workers start runs [default: the current directory]")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be created or changed")] = False,
) -> None:
    """Create or update one Prefect deployment per config: its schedule, concurrency limit 1, namespace tag."""
    from flows import deploy as deployments

    all_specs = deployments.specs(_paths(configs, pattern), pool=pool, workdir=(workdir or Path.cwd()).resolve())
    _require_server()
    if dry_run:
        for spec, action, diff in deployments.changes(all_specs):
            console.print(f"[bold]{escape(spec.full_name)}[/]: would {action}" if action != "unchanged" else
                          f"[bold]{escape(spec.full_name)}[/]: unchanged")  # fmt: skip
            for line in diff:
                console.print(f"    {escape(line)}")
        return
    if deployments.ensure_pool(pool):
        console.print(f"created process work pool {escape(pool)}")
    for name in deployments.replace_other_kind(all_specs, pooled=True):
        console.print(f"replaced {escape(name)}, which `okrsync serve` had registered")
    for spec in all_specs:
        when = f"{spec.cron} ({spec.timezone})" + ("" if spec.active else ", paused") if spec.cron else "no schedule"
        console.print(f"[green]✓[/] {escape(spec.full_name)}: {escape(spec.config_path)}, {escape(when)}")
    deployments.apply(all_specs)
    console.print(f"next: `prefect worker start --pool {escape(pool)}` on each machine that runs syncs")


def serve(
    configs: Configs = [],  # noqa: B006
    pattern: Glob = None,
    start_server: Annotated[
        bool, typer.Option("--start-server", help="start a local Prefect server and stop it on exit")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="port of the server --start-server starts")] = 4200,
) -> None:
    """Run the sync of each config on its schedule, in this process, until Ctrl-C."""
    from flows import deploy as deployments
    from flows.serve import Stopper, serve_until_stopped

    all_specs = deployments.specs(_paths(configs, pattern), pool="", workdir=Path.cwd().resolve())
    servers: list[subprocess.Popen] = []  # the local server, once --start-server started it
    stopper = Stopper(exit_now_stopping(servers), SHUTDOWN_GRACE)
    stopper.install()  # from here on, Ctrl-C and SIGTERM stop serve within SHUTDOWN_GRACE seconds
    if start_server and not os.environ.get("PREFECT_API_URL"):
        from flows.server import start_local_server

        server, api, home = start_local_server(port)
        servers.append(server)
        console.print(f"started a Prefect server at {api} (files and server.log in {home})")
    try:
        _require_server()
        for name in deployments.replace_other_kind(all_specs, pooled=False):
            console.print(f"replaced {escape(name)}, which `okrsync deploy` had put on a work pool")
        for spec in all_specs:
            when = f"{spec.cron} ({spec.timezone})" if spec.cron else "no schedule: runs only when triggered"
            console.print(f"serving {escape(spec.full_name)}: {escape(spec.config_path)}, {escape(when)}")
        serve_until_stopped(deployments.served(all_specs), stopper)
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)
