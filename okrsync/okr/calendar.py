"""The cycle's calendar, pure: days in the cycle's time zone, a KR's window, the elapsed share, and
``--as-of D`` as the end of D (docs/okr-semantics.md, "What a day means")."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from okrsync.config.model import Cycle, KeyResult


def human_duration(span: timedelta) -> str:
    """36h, 8d, 90m: how max_age is written in the config."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def day_start(day: date, cycle: Cycle) -> datetime:
    return datetime.combine(day, time(0), tzinfo=cycle.tz)


def day_end(day: date, cycle: Cycle) -> datetime:
    """The end of ``day`` (= start of the next day): due dates are inclusive."""
    return day_start(day + timedelta(days=1), cycle)


def end_of_day(day: date, cycle: Cycle) -> datetime:
    """``--as-of D``: the last instant of D in the cycle's time zone (23:59:59.999999), so that rows dated
    D count, the run is stored under D, and expected progress is the elapsed share at 24:00 of D (one
    microsecond short of it)."""
    return datetime.combine(day, time.max, tzinfo=cycle.tz)


def kr_window(kr: KeyResult, cycle: Cycle) -> tuple[datetime, datetime]:
    return day_start(kr.start_date or cycle.start, cycle), day_end(kr.due or cycle.end, cycle)


def elapsed_share(as_of: datetime, start: datetime, end: datetime) -> float:
    total = (end - start).total_seconds()
    if total <= 0:
        return 1.0
    return min(1.0, max(0.0, (as_of - start).total_seconds() / total))
