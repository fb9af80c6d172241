"""Dates in the config, with an impossible one (2026-13-01, 2026-02-30) said in plain words.

The YAML loader keeps a date that cannot exist as the text it was (YAML 1.2 has no date type), so it
reaches the model like any other mistake and is reported with its key and line among the rest.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator

_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def _day(value: Any) -> Any:
    match = _DATE.match(value) if isinstance(value, str) else None
    if not match:
        return value  # a date already, or text the model reports as not a date
    year, month, day = (int(part) for part in match.groups())
    if problem := impossible(year, month, day):
        raise ValueError(f"{value.strip()} is not a date ({problem})")
    return date(year, month, day)


def impossible(year: int, month: int, day: int) -> str | None:
    """Why year-month-day is not a date ('month 13', 'day 30 is not in February 2026'), or None."""
    if not 1 <= year <= 9999:
        return f"year {year}"
    if not 1 <= month <= 12:
        return f"month {month}"
    if not 1 <= day <= 31:
        return f"day {day}"
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return f"day {day} is not in {calendar.month_name[month]} {year}, which has {last} days"
    return None


Day = Annotated[date, BeforeValidator(_day)]
