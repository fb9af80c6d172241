"""The persist stage, and what a sync reads from the store before it computes.

A run is stored under the config's run lock: the run row, its values (one per metric for the synced
day), the values its data contracts held back, its results; then, once published, its document.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import cast

from okrsync.config.model import Config
from okrsync.errors import SourceError, StoreError
from okrsync.okr.alignment import parent_namespaces
from okrsync.okr.results import Override
from okrsync.okr.status import NoteDoc, StatusDocument
from okrsync.sdk.connector import FetchResult, Observation
from okrsync.store import Store
from okrsync.store.archive import Archived
from okrsync.store.engine import Access
from okrsync.store.history import ValueRow
from okrsync.sync.compute import Computed, Stored
from okrsync.sync.plan import SyncPlan
from okrsync.sync.result import SyncResult

log = logging.getLogger("okrsync.store")


def open_store(config: Config, *, access: Access = "write") -> Store:
    """The config's store, opened to write, to read or as a scratch copy for a dry run
    (:class:`okrsync.store.engine.Database`)."""
    return Store(config.store_url(), access=access)


def read_stored(store: Store, sync_plan: SyncPlan, *, fetching: bool = True) -> Stored:
    """History up to the plan's as-of, and the overrides that apply (a fetch replaces once-overrides)."""
    config = sync_plan.config
    active = store.active_overrides(config.namespace)
    bound = {kr.id for _, kr in config.key_results() if kr.metric}  # a manual KR's value stops once it has a metric
    overrides = {
        k: Override(o.value, o.note, o.sticky, o.created_at)
        for k, o in active.items()
        if (o.sticky or not fetching) and not (o.manual and k in bound)
    }
    cycle = config.cycle.name
    history = store.load_history(config.namespace, cycle, sync_plan.day, sync_plan.metrics)
    short = [k.metric for k in config.kpis if len(history.get(k.metric, ())) < 2]
    if short:  # a KPI goes on across cycles: its last values carry over until the new cycle has two
        for metric, points in store.carried_over(config.namespace, cycle, short, sync_plan.as_of).items():
            history[metric] = points + history.get(metric, [])
    waiting = {} if fetching else store.held(config.namespace, cycle, day=sync_plan.day)
    held = {h.metric_id: h.reason for h in waiting}
    notes: dict[str, list[NoteDoc]] = {}
    for n in store.notes(config.namespace, cycle, until=sync_plan.day):  # oldest first
        notes.setdefault(n.kr_id, []).append(NoteDoc.model_validate(n))  # the fields the two share, by name
    return Stored(history, overrides, other_documents(store, config, until=sync_plan.day), held, notes)


def other_documents(store: Store, config: Config, *, until: date | None = None) -> dict[str, StatusDocument]:
    """The latest documents of the other namespaces in this cycle (up to ``until``): a child elsewhere
    may name one of our objectives as parent, and a parent elsewhere may hold one of ours. Alignment reads
    their objectives only, so each comes without key results, KPIs and errors (okrsync.store.company)."""
    found = store.latest_objectives(config.cycle.name, until_day=until, but=config.namespace)
    return {ns: StatusDocument.from_dict(document) for ns, document in found.items()}


def parent_documents(store: Store, doc: StatusDocument, day: date | None = None) -> dict[str, StatusDocument]:
    """The documents, as stored now (or current on ``day``), of the namespaces ``doc``'s parent notes name: what
    okrsync.okr.alignment.refresh_parent_notes checks a stored note against."""
    found = {}
    for namespace in sorted(parent_namespaces(doc)):
        run = store.run_on(namespace, doc.cycle, day) if day else store.latest_run(namespace, doc.cycle)
        if run is not None:  # a finished run: it has its document
            found[namespace] = StatusDocument.from_dict(cast(dict, run.document))
    return found


def stored_failures(config: Config, document: StatusDocument | None) -> FetchResult:
    """A stored run's failed metrics, as fetch results: a re-evaluation keeps them failed (and stale)."""
    errors = document.errors if document else []
    return {
        e.metric: SourceError(e.message, metric=e.metric, connection=e.connection)
        for e in errors
        if e.metric in config.metrics
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
    archive_old_cycles(store, config, now=now)
    return run_id


def archive_old_cycles(store: Store, config: Config, *, now: datetime) -> list[Archived]:
    """``store: {keep_cycles: N}``: the namespace's cycles beyond its newest N (the current one always kept),
    each written to a checked file in ``store.archive`` before its rows go (okrsync.store.archive)."""
    keep = config.store.keep_cycles
    if keep is None or store.read_only:
        return []
    folder = config.base_dir / config.store.archive
    done = []
    for cycle in store.cycles_beyond(config.namespace, config.cycle.name, keep):
        try:
            done.append(store.archive_cycle(config.namespace, cycle, folder, now))
        except StoreError as exc:  # nothing of that cycle was removed: the run goes on, the next one tries again
            log.warning("keep_cycles: %s was not archived, and stays in the store: %s", cycle, exc)
    return done


def value_row(sync_plan: SyncPlan, metric_id: str, obs: Observation) -> ValueRow:
    """A value as the store keeps it: owned by this run's synced day, placed at the metric's as-of."""
    as_of = sync_plan.metric_as_of.get(metric_id, sync_plan.as_of)
    return ValueRow(metric_id, sync_plan.day, as_of, obs.observed_at or as_of, obs.value)


def finish(store: Store, result: SyncResult, *, now: datetime) -> None:
    """Close the run: its outcome (``partial`` when a source or an output failed) and its document."""
    if result.run_id is not None:
        outcome = "partial" if result.exit_code else "ok"
        store.finish_run(result.run_id, outcome, result.document.to_dict(), now)
