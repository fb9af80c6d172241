"""The size budgets of the product code, as ruff formats it: no file over 400 lines, no function or method
over 50 (from its ``def`` to its last line), and at most 10 ``fmt: skip`` / ``fmt: off`` markers in all,
kept for data tables (lookup tables, literal matrices). A budget met by packing lines is not met.

Product code is okrsync/ with connectors/ and flows/ (symlinked under it), without the Alembic migrations."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from tests.helpers import REPO

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50
MAX_FORMAT_MARKERS = 10
MARKER = re.compile(r"#\s*fmt:\s*(skip|off)\b")


def product_files() -> list[Path]:
    """Every .py file of the product, following the symlinks to connectors/ and flows/."""
    found = []
    for folder, dirs, files in os.walk(REPO / "okrsync", followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in ("migrations", "__pycache__"))
        found += [Path(folder) / name for name in sorted(files) if name.endswith(".py")]
    return found


def shown(path: Path) -> str:
    """The path as the repo shows it (okrsync/connectors/x.py is connectors/x.py)."""
    relative = path.relative_to(REPO).as_posix()
    for top in ("connectors", "flows"):
        relative = relative.replace(f"okrsync/{top}/", f"{top}/", 1)
    return relative


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    return [
        f"{shown(path)}:{f.lineno} {f.name} ({length} lines)"
        for f in functions
        if (length := (f.end_lineno or f.lineno) - f.lineno + 1) > MAX_FUNCTION_LINES
    ]


def test_the_walk_finds_the_product_and_leaves_out_the_migrations():
    names = {shown(p) for p in product_files()}
    assert {"okrsync/okr/evaluate.py", "connectors/report.py", "flows/sync_flow.py"} <= names
    assert not any("migrations" in name for name in names)


def test_no_file_is_over_400_lines():
    counts = {shown(p): len(p.read_text(encoding="utf-8").splitlines()) for p in product_files()}
    assert {name: n for name, n in counts.items() if n > MAX_FILE_LINES} == {}


def test_no_function_is_over_50_lines():
    assert [line for p in product_files() for line in long_functions(p)] == []


def test_at_most_10_format_markers_in_all():
    markers = [
        f"{shown(p)}:{number}"
        for p in product_files()
        for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if MARKER.search(line)
    ]
    assert len(markers) <= MAX_FORMAT_MARKERS, markers
