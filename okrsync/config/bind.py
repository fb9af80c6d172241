"""The bind step: each connection, metric and output is validated by its connector's own models.

Works on the raw YAML data, so it reports everything in the same pass as the core model: an
unknown type lists the installed ones, a typo in a connector's key is located like any other.
Nothing here knows a connector by name; the registry supplies them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from okrsync.config.messages import did_you_mean, problems_of
from okrsync.config.model import METRIC_COMMON_KEYS, Aggregate
from okrsync.registry import Registry
from okrsync.sdk.connector import ConnectionSettings, MetricParams, OutputSettings

Problem = tuple[tuple, str]


@dataclass
class Bound:
    connections: dict[str, ConnectionSettings] = field(default_factory=dict)
    params: dict[str, MetricParams] = field(default_factory=dict)
    outputs: list[OutputSettings] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def bind(data: dict, registry: Registry) -> Bound:
    out = Bound()
    connections = _mapping(data.get("connections"))
    for name, raw in connections.items():
        _bind_connection(name, raw, registry, out)
    for metric_id, raw in _mapping(data.get("metrics")).items():
        if isinstance(raw, dict) and isinstance(connections.get(raw.get("connection")), dict):
            _bind_metric(metric_id, raw, connections[raw["connection"]].get("type"), registry, out)
    raw_outputs = data.get("outputs")
    outputs = raw_outputs if isinstance(raw_outputs, list) else []
    for index, raw in enumerate(outputs):
        _bind_output(index, raw, registry, out)
    return out


def _bind_connection(name: str, raw: Any, registry: Registry, out: Bound) -> None:
    if not isinstance(raw, dict) or "type" not in raw:
        return  # reported by the core model
    connector = registry.get(str(raw["type"]))
    if connector is None or connector.connection is None:
        known = ", ".join(registry.source_types())
        hint = did_you_mean(raw["type"], registry.source_types())
        out.problems.append(
            (("connections", name, "type"), f"unknown connection type {raw['type']!r}; expected one of: {known}{hint}")
        )
        return
    try:
        out.connections[name] = connector.connection.model_validate(raw)
    except ValidationError as exc:
        out.problems += problems_of(exc, ("connections", name), raw, connector.connection)


def _bind_metric(metric_id: str, raw: dict, kind: Any, registry: Registry, out: Bound) -> None:
    connector = registry.get(str(kind))
    if connector is None or connector.metric is None:
        return  # the connection's type is reported
    if problem := _unsupported_aggregate(raw.get("aggregate"), kind, connector.metric):
        out.problems.append((("metrics", metric_id, "aggregate"), problem))
    extras = {k: v for k, v in raw.items() if k not in METRIC_COMMON_KEYS}
    try:
        # the metric's aggregate is in the context: a connector may need a key for one (sum needs field)
        context = {"aggregate": raw.get("aggregate")}
        out.params[metric_id] = connector.metric.model_validate(extras, context=context)
    except ValidationError as exc:
        allowed = ", ".join(sorted(connector.metric.model_fields))
        for loc, msg in problems_of(exc, ("metrics", metric_id), extras):
            if msg.startswith("unknown key"):
                hint = did_you_mean(loc[-1], [*connector.metric.model_fields, *METRIC_COMMON_KEYS])
                msg = f"not a key of a {kind} metric (expected: {allowed}){hint}"
            out.problems.append((loc, msg))


def _unsupported_aggregate(how: Any, kind: Any, metric: type[MetricParams]) -> str | None:
    """Why ``aggregate: how`` does not fit this connector's metrics (it declares ``aggregates``), or None.
    A value that is no aggregate at all is the core model's to report."""
    supported = metric.aggregates
    if supported is None or how not in get_args(Aggregate) or how in supported:
        return None
    if not supported:
        return f"{_a(kind)} metric takes no aggregate (leave it out)"
    if len(supported) == 1:
        return f"{_a(kind)} metric supports {supported[0]} only (write aggregate: {supported[0]}, or leave it out)"
    listed = ", ".join(supported[:-1]) + f" or {supported[-1]}"
    return f"{_a(kind)} metric supports {listed} only (write one of them, or leave it out for {supported[0]})"


def _bind_output(index: int, raw: Any, registry: Registry, out: Bound) -> None:
    if not isinstance(raw, dict):
        out.problems.append((("outputs", index), "expected a mapping with a type"))
        return
    connector = registry.get(str(raw.get("type")))
    if connector is None or connector.output is None:
        known = ", ".join(registry.output_types())
        where, what = (
            ("outputs", index, "type"),
            f"output type {raw.get('type')!r} is not known; expected one of: {known}"
            + did_you_mean(raw.get("type"), registry.output_types()),
        )
        if "type" not in raw:
            where, what = ("outputs", index, "type"), f"required key is missing (one of: {known})"
        out.problems.append((where, what))
        return
    try:
        out.outputs.append(connector.output.model_validate(raw))
    except ValidationError as exc:
        out.problems += problems_of(exc, ("outputs", index), raw, connector.output)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _a(kind: Any) -> str:
    return f"an {kind}" if str(kind)[:1] in "aeiou" else f"a {kind}"
