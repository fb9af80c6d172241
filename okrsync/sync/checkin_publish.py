"""Publishing the weekly check-in to every output with ``on: [checkin]``, once per check-in period.

`okrsync checkin --publish` and the Prefect flow ``okrsync-checkin`` (okrsync.flows.checkin_flow, on the config's
``schedule.checkin``) both call :func:`publish_checkin`. The check-in is computed from the store alone, as
`okrsync checkin` shows it (okrsync.present.checkin, docs/checkin.md): until is the latest stored day, since is
until minus ``checkin.since_days``. Under the config's run lock (a sync, an accept or another publish of the same
config waits), each output gets it through its own Delivery, the ledger target being the period,
``checkin/<until>``: a chat message is claimed ``sent`` before the POST and never posted twice, a webhook POSTs
with an Idempotency-Key, a report writes its file only when the bytes differ. So a re-run in the same period sends
nothing, two at once send once, and a dry run (a scratch copy of the store, no lock) writes nothing.

No Prefect import and no clock read here: ``now`` comes from the caller.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from okrsync.config.model import Config
from okrsync.errors import OkrsyncError, SinkError
from okrsync.okr.status import StatusDocument
from okrsync.present.checkin import Checkin, CheckinReads, HeldEntry, NoteEntry, build_checkin
from okrsync.present.checkin_text import leading_lines, leading_metrics, render_json
from okrsync.present.triggers import CHECKIN_OUTPUTS, publishes_checkin
from okrsync.registry import registry
from okrsync.sdk.connector import CheckinContext, OutputSettings
from okrsync.sdk.delivery import Delivery
from okrsync.store import RunInfo, Store
from okrsync.store.ledger import Ledger
from okrsync.sync.persist import open_store
from okrsync.sync.result import DEFAULT_WAIT

log = logging.getLogger("okrsync.publish")


@dataclass
class CheckinRun:
    """What a publish of the check-in did: the check-in (None: nothing is stored in the cycle yet), what was (or
    would be) written, and the outputs that failed."""

    checkin: Checkin | None
    dry_run: bool = False
    writes: list[str] = field(default_factory=list)
    output_errors: list[SinkError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all delivered (or nothing new to deliver), 1 an output failed or nothing is stored yet."""
        return 1 if self.output_errors or self.checkin is None else 0


def checkin_outputs(config: Config) -> list[tuple[int, OutputSettings]]:
    """The outputs that take the check-in (``on: [checkin]``), with their index in ``outputs:``."""
    return [(index, spec) for index, spec in enumerate(config.outputs) if publishes_checkin(spec)]


def publish_checkin(
    config: Config, *, now: datetime, dry_run: bool = False, wait: float = DEFAULT_WAIT, store: Store | None = None
) -> CheckinRun:
    """Compute the check-in from the store and deliver it to every output with ``on: [checkin]``, under the run
    lock (RunLockedError after ``wait`` s). OkrsyncError when no output takes the check-in."""
    outputs = checkin_outputs(config)
    if not outputs:
        which = ", ".join(CHECKIN_OUTPUTS[:-1]) + f" or {CHECKIN_OUTPUTS[-1]}"
        raise OkrsyncError(f"no output publishes the check-in: add `on: [checkin]` to a {which} output")
    own_store = store is None
    store = store or open_store(config, access="scratch" if dry_run else "write")
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=wait) as lock:
            found = stored_checkin(config, store)
            if found is None:
                return CheckinRun(None, dry_run=dry_run)
            checkin, run_id = found
            lock.check("publishing the check-in")
            ledger = store.ledger(config.namespace, run_id)
            publishing = _Publishing(config, ledger, now, checkin, CheckinRun(checkin, dry_run=dry_run))
            for index, spec in outputs:
                publishing.deliver(f"outputs[{index}] ({spec.type})", spec)
            return publishing.result
    finally:
        if own_store:
            store.close()


