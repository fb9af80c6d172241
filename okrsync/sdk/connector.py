"""What a connector is: its declaration, its settings models, and the source and sink shapes.

A connector is one module (or a small package) that declares a :class:`Connector` and publishes
it as an entry point in the group ``okrsync.connectors`` under its ``type:`` name. It owns its
models: :class:`ConnectionSettings` (keys of a connection), :class:`MetricParams` (keys a metric
on such a connection adds) and :class:`OutputSettings` (keys of an output). The config binds each
entry to these models with located errors; built-in and third-party connectors take that same path.

A *source* turns a batch of metric queries for one connection into values: one instance per
connection per sync, ``fetch`` called once with every query for that connection, so it can batch.
It returns an :class:`Observation` or a :class:`SourceError` per metric; raising a SourceError
fails every metric of the connection. Sources do I/O only: no progress, no status.

A *sink* turns the typed status document into the fewest writes; it records them through
:class:`okrsync.sdk.delivery.Delivery`, never through the store. A sink that can read what people wrote where it
writes (a note typed in the Sheets status table, a comment on a KR's Jira issue) hands each item back with
:meth:`SinkContext.hear` (a :class:`Heard`); the sync keeps it as an owner's note, once. A sink that can
publish the weekly check-in (outputs with ``on: [checkin]``) says so (``publishes_checkin``) and writes it in
``write_checkin``, once per check-in period (:attr:`CheckinContext.period`, its ledger target).
"""

from __future__ import annotations

import builtins
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from okrsync.config.model import Cycle, Metric, Strict
from okrsync.config.settings import (
    ConnectionSettings,
    MetricParams,
    OutputSettings,
    RemoteConnection,
    WebUrl,
)
from okrsync.errors import SourceError

if TYPE_CHECKING:
    from okrsync.config.model import Config
    from okrsync.okr.status import StatusDocument
    from okrsync.sdk.delivery import Delivery


T = TypeVar("T")
R = TypeVar("R")
DEFAULT_CONCURRENCY = 4  # requests in flight per connection unless its config says max_concurrency
ConnT = TypeVar("ConnT", bound=ConnectionSettings)
ParamsT = TypeVar("ParamsT", bound=MetricParams)
OutT = TypeVar("OutT", bound=OutputSettings)


@dataclass(frozen=True)
class MetricQuery(Generic[ParamsT]):
    """One metric to read. ``as_of`` already has the metric's ``offset_days`` applied."""

    metric_id: str
    metric: Metric
    params: ParamsT
    as_of: datetime
    cycle: Cycle
    window: tuple[date, date] | None = None  # the days an aggregate over dated rows reads; None: every row

    @property
    def aggregate(self) -> str | None:
        return self.metric.aggregate

    @property
    def as_of_day(self) -> date:
        """The cycle-local day D of ``as_of``: a source reads as of the end of D (rows dated D count)."""
        return local_day(self.as_of, self.cycle)

    def reads_day(self, day: date) -> bool:
        """Whether a row dated ``day`` counts: not after the as-of day, and inside the window (if any)."""
        if day > self.as_of_day:
            return False
        return self.window is None or self.window[0] <= day <= self.window[1]

    def placeholders(self) -> dict[str, str]:
        return {
            "cycle.start": self.cycle.start.isoformat(),
            "cycle.end": self.cycle.end.isoformat(),
            "as_of": self.as_of_day.isoformat(),
        }

    def bind_parameters(self) -> dict[str, date | datetime]:
        """SQL bind parameters: the dates ``cycle_start``, ``cycle_end`` and ``as_of`` (the day D), and beside
        each the instants ``<name>_start`` (00:00 of that day) and ``<name>_end`` (the first instant after
        it), aware in the cycle's time zone, so that a ``timestamptz`` column compares right:
        ``ts < :as_of_end`` counts everything up to the end of D, New York time for a New York cycle."""
        binds: dict[str, date | datetime] = {}
        days = {"cycle_start": self.cycle.start, "cycle_end": self.cycle.end, "as_of": self.as_of_day}
        for name, day in days.items():
            binds[name] = day
            binds[f"{name}_start"] = datetime.combine(day, time(0), tzinfo=self.cycle.tz)
            binds[f"{name}_end"] = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.cycle.tz)
        return binds

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


