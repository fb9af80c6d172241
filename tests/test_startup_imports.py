"""`okrsync --help` stays cheap (issue 26): the CLI registers its commands without importing what the
commands need (Prefect, SQLAlchemy, Alembic, httpx, jinja2, pydantic, the config models, the connector
registry, the store, the SDK). Checked in a fresh interpreter, by what it imported, not by timing."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO

HEAVY = (
    "prefect",
    "sqlalchemy",
    "alembic",
    "httpx",
    "jinja2",
    "pydantic",
    "okrsync.config",
    "okrsync.registry",
    "okrsync.store",
    "okrsync.sdk",
    "okrsync.sync",
    "okrsync.connectors",
)
HELP = """
import sys
sys.argv = ["okrsync", "--help"]
from okrsync.cli import main
try:
    main()
except SystemExit:
    pass
"""


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (its own output is discarded)."""
    report = "\nimport json, sys\nsys.__stdout__.write('\\n' + json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", code + report], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.rsplit("\n", 1)[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_registers_commands_without_the_heavy_libraries():
    assert heavy_in(imported_after("import okrsync.cli.main")) == []


def test_help_is_drawn_without_the_heavy_libraries():
    modules = imported_after(HELP)
    assert "typer.rich_utils" in modules  # the help was drawn (this is the path being measured)
    assert heavy_in(modules) == []


def test_the_check_sees_a_heavy_import():
    """The check itself can fail: a CLI that imported the store would be caught."""
    assert heavy_in(imported_after("import okrsync.cli.main, okrsync.store")) != []
