"""Connector types by name: built-ins and third-party packages arrive by the same route.

Every connector publishes one :class:`~okrsync.sdk.connector.Connector` declaration as an entry point
in the group ``okrsync.connectors``, named by the ``type:`` users write; okrsync's own connectors
are declared the same way in its ``pyproject.toml``. The entry points are listed at start-up (two
with one name fail there) and a connector's module is imported when its type is first asked for
(:meth:`Registry.get`: the config binds its connections and outputs), so a config that uses three
types imports three connectors, not 24 (issue 26: ``validate`` of a csv-only config imports no httpx).
A declaration is checked when it is loaded (name, models, source and sink shapes): a broken plugin a
config uses fails with its name while the config loads, not in the middle of a nightly sync. Listing the
types (:meth:`Registry.source_types`, the JSON Schema) loads them all. Tests register fakes on a
:func:`registry` and take them out again with :meth:`Registry.unregister`.
"""

from __future__ import annotations

import inspect
import threading
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel

from okrsync.errors import OkrsyncError
from okrsync.sdk.connector import ConnectionSettings, Connector, MetricParams, OutputSettings, Sink, Source

GROUP = "okrsync.connectors"


class RegistryError(OkrsyncError):
    """A connector could not be registered (duplicate name, wrong shape, import failed)."""


class Registry:
    def __init__(self) -> None:
        self._loaded: dict[str, Connector] = {}
        self._listed: dict[str, EntryPoint] = {}  # entry points not imported yet, by type name
        self._loading = threading.RLock()

    @property
    def connectors(self) -> dict[str, Connector]:
        """Every connector by type name, the listed entry points loaded first (the dict itself: tests
        take a type out and put it back)."""
        for name in list(self._listed):
            self._load(name)
        return self._loaded

    def register(self, connector: Connector, name: str | None = None) -> None:
        name = name or getattr(connector, "type", None)
        if not isinstance(connector, Connector):
            raise RegistryError(f"connector {name!r}: {connector!r} is not an okrsync.sdk.connector.Connector")
        if not name:
            raise RegistryError(f"{connector!r} has no type name")
        if name in self._listed:  # compared with the declaration its entry point gives
            self._load(name)
        known = self._loaded.get(name)
        if known is not None and known is not connector:
            raise RegistryError(f"connector type {name!r} is registered twice")
        _verify(name, connector)
        self._loaded[name] = connector

    def unregister(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._listed.pop(name, None)

    def get(self, type_name: str) -> Connector | None:
        """The connector of a type, its module imported on first use; None for a type nobody installed."""
        if type_name in self._listed:
            self._load(type_name)
        return self._loaded.get(type_name)

    def source_types(self) -> list[str]:
        return sorted(n for n, c in self.connectors.items() if c.connection is not None)

    def output_types(self) -> list[str]:
        return sorted(n for n, c in self.connectors.items() if c.output is not None)

    def source(self, type_name: str) -> type[Source]:
        cls = self._known(type_name).source_class()
        if not (inspect.isclass(cls) and issubclass(cls, Source)):
            raise RegistryError(f"connector {type_name!r}: its source {cls!r} is not an okrsync.sdk.connector.Source")
        return cls

    def sink(self, type_name: str) -> type[Sink]:
        cls = self._known(type_name).sink_class()
        if not (inspect.isclass(cls) and issubclass(cls, Sink)):
            raise RegistryError(f"connector {type_name!r}: its sink {cls!r} is not an okrsync.sdk.connector.Sink")
        return cls

    def _known(self, type_name: str) -> Connector:
        connector = self.get(type_name)
        if connector is None:
            raise KeyError(type_name)
        return connector

    def load_entry_points(self) -> None:
        """List the group's entry points by type name; each is imported by :meth:`get` when first used."""
        for ep in entry_points(group=GROUP):
            if ep.name in self._loaded:  # listed and loaded before
                continue
            listed = self._listed.get(ep.name)
            if listed is not None and listed.value != ep.value:  # two packages claim one type
                raise RegistryError(f"connector type {ep.name!r} is registered twice")
            self._listed[ep.name] = ep

    def _load(self, name: str) -> None:
        """Import a listed type's module; it stays listed until its declaration passes the checks, so a broken
        plugin names itself each time it is asked for. Fetch threads may ask at once: one imports."""
        with self._loading:
            ep = self._listed.get(name)
            if ep is None:  # another thread loaded it meanwhile
                return
            try:
                connector = ep.load()
            except Exception as exc:  # a broken plugin must name itself
                raise RegistryError(f"cannot load connector {ep.name!r} from {ep.value}: {exc}") from exc
            if not isinstance(connector, Connector):
                raise RegistryError(f"connector {name!r}: {connector!r} is not an okrsync.sdk.connector.Connector")
            _verify(name, connector)
            # loaded before it leaves the list: get() reads both without the lock, and a thread that found the
            # type in neither returned None (a company run lost teams to KeyError: 'hubspot' that way)
            self._loaded[name] = connector
            del self._listed[name]


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
