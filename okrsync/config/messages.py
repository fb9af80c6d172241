"""Pydantic's validation errors in the words of a config file: key paths and plain messages.

One message per key: the errors pydantic gives for each member of a union (``float | 'auto'``) are
merged into one, a number written with ``%`` is one hint, a value not among the allowed ones lists
them, and an unknown key or id suggests the closest known one (difflib).
"""

from __future__ import annotations

import ast
import difflib
import re
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

_TAGS = {"function-after", "function-before", "float", "int", "str", "bool", "none", "literal['auto']"}
_PERCENT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*%\s*$")
_NUMBER_ERRORS = {"float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"}
_VALUE_KEYS = {"start", "target", "min", "max"}  # values in the metric's unit
_WANTED = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number"}
_WANTED |= {"int_type": "a whole number", "string_type": "text", "bool_parsing": "true or false"}


def problems_of(
    exc: ValidationError, prefix: tuple, data: Any = None, model: type[BaseModel] | None = None
) -> list[tuple[tuple, str]]:
    """(key path, message) for every key with errors of ``model`` validated at ``prefix`` of the document."""
    by_loc: dict[tuple, list[ErrorDetails]] = {}
    for err in exc.errors(include_url=False):
        by_loc.setdefault(clean_loc(tuple(err["loc"]), data), []).append(err)
    out: list[tuple[tuple, str]] = []
    for loc, errors in by_loc.items():
        merged = _percent(prefix + loc, errors) or _union(errors)
        if merged:
            out.append((prefix + loc, merged))
            continue
        for err in errors:
            keys = fields_at(model, loc[:-1]) if model is not None and err["type"] == "extra_forbidden" else ()
            out.append((prefix + loc, message(err, keys)))
    return out


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


def message(err: ErrorDetails, keys: Iterable[str] = ()) -> str:
    """One error in plain words; ``keys``: the keys allowed where an unknown key was written."""
    kind, msg, got = err["type"], err["msg"], err.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return unknown_key(err["loc"][-1], keys)
    if kind in ("literal_error", "enum"):
        return not_one_of(got, allowed_values(err))
    msg = msg.replace("Input should be", "must be").removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind not in ("value_error", "assertion_error") and not isinstance(got, dict | list) and got is not None:
        return f"{msg} (got {got!r})"
    return msg


def unknown_key(key: Any, keys: Iterable[str]) -> str:
    keys = sorted(keys)
    if hint := did_you_mean(key, keys):
        return f"unknown key{hint}"
    if keys:
        return f"unknown key (expected one of: {', '.join(keys)})"
    return "unknown key (check the spelling; see config/okrsync.schema.json)"


def not_one_of(got: Any, allowed: list) -> str:
    if len(allowed) == 1:
        return f"expected {allowed[0]} (got {got!r})"
    shown = ", ".join(map(str, allowed))
    return f"{got!r} is not one of {shown}{did_you_mean(got, allowed)}"


def allowed_values(err: ErrorDetails) -> list:
    """The values a literal or enum error allows, from pydantic's "'a', 'b' or 'c'"."""
    expected = str((err.get("ctx") or {}).get("expected", ""))
    values = []
    for part in re.split(r", | or ", expected):
        try:
            values.append(ast.literal_eval(part))
        except (ValueError, SyntaxError):
            values.append(part)
    return values


def did_you_mean(name: Any, known: Iterable[Any]) -> str:
    """'; did you mean 'sum'?' for the closest of ``known`` (difflib), or '' when none is close.

    A match only as close as difflib's 0.6 must also be about as long (``csb`` -> ``csv``): a shared
    ending alone (``churn_rate`` and ``win_rate``, ``median`` and ``min``) suggests nothing."""
    choices = {str(k): k for k in known if k is not None}
    word = str(name)
    for close in difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6):
        ratio = difflib.SequenceMatcher(None, word, close).ratio()
        if ratio >= 0.75 or abs(len(close) - len(word)) <= 1:
            found = choices[close]
            return f"; did you mean {found!r}?" if isinstance(found, str) else f"; did you mean {found}?"
    return ""


def _percent(loc: tuple, errors: list[ErrorDetails]) -> str | None:
    """``92%`` where a number belongs: one message saying to drop the unit."""
    got = errors[0].get("input")
    match = _PERCENT.match(got) if isinstance(got, str) else None
    if not match or not any(e["type"] in _NUMBER_ERRORS for e in errors):
        return None
    number = float(match.group(1))
    if loc[:1] == ("status",):
        return f"write {number / 100:g} instead of {got!r} (a share between 0 and 1)"
    if loc and loc[-1] in _VALUE_KEYS:
        return f"write {number:g} instead of {got!r} (the unit belongs in the metric's `unit:`)"
    return f"write {number:g} instead of {got!r} (a plain number)"


def _union(errors: list[ErrorDetails]) -> str | None:
    """The errors of a union's members (a number, or 'auto') as one message."""
    if len(errors) < 2 or not all(e["type"] in _WANTED or e["type"] == "literal_error" for e in errors):
        return None
    wanted = [_WANTED.get(e["type"]) or " or ".join(map(repr, allowed_values(e))) for e in errors]
    return f"expected {' or '.join(dict.fromkeys(wanted))} (got {errors[0].get('input')!r})"


def fields_at(model: Any, loc: tuple) -> list[str]:
    """The keys of the model found at ``loc`` inside ``model`` (through lists, dicts and optionals)."""
    tp = model
    for part in loc:
        tp = _child(_container(tp), part)
        if tp is None:
            return []
    found = _container(tp)
    return list(found.model_fields) if isinstance(found, type) and issubclass(found, BaseModel) else []


def _container(tp: Any) -> Any:
    """The model, list or dict type inside an Annotated, Optional or union type."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _container(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        for member in get_args(tp):
            if (found := _container(member)) is not None:
                return found
        return None
    is_model = isinstance(tp, type) and issubclass(tp, BaseModel)
    return tp if is_model or origin in (list, dict) else None


def _child(tp: Any, part: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    args = get_args(tp)
    if get_origin(tp) is list and isinstance(part, int) and args:
        return args[0]
    if get_origin(tp) is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    return None


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def unknown(what: str, name: Any, known: Any) -> str:
    known = [k for k in known if k is not None]
    names = ", ".join(sorted(str(k) for k in known)) or "none defined"
    return f"unknown {what} {name!r} (defined: {names}){did_you_mean(name, known)}"
