"""The sync, as plain Python: plan -> fetch (per connection, concurrently) -> evaluate -> store -> outputs.

No Prefect import here: ``okrsync run`` calls :func:`sync` directly (sub-second overhead), and
``flows/`` wraps the same steps as a Prefect flow with one task per connection. A failing
source never stops the others: its metrics get an error, their KRs keep the last value and
are flagged stale, and the run's outcome becomes ``partial``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from okrsync import formula
from okrsync.config import Config, plugin_settings
from okrsync.connector import FetchResult, MetricQuery, Observation, SinkContext, local_day
from okrsync.document import build_document
from okrsync.errors import OkrsyncError, SinkError, SourceError
from okrsync.evaluate import Evaluation, MetricState, Override, Point, day_end, day_start, evaluate
from okrsync.registry import registry
from okrsync.store import Store

log = logging.getLogger("okrsync.pipeline")
Plan = dict[str, list[MetricQuery]]
EventHook = Callable[[str, str, str], None]  # (event, connection, detail)


@dataclass
class SyncResult:
    run_id: int | None
    evaluation: Evaluation
    document: dict
    fetched: dict[str, Observation]
    errors: dict[str, SourceError]
    history: dict[str, list] = field(default_factory=dict)  # metric -> [[iso time, value]]: report charts
    writes: list[str] = field(default_factory=list)
    output_errors: list[SinkError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        """0 all good, 1 the sync completed but a source or an output failed."""
        return 1 if self.errors or self.output_errors else 0


def metric_as_of(config: Config, metric_id: str, as_of: datetime) -> datetime:
    return as_of - timedelta(days=config.metrics[metric_id].offset_days)


def used_metrics(config: Config) -> set[str]:
    """Metrics used by a KR or KPI, and everything their formulas need."""
    wanted = {kr.metric for _, kr in config.key_results()} | {k.metric for k in config.kpis}
    todo = list(wanted)
    while todo:
        metric = config.metrics.get(todo.pop())
        if metric and metric.formula:
            for dep in formula.names(metric.formula) - wanted:
                wanted.add(dep)
                todo.append(dep)
    return wanted & set(config.metrics)


def plan_fetches(config: Config, as_of: datetime) -> Plan:
    """Group the queries of every used, non-formula metric by connection."""
    plan: Plan = {}
    for metric_id in sorted(used_metrics(config)):
        metric = config.metrics[metric_id]
        if metric.connection is None:
            continue
        plan.setdefault(metric.connection, []).append(
            MetricQuery(metric_id, metric, metric.params, metric_as_of(config, metric_id, as_of), config.cycle)
        )
    return plan


def open_source(config: Config, name: str):
    """An instance of the source connector of connection ``name`` (SourceError if unavailable)."""
    settings = config.connections[name]
    source_cls = registry().source(settings.type)
    if source_cls.connection_model is not type(settings):
        settings = plugin_settings(source_cls.connection_model, settings.model_dump())
    return source_cls(name, settings, config.base_dir)


def check_connection(config: Config, name: str) -> str:
    """Authenticate and reach one connection; a plain message either way (SourceError on failure)."""
    source = open_source(config, name)
    try:
        return source.check()
    except SourceError:
        raise
    except Exception as exc:
        log.debug("check of %s crashed", name, exc_info=True)
        raise SourceError(
            f"unexpected error in the {config.connections[name].type} connector: {type(exc).__name__}", connection=name
        ) from None
    finally:
        source.close()


def fetch_connection(config: Config, name: str, queries: Sequence[MetricQuery]) -> FetchResult:
    """Open one connection, read all its queries, close it. Never raises for a source's failure."""
    kind = config.connections[name].type
    try:
        source = open_source(config, name)
        try:
            result = source.fetch(queries)
        finally:
            source.close()
    except SourceError as exc:
        exc.connection = exc.connection or name
        return {q.metric_id: exc.for_metric(q.metric_id) for q in queries}
    except Exception as exc:  # a connector bug must not stop the other connections
        log.debug("connector %s crashed", name, exc_info=True)
        err = SourceError(f"unexpected error in the {kind} connector: {type(exc).__name__}", connection=name)
        return {q.metric_id: err.for_metric(q.metric_id) for q in queries}
    missing = [q.metric_id for q in queries if q.metric_id not in result]
    for metric_id in missing:
        result[metric_id] = SourceError("the connector returned no value", metric=metric_id, connection=name)
    return result


