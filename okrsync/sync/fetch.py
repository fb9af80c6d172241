"""The fetch stage: every connection of the plan read at once, within its deadline.

A failing source never stops the others: its metrics get the error, with the connection named. A
connector bug is an error of its metrics too. Every value crosses one boundary (:func:`finite`): NaN,
infinities and numbers out of range become the metric's error and never reach the store.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from okrsync.config.model import Config
from okrsync.errors import SourceError
from okrsync.okr.numbers import checked
from okrsync.registry import registry
from okrsync.sdk.connector import FetchResult, Observation, Source
from okrsync.sync.plan import SyncPlan

log = logging.getLogger("okrsync.fetch")
EventHook = Callable[[str, str, str], None]  # (event, connection, detail)


def open_source(config: Config, name: str) -> Source:
    settings = config.connections[name]
    used = [
        config.params[m] for m, metric in config.metrics.items() if metric.connection == name and m in config.params
    ]
    return registry().source(settings.type)(name, settings, config.base_dir, used)


def check_connection(config: Config, name: str) -> str:
    """Authenticate and reach one connection; a plain message either way (SourceError on failure)."""
    source = open_source(config, name)
    try:
        return source.check()
    except SourceError:
        raise
    except Exception as exc:
        log.debug("check of %s crashed", name, exc_info=True)
        raise crashed(config, name, exc) from None
    finally:
        source.close()


def crashed(config: Config, name: str, exc: Exception) -> SourceError:
    kind = config.connections[name].type
    return SourceError(f"unexpected error in the {kind} connector: {type(exc).__name__}", connection=name)


def fetch_connection(sync_plan: SyncPlan, name: str) -> FetchResult:
    """Open one connection, read all its queries, close it. Never raises for a source's failure."""
    queries = sync_plan.queries.get(name, ())
    try:
        source = open_source(sync_plan.config, name)
        try:
            result = source.fetch(queries)
        finally:
            source.close()
    except SourceError as exc:
        exc.connection = exc.connection or name
        return {q.metric_id: exc.for_metric(q.metric_id) for q in queries}
    except Exception as exc:  # a connector bug must not stop the other connections
        log.debug("connector %s crashed", name, exc_info=True)
        err = crashed(sync_plan.config, name, exc)
        return {q.metric_id: err.for_metric(q.metric_id) for q in queries}
    for q in queries:
        if q.metric_id not in result:
            result[q.metric_id] = SourceError("the connector returned no value", metric=q.metric_id, connection=name)
    return {metric: finite(metric, found, name) for metric, found in result.items()}


def finite(metric: str, found: Observation | SourceError, connection: str) -> Observation | SourceError:
    """The boundary every source value crosses: NaN, infinities and out-of-range numbers become the
    metric's own error, so they can never reach the store, a document or a payload."""
    if not isinstance(found, Observation):
        return found
    try:
        checked(float(found.value))
    except (TypeError, ValueError, OverflowError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else f"not a number: {type(found.value).__name__}"
        message = f"the source returned {reason}; check the data behind this metric"
        return SourceError(message, metric=metric, connection=connection)
    return found


def fetch(sync_plan: SyncPlan, on_event: EventHook | None = None) -> FetchResult:
    """Fetch every connection at once, each in a daemon thread (connectors use blocking clients), within
    the deadlines: a connection that has not finished by its own deadline, or by the run's, fails its
    metrics with that reason. Its thread is left behind: daemon threads never hold up the process's exit,
    and fetching writes nothing, so a late answer is simply dropped."""
    out: FetchResult = {}
    if not sync_plan.queries:
        return out
    done: queue.Queue[tuple[str, FetchResult]] = queue.Queue()
    started = time.monotonic()
    due = {name: started + deadline(sync_plan.config, name) for name in sync_plan.connections}
    run_due = started + sync_plan.config.deadlines.run.total_seconds()
    for name in sync_plan.connections:
        worker = threading.Thread(
            target=_fetch_into, args=(sync_plan, name, done, on_event), name=f"okrsync-fetch-{name}", daemon=True
        )
        worker.start()
    while due:
        try:
            name, result = done.get(timeout=max(0.0, min(min(due.values()), run_due) - time.monotonic()))
        except queue.Empty:
            for name in [n for n, at in due.items() if time.monotonic() >= min(at, run_due)]:
                out.update(too_late(sync_plan, name, by_run=time.monotonic() >= run_due))
                del due[name]
            continue
        if due.pop(name, None) is not None:
            out.update(result)
    return out


def _fetch_into(sync_plan: SyncPlan, name: str, done: queue.Queue, on_event: EventHook | None) -> None:
    if on_event:
        on_event("start", name, f"{len(sync_plan.queries[name])} metric(s)")
    result = fetch_connection(sync_plan, name)
    if on_event:
        failed = sum(isinstance(v, SourceError) for v in result.values())
        on_event("done", name, f"{len(result) - failed} ok, {failed} failed" if failed else f"{len(result)} ok")
    done.put((name, result))


def fetch_in_time(sync_plan: SyncPlan, name: str, budget: float | None = None) -> FetchResult:
    """:func:`fetch_connection` cut at the connection's deadline, or at ``budget`` seconds (what is left of
    the run's) when that comes first: the Prefect flow's fetch task. A Prefect task's timeout cannot
    interrupt blocking I/O in a worker thread, so the fetch runs in a daemon thread, as in :func:`fetch`,
    and is left behind when late (fetching writes nothing; a late answer is dropped)."""
    own = deadline(sync_plan.config, name)
    limit = own if budget is None else max(0.0, min(own, budget))
    done: queue.Queue[FetchResult] = queue.Queue(maxsize=1)
    worker = threading.Thread(
        target=lambda: done.put(fetch_connection(sync_plan, name)), name=f"okrsync-fetch-{name}", daemon=True
    )
    worker.start()
    try:
        return done.get(timeout=limit)
    except queue.Empty:
        return too_late(sync_plan, name, by_run=limit < own)


def deadline(config: Config, name: str) -> float:
    """Seconds a connection's fetch may take: its own ``deadline:``, else ``deadlines.connection``."""
    own = config.connections[name].deadline
    return (own or config.deadlines.connection).total_seconds()


def too_late(sync_plan: SyncPlan, name: str, *, by_run: bool) -> FetchResult:
    limit = (
        f"the run's deadline ({_human(sync_plan.config.deadlines.run.total_seconds())}, deadlines.run)"
        if by_run
        else f"its deadline ({_human(deadline(sync_plan.config, name))})"
    )
    err = SourceError(f"did not answer within {limit}; the last stored value is kept", connection=name)
    return {q.metric_id: err.for_metric(q.metric_id) for q in sync_plan.queries[name]}


def _human(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
