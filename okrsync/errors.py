"""The one error tree of okrsync, split by what the caller does next.

    OkrsyncError
    ├── ConfigError          bad config: report every problem (file:line, key path), exit 2
    ├── SourceError          one metric (or one connection) could not be read; the sync goes on
    │   ├── RetryableSourceError   transient (429, 5xx, connection): worth another attempt
    │   └── NotAvailableError      the connector type is declared but not built yet
    ├── SinkError            one output could not be written; the sync goes on
    └── StoreError           the database failed; the run cannot be recorded

Source and sink errors carry ``metric`` / ``connection`` as attributes, which is what the
``errors`` list of the status document is made from. Messages never contain secrets: the
connector that raises them is responsible for naming, not quoting, credentials.
"""

from __future__ import annotations

from dataclasses import dataclass


class OkrsyncError(Exception):
    """Root of every error okrsync raises on purpose (user-facing, no traceback needed)."""


@dataclass(frozen=True)
class ConfigProblem:
    """One located problem in a config file."""

    file: str
    line: int | None
    path: str  # dotted key path, e.g. "metrics.csat.range"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(OkrsyncError):
    """The config cannot be used. Holds every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SourceError(OkrsyncError):
    """A metric could not be read from its source. The message says what to fix."""

    retryable = False

    def __init__(self, message: str, *, metric: str | None = None, connection: str | None = None):
        super().__init__(message)
        self.message = message
        self.metric = metric
        self.connection = connection

    def for_metric(self, metric: str) -> SourceError:
        """The same error attached to one metric (a connection failure fans out to its metrics)."""
        err = type(self)(self.message, metric=metric, connection=self.connection)
        err.__cause__ = self.__cause__
        return err


class RetryableSourceError(SourceError):
    retryable = True


class NotAvailableError(SourceError):
    """A connection or output type from the config contract whose connector is not built yet."""


class SinkError(OkrsyncError):
    def __init__(self, message: str, *, output: str | None = None):
        super().__init__(message)
        self.message = message
        self.output = output


class StoreError(OkrsyncError):
    """The store failed (unreachable database, failed migration). Wraps the driver error."""
