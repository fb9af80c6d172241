"""The config's small shared types: aggregates, windows, durations, and the strict base model."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

Aggregate = Literal["count", "sum", "avg", "min", "max", "latest", "percent_done"]
Window = Literal["cycle", "kr", "all"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration(value: Any) -> Any:
    """'36h', '2d', '90m' -> timedelta; a bare number means hours."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(hours=value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    if isinstance(value, str):
        raise ValueError("expected a duration such as 36h, 2d or 90m")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Strict(BaseModel):
    """Rejects unknown keys: a typo in the config is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