class Source(ABC, Generic[ConnT, ParamsT]):
    """Base of every source connector: ``fetch`` (and optionally ``check`` and ``close``)."""

    def __init__(self, name: str, settings: ConnT, base_dir: Path, metrics: Sequence[ParamsT] = ()):
        self.name = name
        self.settings = settings
        self.base_dir = base_dir
        self.metrics = list(metrics)  # the keys of the metrics that read this connection: what check() tries

    def check(self) -> str:
        """Authenticate and reach the source without reading metrics; return what was found.

        Raise SourceError with a plain message when it fails. `okrsync connections test` calls it.
        """
        return "configured"

    @abstractmethod
    def fetch(self, queries: Sequence[MetricQuery[ParamsT]]) -> FetchResult:
        """Read every query; return a value or an error for each ``metric_id``."""

    def close(self) -> None:
        """Release clients and pools; called once after ``fetch``."""

    def error(self, message: str, query: MetricQuery | None = None) -> SourceError:
        return SourceError(message, metric=query.metric_id if query else None, connection=self.name)

    def concurrently(self, fn: Callable[[T], R], items: Iterable[T], default: int = DEFAULT_CONCURRENCY) -> list[R]:
        """``fn`` over ``items`` with up to ``max_concurrency`` (else ``default``) in flight, results in order.

        Threads are okrsync's one concurrency model: the connectors' clients (httpx, gspread's and jira's
        requests sessions) block, and sharing one client between threads is what they support. Pacing
        stays per connection (the client's Guard), so more threads never mean more than the vendor's rate.
        ``fn`` must catch what it can map to one item's error."""
        items = list(items)
        workers = min(len(items), getattr(self.settings, "max_concurrency", None) or default)
        if workers <= 1:
            return [fn(item) for item in items]
        return in_daemon_threads(fn, items, workers, f"okrsync-{self.name}")


