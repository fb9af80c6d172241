"""The shape of the house: no import cycles, connectors never touch the store, the Alembic head
matches tables.py, every registered connector declares what the registry expects, and the code is as
ruff formats it, passes its linter and passes mypy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from okrsync.registry import registry
from okrsync.store import Store
from okrsync.store.tables import metadata
from tests.conftest import REPO

PACKAGES = ("okrsync", "connectors", "flows")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, at any depth (lazy imports count too).

    Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``: those count as edges, except
    the importing module's own ancestor packages (already being initialised when it runs)."""
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
            for target in targets:
                prefixes = {".".join(target.split(".")[:i]) for i in range(1, target.count(".") + 2)}
                edges |= {p for p in prefixes if p in modules and p != name and p not in ancestors}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt) :] + [node, nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (found := visit(nxt, trail + [node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_boundaries_between_the_parts():
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith("connectors"):
            assert not {e for e in edges if e.startswith(("okrsync.store", "okrsync.pipeline", "okrsync.cli"))}, name
    assert not {e for e in graph["okrsync.lint"] if e.startswith("okrsync.pipeline")}
    pure = ("okrsync.config", "okrsync.results", "okrsync.rollup", "okrsync.confidence", "okrsync.calendar")
    for name in ("okrsync.evaluate", "okrsync.rollup", "okrsync.confidence", "okrsync.calendar"):  # no I/O
        assert not {e for e in graph[name] if not e.startswith(pure)}, name
    assert not {e for e in graph["okrsync.compute"] if e.startswith(("okrsync.store", "okrsync.registry"))}


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