def fetch_all(config: Config, plan: Plan, on_event: EventHook | None = None) -> FetchResult:
    """Fetch every connection concurrently (threads: connectors use blocking clients)."""
    out: FetchResult = {}
    if not plan:
        return out

    def one(name: str) -> FetchResult:
        if on_event:
            on_event("start", name, f"{len(plan[name])} metric(s)")
        result = fetch_connection(config, name, plan[name])
        if on_event:
            failed = sum(isinstance(v, SourceError) for v in result.values())
            on_event("done", name, f"{len(result) - failed} ok, {failed} failed" if failed else f"{len(result)} ok")
        return result

    with ThreadPoolExecutor(max_workers=min(8, len(plan)), thread_name_prefix="okrsync-fetch") as pool:
        for result in pool.map(one, sorted(plan)):
            out.update(result)
    return out


def split_results(
    config: Config, as_of: datetime, fetched: FetchResult, *, compute_formulas: bool = True
) -> tuple[dict[str, Observation], dict[str, SourceError]]:
    """Separate values from errors and compute formula metrics from this run's values."""
    values = {m: v for m, v in fetched.items() if isinstance(v, Observation)}
    errors = {m: e for m, e in fetched.items() if isinstance(e, SourceError)}
    formulas = {
        m: config.metrics[m].formula for m in used_metrics(config) if config.metrics[m].formula and compute_formulas
    }
    computed, failed = formula.resolve_all(
        formulas, {m: o.value for m, o in values.items()}, {m: e.message for m, e in errors.items()}
    )
    for metric_id, value in computed.items():
        values[metric_id] = Observation(value, metric_as_of(config, metric_id, as_of))
    for metric_id, message in failed.items():
        errors[metric_id] = SourceError(message, metric=metric_id)
    for metric_id, obs in list(values.items()):
        if obs.observed_at is None:
            values[metric_id] = Observation(obs.value, metric_as_of(config, metric_id, as_of))
    return values, errors


def metric_states(
    config: Config,
    as_of: datetime,
    history: Mapping[str, list[Point]],
    values: Mapping[str, Observation],
    errors: Mapping[str, SourceError],
) -> dict[str, MetricState]:
    states = {}
    for metric_id in used_metrics(config):
        metric = config.metrics[metric_id]
        points = list(history.get(metric_id, ()))  # oldest first, as the store returns them
        if metric_id in values:  # this run's value replaces the stored one of the same (local) day
            obs = values[metric_id]
            day = local_day(obs.observed_at, config.cycle)
            begin, end = day_start(day, config.cycle).timestamp(), day_end(day, config.cycle).timestamp()
            points = [p for p in points if not begin <= p.ts < end]
            points.append(Point.of(obs.observed_at, obs.value))
        err = errors.get(metric_id)
        states[metric_id] = MetricState(
            history=tuple(points),
            as_of=metric_as_of(config, metric_id, as_of),
            max_age=metric.max_age,
            error=err.message if err else None,
            connection=(err.connection if err else None) or metric.connection,
            percent=metric.aggregate == "percent_done",
        )
    return states


def chart_history(config: Config, states: Mapping[str, MetricState]) -> dict[str, list]:
    tz = config.cycle.tz
    return {
        m: [[datetime.fromtimestamp(p.ts, tz).isoformat(), round(p.value, 6)] for p in s.ordered()]
        for m, s in states.items()
    }


def open_store(config: Config) -> Store:
    return Store(config.store_url())


