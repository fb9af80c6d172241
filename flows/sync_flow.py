"""The sync as a Prefect flow: one task per connection (never per KR), then evaluate+store, then outputs.

The steps are the plain functions of :mod:`okrsync.pipeline`; this module only orchestrates them
and publishes a table and a markdown artifact of the run (built from the status document,
which holds no secrets). Deploy it with ``prefect.yaml`` (one deployment per team config), or
run it from ``okrsync run --prefect``.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from okrsync.config import load_config
from okrsync.connector import FetchResult
from okrsync.errors import SourceError
from okrsync.pipeline import (
    evaluate_and_record,
    fetch_connection,
    finish,
    open_store,
    plan_fetches,
    write_outputs,
)
from okrsync.report import pct, render_markdown


@task(name="fetch", retries=0, cache_policy=NO_CACHE)
def fetch_task(config_path: str, connection: str, as_of: str) -> FetchResult:
    """Read every metric of one connection (the connector retries transient errors itself)."""
    config = load_config(config_path)
    queries = plan_fetches(config, datetime.fromisoformat(as_of))[connection]
    return fetch_connection(config, connection, queries)


@flow(name="okrsync-sync", log_prints=True)
def sync_flow(config_path: str = "okrsync.yaml", as_of: str | None = None) -> dict:
    """Fetch, evaluate, store and write outputs for one config. Returns a small summary."""
    config = load_config(config_path)
    now = datetime.now(config.cycle.tz)
    moment = datetime.fromisoformat(as_of) if as_of else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.cycle.tz)
    plan = plan_fetches(config, moment)
    futures = [
        fetch_task.with_options(task_run_name=f"fetch-{name}").submit(config_path, name, moment.isoformat())
        for name in sorted(plan)
    ]
    fetched: FetchResult = {}
    for future in futures:
        fetched.update(future.result())

    store = open_store(config)
    try:
        result = task(name="evaluate-and-store", task_run_name="evaluate-and-store", cache_policy=NO_CACHE)(
            evaluate_and_record
        )(config, store, moment, fetched, now=now)
        task(name="write-outputs", task_run_name="write-outputs", cache_policy=NO_CACHE)(write_outputs)(
            config, store, result, now=now
        )
        finish(config, store, result, now=now)
    finally:
        store.close()

    doc = result.document
    rows = [
        {
            "objective": o["id"],
            "key_result": kr["id"],
            "status": kr["status"],
            "progress": pct(kr["progress"]),
            "expected": pct(kr["expected"]),
            "stale": "yes" if kr["stale"] else "",
        }
        for o in doc["objectives"]
        for kr in o["key_results"]
    ]
    key = f"okrsync-{config.namespace}".lower().replace("_", "-")
    create_table_artifact(rows, key=key + "-table", description=f"KR status, {doc['cycle']} as of {doc['as_of']}")
    create_markdown_artifact(render_markdown(doc), key=key + "-report", description="OKR status report")
    errors = [
        {"metric": m, "connection": e.connection, "message": e.message}
        for m, e in result.errors.items()
        if isinstance(e, SourceError)
    ]
    return {
        "run_id": result.run_id,
        "krs": len(rows),
        "errors": errors,
        "exit_code": result.exit_code,
        "output_errors": [e.message for e in result.output_errors],
    }


if __name__ == "__main__":
    sync_flow.serve(name="okrsync-nightly", cron="0 2 * * *")