@dataclass(frozen=True)
class _Publishing:
    """One publish of one check-in: where each output's writes are claimed, and what they did."""

    config: Config
    ledger: Ledger
    now: datetime
    checkin: Checkin
    result: CheckinRun

    def deliver(self, where: str, spec: OutputSettings) -> None:
        """One output's delivery; its failure is the run's output error, never stopping the others."""
        result = self.result
        try:
            sink = registry().sink(spec.type)(spec, self.config.base_dir)
            if not sink.publishes_checkin:  # a connector whose `on:` takes checkin without publishing one
                raise SinkError(f"a {spec.type} output cannot publish the check-in")
            delivery = Delivery(self.ledger, sink.key, self.now, dry_run=result.dry_run)
            document = json.loads(render_json(self.checkin))  # the JSON `okrsync checkin -f json` prints
            try:
                sink.write_checkin(CheckinContext(self.config, self.checkin, document, delivery))
            finally:
                result.writes.extend(delivery.planned)
                result.output_errors.extend(SinkError(p, output=where) for p in delivery.problems)
        except OkrsyncError as exc:
            result.output_errors.append(SinkError(getattr(exc, "message", str(exc)), output=where))
        except Exception as exc:
            log.debug("output %s crashed publishing the check-in", spec.type, exc_info=True)
            result.output_errors.append(SinkError(f"unexpected error: {type(exc).__name__}", output=where))


def stored_checkin(config: Config, store: Store, since: date | None = None) -> tuple[Checkin, int] | None:
    """The check-in from the store alone, with the id of until's run; None when nothing is stored in the cycle.
    ``since`` defaults to until - ``checkin.since_days``; one after until is a ValueError. The same reading as
    `okrsync checkin` (okrsync.cli.checkin_commands.read_checkin)."""
    ns, cycle = config.namespace, config.cycle.name
    latest = store.latest_run(ns, cycle)
    if latest is None:
        return None
    since = since or latest.day - timedelta(days=config.checkin.since_days)
    if since > latest.day:
        raise ValueError(f"{since} is after the latest stored day, {latest.day}")
    start = store.run_on(ns, cycle, since) or _first_run(store, ns, cycle)
    notes: dict[str, list[NoteEntry]] = {}
    for n in store.notes(ns, cycle, until=latest.day):  # the moment written in the cycle's time zone
        written = n.written_at.astimezone(config.cycle.tz)
        entry = NoteEntry(n.day, written, n.author, n.confidence, n.text, n.source, n.kept_at)
        notes.setdefault(n.kr_id, []).append(entry)
    held = [HeldEntry(h.metric_id, h.day, h.value, h.reason) for h in store.held(ns, cycle)]
    published = store.ledger(ns, None).first_sent(f"checkin/{since}")  # notes written after it are this period's
    until_doc = StatusDocument.from_dict(cast(dict, latest.document))  # a finished run: it has its document
    leading = leading_lines(until_doc, daily_values(store, config, until_doc))
    stored = CheckinReads(notes, held, store.kr_series(ns, cycle, latest.day), published, leading)
    start_doc = StatusDocument.from_dict(cast(dict, start.document)) if start else None
    return build_checkin(config, until_doc, start_doc, since, stored), latest.id


def _first_run(store: Store, namespace: str, cycle: str) -> RunInfo | None:
    """The first finished run of the cycle, with its document."""
    first = next((r for r in store.list_runs(namespace, cycle) if r.outcome), None)
    return store.run_on(namespace, cycle, first.day) if first else None


def daily_values(store: Store, config: Config, doc: StatusDocument) -> dict[str, dict[date, float]]:
    """The values per synced day of the metrics a leading indicator compares (the KPIs that lead, and the KRs
    they lead), read only when some KPI says ``leads``."""
    wanted = leading_metrics(doc)
    if not wanted:
        return {}
    history = store.load_history(config.namespace, config.cycle.name, doc.day, wanted)
    zone = config.cycle.tz
    return {m: {datetime.fromtimestamp(p.ts, zone).date(): p.value for p in points} for m, points in history.items()}
