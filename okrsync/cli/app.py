"""The typer app, its consoles and global options, the clock reading and ``--as-of`` parsing."""

from __future__ import annotations

import gc
import logging
import os
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from okrsync import clock as okrsync_clock
from okrsync.defaults import DEFAULT_CONFIG

if TYPE_CHECKING:  # loaded by the commands that read a config, never for --help
    from okrsync.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="OKRs that track themselves: pull KPI values, evaluate key results, write status back.",
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
Wait = Annotated[
    float, typer.Option("--wait", min=0, help="seconds to wait for another run of this config to finish (then exit 4)")
]  # the option of every command that writes under the config's run lock
# Client libraries log full URLs (httpx at INFO) or request headers and bodies (jira, urllib3 at
# DEBUG), which hold tokens and webhook URLs: they stay at WARNING even with --verbose.
# Alembic's INFO lines (one per plugin, every command) say nothing a user needs: WARNING too.
NOISY = ("httpx", "httpcore", "urllib3", "requests", "requests_oauthlib", "jira", "google", "gspread", "alembic")
# The days --as-of takes: a run reads the day after (and before) D and moves moments between time zones,
# which must stay inside Python's years 1 to 9999 (9999-12-31 has no next day: OverflowError)
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)


class State:
    config_path: Path = Path(DEFAULT_CONFIG)
    verbose: bool = False


state = State()


# The commands that run without Python's cyclic collector: those that read and show, and a sync of one day.
# Their objects live until they end, or are freed by reference counts: collections walked them again and
# again and freed almost nothing (0.06-0.09 s of a one-second report of a year, 0.2-0.5 s of CPU of a
# 2,000-KR sync, whose peak memory grows by 2 MB without them; docs/production.md). The program starts with
# the collector off (okrsync.cli.main.run); every other command (serve, backfill, deploy, ...) turns it on:
# long-lived work, or many days, must free its garbage as it goes.
COLLECTOR_OFF = frozenset({"status", "history", "report", "checkin", "runs", "validate", "schema", "run"})


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("-c", "--config", help="config file [default: ./okrsync.yaml or $OKRSYNC_CONFIG]")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show details and tracebacks")] = False,
) -> None:
    state.config_path = config or Path(os.environ.get("OKRSYNC_CONFIG") or DEFAULT_CONFIG)
    state.verbose = verbose
    if ctx.invoked_subcommand not in COLLECTOR_OFF:
        gc.enable()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def current_config() -> Config:
    from okrsync.config.load import load_config

    return load_config(state.config_path)


def clock(config: Config) -> datetime:
    """The one clock reading of a command, in the cycle's time zone."""
    return okrsync_clock.now(config)


def parse_as_of(text: str | None, config: Config, *, future: bool = True) -> datetime:
    """A date D means the end of D in the cycle's time zone (okrsync.clock.moment); a datetime without zone
    is in the cycle's time zone.

    ``future=False`` (a run that stores): a day after today (or a moment after now) is refused, since a run
    as of a future day would stay the newest status until that day comes; outside the cycle is only a note."""
    try:
        moment = okrsync_clock.moment(text, config)
    except (ValueError, OverflowError):
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO datetime", param_hint="--as-of"
        ) from None
    if text is not None:
        _on_the_calendar(text, moment)
    if text is not None and not future and _after_now(text, moment, clock(config)):
        raise typer.BadParameter(
            f"{text} is in the future: a run as of a future day would stay the newest status until that day; "
            "pass --future if that is really what you want",
            param_hint="--as-of",
        )
    cycle = config.cycle
    if text is not None and not cycle.start <= moment.astimezone(cycle.tz).date() <= cycle.end:
        err_console.print(f"[yellow]note:[/] {text} lies outside cycle {cycle.name} ({cycle.start} to {cycle.end})")
    return moment


def _on_the_calendar(text: str, moment: datetime) -> None:
    """A usage error for a day okrsync cannot compute with (FIRST_DAY to LAST_DAY), never an OverflowError."""
    if moment.date() > LAST_DAY:
        raise typer.BadParameter(
            f"{text} is too far in the future (okrsync takes days up to {LAST_DAY})", param_hint="--as-of"
        )
    if moment.date() < FIRST_DAY:
        raise typer.BadParameter(
            f"{text} is too far in the past (okrsync takes days from {FIRST_DAY})", param_hint="--as-of"
        )


def _after_now(text: str, moment: datetime, now: datetime) -> bool:
    """Whether ``--as-of`` lies in the future: a date when it is after today, a datetime when after now."""
    return moment.date() > now.date() if len(text) == 10 else moment > now
