"""Helpers for the tests of `okrsync serve`, `okrsync deploy` and the flow under a real Prefect server:
a JSON API that holds its answer until the test releases it, a server that accepts and never answers,
team configs on them, and the flow run's state read from Prefect's REST API."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from okrsync.testing import Emulator, Request, Response, route
from tests.helpers import poll

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class Held(Emulator):
    """``GET /value`` answers ``{"value": 7}`` once the test sets ``release`` (a sync kept in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    @route("GET", r"/value")
    def answer(self, req: Request):
        self.release.wait(120)
        return Response(200, {"value": 7})


class Silent:
    """A TCP server on loopback that accepts every connection and never sends a byte: a hung API."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])

    def stop(self) -> None:
        for s in [*self.held, self.sock]:
            s.close()


def team(directory: Path, namespace: str, url: str, extra: str = "") -> Path:
    """A config on a JSON API at ``url`` (one metric), storing into SQLite beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "team.yaml"
    path.write_text(f"""\
version: 1
namespace: "{namespace}"
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
connections:
  api: {{type: http, base_url: "{url}", timeout: 120{extra}}}
metrics:
  n: {{connection: api, path: /value, select: value}}
kpis: [{{id: a, metric: n, healthy: {{min: 0}}}}]
""")
    return path


def start_serve(env: dict, cwd: Path, *args: str) -> subprocess.Popen:
    """`okrsync serve ARGS` in a session of its own (its process group is its own and its children's)."""
    command = [sys.executable, "-m", "okrsync", "serve", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def deployment(api: str, name: str) -> dict | None:
    found = httpx.get(f"{api}/deployments/name/okrsync-sync/{name}", timeout=10)
    return found.json() if found.status_code == 200 else None


def trigger(api: str, name: str) -> str:
    """Wait until ``okrsync-sync/<name>`` is served, start a run of it; its id."""
    served = poll(lambda: deployment(api, name), 90, f"the deployment {name}")
    body = {"parameters": {"as_of": "2026-11-21"}}
    return httpx.post(f"{api}/deployments/{served['id']}/create_flow_run", json=body, timeout=10).json()["id"]


def state(api: str, run_id: str) -> dict:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]


def final_state(api: str, run_id: str, seconds: float = 90) -> dict:
    return poll(lambda: (s := state(api, run_id))["type"] in FINAL and s, seconds, "the run's final state")


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is left (by group, never by name)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def child_of(parent: int, marker: bytes) -> int | None:
    """The pid of a child of ``parent`` whose command line holds ``marker`` (read from /proc, by parent
    pid: never a process of another test)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and marker in cmdline:
            return int(entry.name)
    return None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, ended but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stored_runs(directory: Path) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{directory / 'store.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM runs WHERE outcome IS NOT NULL")).scalar()
    finally:
        engine.dispose()


def start_prefect_server(home: Path, port: int) -> subprocess.Popen:
    """A Prefect server of this test alone (SQLite under ``home``), in its own process group; answering."""
    from tests.helpers import PREFECT

    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    with (home / "server.log").open("a") as log:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
            process_group=0,
        )

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    poll(answers, 120, "the test's own Prefect server")
    return server


def stop_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)
    process.wait(30)


def finish(serve: subprocess.Popen, seconds: float = 90) -> str:
    """serve's whole output once it has exited (killed, with its group, if it had not after ``seconds``)."""
    try:
        output, _ = serve.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, 9)
        output, _ = serve.communicate()
        output += "\n[the test killed serve: it had not exited]"
    return output
