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


class PyLoader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads on/off/yes/no as booleans, which turns the Slack output's ``on:`` key into
    ``True`` (and a country code NO into False). Pure Python: a subclass may hook its composer
    (okrsync.config.cycles notes where a value was an alias); reading a config uses :class:`Loader`.
    """


# libyaml's parser where PyYAML was built with it (its wheels are), with the same resolvers and constructors: a
# 2,000-KR config of 290 kB loads in 0.08 s instead of 0.89 s (bench/RESULTS.md, issue 26). Its composer runs in
# C, so it cannot be hooked: that is what PyLoader is for.
class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """:class:`PyLoader`'s reading of YAML, parsed and composed by libyaml where PyYAML has it."""


MAX_BYTES = 1_000_000  # a config is a page or two of YAML; a megabyte is a mistake or an attack
MAX_DEPTH = 40  # nesting levels; okrsync's own keys go about 6 deep
MAX_VALUES = 100_000  # values after aliases are expanded: a "billion laughs" document stops here


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode):
    """YAML dates; one that cannot exist (2026-13-01, 2026-02-30) stays text, as YAML 1.2 reads it, so the
    model reports it with its key and line among every other mistake instead of the whole file failing."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return node.value


for _loader in (PyLoader, Loader):
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int], list[tuple[Path_, int, str]]]:
    """Return (data, lines, duplicate_keys) for a YAML document; raise YamlSyntaxError.

    Bounded whatever the input: size, nesting depth and the number of values once aliases are
    expanded are checked before the data is built or validated."""
    if len(text) > MAX_BYTES:
        raise YamlSyntaxError(f"the file is larger than {MAX_BYTES // 1000} kB", None)
    loader: Loader | None = None
    try:
        loader = Loader(text)  # the reader already refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines: dict[Path_, int] = {(): node.start_mark.line + 1}
        duplicates: list[tuple[Path_, int, str]] = []
        _walk(node, (), lines, duplicates, [0])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlSyntaxError(f"invalid YAML: {_explain(exc, text)}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None
    except RecursionError:
        raise YamlSyntaxError(f"the YAML is nested more than {MAX_DEPTH} levels deep", None) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, duplicates


def _explain(exc: yaml.MarkedYAMLError, text: str) -> str:
    """PyYAML's words, or what to do about the two mistakes it words worst: tabs, and ${...} in {...}."""
    mark = exc.problem_mark or exc.context_mark
    line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indent:
        return "tabs cannot indent YAML; use spaces"
    if mark is not None and line[mark.column - 1 : mark.column + 1] == "${" and "flow" in str(exc.context):
        key, value = _flow_entry(line, mark.column - 1)
        written = f'{key}: "{value}"' if key else f'"{value}"'
        return f"a ${{...}} reference inside {{...}} or [...] must be quoted: write {written}"
    return str(exc.problem or exc)


def _flow_entry(line: str, at: int) -> tuple[str | None, str]:
    """The key (if any) and the whole value of the flow-collection entry holding the ``${`` at ``at``."""
    start = max(line.rfind(c, 0, at) for c in ",{[") + 1
    entry, depth = line[start:], 0
    for i, char in enumerate(entry):
        if entry.startswith("${", i):
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char in ",}]" and not depth:
            entry = entry[:i]
            break
    key, sep, value = entry.strip().partition(": ")
    return (key.strip(), value.strip()) if sep else (None, entry.strip())


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], dups: list, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise YamlSyntaxError(f"the YAML expands to more than {MAX_VALUES:,} values (aliases of aliases?)", None)
    if len(path) > MAX_DEPTH:
        raise YamlSyntaxError(f"the YAML is nested more than {MAX_DEPTH} levels deep", node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                dups.append((path + (key,), key_node.start_mark.line + 1, key))
            seen.add(key)
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, dups, count)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = path + (index,)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, dups, count)


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
