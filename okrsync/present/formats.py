"""How numbers and statuses read, decided once for the CLI, the report, the digest, Sheets and Jira."""

from __future__ import annotations

from datetime import date, datetime, time

from okrsync.okr.status import KpiStatus, KrStatus

LABEL = {"done": "done", "on_track": "on track", "at_risk": "at risk", "off_track": "off track", "no_data": "no data"}
EMOJI = {"done": "✅", "on_track": "🟢", "at_risk": "🟠", "off_track": "🔴", "no_data": "⚪"}


# C0 and C1 controls but line breaks and tabs, DEL, and the bidirectional overrides (Unicode TR9)
_UNPRINTABLE = dict.fromkeys([*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)])
_UNPRINTABLE |= dict.fromkeys(range(0x2066, 0x206A))


def printable(text: str) -> str:
    """User text (titles, owners, notes) for a terminal: control characters removed, for an escape sequence in a
    title could recolour the terminal, rewrite its title or hide what follows; line breaks and tabs kept."""
    return text.translate(_UNPRINTABLE)


def label(status: str) -> str:
    return LABEL[str(status)]


def pct(x: float | None, missing: str = "–") -> str:
    """A fraction as a whole percentage: 0.425 -> '42%'."""
    return missing if x is None else f"{x * 100:.0f}%"


def fmt_trend(trend: float | None, missing: str = "–") -> str:
    """A change with its sign, written like a value: +13, -0.3, +1,250."""
    if trend is None:
        return missing
    return ("+" if trend >= 0 else "-") + fmt_value(abs(trend))


def fmt_value(value: float | None, unit: str | None = None) -> str:
    """A value as people write it: thousands grouped, at most two decimals, with its unit."""
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit == "%":
        return text + "%"
    return f"{text} {unit}" if unit else text


def fmt_chance(p: float | None, missing: str = "") -> str:
    """A probability as people say it: '72%', never a misleading '0%' or '100%' for what is merely
    unlikely or likely ('<1%', '>99%')."""
    if p is None:
        return missing
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 <= p < 1:
        return ">99%"
    return pct(p)


def forecast_text(kr: KrStatus) -> str:
    """'forecast 120 (80–140, 72% likely)', or '' without a forecast."""
    f = kr.forecast
    if f is None:
        return ""
    if f.probability is None or f.low is None or f.high is None:
        return f"forecast {fmt_value(f.value, kr.unit)}"
    spread = f"{fmt_value(f.low)}–{fmt_value(f.high, kr.unit)}"
    return f"forecast {fmt_value(f.value, kr.unit)} ({spread}, {fmt_chance(f.probability)} likely)"


def cell(x: object) -> str:
    """A plain cell (Sheets): no grouping, at most two decimals, empty for nothing."""
    if x is None:
        return ""
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def target_text(kr: KrStatus) -> str:
    if kr.kind == "between":
        return f"{fmt_value(kr.min)}–{fmt_value(kr.max, kr.unit)}"
    prefix = {"at_least": "≥ ", "at_most": "≤ "}.get(kr.kind, "")
    return prefix + fmt_value(kr.target, kr.unit)


def range_text(k: KpiStatus) -> str:
    lo, hi = k.min, k.max
    if lo is not None and hi is not None:
        return f"{fmt_value(lo)}–{fmt_value(hi, k.unit)}"
    return f"≥ {fmt_value(lo, k.unit)}" if lo is not None else f"≤ {fmt_value(hi, k.unit)}"


def kr_line(kr: KrStatus) -> str:
    """One KR in a sentence: title, status, progress and expected."""
    return f"{EMOJI[kr.status]} {kr.title}: {label(kr.status)} ({pct(kr.progress)}, expected {pct(kr.judged)})"


def human_time(moment: datetime) -> str:
    """A moment as people read it: 2026-11-30 05:19 UTC+01:00 (minutes, no microseconds; a document's moments
    keep their UTC offset as their zone), or a date at midnight and at the end of a day (``--as-of D``)."""
    return (
        moment.strftime("%Y-%m-%d %H:%M %Z").strip()
        if moment.time() not in (time.min, time.max)
        else date.isoformat(moment.date())
    )
