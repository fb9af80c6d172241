"""Reducing many values (rows, cells, issues) to one, the same way for every source."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean


def aggregate(values: Sequence[float], how: str) -> float:
    """Reduce ``values`` in source order. Raises ValueError when there is nothing to reduce.

    count: number of values · sum/avg/min/max · latest: the last one · percent_done: share of
    values that are non-zero (done), 0..100.
    """
    if how == "count":
        return float(len(values))
    if how == "sum":
        return float(sum(values))
    if not values:
        raise ValueError(f"no values to take the {how} of")
    if how == "avg":
        return fmean(values)
    if how == "min":
        return float(min(values))
    if how == "max":
        return float(max(values))
    if how == "latest":
        return float(values[-1])
    if how == "percent_done":
        return 100.0 * sum(1 for v in values if v) / len(values)
    raise ValueError(f"unknown aggregate {how!r}")
