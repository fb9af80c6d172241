"""Connector types by name: built-ins and third-party packages arrive by the same route.

Every connector publishes one :class:`~okrsync.sdk.connector.Connector` declaration as an entry point
in the group ``okrsync.connectors``, named by the ``type:`` users write; okrsync's own connectors
are declared the same way in its ``pyproject.toml``. A declaration is checked when it is
registered (name, models, source and sink shapes), so a broken plugin fails at start-up with its
name, not in the middle of a nightly sync. Tests register fakes on a :func:`registry` and take
them out again with :meth:`Registry.unregister`.
"""

from __future__ import annotations

import inspect
from functools import cache
from importlib.metadata import entry_points

from pydantic import BaseModel

from okrsync.errors import OkrsyncError
from okrsync.sdk.connector import ConnectionSettings, Connector, MetricParams, OutputSettings, Sink, Source

GROUP = "okrsync.connectors"


class RegistryError(OkrsyncError):
    """A connector could not be registered (duplicate name, wrong shape, import failed)."""


class Registry:
    def __init__(self) -> None:
        self.connectors: dict[str, Connector] = {}

    def register(self, connector: Connector, name: str | None = None) -> None:
        name = name or getattr(connector, "type", None)
        if not isinstance(connector, Connector):
            raise RegistryError(f"connector {name!r}: {connector!r} is not an okrsync.sdk.connector.Connector")
        if not name:
            raise RegistryError(f"{connector!r} has no type name")
        known = self.connectors.get(name)
        if known is not None and known is not connector:
            raise RegistryError(f"connector type {name!r} is registered twice")
        _verify(name, connector)
        self.connectors[name] = connector

    def unregister(self, name: str) -> None:
        self.connectors.pop(name, None)

    def get(self, type_name: str) -> Connector | None:
        return self.connectors.get(type_name)

    def source_types(self) -> list[str]:
        return sorted(n for n, c in self.connectors.items() if c.connection is not None)

    def output_types(self) -> list[str]:
        return sorted(n for n, c in self.connectors.items() if c.output is not None)

    def source(self, type_name: str) -> type[Source]:
        cls = self.connectors[type_name].source_class()
        if not (inspect.isclass(cls) and issubclass(cls, Source)):
            raise RegistryError(f"connector {type_name!r}: its source {cls!r} is not an okrsync.sdk.connector.Source")
        return cls

    def sink(self, type_name: str) -> type[Sink]:
        cls = self.connectors[type_name].sink_class()
        if not (inspect.isclass(cls) and issubclass(cls, Sink)):
            raise RegistryError(f"connector {type_name!r}: its sink {cls!r} is not an okrsync.sdk.connector.Sink")
        return cls

    def load_entry_points(self) -> None:
        for ep in entry_points(group=GROUP):
            try:
                connector = ep.load()
            except Exception as exc:  # a broken plugin must name itself
                raise RegistryError(f"cannot load connector {ep.name!r} from {ep.value}: {exc}") from exc
            self.register(connector, ep.name)


def _verify(name: str, c: Connector) -> None:
    """The declaration's parts fit together: models of the right bases, a source with a connection."""
    checks = (
        (c.connection, ConnectionSettings, "connection"),
        (c.metric, MetricParams, "metric"),
        (c.output, OutputSettings, "output"),
    )
    for model, base, what in checks:
        if model is not None and not (inspect.isclass(model) and issubclass(model, base)):
            raise RegistryError(
                f"connector {name!r}: its {what} model must subclass okrsync.sdk.connector.{base.__name__}"
            )
    for model in (c.connection, c.output):
        if model is not None and not _type_is(model, name):
            raise RegistryError(f"connector {name!r}: {model.__name__}.type must be Literal[{name!r}]")
    if (c.connection is None) != (c.source is None) or (c.connection is not None and c.metric is None):
        raise RegistryError(f"connector {name!r}: a source needs a connection model, a metric model and a source")
    if (c.output is None) != (c.sink is None):
        raise RegistryError(f"connector {name!r}: an output needs both an output model and a sink")
    if c.source is None and c.sink is None:
        raise RegistryError(f"connector {name!r} declares neither a source nor a sink")
    for ref in (c.source, c.sink):
        if inspect.isclass(ref) and not issubclass(ref, Source | Sink):
            raise RegistryError(f"connector {name!r}: {ref!r} is not an okrsync.sdk.connector.Source or Sink")


def _type_is(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get("type")
    return field is not None and getattr(field.annotation, "__args__", None) == (name,)


@cache
def registry() -> Registry:
    reg = Registry()
    reg.load_entry_points()
    return reg