def evaluate_and_record(
    config: Config,
    store: Store,
    as_of: datetime,
    fetched: FetchResult,
    *,
    now: datetime,
    dry_run: bool = False,
    trigger: str = "run",
) -> SyncResult:
    """Store this run's values, evaluate against the stored history, store the results."""
    values, errors = split_results(config, as_of, fetched, compute_formulas=trigger == "run")
    ns, cycle = config.namespace, config.cycle.name
    active = store.active_overrides(ns)
    if trigger == "run":
        active = {k: o for k, o in active.items() if o.sticky}  # fetched values replace once-overrides
    overrides = {k: Override(o.value, o.note, o.sticky) for k, o in active.items()}
    history = store.load_history(ns, cycle, as_of, used_metrics(config))
    run_id = None
    if not dry_run:
        run_id = store.begin_run(ns, cycle, local_day(as_of, config.cycle), as_of, trigger, now)
        if trigger == "run":
            store.end_overrides(ns, now, once_only=True, reason="replaced")
        store.save_values(
            ns,
            cycle,
            run_id,
            [(m, local_day(o.observed_at, config.cycle), o.observed_at, o.value) for m, o in values.items()],
        )
    states = metric_states(config, as_of, history, values, errors)
    evaluation = evaluate(config, states, as_of, overrides)
    document = build_document(evaluation, config)
    if run_id is not None:
        store.save_evaluation(run_id, evaluation)
    return SyncResult(
        run_id, evaluation, document, values, errors, history=chart_history(config, states), dry_run=dry_run
    )


def write_outputs(config: Config, store: Store, result: SyncResult, *, now: datetime) -> None:
    """Hand the document to every output; one failing output never stops the others."""
    day = local_day(result.evaluation.as_of, config.cycle)
    previous_run = store.latest_run(config.namespace, config.cycle.name, before_day=day)
    previous = previous_run.document if previous_run else None
    for index, spec in enumerate(config.outputs):
        ctx = SinkContext(
            config,
            result.document,
            previous,
            store.ledger(config.namespace, result.run_id),
            history=result.history,
            dry_run=result.dry_run,
            now=now,
        )
        try:
            sink_cls = registry().sink(spec.type)
            sink_cls(spec, config.base_dir).write(ctx)
        except OkrsyncError as exc:
            result.output_errors.append(
                SinkError(getattr(exc, "message", str(exc)), output=f"outputs[{index}] ({spec.type})")
            )
        except Exception as exc:
            log.debug("output %s crashed", spec.type, exc_info=True)
            result.output_errors.append(
                SinkError(f"unexpected error: {type(exc).__name__}", output=f"outputs[{index}] ({spec.type})")
            )
        result.writes.extend(ctx.planned)


def finish(config: Config, store: Store, result: SyncResult, *, now: datetime) -> None:
    if result.run_id is not None:
        outcome = "partial" if result.exit_code else "ok"
        store.finish_run(result.run_id, outcome, result.document, now)


def sync(
    config: Config,
    as_of: datetime,
    *,
    now: datetime,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    store: Store | None = None,
) -> SyncResult:
    """One whole sync. ``as_of`` and ``now`` come from the caller: nothing here reads the clock."""
    own_store = store is None
    store = store or open_store(config)
    try:
        fetched = fetch_all(config, plan_fetches(config, as_of), on_event)
        result = evaluate_and_record(config, store, as_of, fetched, now=now, dry_run=dry_run)
        write_outputs(config, store, result, now=now)
        finish(config, store, result, now=now)
        return result
    finally:
        if own_store:
            store.close()


def reevaluate(config: Config, store: Store, *, now: datetime) -> SyncResult | None:
    """Re-evaluate the latest run from stored values (after an override), without fetching."""
    latest = store.latest_run(config.namespace, config.cycle.name)
    if latest is None:
        return None
    failed: FetchResult = {}
    for err in (latest.document or {}).get("errors", []):
        if err["metric"] in config.metrics:
            failed[err["metric"]] = SourceError(err["message"], metric=err["metric"], connection=err["connection"])
    result = evaluate_and_record(config, store, latest.as_of, failed, now=now, trigger="override")
    write_outputs(config, store, result, now=now)
    finish(config, store, result, now=now)
    return result


__all__ = [
    "SyncResult",
    "evaluate_and_record",
    "fetch_all",
    "fetch_connection",
    "finish",
    "open_store",
    "plan_fetches",
    "reevaluate",
    "sync",
    "write_outputs",
]
