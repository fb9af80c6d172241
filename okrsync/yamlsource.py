"""Safe YAML loading that remembers on which line each key was written.

Errors in okrsync's config name the file, the line and the key path. PyYAML's composer keeps a
mark on every node, so we compose once, construct the plain data with the safe constructor,
and walk the node tree alongside to record ``path -> line``. Duplicate keys, which YAML
silently resolves to the last one, are reported as problems here.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads on/off/yes/no as booleans, which turns the Slack output's ``on:`` key into
    ``True`` (and a country code NO into False).
    """


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int], list[tuple[Path_, int, str]]]:
    """Return (data, lines, duplicate_keys) for a YAML document; raise YamlSyntaxError."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {(): node.start_mark.line + 1}
    duplicates: list[tuple[Path_, int, str]] = []
    _walk(node, (), lines, duplicates)
    return data, lines, duplicates


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], dups: list) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                dups.append((path + (key,), key_node.start_mark.line + 1, key))
            seen.add(key)
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = path + (index,)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, dups)


def line_of(lines: dict[Path_, int], loc: tuple) -> int | None:
    """The line of the deepest existing prefix of ``loc`` (pydantic adds union tags to locs)."""
    best = lines.get(())
    path: Path_ = ()
    for part in loc:
        candidate = path + (part,)
        if candidate in lines:
            path = candidate
            best = lines[candidate]
    return best
