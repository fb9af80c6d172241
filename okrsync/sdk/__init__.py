"""All a connector author imports: the connector declaration, source and sink shapes, the declarative
REST source (its auth objects and paginators), the HTTP transport, the guard and pacer, redaction, value
parsing, aggregation, delivery and the errors.

    from okrsync.sdk import ApiClient, ApiSource, BearerToken, Connector, MetricParams, RemoteConnection

The core never imports this front (only the submodules it needs), so importing it cannot make a cycle.
"""

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
