"""Turning what a source hands us (numbers, text from a cell or a CSV) into a float.

Accepted text: optional surrounding spaces, a leading currency sign, thousands separators
(``1,234.5``), a trailing percent sign (``12%`` -> 12.0: KRs are written in the same unit
people see, so "12%" means twelve), a leading minus or parentheses for negatives
(``(1,200)``), and TRUE/FALSE/yes/no/done for milestones. Anything else raises ValueError with
the offending text, which the caller attaches to the metric.

The decimal and group symbols default to ``.`` and ``,``; a source that knows its locale passes its
own (a German spreadsheet: ``1.234,5``). Text that does not fit them is refused, never guessed: in a
comma-decimal locale "12.5" is an error, not twelve and a half or 125.

Every number okrsync keeps is finite and within ±LIMIT (:func:`checked`): NaN and infinities are
refused at the boundary, so the store, the status document and every payload hold plain JSON
numbers and one bad value can only fail its own metric.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SPACES = " \u00a0\u202f"  # a space, no-break space, narrow no-break space: all one group symbol
_CURRENCY = "$€£¥₹kr"
LIMIT = 1e15  # beyond 2**53 (9e15) floats skip integers; no business KPI is larger, and progress math stays finite
_TRUE = {"true", "yes", "done", "y"}
_FALSE = {"false", "no", "not done", "n"}


def parse_number(raw: object, *, decimal: str = ".", group: str = ",") -> float:
    """Return ``raw`` as a finite float, or raise ValueError saying what was wrong."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float | Decimal):
        try:
            return checked(float(raw))
        except OverflowError:  # an int with hundreds of digits
            raise ValueError(f"{str(raw)[:20]}… is out of range (okrsync keeps numbers up to ±{LIMIT:.0e})") from None
    if raw is None:
        raise ValueError("empty value")
    if not isinstance(raw, str):
        raise ValueError(f"not a number: {_shown(raw)}")
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
    text = text.strip(_CURRENCY).strip()
    if text.endswith("%"):
        text = text[:-1].strip()
    canonical = _canonical(text, decimal, group)
    if canonical is None or not _NUMBER.match(canonical):
        raise ValueError(f"not a number: {_shown(raw)}")
    value = checked(float(canonical), raw)
    return -value if negative else value


def _canonical(text: str, decimal: str, group: str) -> str | None:
    """``text`` with the locale's grouping removed and its decimal symbol as "."; None when it cannot
    be a number written in that locale."""
    groups = _SPACES if group in _SPACES else group
    g, d = f"[{re.escape(groups)}]", re.escape(decimal)
    if re.fullmatch(rf"[+-]?\d{{1,3}}({g}\d{{3}})+({d}\d*)?([eE][+-]?\d+)?", text):
        text = re.sub(g, "", text)
    if decimal == ".":
        return text
    if "." in text:  # a point that is not this locale's grouping: ambiguous, refused
        return None
    return text.replace(decimal, ".")


def checked(value: float, raw: object = None) -> float:
    """``value`` when it is finite and within ±LIMIT; else ValueError saying so (with ``raw``, the text
    it came from, when there was one)."""
    shown = _shown(raw if raw is not None else value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {shown}")
    if abs(value) > LIMIT:
        raise ValueError(f"{shown} is out of range (okrsync keeps numbers up to ±{LIMIT:.0e})")
    return value


def _shown(raw: object) -> str:
    """``raw`` for a message: repr, cut at 40 characters (a cell may hold anything)."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:39] + "…"
