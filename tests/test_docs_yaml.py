"""Every ```yaml block of the README and docs/ is YAML that loads (fragments too), read as okrsync reads a
config: a reader copies them into their own file."""

from __future__ import annotations

import re

import pytest

from okrsync.yamlsource import YamlSyntaxError, load_with_lines
from tests.conftest import REPO

FENCE = re.compile(r"^(?P<indent>[ \t]*)```ya?ml[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def blocks() -> list[tuple[str, int, str]]:
    """(file, line of the fence, text) of every yaml block."""
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            indent = match.group("indent")
            body = "".join(line.removeprefix(indent) for line in match.group("body").splitlines(keepends=True))
            found.append((str(path.relative_to(REPO)), text.count("\n", 0, match.start()) + 1, body))
    return found


def test_the_readme_has_yaml_blocks():
    assert any(name == "README.md" for name, _, _ in blocks())


@pytest.mark.parametrize(("name", "line", "body"), [pytest.param(*b, id=f"{b[0]}:{b[1]}") for b in blocks()])
def test_a_yaml_block_of_the_docs_loads(name, line, body):
    try:
        load_with_lines(body)
    except YamlSyntaxError as exc:
        where = f"{name}:{line + exc.line}" if exc.line else f"{name}:{line}"
        pytest.fail(f"{where}: the ```yaml block starting on line {line} does not load: {exc}")
