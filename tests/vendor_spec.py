"""Every request the connectors send in the test suite, checked against the vendors' published API
descriptions (excerpts in tests/vendor_specs/, each naming its origin and the date it was read).

An emulator class that declares ``vendor = "hubspot"`` has each request it serves checked: the method
and path must be an operation of that description, every query parameter one it declares (with its
enum, where it has one), and a JSON body valid against the operation's request schema (jsonschema;
the descriptions' ``additionalProperties: false`` is how an unknown field is caught, as Google answers
"Invalid JSON payload received. Unknown name"). Problems are collected while the emulator serves and
fail the test that caused them (see the autouse fixture in conftest).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema

from okrsync.testing import Emulator, Request

SPECS = Path(__file__).parent / "vendor_specs"
PROBLEMS: list[str] = []


@cache
def spec(vendor: str) -> dict:
    return json.loads((SPECS / f"{vendor}.json").read_text())


@cache
def _template(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", r"[^/:]+", re.escape(path)) + "$")


def problems(vendor: str, req: Request) -> list[str]:
    """What in ``req`` the vendor's description does not allow ([] when it conforms)."""
    described = spec(vendor)
    if any(re.match(pattern, req.path) for pattern in described.get("other_services", {})):
        return []
    where = f"{vendor}: {req.method} {req.path}"
    ops = [o for o in described["operations"] if o["method"] == req.method and _template(o["path"]).match(req.path)]
    if not ops:
        return [f"{where} is not an operation of {described['vendor']}"]
    op = ops[0]
    found = []
    allowed = set(op["query"]) | set(described.get("standard_query", []))
    for name, values in req.query.items():
        if name not in allowed:
            found.append(f"{where}: query parameter {name!r} is not declared")
        elif (enum := op["query"].get(name, {}).get("enum")) and any(v not in enum for v in values):
            found.append(f"{where}: {name}={values} is not one of {enum}")
    if op.get("body"):
        schema = {"$ref": f"#/$defs/{op['body']}", "$defs": _defs(vendor)}
        try:
            jsonschema.validate(req.json(), schema)
        except (ValueError, jsonschema.ValidationError) as exc:
            found.append(f"{where}: body does not match {op['body']}: {getattr(exc, 'message', exc)}")
    return found


@cache
def _defs(vendor: str) -> dict:
    """The description's schemas with OpenAPI's component references pointed at ``$defs``."""
    text = json.dumps(spec(vendor)["schemas"]).replace("#/components/schemas/", "#/$defs/")
    return json.loads(text)


def install() -> None:
    """Check every request an emulator with a ``vendor`` dispatches (faults are injected before dispatch)."""
    original = Emulator._dispatch

    def checked(self, req: Request):
        vendor = getattr(self, "vendor", None)
        if vendor:
            PROBLEMS.extend(problems(vendor, req))
        return original(self, req)

    Emulator._dispatch = checked
