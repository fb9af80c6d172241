"""The sync as a Prefect flow: the sync's five stages as tasks, one fetch task per connection.

plan -> fetch (one task per connection, never per KR, submitted together) -> compute -> persist ->
publish, sequenced by :func:`okrsync.sync.sequence.sync` like every other sync: this module only hands
in the stages wrapped as tasks, loads the config, and publishes a table and a markdown artifact of the
run (built from the status document, which holds no secrets). Deploy it with
``prefect.yaml`` (one deployment per team config), or run it from ``okrsync run --prefect``.

Like the CLI, the flow never shows a user error as a traceback: a config error, an unreachable store or
a run lock still held ends the run *Failed* with the one-line message (and ``okrsync run --prefect`` exits
as a plain run does); an unreachable PREFECT_API_URL is one line before anything starts. Artifacts are
a view of the run: one that cannot be written is a logged warning, never a failed run.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
from prefect import Flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Completed, Failed, State

from okrsync import clock
from okrsync.config.load import load_config
from okrsync.connectors.report import render_markdown
from okrsync.errors import OkrsyncError
from okrsync.flows.names import artifact_key
from okrsync.flows.server import require_api, unreachable
from okrsync.okr.status import StatusDocument
from okrsync.present.formats import pct
from okrsync.sync.fetch import EventHook, fetch_in_time, too_late
from okrsync.sync.plan import SyncPlan
from okrsync.sync.result import DEFAULT_WAIT, SyncResult
from okrsync.sync.sequence import Stages, sync


def step(fn, name: str):
    """A stage as a task: no caching (every run reads fresh data), no task-level retries (connectors
    retry what can heal themselves)."""
    return task(fn, name=name, task_run_name=name, cache_policy=NO_CACHE, retries=0)


fetch_task = step(fetch_in_time, "fetch")  # cut at the connection's deadline, as in a plain run


class SyncFlow(Flow):
    """The flow, checking PREFECT_API_URL when called directly (``okrsync run --prefect``): a server that
    does not answer is one line and exit 2, not httpx's traceback."""

    def __call__(self, *args, **kwargs):
        require_api(needed=False)
        try:
            return super().__call__(*args, **kwargs)
        except httpx.TransportError as exc:  # the server went away during the run
            raise unreachable(os.environ.get("PREFECT_API_URL", "PREFECT_API_URL"), type(exc).__name__) from None


def sync_flow(config_path: str = "okrsync.yaml", as_of: str | None = None, wait: float = DEFAULT_WAIT):
    """Fetch, evaluate, store and write outputs for one config, under the config's run lock.

    Ends ``Completed`` when every source and output worked, and ``Failed`` named ``Partial`` when the
    sync completed but some failed (the healthy values are stored and published; automations can
    match the ``prefect.flow-run.Partial`` event). A sync that cannot complete fails with its error.
    The state's data is the run summary, the status document included.
    """
    try:
        config = load_config(config_path)
        result = _sync(config, as_of, wait)
    except OkrsyncError as exc:  # a user error: its message, no traceback (the CLI maps it to its exit code)
        get_run_logger().error("%s", exc)
        return failed(str(exc) or type(exc).__name__, data=exc)
    publish_artifacts(result.document, config.namespace)
    summary: dict[str, Any] = {
        "run_id": result.run_id,
        "krs": sum(1 for _ in result.document.key_results()),
        "errors": [e.model_dump() for e in result.document.errors],
        "exit_code": result.exit_code,
        "output_errors": [{"output": e.output, "message": e.message} for e in result.output_errors],
        "document": result.document.to_dict(),
    }
    if result.exit_code:
        failed_parts = f"{len(summary['errors'])} metric(s) and {len(summary['output_errors'])} output(s) failed"
        return failed(failed_parts, name="Partial", data=summary)
    return Completed(data=summary)


# what @flow does, with the check; the Flow keeps the function's name (deployments' entrypoint names it)
sync_flow = SyncFlow(sync_flow, name="okrsync-sync", log_prints=True)
ENGINE_EXIT = "Engine execution exited with unexpected exception"


