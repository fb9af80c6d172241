"""The Prefect server okrsync talks to: whether it answers, and the local one `okrsync serve --start-server`
starts and supervises.

The local server's files (database, logs) go to PREFECT_HOME, by default `.okrsync/prefect` under the
current directory, where the user can find them, instead of Prefect's silent default `~/.prefect`. It runs
in a process group of its own (`prefect server start` starts helpers), and :func:`stop` ends the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import httpx

from okrsync.errors import OkrsyncError

NO_SERVER = (
    "no Prefect server: set PREFECT_API_URL (start one with `prefect server start`, then "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`), or use `okrsync serve --start-server`"
)


def api_problem(api: str, timeout: float = 5.0) -> str | None:
    """Why the Prefect API at ``api`` cannot be used (it does not answer, or answers 5xx); None when it
    answers. Any other answer (Prefect Cloud's 401 on /health, say) means it is there."""
    try:
        status = httpx.get(f"{api.rstrip('/')}/health", timeout=timeout).status_code
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"HTTP {status}" if status >= 500 else None


def unreachable(api: str, problem: str) -> OkrsyncError:
    return OkrsyncError(
        f"the Prefect server at {api} does not answer ({problem}): start it (`prefect server start`) "
        "or correct PREFECT_API_URL"
    )


def require_api(*, needed: bool = True) -> None:
    """The Prefect API of PREFECT_API_URL must answer (one line and exit 2 otherwise, never a traceback).
    Without PREFECT_API_URL: an error when ``needed`` (serve, deploy), else nothing (``run --prefect``
    starts Prefect's temporary server)."""
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        if needed:
            raise OkrsyncError(NO_SERVER)
        return
    if problem := api_problem(api):
        raise unreachable(api, problem)


@contextlib.contextmanager
def one_line_if_unreachable() -> Iterator[None]:
    """A Prefect API that stops answering midway (registering, deploying) is one line and exit 2 too."""
    try:
        yield
    except httpx.TransportError as exc:
        raise unreachable(os.environ.get("PREFECT_API_URL", "PREFECT_API_URL"), type(exc).__name__) from None


def start_local_server(
    servers: list[subprocess.Popen],
    port: int = 4200,
    wait: float = 120,
    critical: Callable[[], AbstractContextManager] = nullcontext,
) -> tuple[str, Path]:
    """Start `prefect server start` on 127.0.0.1:``port`` in its own process group, appended to
    ``servers`` (inside ``critical()``: a stop signal cannot fall between the two, so the caller's
    ``finally`` always knows what to stop); wait until it answers; point this process at it."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path(".okrsync/prefect").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    prefect = str(Path(sys.executable).with_name("prefect"))
    command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (home / "server.log").open("a") as log, critical():
        servers.append(subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, process_group=0))
    server, api = servers[-1], f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and server.poll() is None:
        if api_problem(api, timeout=1) is None:
            os.environ["PREFECT_API_URL"] = api
            return api, home
        time.sleep(0.5)  # the server's start-up (10-20 s here), polled
    raise OkrsyncError(f"the Prefect server did not start; see {home / 'server.log'}")


def stop(server: subprocess.Popen, grace: float = 20.0) -> None:
    """End the server's whole process group: SIGTERM, SIGKILL for what is left after ``grace`` seconds."""
    _kill_group(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(server):
        time.sleep(0.1)
    if _group_alive(server):
        _kill_group(server.pid, signal.SIGKILL)
    server.wait(10)


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has ended
        os.killpg(pgid, signum)


def _group_alive(server: subprocess.Popen) -> bool:
    server.poll()  # reap the leader: a zombie still counts as a member of its group
    try:
        os.killpg(server.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
