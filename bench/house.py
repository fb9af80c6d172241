"""House figures for docs/architecture.md: the product code's size, its largest file and function, and the
formatter markers that remain; then the files and functions over the budgets.

    python bench/house.py            # the product code (okrsync/, connectors/, flows/)
    python bench/house.py --tests    # the same figures over tests/

Counted on the code as it is in the tree (ruff formats it; tests/test_house.py checks that). Alembic
migrations are generated and left out. A function's length is its ``def`` line to its last line,
docstring included; the median is over every function and method.
"""

from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("okrsync", "connectors", "flows")
MAX_FILE, MAX_FUNCTION = 400, 50
MARKERS = ("fmt: skip", "fmt: off")


def python_files(parts: tuple[str, ...]) -> list[Path]:
    """Each file once: okrsync/connectors and okrsync/flows are links to the top-level folders."""
    files = [p for part in parts for p in sorted((ROOT / part).rglob("*.py"))]  # rglob follows no link
    return [p for p in files if "migrations" not in p.parts]


def functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    ]


def main(parts: tuple[str, ...]) -> int:
    files = python_files(parts)
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    sizes = {p: len(text.splitlines()) for p, text in texts.items()}
    lengths = [(n, f"{p.relative_to(ROOT)}:{name}") for p in files for name, n in functions(p)]
    largest = max(sizes, key=lambda p: sizes[p])
    longest = max(lengths)
    markers = sum(text.count(m) for text in texts.values() for m in MARKERS)
    print(f"{len(files)} Python files, {sum(sizes.values())} lines")
    print(f"largest file {largest.relative_to(ROOT)} ({sizes[largest]} lines)")
    print(f"{len(lengths)} functions, median {statistics.median(n for n, _ in lengths):g} lines")
    print(f"longest function {longest[1]} ({longest[0]} lines)")
    print(f"formatter markers ({' / '.join(MARKERS)}): {markers}")
    big = sorted(((n, p) for p, n in sizes.items() if n > MAX_FILE), reverse=True)
    print(f"files over {MAX_FILE} lines: {len(big)}")
    for n, p in big:
        print(f"  {n:5d}  {p.relative_to(ROOT)}")
    longs = sorted((n, where) for n, where in lengths if n > MAX_FUNCTION)
    print(f"functions over {MAX_FUNCTION} lines: {len(longs)}")
    for n, where in reversed(longs):
        print(f"  {n:5d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(("tests",) if "--tests" in sys.argv else PRODUCT))
