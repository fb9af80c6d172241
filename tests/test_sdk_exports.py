"""The SDK's one front: ``okrsync.sdk`` re-exports all a connector author imports, with a sorted ``__all__``
(as httpx's tests/test_exported_members.py holds httpx's), and the built-in REST sources import from it."""

import ast
import importlib
import types

import pytest

import okrsync.sdk
from tests.helpers import REPO

REST_SOURCES = ["github", "hubspot", "pipedrive", "salesforce", "http_api", "azure_devops"]
# what a sink may also read: the status document and how it is shown
ALLOWED_INTERNALS = ("okrsync.okr", "okrsync.present")


def front_imports() -> dict[str, str]:
    """What okrsync/sdk/__init__.py imports (for type checkers, under TYPE_CHECKING), name -> module."""
    tree = ast.parse((REPO / "okrsync" / "sdk" / "__init__.py").read_text())
    return {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("okrsync")
        for alias in node.names
    }


def test_all_is_sorted_and_is_every_public_name():
    """The front imports each name on first use (issue 26): its __all__, its lazy table and the imports type
    checkers read are one list, and each name is the object its module defines."""
    imported = front_imports()
    assert okrsync.sdk.__all__ == sorted(okrsync.sdk.__all__)
    assert okrsync.sdk.__all__ == sorted(imported)
    assert imported == okrsync.sdk._WHERE
    for name, module in imported.items():
        assert getattr(okrsync.sdk, name) is getattr(importlib.import_module(module), name)
    public = [n for n, v in vars(okrsync.sdk).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)]
    assert sorted(public) == sorted({*okrsync.sdk.__all__, "annotations", "TYPE_CHECKING", "Any"})


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'ApiClinet'"):
        okrsync.sdk.ApiClinet  # noqa: B018 - the lookup is the test


@pytest.mark.parametrize(
    "name",
    ["ApiSource", "Connector", "Source", "Sink", "MetricParams", "MetricQuery", "Observation", "FetchResult"]
    + ["SinkContext", "RemoteConnection", "ApiClient", "HttpError", "secret", "Guard", "RetryPolicy", "Pacer"]
    + ["per_second", "REDACTOR", "parse_number", "aggregate", "Delivery", "fingerprint", "SourceError"]
    + ["BearerToken", "Basic", "HeaderToken", "QueryToken", "CursorPaginator", "OffsetPaginator"]
    + ["LinkHeaderPaginator", "KeysetPaginator", "NextUrlPaginator"],
)
def test_what_a_connector_author_needs_is_there(name):
    assert name in okrsync.sdk.__all__


def okrsync_imports(module: str) -> set[str]:
    """The okrsync modules a connector module imports from, at any depth."""
    tree = ast.parse((REPO / "connectors" / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("okrsync"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("okrsync")}
    return found


@pytest.mark.parametrize("module", REST_SOURCES)
def test_the_rest_sources_import_the_sdk_only_from_its_front(module):
    imported = okrsync_imports(module)
    assert "okrsync.sdk" in imported
    assert {m for m in imported if m != "okrsync.sdk" and not m.startswith(ALLOWED_INTERNALS)} == set()
    assert {m for m in imported if m.startswith(ALLOWED_INTERNALS)} == set(), "a source needs only the SDK"
