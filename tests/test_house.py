"""The shape of the house: the Alembic head matches tables.py, every registered connector declares what
the registry expects, and the code is as ruff formats it, passes its linter and passes mypy. The layers
and the import graph: tests/test_layers.py."""

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from okrsync.registry import registry
from okrsync.store import Store
from okrsync.store.tables import metadata
from tests.helpers import REPO


def test_every_builtin_connector_is_registered_by_entry_point():
    names = set(registry().connectors)
    assert {"csv", "sql", "google_sheets", "jira", "hubspot", "salesforce", "pipedrive", "http", "github"} <= set(
        registry().source_types()
    )
    assert {"report", "google_sheets", "jira", "slack", "teams", "webhook"} <= set(registry().output_types())
    assert names == set(registry().source_types()) | set(registry().output_types())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alembic_head_matches_tables(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'store.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)  # migrates to head
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], diff
        assert set(sa.inspect(store.engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}
    finally:
        store.close()


def test_code_is_as_the_formatter_writes_it_and_the_linter_passes():
    ruff = [sys.executable, "-m", "ruff"]
    targets = ["okrsync", "connectors", "flows", "tests", "bench"]
    formatted = subprocess.run([*ruff, "format", "--check", *targets], cwd=REPO, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = subprocess.run([*ruff, "check", *targets], cwd=REPO, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_type_checker_passes():
    """mypy as configured in pyproject.toml ([tool.mypy]: okrsync/, connectors/, flows/)."""
    checked = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
