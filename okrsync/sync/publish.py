"""The publish stage: the status document handed to every output, each write claimed in the ledger first.

One failing output never stops the others; its problem is the run's output error, with the output named. What
an output heard people write where it writes (okrsync.sdk.connector.Heard: a note in the Sheets status table, a
comment on a KR's Jira issue) is collected on the result, and :func:`keep_heard` keeps it (the sequencer calls
it after publishing, under the run lock).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from okrsync.config.model import KeyResult
from okrsync.errors import OkrsyncError, SinkError
from okrsync.okr.status import StatusDocument
from okrsync.registry import registry
from okrsync.sdk.connector import MAX_IDENTITY, Heard, SinkContext
from okrsync.sdk.delivery import Delivery
from okrsync.store import Store
from okrsync.store.notes import CheckedNote, heard_note, parsed_confidence
from okrsync.sync.plan import SyncPlan
from okrsync.sync.result import SyncResult

log = logging.getLogger("okrsync.publish")


def publish(store: Store, sync_plan: SyncPlan, result: SyncResult, *, now: datetime) -> None:
    """Hand the document to every output; one failing output never stops the others."""
    config = sync_plan.config
    previous_run = store.latest_run(config.namespace, config.cycle.name, before_day=sync_plan.day)
    previous = StatusDocument.from_dict(cast(dict, previous_run.document)) if previous_run else None  # finished
    ledger = store.ledger(config.namespace, result.run_id)
    heard_before = frozenset(store.heard_identities(config.namespace)) if sync_plan.outputs else frozenset()
    for index, spec in enumerate(sync_plan.outputs):
        where = f"outputs[{index}] ({spec.type})"
        try:
            sink = registry().sink(spec.type)(spec, config.base_dir)
            delivery = Delivery(ledger, sink.key, now, dry_run=result.dry_run)
            ctx = SinkContext(config, result.document, previous, delivery, result.history, heard_before)
            try:
                sink.write(ctx)
            finally:  # what was heard before a failing write is kept all the same
                result.writes.extend(delivery.planned)
                result.output_errors.extend(SinkError(p, output=where) for p in delivery.problems)
                result.heard.extend(h for h in ctx.heard if all(h.identity != k.identity for k in result.heard))
        except OkrsyncError as exc:
            result.output_errors.append(SinkError(getattr(exc, "message", str(exc)), output=where))
        except Exception as exc:
            log.debug("output %s crashed", spec.type, exc_info=True)
            result.output_errors.append(SinkError(f"unexpected error: {type(exc).__name__}", output=where))


def newer_day_note(store: Store, sync_plan: SyncPlan) -> str | None:
    """Why this run's outputs are not written: the store already holds a later day of the cycle, and
    outputs show the newest day (as `okrsync status` does)."""
    config = sync_plan.config
    newest = store.latest_run(config.namespace, config.cycle.name)
    if newest is None or newest.day <= sync_plan.day:
        return None
    return (
        f"outputs not written: the store already holds {newest.day} and outputs show the newest day "
        "(pass --publish to write this earlier day anyway)"
    )


def keep_heard(store: Store, sync_plan: SyncPlan, result: SyncResult, *, now: datetime) -> None:
    """Keep what the outputs heard as notes (source: where it was heard) for the synced day, each identity once;
    a value typed for a manual key result becomes its sticky override, the store call `okrsync override` makes;
    never for a key result with a metric (said instead). A dry run keeps nothing and says what it would keep.
    The caller holds the run lock. This run's document is made: what is kept shows from the next evaluation
    (docs/checkin.md, "Notes from Sheets and Jira")."""
    config = sync_plan.config
    specs = {kr.id: kr for _, kr in config.key_results()}
    kept: dict[str, int] = {}
    for item in result.heard:
        spec = specs.get(item.kr_id)
        if spec is None or len(item.where) > 20 or len(item.identity) > MAX_IDENTITY:
            why = "not a key result here" if spec is None else "its source or identity is too long for the store"
            result.writes.append(f"{item.where[:20]}: heard a note on {item.kr_id!r}, {why}: not kept")
            continue
        note = _storable(item, result.writes)
        if note is None:
            continue
        if result.dry_run:
            kept[item.where] = kept.get(item.where, 0) + 1
            continue
        ns, cycle, day = config.namespace, config.cycle.name, sync_plan.day
        when = item.written_at or now
        where, identity = item.where, item.identity
        if store.add_heard(ns, cycle, spec.id, day, note, now=when, source=where, identity=identity, kept_at=now):
            kept[item.where] = kept.get(item.where, 0) + 1
            _keep_value(store, config.namespace, spec, item, result.writes, now)
    verb = "would keep" if result.dry_run else "kept"
    for where, n in kept.items():
        result.writes.append(f"{where}: {verb} {n} note(s) people wrote there, on the status from the next evaluation")


def _storable(item: Heard, said: list[str]) -> CheckedNote | None:
    """The heard note as the store keeps it, or None (and why, in ``said``: never quoting the text)."""
    try:
        note = heard_note(item.text, item.author)
    except ValueError as exc:
        said.append(f"{item.where}: a note heard on {item.kr_id} was not kept: {exc}")
        return None
    if item.confidence is None:
        return note
    try:
        return CheckedNote(note.text, note.author, parsed_confidence(item.confidence))
    except ValueError:
        keeps = not item.restated or item.value is not None  # anything besides the confidence: kept without it
        at = f"{item.confidence_at} ({item.kr_id})" if item.confidence_at else f"the confidence on {item.kr_id}"
        why = "is not a confidence (on track, at risk, off track or 0 to 10)"
        said.append(f"{item.where}: warning: {at} {why}: {'the rest is kept' if keeps else 'not kept'}")
        return note if keeps else None


def _keep_value(store: Store, namespace: str, spec: KeyResult, item: Heard, said: list[str], now: datetime) -> None:
    """A value heard for a manual key result: its sticky override. For one with a metric: said, not used."""
    if item.value is None:
        return
    if spec.metric:
        said.append(f"{item.where}: {spec.id} reads metric {spec.metric}: a value typed for it is not used")
        return
    try:
        store.add_override(namespace, spec.id, item.value, True, f"typed in {item.where}", now, manual=True)
    except ValueError as exc:
        said.append(f"{item.where}: {exc}: not kept")
        return
    said.append(f"{item.where}: {spec.id} = {item.value:g} (typed there; sticky, from the next evaluation)")
