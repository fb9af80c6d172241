"""Connector types by name: built-ins and third-party packages arrive by the same route.

Connectors are published as entry points: group ``okrsync.sources`` for sources and
``okrsync.sinks`` for outputs, the name being the ``type:`` users write. okrsync's own
connectors are declared the same way in its ``pyproject.toml``. A class is checked when it is
registered (name, settings models, methods), so a broken plugin fails at start-up with its
name, not in the middle of a nightly sync.

Types in the config contract whose connector is not built yet still validate; asking for one
raises NotAvailableError.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from okrsync.config import BUILTIN_CONNECTIONS
from okrsync.connector import Sink, Source
from okrsync.errors import NotAvailableError, OkrsyncError

SOURCE_GROUP = "okrsync.sources"
SINK_GROUP = "okrsync.sinks"
CONTRACT_OUTPUTS = ("google_sheets", "jira", "slack", "teams", "webhook", "report")


class RegistryError(OkrsyncError):
    """A connector could not be registered (duplicate name, wrong shape, import failed)."""


class Registry:
    def __init__(self) -> None:
        self.sources: dict[str, type[Source]] = {}
        self.sinks: dict[str, type[Sink]] = {}

    def register_source(self, cls: type[Source], name: str | None = None) -> None:
        name = name or getattr(cls, "type_name", None)
        if not name:
            raise RegistryError(f"{cls!r} has no type_name")
        if name in self.sources and self.sources[name] is not cls:
            raise RegistryError(f"source type {name!r} is registered twice ({self.sources[name]!r} and {cls!r})")
        if not (isinstance(cls, type) and issubclass(cls, Source)):
            raise RegistryError(f"source {name!r}: {cls!r} is not an okrsync.connector.Source")
        for attr in ("connection_model", "metric_model"):
            if not hasattr(cls, attr):
                raise RegistryError(f"source {name!r}: {cls.__name__} lacks {attr}")
        self.sources[name] = cls

    def register_sink(self, cls: type[Sink], name: str | None = None) -> None:
        name = name or getattr(cls, "type_name", None)
        if not name:
            raise RegistryError(f"{cls!r} has no type_name")
        if name in self.sinks and self.sinks[name] is not cls:
            raise RegistryError(f"output type {name!r} is registered twice")
        if not (isinstance(cls, type) and issubclass(cls, Sink)):
            raise RegistryError(f"output {name!r}: {cls!r} is not an okrsync.connector.Sink")
        self.sinks[name] = cls

    def unregister(self, name: str) -> None:
        self.sources.pop(name, None)
        self.sinks.pop(name, None)

    def source(self, type_name: str) -> type[Source]:
        if type_name in self.sources:
            return self.sources[type_name]
        if type_name in BUILTIN_CONNECTIONS:
            raise NotAvailableError(f"the {type_name} connector is not available yet in this version of okrsync")
        raise NotAvailableError(f"no connector for type {type_name!r} (installed: {', '.join(sorted(self.sources))})")

    def sink(self, type_name: str) -> type[Sink]:
        if type_name in self.sinks:
            return self.sinks[type_name]
        if type_name in CONTRACT_OUTPUTS:
            raise NotAvailableError(f"the {type_name} output is not available yet in this version of okrsync")
        raise NotAvailableError(f"no output for type {type_name!r}")

    def load_entry_points(self) -> None:
        for group, register in ((SOURCE_GROUP, self.register_source), (SINK_GROUP, self.register_sink)):
            for ep in entry_points(group=group):
                try:
                    cls = ep.load()
                except Exception as exc:  # a broken plugin must name itself
                    raise RegistryError(f"cannot load connector {ep.name!r} from {ep.value}: {exc}") from exc
                register(cls, ep.name)


@cache
def registry() -> Registry:
    reg = Registry()
    reg.load_entry_points()
    return reg
