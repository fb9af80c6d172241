"""The sync, as plain Python, in five steps: plan -> fetch -> compute -> persist -> publish.

No Prefect import here: ``okrsync run`` calls :func:`sync` directly (sub-second overhead), and
``flows/`` calls the same five steps as Prefect tasks. A failing source never stops the others:
its metrics get an error, their KRs keep the last value and are flagged stale, and the run's
outcome becomes ``partial``. A failing output never stops the other outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from okrsync.config.model import Config
from okrsync.errors import OkrsyncError, SinkError, SourceError
from okrsync.okr.numbers import checked
from okrsync.okr.results import Evaluation, Override
from okrsync.okr.status import StatusDocument
from okrsync.registry import registry
from okrsync.sdk.connector import FetchResult, Observation, SinkContext, Source
from okrsync.sdk.delivery import Delivery
from okrsync.store import RunInfo, Store
from okrsync.store.engine import Access
from okrsync.store.history import ValueRow
from okrsync.sync.compute import Computed, Stored, compute
from okrsync.sync.plan import SyncPlan, compile_plan

log = logging.getLogger("okrsync.sync.pipeline")
DEFAULT_WAIT = 120.0  # seconds a run waits for another run of the same config before giving up
EventHook = Callable[[str, str, str], None]  # (event, connection, detail)
plan = compile_plan


@dataclass
class SyncResult:
    run_id: int | None
    computed: Computed
    writes: list[str] = field(default_factory=list)
    output_errors: list[SinkError] = field(default_factory=list)
    dry_run: bool = False
    held_back: str | None = None  # why the outputs were not written (a newer day is already stored)

    @property
    def document(self) -> StatusDocument:
        return self.computed.document

    @property
    def evaluation(self) -> Evaluation:
        return self.computed.evaluation

    @property
    def fetched(self) -> dict[str, Observation]:
        return self.computed.values

    @property
    def errors(self) -> dict[str, SourceError]:
        return self.computed.errors

    @property
    def history(self) -> dict[str, list]:
        return self.computed.history

    @property
    def exit_code(self) -> int:
        """0 all good, 1 the sync completed but a source or an output failed."""
        return 1 if self.errors or self.output_errors else 0


# --------------------------------------------------------------------------- fetch


def open_source(config: Config, name: str) -> Source:
    settings = config.connections[name]
    used = [m._params for m in config.metrics.values() if m.connection == name and m._params is not None]
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
        kind = config.connections[name].type
        raise SourceError(f"unexpected error in the {kind} connector: {type(exc).__name__}", connection=name) from None
    finally:
        source.close()


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
        kind = sync_plan.config.connections[name].type
        err = SourceError(f"unexpected error in the {kind} connector: {type(exc).__name__}", connection=name)
        return {q.metric_id: err.for_metric(q.metric_id) for q in queries}
    for q in queries:
        if q.metric_id not in result:
            result[q.metric_id] = SourceError("the connector returned no value", metric=q.metric_id, connection=name)
    return {metric: _finite(metric, found, name) for metric, found in result.items()}


def _finite(metric: str, found: Observation | SourceError, connection: str) -> Observation | SourceError:
    """The boundary every source value crosses: NaN, infinities and out-of-range numbers become the
    metric's own error, so they can never reach the store, a document or a payload."""
    if not isinstance(found, Observation):
        return found
    try:
        checked(float(found.value))
    except (TypeError, ValueError, OverflowError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else f"not a number: {type(found.value).__name__}"
        return SourceError(f"the source returned {reason}; check the data behind this metric", metric=metric,
                           connection=connection)  # fmt: skip
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

    def one(name: str) -> None:
        if on_event:
            on_event("start", name, f"{len(sync_plan.queries[name])} metric(s)")
        result = fetch_connection(sync_plan, name)
        if on_event:
            failed = sum(isinstance(v, SourceError) for v in result.values())
            on_event("done", name, f"{len(result) - failed} ok, {failed} failed" if failed else f"{len(result)} ok")
        done.put((name, result))

    started = time.monotonic()
    due = {name: started + deadline(sync_plan.config, name) for name in sync_plan.connections}
    run_due = started + sync_plan.config.deadlines.run.total_seconds()
    for name in sync_plan.connections:
        threading.Thread(target=one, args=(name,), name=f"okrsync-fetch-{name}", daemon=True).start()
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


# --------------------------------------------------------------------------- persist and publish


def read_stored(store: Store, sync_plan: SyncPlan, *, fetching: bool = True) -> Stored:
    """History up to the plan's as-of, and the overrides that apply (a fetch replaces once-overrides)."""
    config = sync_plan.config
    active = store.active_overrides(config.namespace)
    overrides = {k: Override(o.value, o.note, o.sticky) for k, o in active.items() if o.sticky or not fetching}
    cycle = config.cycle.name
    history = store.load_history(config.namespace, cycle, sync_plan.day, sync_plan.metrics)
    short = [k.metric for k in config.kpis if len(history.get(k.metric, ())) < 2]
    if short:  # a KPI goes on across cycles: its last values carry over until the new cycle has two
        for metric, points in store.carried_over(config.namespace, cycle, short, sync_plan.as_of).items():
            history[metric] = points + history.get(metric, [])
    held = {} if fetching else {h.metric_id: h.reason for h in store.held(config.namespace, cycle, day=sync_plan.day)}
    return Stored(history, overrides, other_documents(store, config, until=sync_plan.day), held)


def other_documents(store: Store, config: Config, *, until=None) -> dict[str, StatusDocument]:
    """The latest documents of the other namespaces in this cycle (up to ``until``): a child elsewhere
    may name one of our objectives as parent, and a parent elsewhere may hold one of ours."""
    runs = store.latest_runs(config.cycle.name, until_day=until)
    # latest_runs gives finished runs only: each has its document
    return {
        ns: StatusDocument.from_dict(cast(dict, run.document)) for ns, run in runs.items() if ns != config.namespace
    }


def persist(store: Store, sync_plan: SyncPlan, computed: Computed, *, now: datetime, trigger: str = "run") -> int:
    """Store the run, its values and its results; a fetching run ends the once-overrides it replaced."""
    config, cycle = sync_plan.config, sync_plan.config.cycle
    run_id = store.begin_run(config.namespace, cycle.name, sync_plan.day, sync_plan.as_of, trigger, now)
    if trigger == "run":
        store.end_overrides(config.namespace, now, once_only=True, reason="replaced")
    rows = {m: value_row(sync_plan, m, o) for m, o in computed.values.items()}
    store.save_values(config.namespace, cycle.name, run_id, rows.values())
    if computed.values or computed.held:  # a fetch checked the contracts again (a re-evaluation fetched nothing)
        held = [(value_row(sync_plan, m, h.observation), h.reason) for m, h in computed.held.items()]
        store.save_held(config.namespace, cycle.name, run_id, held)
    store.save_evaluation(run_id, computed.evaluation)
    return run_id


def value_row(sync_plan: SyncPlan, metric_id: str, obs: Observation) -> ValueRow:
    """A value as the store keeps it: owned by this run's synced day, placed at the metric's as-of."""
    as_of = sync_plan.metric_as_of.get(metric_id, sync_plan.as_of)
    return ValueRow(metric_id, sync_plan.day, as_of, obs.observed_at or as_of, obs.value)


def publish(store: Store, sync_plan: SyncPlan, result: SyncResult, *, now: datetime) -> None:
    """Hand the document to every output; one failing output never stops the others."""
    config = sync_plan.config
    previous_run = store.latest_run(config.namespace, config.cycle.name, before_day=sync_plan.day)
    previous = StatusDocument.from_dict(cast(dict, previous_run.document)) if previous_run else None  # finished
    ledger = store.ledger(config.namespace, result.run_id)
    for index, spec in enumerate(sync_plan.outputs):
        where = f"outputs[{index}] ({spec.type})"
        try:
            sink = registry().sink(spec.type)(spec, config.base_dir)
            delivery = Delivery(ledger, sink.key, now, dry_run=result.dry_run)
            ctx = SinkContext(config, result.document, previous, delivery, history=result.history)
            try:
                sink.write(ctx)
            finally:
                result.writes.extend(delivery.planned)
                result.output_errors.extend(SinkError(p, output=where) for p in delivery.problems)
        except OkrsyncError as exc:
            result.output_errors.append(SinkError(getattr(exc, "message", str(exc)), output=where))
        except Exception as exc:
            log.debug("output %s crashed", spec.type, exc_info=True)
            result.output_errors.append(SinkError(f"unexpected error: {type(exc).__name__}", output=where))


def finish(store: Store, result: SyncResult, *, now: datetime) -> None:
    if result.run_id is not None:
        outcome = "partial" if result.exit_code else "ok"
        store.finish_run(result.run_id, outcome, result.document.to_dict(), now)


# --------------------------------------------------------------------------- whole syncs


def open_store(config: Config, *, access: Access = "write") -> Store:
    """The config's store, opened to write, to read or as a scratch copy for a dry run
    (:class:`okrsync.store.engine.Database`)."""
    return Store(config.store_url(), access=access)


def sync(
    config: Config,
    as_of: datetime,
    *,
    now: datetime,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    store: Store | None = None,
    wait: float = DEFAULT_WAIT,
    publish_past: bool = False,
) -> SyncResult:
    """One whole sync. ``as_of`` and ``now`` come from the caller: nothing here reads the clock.

    A sync that writes holds the config's run lock throughout (RunLockedError after ``wait`` s) and checks
    that it still does before storing and before publishing (RunLockLostError otherwise). A sync
    of a past day (``--as-of``) while a newer day is stored is kept in the store but not published,
    unless ``publish_past``: outputs show the newest state, as `okrsync status` does."""
    own_store = store is None
    store = store or open_store(config, access="scratch" if dry_run else "write")
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=wait) as lock:
            sync_plan = plan(config, as_of)
            fetched = fetch(sync_plan, on_event)
            computed = compute(sync_plan, fetched, read_stored(store, sync_plan))
            lock.check("storing anything")
            run_id = None if dry_run else persist(store, sync_plan, computed, now=now)
            result = SyncResult(run_id, computed, dry_run=dry_run)
            result.held_back = None if publish_past else newer_run_note(store, sync_plan)
            if result.held_back is None:
                lock.check("writing the outputs (its values are stored)")
                publish(store, sync_plan, result, now=now)
            finish(store, result, now=now)
        return result
    finally:
        if own_store:
            store.close()


