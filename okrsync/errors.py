"""The one error tree of okrsync, split by what the caller does next.

    OkrsyncError
    ├── ConfigError          bad config: report every problem (file:line, key path), exit 2
    ├── SourceError          one metric (or one connection) could not be read; the sync goes on
    ├── SinkError            one output could not be written; the sync goes on
    ├── StoreError           the database failed; the run cannot be recorded
    ├── RunLockedError       another run of the same config holds its run lock; exit 4
    ├── TransientError       a remote call may heal (429, 5xx, lost connection): the guard retries it
    └── RemoteError          a remote call failed for good (auth, permission, not found, rejected, or
                             retries exhausted); a connector turns it into a Source- or SinkError

Source and sink errors carry ``metric`` / ``connection`` as attributes, which is what the
``errors`` list of the status document is made from. Messages never contain secrets: the
connector that raises them is responsible for naming, not quoting, credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from okrsync.redact import REDACTOR


class OkrsyncError(Exception):
    """Root of every error okrsync raises on purpose (user-facing, no traceback needed).

    Messages are redacted when the error is made (every registered credential, wherever it came
    from, a server's echo included), so nothing downstream — the CLI, the store, a document, a chat
    payload, a Prefect artifact — can show one."""

    def __init__(self, *args: object):
        super().__init__(*(REDACTOR(a) if isinstance(a, str) else a for a in args))


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
        self.message = self.args[0]
        self.metric = metric
        self.connection = connection

    def for_metric(self, metric: str) -> SourceError:
        """The same error attached to one metric (a connection failure fans out to its metrics)."""
        err = type(self)(self.message, metric=metric, connection=self.connection)
        err.__cause__ = self.__cause__
        return err


class SinkError(OkrsyncError):
    def __init__(self, message: str, *, output: str | None = None):
        super().__init__(message)
        self.message = self.args[0]
        self.output = output


class RunLockedError(OkrsyncError):
    """Another run of the same config (namespace and cycle) is still going after ``waited`` seconds."""

    def __init__(self, namespace: str, cycle: str, waited: float):
        super().__init__(
            f"another run of namespace {namespace!r}, cycle {cycle!r} is still in progress after waiting "
            f"{waited:g} s; nothing was fetched or written (try again later, or raise --wait)"
        )
        self.namespace, self.cycle, self.waited = namespace, cycle, waited


class TransientError(OkrsyncError):
    """A remote call failed in a way that may heal. ``retry_after`` in seconds when the server said;
    ``maybe_delivered`` when the request may have been processed (a timeout, a dropped answer, a 5xx),
    which makes it unsafe to repeat a request that is not idempotent; ``throttled`` when the server said
    "too many requests" (a 429), so the whole connection slows down."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, maybe_delivered: bool = False, throttled: bool = False
    ):
        super().__init__(message)
        self.message = self.args[0]
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered
        self.throttled = throttled


class RemoteError(OkrsyncError):
    """A remote call failed for good. ``kind``: bad_config (401/403/404: the user must fix something),
    fatal (any other refusal, a body that is not what the API promises), retryable (retries exhausted),
    unsure (not retried because the request may have been processed)."""

    def __init__(self, message: str, *, kind: str, status: int | None = None):
        super().__init__(message)
        self.message = self.args[0]
        self.kind = kind
        self.status = status

    @property
    def maybe_delivered(self) -> bool:
        """False only when the server definitely refused the request (a 4xx)."""
        return not (self.status is not None and 400 <= self.status < 500)


class StoreError(OkrsyncError):
    """The store failed (unreachable database, failed migration). Wraps the driver error."""


class RunLockLostError(StoreError):
    """The run lock was lost mid-run (its PostgreSQL session ended, its lock file was replaced): another run
    may be in, so this one stops before it stores or publishes anything more."""

    def __init__(self, namespace: str, cycle: str, why: str, stage: str):
        super().__init__(
            f"the run lock of namespace {namespace!r}, cycle {cycle!r} was lost ({why}); this run stopped "
            f"before {stage}. Another run may hold the lock now: run again once it has finished"
        )


class ConfigEditError(OkrsyncError, ValueError):
    """The config could not be edited safely (`okrsync cycle next`); the file was left as it was."""
