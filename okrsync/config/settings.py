"""The settings models a connector builds on: a connection's keys, the keys a metric adds on such a
connection, an output's keys. They belong to the config (it binds each entry to its connector's
subclass of them, ``okrsync.config.bind``) and are re-exported by ``okrsync.sdk`` for connector authors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, field_validator

from okrsync.config.types import Aggregate, Duration, Strict


def _web_url(value: str) -> str:
    """An http(s) URL with a host; a value built from ${ENV} references is checked when it is resolved."""
    if "${" in value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
        raise ValueError(f"must be an http:// or https:// URL with a host, not {value[:60]!r}")
    return value


WebUrl = Annotated[str, AfterValidator(_web_url)]  # every API root and webhook a connector calls


def origin_only(value: str | None, why: str) -> str | None:
    """``value`` when it is a scheme, host and port (a trailing ``/`` allowed); a path is refused, with ``why``
    (what the connector puts behind it). A value built from ${ENV} references is left as it is."""
    path = value.split("://", 1)[-1].partition("/")[2].strip("/") if value and "${" not in value else ""
    if path:
        raise ValueError(f"scheme, host and port only (not the path /{path[:40]}): {why}")
    return value


class ConnectionSettings(Strict):
    """Base of every connection model; a connector narrows ``type`` to ``Literal["its name"]``.

    ``deadline`` bounds the whole fetch of this connection (default: ``deadlines.connection``); what has
    not arrived by then fails with that reason and its KRs go stale, the rest of the sync goes on."""

    type: str
    deadline: Duration | None = Field(None, description="the longest this connection's fetch may take, e.g. 5m")

    def preflight(self, base_dir: Path) -> list[tuple[str, str]]:
        """What can be checked without the network and without the connector's client library
        (``okrsync validate``): (key, problem) pairs, e.g. ("credentials_file", "not JSON"). None here."""
        return []


class RemoteConnection(ConnectionSettings):
    """A connection to a remote API: its root can be replaced (a proxy, an emulator) and paced.

    ``endpoint_adds`` (a ClassVar): set by a connector that puts its own version path behind ``endpoint:``
    (``"requests keep /v1.0"``); ``endpoint:`` is then a scheme, host and port only, as DESIGN.md's next
    sources take it, and a path there is a located config error that says why."""

    endpoint_adds: ClassVar[str | None] = None

    endpoint: WebUrl | None = None  # replaces the API root: a proxy or a local emulator
    rate_limit: float | None = Field(None, gt=0, description="requests per second, overrides the default")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds to wait for one answer (per request)")
    max_concurrency: int | None = Field(
        None, ge=1, le=32, description="requests in flight at once on this connection (default: the connector's)"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_origin(cls, value: str | None) -> str | None:
        return origin_only(value, cls.endpoint_adds) if cls.endpoint_adds else value


class MetricParams(Strict):
    """Base of the keys a connector adds to a metric (``jql``, ``range``, ``query`` ...).

    ``aggregates`` declares the ``aggregate:`` values the connector supports, the first being what it
    does without one; ``()`` takes none; None (the default) takes every one. `okrsync validate` reports
    any other as a located config error."""

    aggregates: ClassVar[tuple[Aggregate, ...] | None] = None

    def answers_for_past(self) -> bool:
        """Whether this metric can be read as of a past day (``okrsync backfill``). By default: when one of
        its texts uses the ``{as_of}`` placeholder (a JQL, a HubSpot filter, a SOQL query, an API path or
        parameter). A connector whose source keeps dated rows says so itself."""
        return "{as_of}" in self.model_dump_json()

    def reads_dated_rows(self) -> bool:
        """Whether an aggregate of this metric reads rows that carry their own date, so that its ``window``
        (the cycle's days by default) applies. A file source with a date column says so itself."""
        return False


class OutputSettings(Strict):
    """Base of every output model; a connector narrows ``type``. ``connection`` (when declared)
    must name a connection of the same connector: the config checks it at load time."""

    type: str
