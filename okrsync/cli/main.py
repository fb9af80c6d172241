"""The one catch at the top: okrsync's errors become one red message and a meaningful exit code.

Exit codes: 0 all good · 1 the sync completed but a source or an output failed (or there is
nothing to show yet) · 2 bad config or usage · 3 the sync could not complete (store unreachable) ·
4 another run of the same config was still going after --wait seconds (nothing was done).
User errors print one located, coloured message and no traceback; ``--verbose`` adds details.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

import okrsync.cli.checkin_commands
import okrsync.cli.commands
import okrsync.cli.import_commands  # noqa: F401 - registers ``okrsync import``
from okrsync.cli import cycle_commands, days_commands, prefect_commands, report_commands
from okrsync.cli.app import app, err_console, state
from okrsync.cli.login_commands import login  # noqa: F401 - registers ``okrsync login`` on ``app``
from okrsync.errors import ConfigError, OkrsyncError, RunLockedError, StoreError

app.command()(prefect_commands.deploy)
app.command()(prefect_commands.serve)
app.add_typer(days_commands.runs_app, name="runs")
app.command()(days_commands.backfill)
app.command()(days_commands.accept)
app.command()(report_commands.report)
app.add_typer(cycle_commands.cycle_app, name="cycle")


GLOBAL_OPTIONS = {"-c": True, "--config": True, "-v": False, "--verbose": False}  # option -> takes a value
OWN_CONFIG_OPTION = {"deploy", "serve"}  # commands whose own -c/--config takes several configs


def hoist_global_options(argv: list[str]) -> list[str]:
    """``okrsync run -c team.yaml --verbose`` as ``okrsync -c team.yaml --verbose run``: scripts and cron
    lines write the global options after the command, so both places are accepted."""
    front, rest, i = [], list(argv), 0
    while i < len(rest) and rest[i].startswith("-"):  # options already before the command
        i += 2 if GLOBAL_OPTIONS.get(rest[i]) else 1
    if i >= len(rest) or rest[i] in OWN_CONFIG_OPTION:
        return argv
    head, tail, j = rest[: i + 1], rest[i + 1 :], 0
    while j < len(tail):
        token = tail[j]
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            takes = GLOBAL_OPTIONS[name] and "=" not in token
            front += tail[j : j + (2 if takes else 1)]
            del tail[j : j + (2 if takes else 1)]
            continue
        j += 1
    return front + head + tail


def main() -> None:
    """Run the app; turn okrsync's own errors into one red message and a meaningful exit code."""
    try:
        code = app(args=hoist_global_options(sys.argv[1:]), standalone_mode=False)  # a typer.Exit's code
        sys.exit(code if isinstance(code, int) else 0)
    except ConfigError as exc:
        err_console.print(f"[red bold]config has {len(exc.problems)} problem(s):[/]")
        for p in exc.problems:
            err_console.print(f"  [red]✗[/] {escape(str(p))}")
        sys.exit(2)
    except StoreError as exc:
        _fail(exc, 3)
    except RunLockedError as exc:
        _fail(exc, 4)
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


def run() -> None:
    """The program ``okrsync``: :func:`main`, then out without the interpreter's finalisation.

    After a sync of 2,000 key results, freeing every object one by one took 0.18-0.25 s of a 12 s run
    (bench/run_bench.py). The exit handlers registered with ``atexit`` still run (logging's flush, temporary
    files) and the output is flushed. Python's own exit is kept while another thread still runs (it waits for
    it), under a debugger, coverage or a profiler (``python -m cProfile -m okrsync`` writes its figures then),
    and once Prefect is loaded (``run --prefect``, deploy, serve): its log and event workers send what they
    hold from hooks only Python's exit runs.

    It starts with Python's cyclic collector off; every command but those that read and show and ``run``
    turns it back on (``COLLECTOR_OFF`` in okrsync.cli.app)."""
    import atexit
    import gc
    import os
    import threading

    gc.disable()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    watched = sys.gettrace() is not None or sys.getprofile() is not None  # a debugger, coverage or a profiler
    threads = any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate())
    if watched or threads or "prefect" in sys.modules:  # Prefect flushes its logs and events at Python's exit
        sys.exit(code)
    atexit._run_exitfuncs()  # what the interpreter runs at exit, before it frees everything
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `okrsync status | head`: the reader left; nothing more to say
        pass
    os._exit(code)


def _fail(exc: Exception, code: int) -> None:
    err_console.print(f"[red]error:[/] {escape(str(exc))}")
    if state.verbose:
        err_console.print_exception()
    sys.exit(code)