def in_daemon_threads(fn: Callable[[T], R], items: list[T], workers: int, prefix: str) -> list[R]:
    """``ThreadPoolExecutor.map`` in daemon threads: every item runs, results come in order, and the first
    item's error (in order) is raised. Daemon threads, because a fetch cut at its connection's deadline
    leaves its requests behind (see ``pipeline.fetch``), and Python's exit waits for a pool's threads:
    a hung request would hold up the end of ``okrsync run`` (or of a Prefect flow run) until its timeout."""
    results: list = [None] * len(items)
    errors: dict[int, BaseException] = {}
    todo = iter(enumerate(items))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index, item = next(todo, (None, None))
            if index is None:
                return
            try:
                results[index] = fn(cast(T, item))  # index is not None: item is one of items
            except BaseException as exc:  # re-raised in the calling thread, as pool.map does
                errors[index] = exc

    threads = [threading.Thread(target=work, name=f"{prefix}_{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[min(errors)]
    return results


MAX_IDENTITY = 200  # characters: the store's column (okrsync.store.tables.notes.identity)


@dataclass(frozen=True)
class Heard:
    """What a person wrote where a sink writes, handed back with :meth:`SinkContext.hear`: the sync keeps it as a
    note on ``kr_id`` from ``where`` (the note's source), for the synced day, once per ``identity`` (the same edit or
    comment always gives the same one: :func:`heard_identity`), and shows it from the next evaluation. The text is
    user text: made storable by the store (okrsync.store.notes.heard_note), escaped by whatever shows it, never
    logged. The confidence is checked by the sync (okrsync.store.notes.parsed_confidence), which names
    ``confidence_at`` when it cannot read it. ``value``: a number typed for a manual key result (one without a
    metric), kept as its sticky override; the sync ignores it for a key result with a metric (docs/checkin.md,
    "Notes from Sheets and Jira")."""

    kr_id: str
    text: str
    where: str  # the note's source: sheets, jira (at most 20 characters)
    identity: str  # at most MAX_IDENTITY characters: heard_identity
    confidence: str | None = None  # as written: on_track, at_risk, off_track or 0..10
    value: float | None = None
    author: str | None = None  # the name the place shows, when it says (a Jira comment's author)
    written_at: datetime | None = None  # when the place says it was written (a Jira comment's created); else now
    restated: bool = False  # the text stood there before (only the confidence or value is new): then an
    # unreadable confidence leaves nothing to keep
    confidence_at: str | None = None  # where the confidence was written (a cell), named if it cannot be read


def heard_identity(where: str, *parts: object) -> str:
    """A :class:`Heard`'s identity: ``where`` and the parts joined, as they are while that fits the store's
    column, else ``where`` and a hash of them (stable across runs and machines)."""
    text = ":".join([where, *map(str, parts)])
    if len(text) <= MAX_IDENTITY:
        return text
    return f"{where}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"


@dataclass
class SinkContext:
    """What a sink gets: the config, the new and previous status documents, and its delivery; and, for a sink
    that reads what people wrote where it writes, the identities already kept (``heard_before``) and :meth:`hear`."""

    config: Config
    document: StatusDocument
    previous: StatusDocument | None
    delivery: Delivery
    history: dict[str, list] = field(default_factory=dict)  # metric -> [[iso time, value]], for charts
    heard_before: frozenset[str] = frozenset()  # identities of what was heard and kept before: not new
    heard: list[Heard] = field(default_factory=list)  # handed back by hear(), in order, each identity once

    def hear(self, item: Heard) -> bool:
        """Hand back what a person wrote; False (and nothing added) when it was kept before or is already here."""
        if self.known(item.identity):
            return False
        self.heard.append(item)
        return True

    def known(self, identity: str) -> bool:
        """Whether an item with this identity was heard and kept before (or in this run already)."""
        return identity in self.heard_before or any(h.identity == identity for h in self.heard)

    @property
    def dry_run(self) -> bool:
        return self.delivery.dry_run

    @property
    def planned(self) -> list[str]:
        """Human lines: what was (or would be) written."""
        return self.delivery.planned


@dataclass
class CheckinContext:
    """What a sink gets to publish the weekly check-in: the config, the check-in (an
    ``okrsync.present.checkin.Checkin``: the SDK sits below ``present``, so it is typed loosely here), its JSON
    document (docs/checkin.md, as ``okrsync checkin --format json`` prints it) and the delivery."""

    config: Config
    checkin: Any
    document: dict[str, Any]
    delivery: Delivery

    @property
    def period(self) -> str:
        """``checkin/<until>``: the check-in of the period ending on that stored day, delivered once."""
        return f"checkin/{self.document['until']}"

    def fingerprint(self, *parts: str) -> str:
        """The period's fingerprint for one team (namespace and cycle) and ``parts`` (a sink's own target): two
        teams' check-ins of the same day, or two outputs to one receiver, never share an idempotency key."""
        from okrsync.sdk.delivery import fingerprint

        return fingerprint([self.period, self.config.namespace, self.config.cycle.name, *parts])

    @property
    def dry_run(self) -> bool:
        return self.delivery.dry_run


class Sink(ABC, Generic[OutT]):
    publishes_checkin: ClassVar[bool] = False  # True: ``write_checkin`` publishes the check-in (on: [checkin])

    def __init__(self, settings: OutT, base_dir: Path):
        self.settings = settings
        self.base_dir = base_dir

    @property
    def key(self) -> str:
        """A stable name for this output in the write ledger."""
        return self.settings.type

    @abstractmethod
    def write(self, ctx: SinkContext) -> None:
        """Write what changed, through ``ctx.delivery``; raise SinkError when something failed."""

    def write_checkin(self, ctx: CheckinContext) -> None:
        """Publish the check-in through ``ctx.delivery``, at most once per :attr:`CheckinContext.period`; raise
        SinkError when something failed. Only a sink with ``publishes_checkin`` is asked."""
        raise NotImplementedError(f"a {self.settings.type} output cannot publish the check-in")


ClassRef = type | str  # a class, or "module:attribute" imported only when first used


@dataclass(frozen=True)
class Connector:
    """The declaration a connector publishes: its type name, models, and source and/or sink.

    ``source`` and ``sink`` may be given as "module:Class" strings so that a config can be
    validated without importing a connector's client library.
    """

    type: str
    connection: builtins.type[ConnectionSettings] | None = None
    metric: builtins.type[MetricParams] | None = None
    source: ClassRef | None = None
    output: builtins.type[OutputSettings] | None = None
    sink: ClassRef | None = None
    description: str = ""

    def source_class(self) -> builtins.type[Source]:
        return _resolve(self.source)

    def sink_class(self) -> builtins.type[Sink]:
        return _resolve(self.sink)


def _resolve(ref: ClassRef | None) -> Any:
    if isinstance(ref, str):
        from importlib import import_module

        module, _, attr = ref.partition(":")
        return getattr(import_module(module), attr)
    return ref


def local_day(moment: datetime, cycle: Cycle) -> date:
    return moment.astimezone(cycle.tz).date()


def parse_instant(text: str, tz: tzinfo | None, key: str) -> datetime:
    """A metric's date or date-time key as an instant: an ISO date is 00:00 of that day in ``tz`` (the cycle's
    time zone), a date-time without an offset is read in ``tz``; anything else is a ValueError that names
    ``key`` (config validation passes ``tz=None`` only to check the text)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{key} must be an ISO date or date-time such as 2026-10-01, not {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


__all__ = [
    "CheckinContext",
    "ConnectionSettings",
    "Connector",
    "FetchResult",
    "Heard",
    "MetricParams",
    "MetricQuery",
    "Observation",
    "OutputSettings",
    "RemoteConnection",
    "Sink",
    "SinkContext",
    "Source",
    "Strict",
    "WebUrl",
    "heard_identity",
    "local_day",
]
