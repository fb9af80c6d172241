"""The one place a command reads the clock. Everything below it gets ``now`` and ``as_of`` passed in."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from okrsync.config.model import Config


def now(config: Config) -> datetime:
    """This moment in the cycle's time zone."""
    return datetime.now(config.cycle.tz)


def moment(text: str | None, config: Config) -> datetime:
    """``--as-of`` text as a moment: a date D is the end of D in the cycle's time zone (evaluate.end_of_day:
    rows dated D count, expected progress is measured at 24:00 of D), a datetime without a zone is in the
    cycle's time zone, nothing is now. Raises ValueError for other text."""
    from okrsync.okr.evaluate import end_of_day

    if text is None:
        return now(config)
    if len(text) == 10:
        return end_of_day(date.fromisoformat(text), config.cycle)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=config.cycle.tz)
