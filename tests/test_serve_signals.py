"""`okrsync serve` stopped by SIGTERM or Ctrl-C while a run is in flight, and `--start-server` interrupted
while its server starts: no run is lost or left *Running*, no server is left, and the exit code is 130
after SIGINT and 0 after SIGTERM (docs/production.md: "Nightly by itself"). Every process is found by pid or process
group, never by name. Slow: each test starts `okrsync serve` against the session's Prefect server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.helpers import free_port, poll
from tests.serving import (
    Held,
    child_of,
    final_state,
    finish,
    group_alive,
    process_alive,
    start_serve,
    stored_runs,
    team,
    trigger,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def in_flight(held: Held, serve: subprocess.Popen) -> int:
    """Wait until the served run is reading its source; the pid of its flow-run process."""
    poll(lambda: held.requests("GET", "^/value$"), 90, "the served run to reach its source")
    return poll(lambda: child_of(serve.pid, b"prefect.engine"), 10, "the flow-run process")


def nothing_left(serve: subprocess.Popen, run: int) -> bool:
    """serve, the flow-run process and their process groups have all ended."""
    return not any(alive(pid) for pid in (serve.pid, run) for alive in (process_alive, group_alive))


@pytest.mark.parametrize(
    ("how", "code"),
    [("SIGTERM to serve", 0), ("Ctrl-C to the process group", 130)],
)
def test_a_stop_signal_during_a_run_lets_it_finish_and_store_its_data(prefect_server, tmp_path, how, code, figures):
    api, held = prefect_server["api"], Held().start()
    namespace = f"finish-{code}"
    team(tmp_path, namespace, held.url)
    serve = start_serve(prefect_server["env"], tmp_path, "-c", "team.yaml")  # the default grace: 20 s
    try:
        run_id = trigger(api, namespace)
        run = in_flight(held, serve)
        if code == 0:
            serve.send_signal(signal.SIGTERM)
        else:  # what a terminal does: SIGINT to every process of the foreground group, the run's too
            os.killpg(serve.pid, signal.SIGINT)
        held.release.set()
        output = finish(serve)
    finally:
        held.release.set()
        held.stop()
    final = final_state(api, run_id)
    assert final["type"] == "COMPLETED", (final, output)
    assert stored_runs(tmp_path) == 1  # the run's data is in the store
    assert serve.returncode == code, output
    assert nothing_left(serve, run) and "Traceback" not in output, output
    figures.append(
        (
            "serve signals",
            f"{how} during a run, grace 20 s",
            {"runs lost": 0, "runs left Running": 0, "processes left": 0},
        )
    )


def test_a_run_still_going_after_the_grace_is_crashed_with_the_reason(prefect_server, tmp_path, figures):
    api, held = prefect_server["api"], Held().start()
    team(tmp_path, "crash", held.url)
    serve = start_serve(prefect_server["env"], tmp_path, "-c", "team.yaml", "--grace", "1")
    try:
        run_id = trigger(api, "crash")
        run = in_flight(held, serve)
        serve.send_signal(signal.SIGTERM)
        output = finish(serve, 60)
    finally:
        held.release.set()
        held.stop()
    final = final_state(api, run_id, 30)
    assert final["type"] == "CRASHED", (final, output)
    assert "okrsync serve was stopped (SIGTERM)" in final["message"] and "1 s later" in final["message"]
    assert serve.returncode == 0 and nothing_left(serve, run), output  # the run's process ended too
    assert stored_runs(tmp_path) == 0 and "Traceback" not in output, output
    figures.append(
        (
            "serve signals",
            "SIGTERM, run still going after grace 1 s",
            {"runs left Running": 0, "crashed with the reason": 1, "processes left": 0},
        )
    )


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_start_server_interrupted_during_start_up_leaves_no_server(tmp_path, write_config, signum, code, figures):
    path = write_config("objectives: []\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "okrsync", "serve", "--start-server", "--port", str(free_port()), "-c", str(path)],
        cwd=tmp_path,
        env={**env, "DO_NOT_TRACK": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        server = poll(lambda: child_of(serve.pid, b"server\0start"), 60, "serve to start `prefect server start`")
        serve.send_signal(signum)  # the server is starting: it answers only after 10-20 s
        output = finish(serve, 60)
    finally:
        serve.kill()
    assert not process_alive(server) and not group_alive(server), output  # serve stopped it before exiting
    assert serve.returncode == code and "Traceback" not in output, output
    figures.append(
        (
            "serve signals",
            f"--start-server, {signal.Signals(signum).name} during start-up",
            {"servers left": 0, "exit code": code},
        )
    )
