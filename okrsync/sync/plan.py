"""The sync plan, compiled once from a config and an as-of time, before anything is fetched.

It answers every "which" question of a sync in one place: which metrics are used (by a KR, a
KPI, or a formula they need), which are formulas and in which order they compute, each metric's
effective as-of (``offset_days`` applied), which queries go to which connection, and which
outputs receive the document. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from okrsync.config.model import Config
from okrsync.okr import formula
from okrsync.sdk.connector import MetricParams, MetricQuery, OutputSettings, local_day


@dataclass(frozen=True)
class SyncPlan:
    config: Config
    as_of: datetime
    metrics: tuple[str, ...]  # used metrics, sorted
    formulas: tuple[str, ...]  # formula metrics, each after the formulas it uses
    metric_as_of: Mapping[str, datetime]
    queries: Mapping[str, tuple[MetricQuery, ...]]  # connection -> its metrics' queries
    outputs: tuple[OutputSettings, ...]

    @property
    def connections(self) -> list[str]:
        return sorted(self.queries)

    @property
    def day(self) -> date:
        """The cycle-local day this sync is stored under."""
        return local_day(self.as_of, self.config.cycle)


def compile_plan(config: Config, as_of: datetime) -> SyncPlan:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    # in the cycle's zone whatever zone it came in (a stored run's as_of comes back in UTC): expected
    # progress counts calendar days of the cycle, so the same moment must give the same result
    as_of = as_of.astimezone(config.cycle.tz)
    used = used_metrics(config)
    at = {m: as_of - timedelta(days=config.metrics[m].offset_days) for m in used}
    queries: dict[str, list[MetricQuery]] = {}
    for metric_id in used:
        metric = config.metrics[metric_id]
        if metric.connection is not None:
            # config.load binds a connection metric's params; a config built in code may leave them out
            params = config.params.get(metric_id) or MetricParams()
            query = MetricQuery(metric_id, metric, params, at[metric_id], config.cycle, window(config, metric_id))
            queries.setdefault(metric.connection, []).append(query)
    return SyncPlan(
        config=config,
        as_of=as_of,
        metrics=tuple(used),
        formulas=tuple(formula_order({m: f for m in used if (f := config.metrics[m].formula)})),
        metric_as_of=at,
        queries={name: tuple(qs) for name, qs in sorted(queries.items())},
        outputs=tuple(config.outputs),
    )


def window(config: Config, metric_id: str) -> tuple[date, date] | None:
    """The days whose dated rows an aggregate (count, sum, avg, min, max, percent_done) reads, up to the
    as-of day: the cycle's (``window: cycle``, the default), the KR's own start_date..due (``window: kr``;
    the config checks that the metric's KRs agree), or every row (``window: all``, and ``latest``)."""
    metric, cycle = config.metrics[metric_id], config.cycle
    if metric.window == "all" or metric.aggregate in (None, "latest"):
        return None
    if metric.window == "kr":
        for _, kr in config.key_results():
            if kr.metric == metric_id:
                return kr.start_date or cycle.start, kr.due or cycle.end
    return cycle.start, cycle.end


def used_metrics(config: Config) -> list[str]:
    """Metrics used by a KR or KPI, and everything their formulas need, sorted."""
    wanted = {kr.metric for _, kr in config.key_results() if kr.metric} | {k.metric for k in config.kpis}
    todo = list(wanted)
    while todo:
        metric = config.metrics.get(todo.pop())
        if metric and metric.formula:
            for dep in formula.names(metric.formula) - wanted:
                wanted.add(dep)
                todo.append(dep)
    return sorted(wanted & set(config.metrics))


def formula_order(formulas: Mapping[str, str]) -> list[str]:
    """Formula metrics so that each comes after the formulas it uses; those in a circle come last
    (they fail when computed, with the circle spelled out)."""
    deps = {m: formula.names(f) & set(formulas) for m, f in formulas.items()}
    order: list[str] = []
    placed: set[str] = set()
    progress = True
    while progress:
        progress = False
        for metric in sorted(deps):
            if metric not in placed and deps[metric] <= placed:
                order.append(metric)
                placed.add(metric)
                progress = True
    return order + sorted(set(deps) - placed)