class _DropEngineExit(logging.Filter):
    """Drops Prefect's "unexpected exception" record of a Failed state returned on purpose (:func:`failed`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(ENGINE_EXIT)


def failed(message: str, **kwargs) -> State:
    """The Failed state the flow returns on purpose (a user error, a Partial night). On a worker or under
    `okrsync serve`, Prefect's engine then raises the state's result and logs it as an "unexpected
    exception" with a traceback (a TypeError holding the whole summary, for a Partial run): that one log
    record says nothing the state does not, and is dropped in this process."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, _DropEngineExit) for f in logger.filters):
        logger.addFilter(_DropEngineExit())
    return Failed(message=message, **kwargs)


def _sync(config, as_of: str | None, wait: float) -> SyncResult:
    stages = Stages.plain().wrapped(step, fetch=fetch_with_tasks)
    return sync(config, clock.moment(as_of, config), now=clock.now(config), stages=stages, wait=wait)


def fetch_with_tasks(sync_plan: SyncPlan, on_event: EventHook | None = None) -> dict:
    """The fetch stage as one task per connection, submitted together (the Prefect UI shows each)."""
    budget = _budget(sync_plan)
    futures = {
        name: fetch_task.with_options(task_run_name=f"fetch-{name}").submit(sync_plan, name, budget)
        for name in sync_plan.connections
    }
    return _gather(sync_plan, futures, artifact_key(sync_plan.config.namespace) + "-fetch")


def _gather(sync_plan, futures: dict, key: str) -> dict:
    """The fetch tasks' values as they finish, with a progress artifact (connections done / all) that
    the Prefect UI shows while a long fetch runs. Each task ends by its connection's deadline (or the
    run's budget); one still running when the budget is spent fails its metrics, as in a plain run."""
    total = len(futures)
    progress = Progress(key, total)
    fetched: dict = {}
    names = {future: name for name, future in futures.items()}
    try:
        for done, future in enumerate(as_completed(list(futures.values()), timeout=_budget(sync_plan)), start=1):
            try:
                fetched |= future.result()
            except Exception:  # the task crashed (fetch_in_time itself never raises for a source)
                fetched |= too_late(sync_plan, names[future], by_run=False)
            progress.update(done)
    except TimeoutError:
        for name in futures:
            if not any(q.metric_id in fetched for q in sync_plan.queries[name]):
                fetched |= too_late(sync_plan, name, by_run=True)
    return fetched


class Progress:
    """The progress artifact of the fetch; when Prefect refuses it, one warning and the run goes on."""

    def __init__(self, key: str, total: int) -> None:
        self.total, self.id = total, None
        self.id = artifact(create_progress_artifact, 0.0, key=key, description=f"connections fetched (0/{total})")

    def update(self, done: int) -> None:
        if self.id is not None:
            description = f"connections fetched ({done}/{self.total})"
            if artifact(update_progress_artifact, self.id, 100.0 * done / self.total, description) is None:
                self.id = None


def _budget(sync_plan) -> float:
    return sync_plan.config.deadlines.run.total_seconds()


def publish_artifacts(doc: StatusDocument, namespace: str) -> None:
    """A table and a markdown artifact of the run (a view of what was stored: never a failed run)."""
    rows = [
        {
            "objective": o.id,
            "key_result": kr.id,
            "status": str(kr.status),
            "progress": pct(kr.progress),
            "expected": pct(kr.expected),
            "stale": "yes" if kr.stale else "",
        }
        for o, kr in doc.key_results()
    ]
    key = artifact_key(namespace)
    artifact(
        create_table_artifact,
        rows,
        key=key + "-table",
        description=f"KR status, {doc.cycle} as of {doc.as_of.isoformat()}",
    )
    artifact(create_markdown_artifact, render_markdown(doc), key=key + "-report", description="OKR status report")


def artifact(create, *args, **kwargs):
    """``create(*args, **kwargs)``, or None with a warning in the run's log when Prefect refuses it: the
    data is stored and delivered by then, so an artifact never fails the run."""
    try:
        return create(*args, **kwargs)
    except Exception as exc:  # an API error, a refused key: the run's outcome stays what the sync made it
        run_logger().warning("artifact not written (%s: %s); the sync itself is stored", type(exc).__name__, exc)
        return None


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except Exception:  # outside a run context
        return logging.getLogger("okrsync.flow")
