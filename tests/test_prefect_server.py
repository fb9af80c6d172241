"""A real Prefect server on the machine's PostgreSQL: deploy prefect.yaml, list, run one deployment on
a worker, with no 422 and no traceback anywhere (the pinned prefect + fastapi + SQLAlchemy must serve
the whole API okrsync and its users touch). Slow (~30 s); runs in CI because it needs PostgreSQL."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import REPO, postgres_base_url

PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    base = sa.engine.make_url(postgres_base_url())
    name = f"okrsync_prefect_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": base.set(
            drivername="postgresql+asyncpg", database=name
        ).render_as_string(hide_password=False),
    }
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # wait for the condition, bounded
        try:
            if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"prefect server did not start:\n{log.read_text()[-2000:]}")
    yield {"api": api, "env": {**env, "PREFECT_API_URL": api}, "log": log}
    server.terminate()
    server.wait(30)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def prefect(server, *args: str, cwd: Path, timeout: int = 120) -> str:
    done = subprocess.run([PREFECT, *args], cwd=cwd, env=server["env"], capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output and "422" not in output, output
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

    runs = httpx.post(f"{prefect_server['api']}/flow_runs/filter", json={"limit": 10, "offset": 0}).json()
    (run,) = [r for r in runs if r["parameters"].get("as_of") == "2026-11-21"]
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert (project / "reports" / "okr.html").exists()  # the worker ran the real sync
    prefect(prefect_server, "flow-run", "ls", cwd=project)
    assert "Traceback" not in prefect_server["log"].read_text()
