"""House figures for the README's development section: file sizes and long functions.

    python bench/house.py            # prints files over 400 lines and functions over 50 lines

Counted over okrsync/, connectors/, flows/ and tests/ (Alembic migrations are generated and left
out). A function's length is its ``def`` line to its last line, docstring included.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("okrsync", "connectors", "flows", "tests")
MAX_FILE, MAX_FUNCTION = 400, 50


def python_files() -> list[Path]:
    files = [p for part in PARTS for p in sorted((ROOT / part).rglob("*.py"))]
    return [p for p in files if "migrations" not in p.parts]


def long_functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION
    ]


def main() -> int:
    files = python_files()
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    big = sorted(((n, p) for p, n in sizes.items() if n > MAX_FILE), reverse=True)
    print(f"{len(files)} Python files, {sum(sizes.values())} lines, largest {max(sizes.values())}")
    print(f"files over {MAX_FILE} lines: {len(big)}")
    for n, p in big:
        print(f"  {n:5d}  {p.relative_to(ROOT)}")
    longs = [(n, f"{p.relative_to(ROOT)}:{name}") for p in files for name, n in long_functions(p)]
    print(f"functions over {MAX_FUNCTION} lines: {len(longs)}")
    for n, where in sorted(longs, reverse=True):
        print(f"  {n:5d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
