"""Pydantic's validation errors in the words of a config file: key paths and plain messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

_TAGS = {"function-after", "function-before", "float", "int", "str", "bool", "none", "literal['auto']"}


def problems_of(exc: ValidationError, prefix: tuple, data: Any = None) -> list[tuple[tuple, str]]:
    """(key path, message) for every error of a model validated at ``prefix`` of the document."""
    return [(prefix + clean_loc(tuple(err["loc"]), data), message(err)) for err in exc.errors(include_url=False)]


def clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop the union tags pydantic inserts into locations, keep the keys the user wrote."""
    out: list = []
    node = data
    for part in loc:
        in_data = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if in_data:
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and part in _TAGS:
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


def message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config/okrsync.schema.json)"
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    msg = msg.replace("Input should be", "must be").removeprefix("Value error, ").removeprefix("Assertion failed, ")
    got = err.get("input")
    if kind not in ("value_error", "assertion_error") and not isinstance(got, dict | list) and got is not None:
        return f"{msg} (got {got!r})"
    return msg


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def unknown(what: str, name: Any, known: Any) -> str:
    names = ", ".join(sorted(str(k) for k in known if k is not None)) or "none defined"
    return f"unknown {what} {name!r} (defined: {names})"
