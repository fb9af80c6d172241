"""Data contracts, pure: does a fresh value keep its metric's ``expect: {min, max, max_change}``?

A value that breaks its contract is held back (okrsync.sync.compute): the metric keeps its last good value,
its KRs are flagged ``suspect`` with the reason, nothing is written back for them, and the value waits
in the store until `okrsync accept METRIC` publishes it. Decisions:

* ``max_change`` compares with the **last good value** (the newest stored value of an earlier day:
  held values never enter history, so one bad night cannot become the base of the next). Without one
  (the metric's first value in the cycle) only min and max apply.
* A percentage change from a last good value of 0 is undefined and not checked; an absolute
  ``max_change`` covers metrics that start at zero.
* A value equal to the one already stored for its day passes: it was checked, or accepted, before.
* A formula computed from a held-back metric is held back too: its number rests on the suspect one.
"""

from __future__ import annotations

from okrsync.config.model import Expect


def _num(x: float) -> str:
    return f"{x:g}"


def breach(metric: str, expect: Expect, value: float, last_good: float | None) -> str | None:
    """Why ``value`` breaks the contract, naming the metric, the value and the rule; None when it keeps it."""
    if expect.min is not None and value < expect.min:
        return f"{metric} = {_num(value)} is below expect.min {_num(expect.min)}"
    if expect.max is not None and value > expect.max:
        return f"{metric} = {_num(value)} is above expect.max {_num(expect.max)}"
    if expect.max_change is None or last_good is None:
        return None
    change = value - last_good
    share = expect.relative_change
    if share is None:
        if abs(change) > float(expect.max_change):
            return (
                f"{metric} = {_num(value)} changed by {change:+g} from {_num(last_good)}, "
                f"more than expect.max_change {_num(float(expect.max_change))}"
            )
        return None
    if last_good == 0 or abs(change) <= share * abs(last_good):
        return None
    return (
        f"{metric} = {_num(value)} changed by {change / abs(last_good):+.0%} from {_num(last_good)}, "
        f"more than expect.max_change {expect.max_change}"
    )
