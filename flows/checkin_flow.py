"""The check-in publish as a Prefect flow: ``okrsync-checkin``, on the config's ``schedule.checkin``.

It only orchestrates: it loads the config and calls :func:`okrsync.sync.checkin_publish.publish_checkin`, the
function `okrsync checkin --publish` calls (the check-in from the store alone, delivered under the run lock to the
outputs with ``on: [checkin]``, once per period), then keeps the check-in as a markdown artifact. Like the sync
flow, a user error (a config error, no output with ``on: [checkin]``, a run lock still held) ends the run *Failed*
with its one-line message; an output that failed ends it *Failed* named ``Partial``; nothing stored yet in the
cycle is *Completed* with that said (there is nothing to publish, and no one to blame).
"""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from okrsync import clock
from okrsync.config.load import load_config
from okrsync.errors import OkrsyncError
from okrsync.flows.names import artifact_key
from okrsync.flows.sync_flow import artifact, failed, run_logger
from okrsync.present.checkin_text import render_markdown
from okrsync.sync.checkin_publish import publish_checkin
from okrsync.sync.result import DEFAULT_WAIT


def checkin_flow(config_path: str = "okrsync.yaml", wait: float = DEFAULT_WAIT) -> State:
    """Publish the weekly check-in of one config to its outputs with ``on: [checkin]``."""
    try:
        config = load_config(config_path)
        done = publish_checkin(config, now=clock.now(config), wait=wait)
    except OkrsyncError as exc:  # a user error: its message, no traceback
        run_logger().error("%s", exc)
        return failed(str(exc) or type(exc).__name__, data=exc)
    if done.checkin is None:
        message = f"No sync has been stored for {config.cycle.name} yet: nothing to publish"
        run_logger().warning("%s", message)
        return Completed(message=message, data={"published": False})
    c = done.checkin
    key = artifact_key(config.namespace) + "-checkin"
    artifact(create_markdown_artifact, render_markdown(c), key=key, description=f"check-in {c.since} → {c.until}")
    summary: dict[str, Any] = {
        "published": True,
        "since": c.since.isoformat(),
        "until": c.until.isoformat(),
        "writes": done.writes,
        "output_errors": [{"output": e.output, "message": e.message} for e in done.output_errors],
        "exit_code": done.exit_code,
    }
    if done.output_errors:
        return failed(f"{len(done.output_errors)} output(s) failed", name="Partial", data=summary)
    return Completed(data=summary)


# what @flow does; the Flow keeps the function's name (deployments' entrypoint names it)
checkin_flow = Flow(checkin_flow, name="okrsync-checkin", log_prints=True)
