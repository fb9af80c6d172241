"""The sync as a Prefect flow: the pipeline's five steps as tasks, one fetch task per connection.

plan -> fetch (one task per connection, never per KR, submitted together) -> compute -> persist ->
publish. The steps are the plain functions of :mod:`okrsync.pipeline`; this module only
orchestrates them, loads the config and plans once, and publishes a table and a markdown artifact
of the run (built from the status document, which holds no secrets). Deploy it with
``prefect.yaml`` (one deployment per team config), or run it from ``okrsync run --prefect``.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Completed, Failed

from okrsync import clock, pipeline
from okrsync.backfill import refresh_later
from okrsync.config.load import load_config
from okrsync.present import pct
from okrsync.report import render_markdown
from okrsync.status import StatusDocument


def step(fn, name: str):
    """A pipeline step as a task: no caching (every run reads fresh data), no task-level retries
    (connectors retry what can heal themselves)."""
    return task(fn, name=name, task_run_name=name, cache_policy=NO_CACHE, retries=0)


plan_task = step(pipeline.plan, "plan")
fetch_task = step(pipeline.fetch_connection, "fetch")
compute_task = step(pipeline.compute, "compute")
persist_task = step(pipeline.persist, "persist")
publish_task = step(pipeline.publish, "publish")


@flow(name="okrsync-sync", log_prints=True)
def sync_flow(config_path: str = "okrsync.yaml", as_of: str | None = None, wait: float = pipeline.DEFAULT_WAIT):
    """Fetch, evaluate, store and write outputs for one config, under the config's run lock.

    Ends ``Completed`` when every source and output worked, and ``Failed`` named ``Partial`` when the
    sync completed but some failed (the healthy values are stored and published; automations can
    match the ``prefect.flow-run.Partial`` event). A sync that cannot complete fails with its error.
    The state's data is the run summary, the status document included.
    """
    config = load_config(config_path)
    now = clock.now(config)
    store = pipeline.open_store(config)
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=wait):
            result = _steps(config, store, clock.moment(as_of, config), now)
        if result.held_back:  # an earlier day arrived: later days are evaluated again, the newest published
            refresh_later(config, store, date.fromisoformat(result.document.day), now=now, wait=wait)
    finally:
        store.close()
    publish_artifacts(result.document, config.namespace)
    summary = {
        "run_id": result.run_id,
        "krs": sum(1 for _ in result.document.key_results()),
        "errors": [e.model_dump() for e in result.document.errors],
        "exit_code": result.exit_code,
        "output_errors": [{"output": e.output, "message": e.message} for e in result.output_errors],
        "document": result.document.to_dict(),
    }
    if result.exit_code:
        failed = f"{len(summary['errors'])} metric(s) and {len(summary['output_errors'])} output(s) failed"
        return Failed(name="Partial", message=failed, data=summary)
    return Completed(data=summary)


def _steps(config, store, moment, now) -> pipeline.SyncResult:
    """plan -> fetch (one task per connection, together) -> compute -> persist -> publish."""
    sync_plan = plan_task(config, moment)
    futures = {
        name: fetch_task.with_options(
            task_run_name=f"fetch-{name}", timeout_seconds=pipeline.deadline(config, name)
        ).submit(sync_plan, name)
        for name in sync_plan.connections
    }
    fetched = _gather(sync_plan, futures, artifact_key(config.namespace) + "-fetch")
    computed = compute_task(sync_plan, fetched, pipeline.read_stored(store, sync_plan))
    result = pipeline.SyncResult(persist_task(store, sync_plan, computed, now=now), computed)
    result.held_back = pipeline.newer_run_note(store, sync_plan)  # a past day never overwrites the newest
    if result.held_back is None:
        publish_task(store, sync_plan, result, now=now)
    pipeline.finish(store, result, now=now)
    return result


def artifact_key(namespace: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return f"okrsync-{namespace}".lower().replace("_", "-")


def _gather(sync_plan, futures: dict, key: str) -> dict:
    """The fetch tasks' values as they finish, with a progress artifact (connections done / all) that
    the Prefect UI shows while a long fetch runs. A connection past its deadline (the task's timeout)
    or still running when the run's budget is spent fails its metrics, as in a plain run."""
    total = len(futures)
    progress = create_progress_artifact(0.0, key=key, description=f"connections fetched (0/{total})")
    fetched: dict = {}
    names = {future: name for name, future in futures.items()}
    try:
        for done, future in enumerate(as_completed(list(futures.values()), timeout=_budget(sync_plan)), start=1):
            try:
                fetched |= future.result()
            except Exception:  # the task timed out (its connection's deadline) or crashed
                fetched |= pipeline.too_late(sync_plan, names[future], by_run=False)
            update_progress_artifact(progress, 100.0 * done / total, f"connections fetched ({done}/{total})")
    except TimeoutError:
        for name in futures:
            if not any(q.metric_id in fetched for q in sync_plan.queries[name]):
                fetched |= pipeline.too_late(sync_plan, name, by_run=True)
    return fetched


def _budget(sync_plan) -> float:
    return sync_plan.config.deadlines.run.total_seconds()


def publish_artifacts(doc: StatusDocument, namespace: str) -> None:
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
    create_table_artifact(rows, key=key + "-table", description=f"KR status, {doc.cycle} as of {doc.as_of}")
    create_markdown_artifact(render_markdown(doc), key=key + "-report", description="OKR status report")


if __name__ == "__main__":
    sync_flow.serve(name="okrsync-nightly", cron="0 2 * * *")