def stored_failures(config: Config, document: StatusDocument | None) -> FetchResult:
    """A stored run's failed metrics, as fetch results: a re-evaluation keeps them failed (and stale)."""
    errors = document.errors if document else []
    return {
        e.metric: SourceError(e.message, metric=e.metric, connection=e.connection)
        for e in errors
        if e.metric in config.metrics
    }


def newer_run_note(store: Store, sync_plan: SyncPlan) -> str | None:
    """Why this run's outputs are held back: the store already holds a later day of the cycle."""
    config = sync_plan.config
    newest = store.latest_run(config.namespace, config.cycle.name)
    if newest is None or newest.day <= sync_plan.day:
        return None
    return (
        f"outputs not written: the store already holds {newest.day} and outputs show the newest day "
        "(pass --publish to write this earlier day anyway)"
    )


def reevaluate(config: Config, store: Store, *, now: datetime, wait: float = DEFAULT_WAIT) -> SyncResult | None:
    """Re-evaluate the latest run from stored values (after an override), without fetching."""
    with store.run_lock(config.namespace, config.cycle.name, wait=wait):
        return _reevaluate(config, store, now=now)


def _reevaluate(config: Config, store: Store, *, now: datetime) -> SyncResult | None:
    latest = store.latest_run(config.namespace, config.cycle.name)
    return None if latest is None else reevaluate_run(config, store, latest, now=now, trigger="override")


