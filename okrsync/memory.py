"""Python's cyclic garbage collector around bulk work (one helper, shared by the store and the report)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many acyclic objects are built (a year's values, their
    chart points): each collection would walk all of them, which doubled a year-long load (bench/RESULTS.md)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
