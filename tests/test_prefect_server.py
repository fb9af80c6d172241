"""A real Prefect server on the machine's PostgreSQL: deploy prefect.yaml, list, run one deployment on
a worker, with no 422 and no traceback anywhere (the pinned prefect + fastapi + SQLAlchemy must serve
the whole API okrsync and its users touch). Slow (~30 s); runs in CI because it needs PostgreSQL."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import PREFECT, REPO, okrsync, poll


def prefect(server, *args: str, cwd: Path, timeout: int = 120) -> str:
    done = subprocess.run([PREFECT, *args], cwd=cwd, env=server["env"], capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output and "422 Unprocessable" not in output, output  # (a UUID may hold "422")
    return output


def test_deploy_list_and_run_on_a_worker(prefect_server, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for part in ("prefect.yaml", "config", "flows"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / part)
    prefect(prefect_server, "work-pool", "create", "okrsync", "--type", "process", cwd=project)
    prefect(prefect_server, "--no-prompt", "deploy", "--all", cwd=project)
    listed = prefect(prefect_server, "deployment", "ls", cwd=project)
    assert "okrsync-sync/example" in listed
    prefect(prefect_server, "work-pool", "ls", cwd=project)
    prefect(prefect_server, "deployment", "run", "okrsync-sync/example", "--param", "as_of=2026-11-21", cwd=project)
    prefect(prefect_server, "worker", "start", "--pool", "okrsync", "--run-once", cwd=project, timeout=240)

    runs = httpx.post(f"{prefect_server['api']}/flow_runs/filter", json={"limit": 200, "offset": 0}).json()
    example = deployment(prefect_server, "example")
    (run,) = [r for r in runs if r["deployment_id"] == example["id"] and r["parameters"].get("as_of") == "2026-11-21"]
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert (project / "reports" / "okr.html").exists()  # the worker ran the real sync
    prefect(prefect_server, "flow-run", "ls", cwd=project)
    assert "Traceback" not in prefect_server["log"].read_text()


def team_configs(tmp_path: Path, *names: str) -> Path:
    """A project with the example's data and one config per team (namespace = team name)."""
    project = tmp_path / "teams"
    shutil.copytree(REPO / "config", project / "config")
    example = (project / "config" / "example.yaml").read_text()
    for name in names:
        text = example.replace("version: 1\n", f"version: 1\nnamespace: {name}\n", 1)
        (project / "config" / f"team-{name}.yaml").write_text(text)
    return project


def okrsync_cli(server, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "okrsync", *args],
        cwd=cwd,
        env=server["env"],
        capture_output=True,
        text=True,
        timeout=180,
    )


def deployment(server, name: str) -> dict | None:
    found = httpx.get(f"{server['api']}/deployments/name/okrsync-sync/{name}")
    return found.json() if found.status_code == 200 else None


