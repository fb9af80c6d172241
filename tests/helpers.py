"""Helpers the test modules share (import them from here, never from another test module).

``okrsync(...)`` runs the CLI in this process, the way ``python -m okrsync`` does (``cli.main.main``:
argv, the environment, the working folder, stdout and stderr, the exit code), in a fraction of a
subprocess's second; ``okrsync_process(...)`` is the real subprocess, kept for the few smoke tests that
must prove the installed entry point, start-up and process boundaries.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

COLUMNS = 200  # what the subprocess runs get: one line per problem, tables unwrapped


@dataclass
class Ran:
    """What a finished command left: the same three fields as ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def okrsync(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """``okrsync ARGS`` in this process. An exception that escapes ``main`` (a crash the user would see
    as a traceback) becomes exit 1 with the traceback on stderr, as it would in a process."""
    from okrsync.cli.app import console, err_console
    from okrsync.cli.main import main

    environ = {**os.environ, "COLUMNS": str(COLUMNS), **(env or {})}
    for name in ("OKRSYNC_STORE_URL", "PREFECT_API_URL"):
        if name not in (env or {}):
            environ.pop(name, None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, environ, clear=True))
        stack.enter_context(mock.patch.object(sys, "argv", ["okrsync", *args]))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        for shown in (console, err_console):
            stack.enter_context(mock.patch.object(shown, "_width", COLUMNS))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        code = _exit_code(main, err)
    return Ran(code, out.getvalue(), err.getvalue())


def _exit_code(main, err: io.StringIO) -> int:
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what a process would print before dying
        err.write(traceback.format_exc())
        return 1
    return 0


def okrsync_process(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None):
    """``python -m okrsync ARGS`` in a subprocess (a smoke test of the real entry point)."""
    full_env = {**os.environ, "COLUMNS": str(COLUMNS), **(env or {})}
    full_env.pop("OKRSYNC_STORE_URL", None)
    full_env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "okrsync", *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120
    )


def migrate_to(conn, revision: str) -> None:
    """Bring the database behind ``conn`` to an older schema ``revision`` (a store an older okrsync wrote)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from okrsync.store.engine import MIGRATIONS

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
