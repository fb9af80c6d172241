"""All a connector author imports: the connector declaration, source and sink shapes, the declarative
REST source (its auth objects and paginators), the HTTP transport, the guard and pacer, redaction, value
parsing, aggregation, delivery and the errors.

    from okrsync.sdk import ApiClient, ApiSource, BearerToken, Connector, MetricParams, RemoteConnection

The core never imports this front (only the submodules it needs), so importing it cannot make a cycle.
Each name is imported from its module on first use (PEP 562), so that importing ``okrsync.sdk.connector``
(the config binds connections to its models) does not import httpx, requests and tenacity for a config
whose connectors need none of them (issue 26: `okrsync validate`'s start-up). Type checkers read the
imports below as they are.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from okrsync.config.model import Aggregate, Duration
    from okrsync.config.settings import origin_only
    from okrsync.errors import (
        ConfigError,
        ConfigProblem,
        OkrsyncError,
        RemoteError,
        SinkError,
        SourceError,
        TransientError,
    )
    from okrsync.okr.aggregate import aggregate
    from okrsync.okr.numbers import checked, parse_number
    from okrsync.redact import REDACTOR, RedactingFilter, Redactor
    from okrsync.sdk.api_source import ApiSource
    from okrsync.sdk.auth import Auth, Basic, BearerToken, Credentials, FetchedBearer, HeaderToken, QueryToken
    from okrsync.sdk.connector import (
        DEFAULT_CONCURRENCY,
        CheckinContext,
        ConnectionSettings,
        Connector,
        FetchResult,
        Heard,
        MetricParams,
        MetricQuery,
        Observation,
        OutputSettings,
        RemoteConnection,
        Sink,
        SinkContext,
        Source,
        Strict,
        WebUrl,
        heard_identity,
        local_day,
        parse_instant,
    )
    from okrsync.sdk.delivery import Delivery, delivery_key, fingerprint
    from okrsync.sdk.entra import EntraAuth, EntraConnection
    from okrsync.sdk.files import DatedFileMetric, FileConnection
    from okrsync.sdk.guard import Guard
    from okrsync.sdk.http import (
        ApiClient,
        HttpError,
        classify,
        classify_httpx,
        install_log_redaction,
        origin,
        paginate,
        secret,
        source_error,
    )
    from okrsync.sdk.pagination import (
        CursorPaginator,
        KeysetPaginator,
        LinkHeaderPaginator,
        NextUrlPaginator,
        OffsetPaginator,
        PageRequest,
        Paginator,
        link_target,
        pages,
    )
    from okrsync.sdk.retry import RETRYABLE_STATUS, Limits, Pacer, RetryPolicy, per_second, retry_after_seconds

_FROM = {  # module -> the names it gives the front (each imported on first use)
    "okrsync.config.model": ("Aggregate", "Duration"),
    "okrsync.config.settings": ("origin_only",),
    "okrsync.errors": (
        "ConfigError",
        "ConfigProblem",
        "OkrsyncError",
        "RemoteError",
        "SinkError",
        "SourceError",
        "TransientError",
    ),
    "okrsync.okr.aggregate": ("aggregate",),
    "okrsync.okr.numbers": ("checked", "parse_number"),
    "okrsync.redact": ("REDACTOR", "RedactingFilter", "Redactor"),
    "okrsync.sdk.api_source": ("ApiSource",),
    "okrsync.sdk.auth": ("Auth", "Basic", "BearerToken", "Credentials", "FetchedBearer", "HeaderToken", "QueryToken"),
    "okrsync.sdk.connector": (
        "DEFAULT_CONCURRENCY",
        "CheckinContext",
        "ConnectionSettings",
        "Connector",
        "FetchResult",
        "Heard",
        "MetricParams",
        "MetricQuery",
        "Observation",
        "OutputSettings",
        "RemoteConnection",
        "Sink",
        "SinkContext",
        "Source",
        "Strict",
        "WebUrl",
        "heard_identity",
        "local_day",
        "parse_instant",
    ),
    "okrsync.sdk.delivery": ("Delivery", "delivery_key", "fingerprint"),
    "okrsync.sdk.entra": ("EntraAuth", "EntraConnection"),
    "okrsync.sdk.files": ("DatedFileMetric", "FileConnection"),
    "okrsync.sdk.guard": ("Guard",),
    "okrsync.sdk.http": (
        "ApiClient",
        "HttpError",
        "classify",
        "classify_httpx",
        "install_log_redaction",
        "origin",
        "paginate",
        "secret",
        "source_error",
    ),
    "okrsync.sdk.pagination": (
        "CursorPaginator",
        "KeysetPaginator",
        "LinkHeaderPaginator",
        "NextUrlPaginator",
        "OffsetPaginator",
        "PageRequest",
        "Paginator",
        "link_target",
        "pages",
    ),
    "okrsync.sdk.retry": ("RETRYABLE_STATUS", "Limits", "Pacer", "RetryPolicy", "per_second", "retry_after_seconds"),
}
_WHERE = {name: module for module, names in _FROM.items() for name in names}


if not TYPE_CHECKING:  # type checkers read the imports above, and flag a name the front does not give

    def __getattr__(name: str) -> Any:
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_WHERE})


__all__ = [
    "Aggregate",
    "ApiClient",
    "ApiSource",
    "Auth",
    "Basic",
    "BearerToken",
    "CheckinContext",
    "ConfigError",
    "ConfigProblem",
    "ConnectionSettings",
    "Connector",
    "Credentials",
    "CursorPaginator",
    "DEFAULT_CONCURRENCY",
    "DatedFileMetric",
    "Delivery",
    "Duration",
    "EntraAuth",
    "EntraConnection",
    "FetchResult",
    "FetchedBearer",
    "FileConnection",
    "Guard",
    "HeaderToken",
    "Heard",
    "HttpError",
    "KeysetPaginator",
    "Limits",
    "LinkHeaderPaginator",
    "MetricParams",
    "MetricQuery",
    "NextUrlPaginator",
    "Observation",
    "OffsetPaginator",
    "OkrsyncError",
    "OutputSettings",
    "Pacer",
    "PageRequest",
    "Paginator",
    "QueryToken",
    "REDACTOR",
    "RETRYABLE_STATUS",
    "RedactingFilter",
    "Redactor",
    "RemoteConnection",
    "RemoteError",
    "RetryPolicy",
    "Sink",
    "SinkContext",
    "SinkError",
    "Source",
    "SourceError",
    "Strict",
    "TransientError",
    "WebUrl",
    "aggregate",
    "checked",
    "classify",
    "classify_httpx",
    "delivery_key",
    "fingerprint",
    "heard_identity",
    "install_log_redaction",
    "link_target",
    "local_day",
    "origin",
    "origin_only",
    "pages",
    "paginate",
    "parse_instant",
    "parse_number",
    "per_second",
    "retry_after_seconds",
    "secret",
    "source_error",
]
