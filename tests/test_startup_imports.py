"""`okrsync --help` stays cheap (issue 26): the CLI registers its commands without importing what the
commands need (Prefect, SQLAlchemy, Alembic, httpx, jinja2, pydantic, the config models, the connector
registry, the store, the SDK). `validate` imports the connectors its config uses and no other, and the
SDK's front imports a name's module only when it is used: a csv-only config brings no httpx. Checked in a
fresh interpreter, by what it imported, not by timing."""

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


CSV_ONLY = """
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: sqlite:///store.db
connections: {files: {type: csv, root: .}}
metrics: {mrr: {connection: files, path: billing.csv, column: mrr}}
objectives:
  - id: grow
    title: Grow
    key_results: [{id: mrr, metric: mrr, kind: at_least, target: 10}]
"""
VALIDATE = """
import sys
sys.argv = ["okrsync", "-c", {config!r}, "validate"]
from okrsync.cli import main
try:
    main()
except SystemExit as done:
    assert done.code in (0, None), done.code
"""
NETWORK = ("httpx", "requests", "tenacity", "okrsync.sdk.http", "okrsync.sdk.entra", "okrsync.sdk.api_source")


def connector_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("okrsync.connectors.")}


def test_validate_of_a_csv_only_config_imports_its_connector_only(tmp_path):
    config = tmp_path / "okrs.yaml"
    config.write_text(CSV_ONLY)
    (tmp_path / "billing.csv").write_text("mrr\n5\n")
    modules = imported_after(VALIDATE.format(config=str(config)))
    assert "okrsync.config.bind" in modules  # the connections were bound (this is the path being measured)
    assert connector_modules(modules) == {"okrsync.connectors.csv_source"}
    assert sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NETWORK)) == []


def test_a_connector_module_is_imported_when_its_type_is_asked_for():
    """The registry lists 24 types without importing them; asking for jira imports jira's module, no other
    connector's; listing the types (the JSON Schema, an unknown type's message) imports them all."""
    listed = imported_after("from okrsync.registry import registry\nassert len(registry().connectors) >= 24")
    code = "from okrsync.registry import registry\nassert registry().get('jira') is not None"
    jira = imported_after(code)
    assert {m.split(".")[2] for m in connector_modules(jira)} == {"jira"}
    assert len({m.split(".")[2] for m in connector_modules(listed)}) >= 20
