"""The registry lists the ``okrsync.connectors`` entry points at start-up and imports a connector's module
when its type is first used (issue 26): what that must keep — a broken plugin names itself (each time it is
asked for), two packages claiming one type fail when listed, a listed type cannot be registered over, and
third-party types arrive by the same route as the built-in ones."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

from okrsync import registry as registry_module
from okrsync.registry import GROUP, Registry, RegistryError

CSV = EntryPoint(name="csv", value="okrsync.connectors.csv_source:connector", group=GROUP)
BROKEN = EntryPoint(name="broken", value="okrsync_no_such_plugin.mine:connector", group=GROUP)


def listed(monkeypatch, *eps: EntryPoint) -> Registry:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [ep for ep in eps if ep.group == group])
    reg = Registry()
    reg.load_entry_points()
    return reg


def test_a_broken_plugin_fails_with_its_name_when_its_type_is_used(monkeypatch):
    reg = listed(monkeypatch, CSV, BROKEN)  # listing imports nothing: no error yet
    for _ in range(2):  # asked again, it names itself again (not "unknown type")
        with pytest.raises(RegistryError, match="cannot load connector 'broken' from okrsync_no_such_plugin.mine"):
            reg.get("broken")
    assert reg.get("csv") is not None and reg.get("csv").type == "csv"
    assert reg.get("nobody_installed_this") is None


def test_a_plugin_of_the_wrong_shape_names_itself_each_time(monkeypatch):
    reg = listed(monkeypatch, EntryPoint(name="odd", value="okrsync.errors:OkrsyncError", group=GROUP))
    for _ in range(2):
        with pytest.raises(RegistryError, match="connector 'odd': .* is not an okrsync.sdk.connector.Connector"):
            reg.get("odd")


def test_listing_does_not_import_and_get_imports_the_one_module(monkeypatch):
    import okrsync.connectors

    # a fresh import, both put back afterwards (other tests hold the classes of the module imported first)
    monkeypatch.delitem(sys.modules, "okrsync.connectors.csv_source", raising=False)
    monkeypatch.delattr(okrsync.connectors, "csv_source", raising=False)
    reg = listed(monkeypatch, CSV)
    assert "okrsync.connectors.csv_source" not in sys.modules
    connector = reg.get("csv")
    assert "okrsync.connectors.csv_source" in sys.modules
    assert connector is sys.modules["okrsync.connectors.csv_source"].connector
    assert reg.source_types() == ["csv"] and reg.output_types() == []


def test_two_packages_claiming_one_type_fail_when_listed(monkeypatch):
    other = EntryPoint(name="csv", value="their_package.csv:connector", group=GROUP)
    with pytest.raises(RegistryError, match="connector type 'csv' is registered twice"):
        listed(monkeypatch, CSV, other)


def test_a_listed_type_is_not_registered_over(monkeypatch):
    reg = listed(monkeypatch, CSV)
    from okrsync.connectors.csv_source import connector

    reg.register(connector)  # its own declaration again: fine
    impostor = type(connector)("csv", connection=connector.connection, metric=connector.metric, source=connector.source)
    with pytest.raises(RegistryError, match="connector type 'csv' is registered twice"):
        reg.register(impostor)


def test_unregister_takes_out_a_listed_type_unloaded(monkeypatch):
    reg = listed(monkeypatch, CSV, BROKEN)
    reg.unregister("broken")
    assert reg.get("broken") is None
    assert sorted(reg.connectors) == ["csv"]  # loading them all no longer meets the broken one


def test_a_type_being_loaded_is_never_missing_to_another_thread(monkeypatch):
    """get() reads the loaded and the listed types without the lock: at every moment of a load the type is in one
    of them. A company run's teams ask for the same type at once (one run lost a team to KeyError: 'csv')."""
    reg = listed(monkeypatch, CSV)
    seen = []

    class Watched(dict):
        def __delitem__(self, name):  # the moment the type leaves the list: what another thread would get
            super().__delitem__(name)
            seen.append(reg.get(name))

    reg._listed = Watched(reg._listed)
    connector = reg.get("csv")
    assert connector is not None and seen == [connector]