def test_okrsync_deploy_creates_updates_and_runs_on_a_worker(prefect_server, tmp_path):
    project = team_configs(tmp_path, "alpha", "beta")
    dry = okrsync_cli(prefect_server, "deploy", "--glob", "config/team-*.yaml", "--dry-run", cwd=project)
    assert dry.returncode == 0, dry.stderr
    assert "okrsync-sync/alpha: would create" in dry.stdout and "okrsync-sync/beta: would create" in dry.stdout
    assert deployment(prefect_server, "alpha") is None  # a dry run changes nothing

    done = okrsync_cli(prefect_server, "deploy", "--glob", "config/team-*.yaml", "--pool", "teams", cwd=project)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    alpha = deployment(prefect_server, "alpha")
    assert alpha["work_pool_name"] == "teams" and set(alpha["tags"]) == {"okrsync", "namespace:alpha"}
    assert alpha["parameters"] == {"config_path": "config/team-alpha.yaml"}
    (schedule,) = alpha["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *" and schedule["schedule"]["timezone"] == "Europe/Oslo"
    assert alpha["global_concurrency_limit"]["limit"] == 1

    beta = project / "config" / "team-beta.yaml"
    beta.write_text(beta.read_text().replace('cron: "0 2 * * *"', 'cron: "30 4 * * 1-5"'))
    again = okrsync_cli(
        prefect_server, "deploy", "--glob", "config/team-*.yaml", "--dry-run", "--pool", "teams", cwd=project
    )
    assert "okrsync-sync/alpha: unchanged" in again.stdout
    assert "okrsync-sync/beta: would update" in again.stdout and "-> 30 4 * * 1-5 (Europe/Oslo)" in again.stdout

    prefect(prefect_server, "deployment", "run", "okrsync-sync/alpha", "--param", "as_of=2026-11-21", cwd=tmp_path)
    prefect(prefect_server, "worker", "start", "--pool", "teams", "--run-once", cwd=tmp_path, timeout=240)
    this_deployment = {"deployments": {"id": {"any_": [alpha["id"]]}}, "limit": 200, "offset": 0}
    runs = httpx.post(f"{prefect_server['api']}/flow_runs/filter", json=this_deployment).json()
    (triggered,) = [r for r in runs if r["parameters"].get("as_of") == "2026-11-21"]
    assert triggered["state"]["type"] == "COMPLETED"
    assert any(r["state"]["type"] == "SCHEDULED" for r in runs)  # the server scheduled the nightly runs
    assert (project / "reports" / "okr.html").exists()  # ran in the deploy's working directory


def test_okrsync_serve_runs_a_triggered_sync_and_stops_on_ctrl_c(prefect_server, tmp_path):
    project = team_configs(tmp_path, "gamma")
    command = [sys.executable, "-m", "okrsync", "serve", "-c", "config/team-gamma.yaml"]
    serve = subprocess.Popen(
        command, cwd=project, env=prefect_server["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        gamma = poll(lambda: deployment(prefect_server, "gamma"), 60, "the served deployment")
        run = httpx.post(
            f"{prefect_server['api']}/deployments/{gamma['id']}/create_flow_run",
            json={"parameters": {"as_of": "2026-11-21"}},
        ).json()

        def finished():
            state = httpx.get(f"{prefect_server['api']}/flow_runs/{run['id']}").json()["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

        assert poll(finished, 90, "the served run")["type"] == "COMPLETED"
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            output, _ = serve.communicate(timeout=60)  # okrsync serve bounds its shutdown at 20 s
        finally:
            serve.kill()  # a no-op once it exited
    assert serve.returncode in (0, 130), output
    assert "serving okrsync-sync/gamma" in output and "Traceback" not in output, output


def test_serve_and_deploy_without_a_server_say_how_to_start_one(tmp_path, write_config):
    path = write_config("objectives: []\n")
    for command in ("serve", "deploy"):  # in this process: no server to start or reach
        done = okrsync(command, "-c", str(path), cwd=tmp_path)  # without PREFECT_API_URL
        assert done.returncode == 2 and "prefect server start" in done.stderr and "Traceback" not in done.stderr


def test_serve_start_server_keeps_prefects_files_in_the_project_and_stops_the_server(tmp_path):
    from tests.helpers import free_port

    project = team_configs(tmp_path, "delta")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "okrsync",
        "serve",
        "--start-server",
        "--port",
        str(port),
        "-c",
        "config/team-delta.yaml",
    ]
    serve = subprocess.Popen(
        command,
        cwd=project,
        env={**env, "DO_NOT_TRACK": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api"

    def served():
        try:
            return httpx.get(f"{api}/deployments/name/okrsync-sync/delta", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(served, 120, "the server and the served deployment")
    finally:
        serve.send_signal(signal.SIGINT)
        output, _ = serve.communicate(timeout=60)
    assert "Traceback" not in output and (project / ".okrsync" / "prefect" / "server.log").exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)  # the server stopped with serve


SECRET_SCRIPT = """
from prefect.blocks.system import Secret
from okrsync.config.env import resolve_env
from okrsync.errors import SourceError
from okrsync.redact import REDACTOR

Secret(value="canary-block-secret-42").save("dwh-password", overwrite=True)
url = resolve_env("postgresql://okr:${prefect:dwh-password}@db/dwh", "connections.dwh.url")
print("resolved", url == "postgresql://okr:canary-block-secret-42@db/dwh")
print("redacted", "canary-block-secret-42" not in REDACTOR(f"could not connect to {url}"))
try:
    resolve_env("${prefect:missing-one}", "connections.x.token")
except SourceError as exc:
    print("missing", exc)
"""


def test_prefect_secret_blocks_resolve_on_workers_and_are_redacted(prefect_server, tmp_path):
    """In a process of its own, as on a worker: only PREFECT_API_URL, no .env file."""
    done = subprocess.run(
        [sys.executable, "-c", SECRET_SCRIPT],
        env=prefect_server["env"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "resolved True" in done.stdout and "redacted True" in done.stdout
    assert "missing Prefect secret block 'missing-one' not found (referenced by connections.x.token)" in done.stdout
    env = {k: v for k, v in prefect_server["env"].items() if k != "PREFECT_API_URL"}
    script = "from okrsync.config.env import resolve_env\nresolve_env('${prefect:dwh-password}', 'connections.d.url')"
    no_server = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "needs a Prefect server: set PREFECT_API_URL" in no_server.stderr
