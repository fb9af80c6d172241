"""A connection's `deadline:` holds in a plain `okrsync run` and in the Prefect flow alike: the wall time
of a hung connection (a server on loopback that accepts and never answers, request timeout 60 s) is its
deadline plus start-up, not its requests' timeouts and retries (docs/reliability.md: "On a bad night", Deadlines)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.serving import Silent

pytestmark = pytest.mark.reliability
DEADLINE = 2.0
# Bounds well under one request timeout (60 s) that a missing deadline would cost, with room for a loaded
# machine: CI once saw the fetch task end 8.4 s after it started while other work ran beside the suite.
FETCH_BOUND = DEADLINE + 13


def hung_config(directory: Path, url: str) -> Path:
    """Two metrics on the hung connection (so its requests go out in parallel threads) and one healthy."""
    (directory / "kpi.csv").write_text("n\n5\n")
    path = directory / "okrsync.yaml"
    path.write_text(f"""\
version: 1
namespace: deadlines
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
connections:
  files: {{type: csv, root: .}}
  hung: {{type: http, base_url: "{url}", deadline: {DEADLINE:g}s, timeout: 60}}
metrics:
  ok: {{connection: files, path: kpi.csv, column: n}}
  a: {{connection: hung, path: /a, select: value}}
  b: {{connection: hung, path: /b, select: value}}
kpis: [{{id: k0, metric: ok, healthy: {{min: 0}}}}, {{id: ka, metric: a, healthy: {{min: 0}}}},
       {{id: kb, metric: b, healthy: {{min: 0}}}}]
""")
    return path


def timed_run(env: dict, cwd: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "okrsync", "run", "-q", "--as-of", "2026-11-21", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return time.monotonic() - started, done


def test_a_hung_connection_ends_a_plain_run_at_its_deadline(tmp_path, figures):
    import os

    server = Silent()
    try:
        hung_config(tmp_path, server.url)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        wall, done = timed_run(env, tmp_path)
    finally:
        server.stop()
    assert done.returncode == 1 and "did not answer within its deadline (2 s)" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert wall < FETCH_BOUND, f"{wall:.1f} s for a {DEADLINE:g} s deadline"  # ~3 s measured; not 60 s x retries
    figures.append(("deadlines", f"hung connection, deadline {DEADLINE:g}s: okrsync run", {"wall s": round(wall, 1)}))


def seconds(run: dict) -> float:
    return (datetime.fromisoformat(run["end_time"]) - datetime.fromisoformat(run["start_time"])).total_seconds()


@pytest.mark.slow
def test_a_hung_connection_ends_the_flows_fetch_at_its_deadline(prefect_server, tmp_path, figures):
    server = Silent()
    try:
        hung_config(tmp_path, server.url)
        wall, done = timed_run(prefect_server["env"], tmp_path, "--prefect")
    finally:
        server.stop()
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "did not answer within its deadline (2 s)" in done.stderr, output
    assert "Traceback" not in output and "Timeout of" not in output, output
    assert " | INFO " not in output, output  # -q: not Prefect's INFO lines either
    api = prefect_server["api"]
    body = {"task_runs": {"name": {"any_": ["fetch-hung"]}}, "sort": "EXPECTED_START_TIME_DESC", "limit": 1}
    (task_run,) = httpx.post(f"{api}/task_runs/filter", json=body).json()
    flow_run = httpx.get(f"{api}/flow_runs/{task_run['flow_run_id']}").json()
    fetch, whole = seconds(task_run), seconds(flow_run)
    assert task_run["state"]["type"] == "COMPLETED" and fetch < FETCH_BOUND, (fetch, task_run["state"])
    assert whole < FETCH_BOUND + 5, f"the flow run took {whole:.1f} s for a {DEADLINE:g} s deadline"
    assert wall < FETCH_BOUND + 20, f"okrsync run --prefect took {wall:.1f} s"  # Prefect's start-up included
    figures.append(
        (
            "deadlines",
            f"hung connection, deadline {DEADLINE:g}s: Prefect flow",
            {
                "fetch task s": round(fetch, 1),
                "flow run s": round(whole, 1),
                "run --prefect s": round(wall, 1),
                "output lines": len(output.splitlines()),
            },
        )
    )
