"""What `okrsync serve` prints when things go wrong: a config error in a served run is one line and the
run ends *Failed* with it; a Prefect server outage is one line when it starts and one when it ends,
serving resumes, and nothing says cancellation "will fail"; no traceback in either case. And an artifact
Prefect refuses never fails a run whose data was stored and delivered."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, poll
from tests.serving import (
    Held,
    deployment,
    final_state,
    start_prefect_server,
    stop_group,
    stored_runs,
    team,
    trigger,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def serve_to_file(env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "okrsync", "serve", "-c", "team.yaml"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(serve: subprocess.Popen, log: Path) -> str:
    serve.send_signal(signal.SIGTERM)
    try:
        serve.wait(60)
    finally:
        serve.kill()
    return log.read_text()


def test_a_config_error_in_a_served_run_is_one_line_and_fails_the_run(prefect_server, tmp_path, figures):
    api, held = prefect_server["api"], Held().start()
    held.release.set()
    config = team(tmp_path, "broken", held.url)
    serve = serve_to_file(prefect_server["env"], tmp_path, tmp_path / "serve.log")
    try:
        poll(lambda: httpx.get(f"{api}/deployments/name/okrsync-sync/broken").status_code == 200, 90, "serving")
        config.write_text(config.read_text().replace("kpis:", "kpiz:"))  # edited meanwhile, wrongly
        run_id = trigger(api, "broken")
        final = final_state(api, run_id)
    finally:
        output = stop(serve, tmp_path / "serve.log")
        held.stop()
    assert final["type"] == "FAILED" and "kpiz" in final["message"], final
    assert "Traceback" not in output and serve.returncode == 0, output
    figures.append(("serve output", "a config error in a served run", {"tracebacks": output.count("Traceback")}))


def test_a_prefect_server_outage_is_two_lines_and_serving_resumes(tmp_path, figures):
    port, home, held = free_port(), tmp_path / "prefect", Held().start()
    held.release.set()
    api = f"http://127.0.0.1:{port}/api"
    server = start_prefect_server(home, port)
    team(tmp_path, "outage", held.url)
    env = {
        **_env(home),
        "PREFECT_API_URL": api,
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_CLIENT_MAX_RETRIES": "1",
    }
    log = tmp_path / "serve.log"
    serve = serve_to_file(env, tmp_path, log)
    try:
        # READY once serve's runner has polled for runs (Prefect marks a polled deployment so): the outage must
        # fall in the polling, not between the deployment's registration and the runner's start (a race CI lost)
        poll(lambda: (deployment(api, "outage") or {}).get("status") == "READY", 90, "serve's first poll")
        stop_group(server)  # the server dies
        poll(lambda: "the Prefect server does not answer" in log.read_text(), 120, "serve to notice the outage")
        server = start_prefect_server(home, port)  # and comes back
        poll(lambda: "the Prefect server answers again" in log.read_text(), 120, "serve to notice it is back")
        final = final_state(api, trigger(api, "outage"))
    finally:
        output = stop(serve, log)
        stop_group(server)
        held.stop()
    assert final["type"] == "COMPLETED" and stored_runs(tmp_path) == 1, (final, output)
    assert "Traceback" not in output and "cancellation will fail" not in output, output
    assert output.count("does not answer") == 1 and serve.returncode == 0, output
    figures.append(("serve output", "Prefect server killed, restarted", {"tracebacks": 0, "runs after it": 1}))


def _env(home: Path) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {**env, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1"}


REFUSED_ARTIFACT = """
import sys
import okrsync.flows.sync_flow as module

def refused(*args, **kwargs):
    raise RuntimeError("422 Unprocessable Entity")

module.create_table_artifact = refused
state = module.sync_flow(sys.argv[1], "2026-11-21", return_state=True)
print(state.type.value, state.state_details.flow_run_id)
"""


def test_an_artifact_prefect_refuses_is_a_warning_not_a_failed_run(prefect_server, tmp_path, figures):
    """In a process of its own (Prefect's clients and event worker are per process), the table artifact
    refused as Prefect's API refuses a bad key or body."""
    (tmp_path / "kpi.csv").write_text("n\n5\n")
    (tmp_path / "okrsync.yaml").write_text("""\
version: 1
namespace: "a/b"
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: sqlite:///store.db
connections: {files: {type: csv, root: .}}
metrics: {n: {connection: files, path: kpi.csv, column: n}}
kpis: [{id: k, metric: n, healthy: {min: 0}}]
""")
    done = subprocess.run(
        [sys.executable, "-c", REFUSED_ARTIFACT, str(tmp_path / "okrsync.yaml")],
        cwd=tmp_path,
        env=prefect_server["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome, run_id = done.stdout.split()[-2:]
    assert outcome == "COMPLETED" and stored_runs(tmp_path) == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200, "offset": 0}

    def warned():
        logs = httpx.post(f"{prefect_server['api']}/logs/filter", json=body).json()
        return [entry["message"] for entry in logs if "artifact not written" in entry["message"]]

    assert "422 Unprocessable Entity" in poll(warned, 30, "the warning in the run's log")[0]
    figures.append(("serve output", "an artifact refused by Prefect", {"runs failed by it": 0}))


def test_a_sync_that_cannot_complete_under_run_prefect_is_its_one_line_and_exit_code(prefect_server, tmp_path):
    """The store does not answer: exit 3 with the store's message, as a plain run, and no traceback."""
    (tmp_path / "okrsync.yaml").write_text("""\
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: postgresql+psycopg://okrsync@127.0.0.1:1/nowhere
""")
    command = [sys.executable, "-m", "okrsync", "run", "--prefect", "--as-of", "2026-11-21"]  # not -q: the state line
    done = subprocess.run(command, cwd=tmp_path, env=prefect_server["env"], capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 3 and "Traceback" not in output, output
    assert "error:" in done.stderr and "Finished in state Failed" in output, output
