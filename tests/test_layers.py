"""The layers of the house, held by its import graph (docs/architecture.md draws them).

    errors, redact, defaults, memory the base every layer may use
    config                           the config's models, loading and binding
    okr                              pure OKR semantics: no I/O library, no store, no connector
    sdk                              all a connector author imports (okrsync.sdk re-exports it)
    registry, store                  connector types by name; the SQL store
    present                          how a status document reads (text, HTML, charts, digests)
    connectors                       sources and sinks, on the SDK: never the store, the sync or the CLI
    sync, validate                   the stages and their one sequencer; validate's checks
    flows, cli, testing              the front doors and the connector contract suites

Installed, the project claims one import name: the repo's connectors/ and flows/ are reached as
okrsync.connectors and okrsync.flows (symlinks under okrsync/), never as top-level names.
"""

import ast
import os
import tomllib
from pathlib import Path

import pytest

from tests.helpers import REPO

IO_LIBRARIES = ("sqlalchemy", "alembic", "psycopg", "httpx", "requests", "gspread", "jira", "prefect", "typer", "rich")
FRONT_DOORS = ("okrsync.cli", "okrsync.flows", "okrsync.testing", "okrsync.__main__")


def project_files() -> dict[str, Path]:
    """Module name -> file, walking okrsync/ through its connectors/ and flows/ links."""
    modules = {}
    for folder, _, names in os.walk(REPO / "okrsync", followlinks=True):
        if "migrations" in Path(folder).parts:
            continue
        for file in names:
            if file.endswith(".py"):
                parts = list((Path(folder) / file).relative_to(REPO).with_suffix("").parts)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = Path(folder) / file
    return modules


def imports(path: Path) -> set[str]:
    """Every module name a file imports, at any depth (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports. Importing ``a.b.c`` also runs the ``__init__`` of ``a``
    and ``a.b``: those count as edges, except the module's own ancestors (already being initialised)."""
    modules = project_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges = set()
        for target in imports(path):
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


def crossings(part: str, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    """The modules of ``part`` that import a module of ``forbidden``, and what they import."""
    graph = import_graph()
    found = {
        name: {e for e in edges if e.startswith(forbidden)}
        for name, edges in graph.items()
        if name == part or name.startswith(part + ".")
    }
    return {name: edges for name, edges in found.items() if edges}


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 80
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_the_connectors_and_flows_through_their_links():
    graph = import_graph()
    assert "okrsync.connectors.github" in graph and "okrsync.flows.sync_flow" in graph
    assert "okrsync.sdk" in graph["okrsync.connectors.github"]


HIGHER = {
    "okrsync.okr": ("okrsync.sdk", "okrsync.registry", "okrsync.store", "okrsync.present", "okrsync.connectors"),
    "okrsync.sdk": ("okrsync.registry", "okrsync.store", "okrsync.present", "okrsync.connectors"),
    "okrsync.store": ("okrsync.sdk", "okrsync.registry", "okrsync.present", "okrsync.connectors"),
    "okrsync.present": ("okrsync.sdk", "okrsync.registry", "okrsync.store", "okrsync.connectors"),
    "okrsync.connectors": ("okrsync.registry", "okrsync.store", "okrsync.validate"),
}
ABOVE_ALL = ("okrsync.sync", "okrsync.validate", *FRONT_DOORS)


@pytest.mark.parametrize("part", sorted(HIGHER))
def test_a_layer_never_imports_a_higher_one(part):
    assert crossings(part, HIGHER[part] + ABOVE_ALL) == {}


@pytest.mark.parametrize("part", ["okrsync.sync", "okrsync.validate", "okrsync.config"])
def test_the_stages_and_the_config_never_import_a_front_door(part):
    assert crossings(part, FRONT_DOORS) == {}


def test_the_okr_core_and_the_config_use_only_their_own_and_the_base():
    """okr may read the config's models; the config binds connectors through the registry and the SDK's
    settings models, and validates formulas with okr.formula: nothing else."""
    base = ("okrsync.errors", "okrsync.redact", "okrsync.defaults")
    assert crossings("okrsync.okr", ("okrsync.config.load", "okrsync.config.bind", "okrsync.clock")) == {}
    allowed = ("okrsync.config", "okrsync.okr.formula", "okrsync.okr.numbers", "okrsync.registry", "okrsync.sdk", *base)
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith("okrsync.config"):
            assert {e for e in edges if not e.startswith(allowed) and e not in ("okrsync", "okrsync.okr")} == set(), (
                name
            )


def test_only_the_front_doors_use_io_libraries_they_do_not_own():
    """The pure core imports no I/O library; Prefect, typer and rich belong to the front doors (config.env
    reads a Prefect Secret block lazily, for ``${prefect:NAME}``)."""
    for name, path in project_files().items():
        used = {m.split(".")[0] for m in imports(path)} & set(IO_LIBRARIES)
        if name.startswith("okrsync.okr"):
            assert used == set(), name
        if not name.startswith((*FRONT_DOORS, "okrsync.config.env")):
            assert used.isdisjoint({"prefect", "typer", "rich"}), (name, used)


def test_nothing_imports_connectors_or_flows_by_a_top_level_name():
    for name, path in project_files().items():
        assert {m for m in imports(path) if m.split(".")[0] in ("connectors", "flows")} == set(), name
    for path in [*(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")]:
        if path.name != "test_layers.py":
            assert {m for m in imports(path) if m.split(".")[0] in ("connectors", "flows")} == set(), path


def test_installed_the_project_claims_only_the_okrsync_name():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["okrsync*"]
    assert (REPO / "okrsync" / "connectors").resolve() == (REPO / "connectors").resolve()
    assert (REPO / "okrsync" / "flows").resolve() == (REPO / "flows").resolve()
    entry_points = project["project"]["entry-points"]["okrsync.connectors"].values()
    assert all(target.startswith("okrsync.connectors.") for target in entry_points)
