"""Cycle rollover: the cycle after this one, and that block written into the config in place.

``2026-Q4`` is followed by ``2027-Q1`` (three calendar months), ``2026-H2`` by ``2027-H1`` (six) and
``2026`` by ``2027`` (twelve); a cycle with another name needs the new name given, and its length in
days is kept. The config file is edited in place: only the ``name``, ``start`` and ``end`` values
change, so comments, layout and the time zone stay as the team wrote them.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import yaml

from okrsync.yamlsource import Loader

if TYPE_CHECKING:
    from okrsync.config.model import Config

PATTERNS = (  # name pattern, months per cycle, cycles per year
    (re.compile(r"^(?P<year>\d{4})-Q(?P<n>[1-4])$"), 3, 4, "{year}-Q{n}"),
    (re.compile(r"^(?P<year>\d{4})-H(?P<n>[12])$"), 6, 2, "{year}-H{n}"),
    (re.compile(r"^(?P<year>\d{4})$"), 12, 1, "{year}"),
)


@dataclass(frozen=True)
class NextCycle:
    name: str
    start: date
    end: date


def next_cycle(name: str, start: date, end: date, new_name: str | None = None) -> NextCycle:
    """The cycle after (name, start, end). Raises ValueError when the name has no known pattern and no
    ``new_name`` is given."""
    first = end + timedelta(days=1)
    for pattern, months, per_year, template in PATTERNS:
        m = pattern.match(name)
        if m and start.day == 1 and first.day == 1:
            n = int(m.groupdict().get("n") or 1)
            year, n = (int(m["year"]) + 1, 1) if n == per_year else (int(m["year"]), n + 1)
            return NextCycle(new_name or template.format(year=year, n=n), first, _add_months(first, months))
    if new_name is None:
        raise ValueError(
            f"cannot tell what follows cycle {name!r} (names like 2026-Q4, 2026-H2 or 2026 roll over by "
            "themselves): give the new name with --name"
        )
    return NextCycle(new_name, first, first + (end - start))


def _add_months(first: date, months: int) -> date:
    """The last day of the ``months``-month period starting on ``first`` (a first of a month)."""
    index = first.month - 1 + months - 1
    year, month = first.year + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def rewrite_cycle(text: str, new: NextCycle) -> str:
    """``text`` (a config) with its cycle's name, start and end replaced, nothing else touched."""
    root = yaml.compose(text, Loader=Loader)
    cycle = next((v for k, v in root.value if k.value == "cycle"), None) if isinstance(root, yaml.MappingNode) else None
    if not isinstance(cycle, yaml.MappingNode):
        raise ValueError("the config has no cycle: mapping to roll over")
    wanted = {"name": new.name, "start": new.start.isoformat(), "end": new.end.isoformat()}
    spans = [(v.start_mark.index, v.end_mark.index, wanted[k.value]) for k, v in cycle.value if k.value in wanted]
    if len(spans) != 3:
        raise ValueError("the cycle: mapping needs name, start and end")
    for begin, finish, value in sorted(spans, reverse=True):  # from the end: earlier offsets stay valid
        text = text[:begin] + value + text[finish:]
    return text


CYCLE_PLACEHOLDERS = re.compile(r":cycle_(start|end)|\{cycle\.(start|end)\}")


def meaning_changes(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """What the cycle's change does to each connected metric's value: (metrics that start again, metrics
    that keep counting across cycles), each metric id with why. An aggregate over dated rows reads the
    new cycle's window; one over rows without dates (or ``window: all``) goes on over every row; a query
    that names the cycle's dates follows them. A ``latest`` value without cycle dates does not change."""
    again: dict[str, str] = {}
    on: dict[str, str] = {}
    for metric_id, metric in sorted(config.metrics.items()):
        if metric.connection is None:
            continue
        how = metric.aggregate
        if how not in (None, "latest") and not metric.params.reads_dated_rows():
            on[metric_id] = f"{how} over rows without a date (add date_column to start again)"
        elif how not in (None, "latest") and metric.window == "all":
            on[metric_id] = f"{how} over every row (window: all)"
        elif how not in (None, "latest"):
            again[metric_id] = f"{how} over rows dated in " + (
                "its KR's dates" if metric.window == "kr" else "the cycle"
            )
        elif CYCLE_PLACEHOLDERS.search(metric.params.model_dump_json()):
            again[metric_id] = "its query names the cycle's dates"
    return again, on
