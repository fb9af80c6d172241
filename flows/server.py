"""A local Prefect server for `okrsync serve --start-server`, supervised by the serving process.

Its files (database, logs) go to PREFECT_HOME, by default `.okrsync/prefect` under the current
directory, where the user can find them, instead of Prefect's silent default `~/.prefect`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from okrsync.errors import OkrsyncError


def start_local_server(port: int = 4200, wait: float = 120) -> tuple[subprocess.Popen, str, Path]:
    """Start `prefect server start` on 127.0.0.1:``port``; wait until it answers; point this process at it."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path(".okrsync/prefect").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    prefect = str(Path(sys.executable).with_name("prefect"))
    with (home / "server.log").open("a") as log:
        server = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log
        )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                os.environ["PREFECT_API_URL"] = api
                return server, api, home
        except httpx.HTTPError:
            time.sleep(0.5)
    server.terminate()
    raise OkrsyncError(f"the Prefect server did not start; see {home / 'server.log'}")