def reevaluate_run(
    config: Config, store: Store, run: RunInfo, *, now: datetime, trigger: str | None = None, publish_it: bool = True
) -> SyncResult:
    """Evaluate a stored run again from the stored history, without fetching, keeping its failures. The
    latest run after an override (``trigger="override"``) takes today's manual values; an earlier run
    re-evaluated after backfill keeps the ones its own document shows."""
    doc = StatusDocument.from_dict(run.document) if run.document else None
    sync_plan = plan(config, run.as_of)
    stored = read_stored(store, sync_plan, fetching=False)
    if trigger is None:  # not the override path: that day's own manual values
        overrides = {kr.id: Override(kr.override.value, kr.override.note, kr.override.sticky)
                     for _, kr in (doc.key_results() if doc else ()) if kr.override}  # fmt: skip
        stored = dataclasses.replace(stored, overrides=overrides)
    computed = compute(sync_plan, stored_failures(config, doc), stored, formulas=False)
    result = SyncResult(persist(store, sync_plan, computed, now=now, trigger=trigger or run.trigger), computed)
    if publish_it:
        publish(store, sync_plan, result, now=now)
    finish(store, result, now=now)
    return result


__all__ = [
    "SyncResult",
    "check_connection",
    "compute",
    "fetch",
    "fetch_connection",
    "finish",
    "newer_run_note",
    "open_store",
    "persist",
    "plan",
    "publish",
    "read_stored",
    "stored_failures",
    "reevaluate",
    "reevaluate_run",
    "sync",
]
