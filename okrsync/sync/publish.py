"""The publish stage: the status document handed to every output, each write claimed in the ledger first.

One failing output never stops the others; its problem is the run's output error, with the output named.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from okrsync.errors import OkrsyncError, SinkError
from okrsync.okr.status import StatusDocument
from okrsync.registry import registry
from okrsync.sdk.connector import SinkContext
from okrsync.sdk.delivery import Delivery
from okrsync.store import Store
from okrsync.sync.plan import SyncPlan
from okrsync.sync.result import SyncResult

log = logging.getLogger("okrsync.publish")


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
