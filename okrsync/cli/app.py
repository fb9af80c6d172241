"""The typer app, its consoles and options, and the one catch at the top.

Exit codes: 0 all good · 1 the sync completed but a source or an output failed (or there is
nothing to show yet) · 2 bad config or usage · 3 the sync could not complete (store unreachable).
User errors print one located, coloured message and no traceback; ``--verbose`` adds details.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from okrsync import clock as okrsync_clock
from okrsync.config import DEFAULT_CONFIG, Config, load_config
from okrsync.errors import ConfigError, OkrsyncError, StoreError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="OKRs that track themselves: pull KPI values, evaluate key results, write status back.",
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
# Client libraries log full URLs (httpx at INFO) or request headers and bodies (jira, urllib3 at
# DEBUG), which hold tokens and webhook URLs: they stay at WARNING even with --verbose.
NOISY = ("httpx", "httpcore", "urllib3", "requests", "requests_oauthlib", "jira", "google", "gspread")


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
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def current_config() -> Config:
    return load_config(state.config_path)


def clock(config: Config) -> datetime:
    """The one clock reading of a command, in the cycle's time zone."""
    return okrsync_clock.now(config)


def parse_as_of(text: str | None, config: Config) -> datetime:
    """A date means 00:00 of that day in the cycle's time zone; a datetime without zone likewise."""
    try:
        return okrsync_clock.moment(text, config)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO datetime", param_hint="--as-of"
        ) from None


def main() -> None:
    """Run the app; turn okrsync's own errors into one red message and a meaningful exit code."""
    import okrsync.cli.commands  # noqa: F401 - registers the commands on ``app``

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
