"""Turning what a source hands us (numbers, text from a cell or a CSV) into a float.

Accepted text: optional surrounding spaces, a leading currency sign, thousands separators
(``1,234.5``), a trailing percent sign (``12%`` -> 12.0: KRs are written in the same unit
people see, so "12%" means twelve), a leading minus or parentheses for negatives
(``(1,200)``), and TRUE/FALSE/yes/no/done for milestones. Anything else raises ValueError with
the offending text, which the caller attaches to the metric.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_CURRENCY = "$€£¥₹kr"
_TRUE = {"true", "yes", "done", "y"}
_FALSE = {"false", "no", "not done", "n"}


def parse_number(raw: object) -> float:
    """Return ``raw`` as a finite float, or raise ValueError saying what was wrong."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float | Decimal):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {raw!r}")
        return value
    if raw is None:
        raise ValueError("empty value")
    if not isinstance(raw, str):
        raise ValueError(f"not a number: {raw!r}")
    text = raw.strip()
    if not text:
        raise ValueError("empty value")
    lowered = text.lower()
    if lowered in _TRUE:
        return 1.0
    if lowered in _FALSE:
        return 0.0
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1].strip()
    text = text.lstrip(_CURRENCY).strip()
    if text.endswith("%"):
        text = text[:-1].strip()
    if _GROUPED.match(text):
        text = text.replace(",", "")
    if not _NUMBER.match(text):
        raise ValueError(f"not a number: {raw!r}")
    value = float(text)
    return -value if negative else value
