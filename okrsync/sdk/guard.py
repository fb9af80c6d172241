"""One guard around every call of a connection's client library: pacing, bounded retries, and
a small classifier per library that says which failures can heal.

    guard = Guard(classify_jira, limits=[(10, 1.0)])  # at most 10 requests in any second
    issue = guard.call(lambda: jira.issue("APP-1"))

A classifier looks at an exception the library raised and returns a
:class:`~okrsync.errors.TransientError` (retry it) or None (not retryable: the original is
re-raised for the connector to explain). httpx, gspread and jira each have a classifier of a few
lines; they all map into the one error tree. A call that is not idempotent (a chat POST) is
retried only when it certainly did not reach the server (a refused connection, a 429); after a
timeout, a dropped answer or a 5xx it fails as ``unsure`` instead of risking a second delivery.
A client may also say which failure ends the connection (``stops``: refused credentials, which every
other request would meet too): after it nothing more is sent, and each later call raises it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from okrsync.errors import RemoteError, TransientError
from okrsync.sdk.retry import Limits, Pacer, RetryPolicy

T = TypeVar("T")
Classifier = Callable[[BaseException], TransientError | None]


class Guard:
    def __init__(
        self,
        classify: Classifier,
        *,
        limits: Limits = (),
        policy: RetryPolicy | None = None,
        stops: Callable[[BaseException], bool] | None = None,
    ):
        self.classify = classify
        self.stops = stops
        self.stopped: BaseException | None = None  # what ended the connection (``stops``), raised by every later call
        self.pacer = Pacer(limits)
        self.policy = policy or RetryPolicy()
        self.calls = 0  # sent, retries included (benchmarks and logs)
        self._throttled = 0  # 429s in a row without a Retry-After: how far the connection has slowed down
        self._count = threading.Lock()  # a connection's requests may be in flight from several threads

    def call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run ``fn`` paced and retried; raise the last TransientError when retries run out."""
        if self.stopped is not None:
            raise self.stopped

        def once() -> T:
            self.pacer.acquire()
            with self._count:
                self.calls += 1
            try:
                result = fn()
                self._throttled = 0  # an answer again: back to the quota windows' pace
                return result
            except TransientError as exc:
                transient = exc
            except Exception as exc:
                classified = self.classify(exc)
                if classified is None:
                    raise
                classified.__cause__ = exc
                transient = classified
            if transient.retry_after:  # the server said when: the whole connection waits, not only this request
                self.pacer.pause(transient.retry_after, retrying=True)
            elif transient.throttled:  # "too many" without a when: every request backs off, doubling per 429
                self._throttled += 1
                pause = min(self.policy.max_delay, self.policy.base_delay * 2**self._throttled)
                self.pacer.pause(pause, retrying=True)
            if not idempotent and transient.maybe_delivered:
                raise RemoteError(
                    f"{transient.message}; not retried because the request may have been processed", kind="unsure"
                ) from transient
            raise transient

        try:
            return self.policy.call(once)
        except Exception as exc:
            if self.stops is not None and self.stops(exc):
                self.stopped = exc
            raise
