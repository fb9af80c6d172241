"""The mechanics of retrying and pacing: a bounded tenacity policy and a token bucket.

:class:`RetryPolicy` retries only :class:`~okrsync.errors.TransientError` (what can heal), waits what
the server asks for in ``Retry-After`` (seconds or an HTTP date, capped) or else an exponential
backoff with jitter, and gives up after a bounded number of attempts *and* a bounded total time.
:class:`Pacer` keeps each connection inside the API's documented quota windows (per second, per
minute, per day) instead of discovering them through 429s. :mod:`okrsync.sdk.guard` puts them together.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
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


# okrsync's own generator: jitter drawn from the global one would move the state a program (or a test run, as
# Hypothesis checks) may have seeded, from whichever thread happens to retry.
JITTER = random.Random()


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
            return min(asked, self.max_delay) + JITTER.uniform(0, 0.1)
        backoff = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return JITTER.uniform(backoff / 2, backoff)  # "equal jitter": never zero, never in lockstep

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


Limits = Sequence[tuple[int, float]]  # (at most N requests, in any window of W seconds), e.g. (60, 60.0)


def per_second(rate: float | None) -> list[tuple[int, float]]:
    """A ``rate_limit:`` (requests per second) as a window: 5 -> at most 5 in any second, 0.5 -> 1 in 2 s."""
    if not rate:
        return []
    return [(int(rate), 1.0)] if rate >= 1 else [(1, 1.0 / rate)]


ARRIVAL_MARGIN = 0.05  # seconds added to every quota window; see Pacer


class Pacer:
    """Quota windows as vendors state them: at most N requests in any W seconds, for every window given
    (per second, per minute, per day). A burst up to N goes at once; the next request waits until the
    window allows it. Shared by every thread of a connection; a server's "slow down" (Retry-After,
    X-RateLimit-Reset) pauses them all (:meth:`pause`). No windows: no pacing.

    Each acquire reserves its start time under the lock, then sleeps outside it, so threads queue in
    order and a recorded (not slept) wait in tests still spaces the starts.

    Vendors count requests when they *arrive*; a start here and its arrival there differ by thread
    wake-up and network jitter, so a start never comes closer than ``margin`` seconds (50 ms by default)
    to the edge of a window: six searches at HubSpot's 5 a second arrive at least a second apart even
    when the first one left a little late (seen once on a loaded CI machine without the margin)."""

    def __init__(self, limits: Limits = (), *, margin: float = ARRIVAL_MARGIN):
        self.limits = sorted((int(n), float(w) + margin) for n, w in limits)
        self._starts: deque[float] = deque(maxlen=max((n for n, _ in self.limits), default=1))
        self._paused_until = 0.0
        self._waits_out_pause: int | None = None  # the thread whose retry already waits out the pause
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting, for logs and benchmarks

    def acquire(self) -> None:
        with self._lock:
            now = monotonic()
            exempt = self._waits_out_pause == threading.get_ident()
            self._waits_out_pause = None if exempt else self._waits_out_pause
            start = now if exempt else max(now, self._paused_until)
            for n, window in self.limits:
                if len(self._starts) >= n:
                    start = max(start, self._starts[-n] + window)
            if self.limits:
                self._starts.append(start)
            wait = start - now
            self.waited += wait
        if wait > 0:
            sleep(wait)

    def pause(self, seconds: float, *, retrying: bool = False) -> None:
        """No request of this connection starts for ``seconds`` (the server asked for it). With
        ``retrying``, the calling thread's retry already sleeps that long: its next start is not held again."""
        with self._lock:
            self._paused_until = max(self._paused_until, monotonic() + seconds)
            if retrying:
                self._waits_out_pause = threading.get_ident()
