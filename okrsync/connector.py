"""The shape of a connector, shared by every source and sink.

A *source* turns a batch of metric queries for one connection into values: one instance per
connection per sync, ``fetch`` called once with every query for that connection, so a
connector can batch (one batchGet per spreadsheet, one query per JQL). It returns a value or a
:class:`SourceError` per metric; raising a SourceError from ``fetch`` fails every metric of
the connection. Sources do I/O only: no progress, no status.

A *sink* turns the evaluated status document into the fewest writes, asking the write ledger
what it already wrote. Both are looked up by type name in :mod:`okrsync.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from okrsync.config import Config, Cycle, Metric
from okrsync.errors import SourceError


@dataclass(frozen=True)
class MetricQuery:
    """One metric to read. ``as_of`` already has the metric's ``offset_days`` applied."""

    metric_id: str
    metric: Metric
    params: Any  # the connection type's metric model (e.g. CsvMetric)
    as_of: datetime
    cycle: Cycle

    @property
    def aggregate(self) -> str | None:
        return self.metric.aggregate

    def placeholders(self) -> dict[str, str]:
        return {
            "cycle.start": self.cycle.start.isoformat(),
            "cycle.end": self.cycle.end.isoformat(),
            "as_of": self.as_of.date().isoformat(),
        }

    def fill(self, text: str) -> str:
        """Replace {cycle.start} {cycle.end} {as_of} in a query string (other braces are left alone)."""
        for key, value in self.placeholders().items():
            text = text.replace("{" + key + "}", value)
        return text


@dataclass(frozen=True)
class Observation:
    value: float
    observed_at: datetime | None = None  # when the source says the value is from; default: the run's as_of


FetchResult = dict[str, Observation | SourceError]


class Source(ABC):
    """Base of every source connector. Subclasses declare three class attributes and ``fetch``."""

    type_name: ClassVar[str]
    connection_model: ClassVar[type[BaseModel]]
    metric_model: ClassVar[type[BaseModel]]

    def __init__(self, name: str, settings: BaseModel, base_dir: Path):
        self.name = name
        self.settings = settings
        self.base_dir = base_dir

    def check(self) -> str:
        """Authenticate and reach the source without reading metrics; return what was found.

        Raise SourceError with a plain message when it fails. `okrsync connections test` calls it.
        """
        return "configured"

    @abstractmethod
    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        """Read every query; return a value or an error for each ``metric_id``."""

    def close(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release clients and pools; called once after ``fetch``."""

    def error(self, message: str, query: MetricQuery | None = None) -> SourceError:
        return SourceError(message, metric=query.metric_id if query else None, connection=self.name)


@dataclass
class SinkContext:
    """What a sink gets: the config, the new status document, the previous one, the ledger."""

    config: Config
    document: dict
    previous: dict | None
    ledger: Any  # okrsync.store.Ledger
    history: dict[str, list] = field(default_factory=dict)  # metric -> [[iso time, value]], for charts
    dry_run: bool = False
    now: datetime | None = None  # the sync's clock reading, for ledger times
    planned: list[str] = field(default_factory=list)  # human lines: what was (or would be) written
    on_write: Callable[[str], None] | None = None


class Sink(ABC):
    type_name: ClassVar[str]

    def __init__(self, settings: BaseModel, base_dir: Path):
        self.settings = settings
        self.base_dir = base_dir

    @property
    def key(self) -> str:
        """A stable name for this output in the write ledger."""
        return self.type_name

    @abstractmethod
    def write(self, ctx: SinkContext) -> None:
        """Write what changed. Append a line per write (or planned write, when dry) to ``ctx.planned``."""


def local_day(moment: datetime, cycle: Cycle) -> date:
    return moment.astimezone(cycle.tz).date()
