"""The JSON Schema of the config, for editors (yaml-language-server) and reviewers.

Built from the core model and, for connections, metrics and outputs, from every registered
connector's models: a connector added by a package shows up here without touching okrsync.
"""

from __future__ import annotations

from typing import Any

from okrsync.config.model import ConfigFile
from okrsync.registry import Registry, registry


def json_schema(connectors: Registry | None = None) -> dict:
    reg = connectors or registry()
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "okrsync config"
    defs = schema.setdefault("$defs", {})
    connections: list[dict] = []
    outputs: list[dict] = []
    metric = defs["Metric"]
    for name in sorted(reg.connectors):
        connector = reg.connectors[name]
        if connector.connection is not None:
            connections.append(_inline(connector.connection, defs, connector.description))
            for key, prop in _inline(connector.metric, defs).get("properties", {}).items():
                metric["properties"].setdefault(key, prop)
        if connector.output is not None:
            outputs.append(_inline(connector.output, defs, connector.description))
    schema["properties"]["connections"] = {"type": "object", "additionalProperties": {"oneOf": connections}}
    schema["properties"]["outputs"] = {"type": "array", "items": {"oneOf": outputs}}
    defs.pop("UnboundSettings", None)
    return schema


def _inline(model: Any, defs: dict, description: str = "") -> dict:
    """A model's schema with its own $defs merged into the document's (and the connector's words)."""
    sub = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(sub.pop("$defs", {}))
    if description:
        sub.setdefault("description", description)
    return sub
