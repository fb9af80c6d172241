"""Every ```yaml block of the README, the changelog and docs/*.md is YAML that loads (fragments too), read as
okrsync reads a config: a reader copies them into their own file. The README's config and the config
reference's (docs/config.md) are whole configs: each passes okrsync's own validation as written."""

from __future__ import annotations

import re

import pytest

from okrsync.config.load import parse_config
from okrsync.config.yamlsource import YamlSyntaxError, load_with_lines
from tests.helpers import REPO

FENCE = re.compile(r"^(?P<indent>[ \t]*)```ya?ml[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
DOCUMENTS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("**/*.md"))]
WHOLE_CONFIGS = ["README.md", "docs/config.md"]  # their first ```yaml block is a config as a whole


def blocks() -> list[tuple[str, int, str]]:
    """(file, line of the fence, text) of every yaml block."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            indent = match.group("indent")
            body = "".join(line.removeprefix(indent) for line in match.group("body").splitlines(keepends=True))
            found.append((str(path.relative_to(REPO)), text.count("\n", 0, match.start()) + 1, body))
    return found


def test_the_readme_and_the_config_reference_have_yaml_blocks():
    names = {name for name, _, _ in blocks()}
    assert set(WHOLE_CONFIGS) <= names


@pytest.mark.parametrize("name", WHOLE_CONFIGS)
def test_the_first_config_of_the_readme_and_the_config_reference_is_valid_as_a_whole(name, tmp_path):
    line, body = next((line, body) for n, line, body in blocks() if n == name)
    config = parse_config(body, f"{name}:{line}", base_path=tmp_path / "okrsync.yaml")  # raises ConfigError
    assert config.objectives and config.metrics and config.outputs


def test_every_document_read_here_exists():
    assert [str(p.relative_to(REPO)) for p in DOCUMENTS if not p.exists()] == []
    assert len(DOCUMENTS) > 2, "no pages under docs/"


@pytest.mark.parametrize(("name", "line", "body"), [pytest.param(*b, id=f"{b[0]}:{b[1]}") for b in blocks()])
def test_a_yaml_block_of_the_docs_loads(name, line, body):
    try:
        load_with_lines(body)
    except YamlSyntaxError as exc:
        where = f"{name}:{line + exc.line}" if exc.line else f"{name}:{line}"
        pytest.fail(f"{where}: the ```yaml block starting on line {line} does not load: {exc}")
