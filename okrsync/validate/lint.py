"""OKR quality checks for `okrsync validate`: warnings a coach would give, never errors.

A config that loads is usable; these point at habits that make OKRs less useful (too many
objectives per person, KRs that cannot move, metrics nobody reads).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from okrsync.config.model import BOUND_KINDS, Config
from okrsync.sync.plan import used_metrics

MAX_KRS_PER_OBJECTIVE = 5
MAX_OBJECTIVES_PER_OWNER = 5


@dataclass(frozen=True)
class Warning_:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def lint(config: Config) -> list[Warning_]:
    out: list[Warning_] = []
    cycle = config.cycle
    for i, o in enumerate(config.objectives):
        where = f"objectives[{i}] ({o.id})"
        if not o.key_results:
            out.append(Warning_(where, "objective has no key results: how will you know it is achieved?"))
        elif len(o.key_results) > MAX_KRS_PER_OBJECTIVE:
            out.append(
                Warning_(where, f"{len(o.key_results)} key results; more than {MAX_KRS_PER_OBJECTIVE} dilutes focus")
            )
        for j, kr in enumerate(o.key_results):
            kw = f"objectives[{i}].key_results[{j}] ({kr.id})"
            if kr.due and not cycle.start <= kr.due <= cycle.end:
                out.append(Warning_(kw, f"due {kr.due} lies outside the cycle {cycle.start}..{cycle.end}"))
            if kr.start_date and not cycle.start <= kr.start_date <= cycle.end:
                out.append(Warning_(kw, f"start_date {kr.start_date} lies outside the cycle"))
            if o.kind == "aspirational" and kr.kind in BOUND_KINDS:
                out.append(
                    Warning_(
                        kw, f"{kr.kind} keeps a level; in an aspirational objective the 70% rule does not apply to it"
                    )
                )
            if kr.start is not None and kr.start != "auto" and kr.start == kr.target:
                out.append(Warning_(kw, f"start equals target ({kr.target}): there is nothing to move"))
            for p in kr.phases:
                if not (kr.start_date or cycle.start) <= p.date <= (kr.due or cycle.end):
                    out.append(Warning_(kw, f"phase date {p.date} lies outside the key result's window"))
    owners = Counter(o.owner for o in config.objectives if o.owner)
    for owner, n in sorted(owners.items()):
        if n > MAX_OBJECTIVES_PER_OWNER:
            out.append(
                Warning_(
                    "objectives",
                    f"{owner} owns {n} objectives in {cycle.name}; more than "
                    f"{MAX_OBJECTIVES_PER_OWNER} is hard to focus on",
                )
            )
    used = used_metrics(config)
    for metric_id in config.metrics:
        if metric_id not in used:
            out.append(Warning_(f"metrics.{metric_id}", "not used by any key result, KPI or formula"))
    return out + contract_warnings(config)  # formula cycles are errors (config.checks.formula_cycles)


def contract_warnings(config: Config) -> list[Warning_]:
    """A KR whose start or target lies outside its metric's ``expect`` bounds: reaching it would be held back."""
    out: list[Warning_] = []
    for i, o in enumerate(config.objectives):
        for j, kr in enumerate(o.key_results):
            expect = config.metrics[kr.metric].expect if kr.metric in config.metrics else None
            if expect is None:
                continue
            for name in ("start", "target", "min", "max"):
                value = getattr(kr, name)
                if isinstance(value, int | float) and _outside(value, expect.min, expect.max):
                    where = f"objectives[{i}].key_results[{j}] ({kr.id})"
                    text = f"{name} {value:g} lies outside metrics.{kr.metric}.expect: such a value would be held back"
                    out.append(Warning_(where, text))
    return out


def _outside(value: float, low: float | None, high: float | None) -> bool:
    return not ((low is None or value >= low) and (high is None or value <= high))
