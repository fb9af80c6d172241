"""The mechanics of retrying and pacing: a bounded tenacity policy and a token bucket.

:class:`RetryPolicy` retries only :class:`~okrsync.errors.TransientError` (what can heal), waits what
the server asks for in ``Retry-After`` (seconds or an HTTP date, capped) or else an exponential
backoff with jitter, and gives up after a bounded number of attempts *and* a bounded total time.
:class:`Pacer` is a client-side token bucket per connection, so a sync stays inside the API's
documented quota instead of discovering it through 429s. :mod:`okrsync.guard` puts them together.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from okrsync.errors import TransientError

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

# Indirection so tests can record waits instead of sleeping; production code never changes these.
sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    total_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0  # also the cap on a server's Retry-After

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return min(asked, self.max_delay) + random.uniform(0, 0.1)
        backoff = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return random.uniform(backoff / 2, backoff)  # "equal jitter": never zero, never in lockstep

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; retry while it raises TransientError; re-raise the last one when giving up."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.total_seconds),
            wait=self.wait,
            sleep=lambda s: sleep(s),
            reraise=True,
        )
        return retrying(fn)


class Pacer:
    """A token bucket: at most ``rate`` requests per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float = 1.0):
        self.rate, self.burst = rate, max(1.0, burst)
        self._tokens = self.burst
        self._last = monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting, for logs and benchmarks

    def acquire(self) -> None:
        with self._lock:
            now = monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
            self._tokens = 0.0
            self._last = now + wait
            self.waited += wait
        sleep(wait)
