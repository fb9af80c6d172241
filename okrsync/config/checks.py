"""Problems no single model can see: references between sections, duplicate ids, circles.

Each section has its own check, all on the raw data, so they run even when a model failed
elsewhere and one pass reports everything.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from okrsync.config.messages import unknown
from okrsync.okr import formula

Problem = tuple[tuple, str]


def cross_check(data: dict) -> list[Problem]:
    sections = {key: data.get(key) for key in ("connections", "metrics", "objectives", "kpis", "outputs")}
    connections, metrics = _dict(sections["connections"]), _dict(sections["metrics"])
    objectives, kpis, outputs = _list(sections["objectives"]), _list(sections["kpis"]), _list(sections["outputs"])
    return [
        *check_metrics(metrics, connections),
        *formula_cycles(metrics),
        *check_objectives(objectives, metrics, str(data.get("namespace") or "default")),
        *check_kpis(kpis, metrics, objectives),
        *check_outputs(outputs, connections),
        *check_ids(objectives, kpis),
        *parent_cycles(objectives),
        *kr_windows(objectives, metrics),
    ]


def kr_windows(objectives: list, metrics: dict) -> list[Problem]:
    """``window: kr`` reads the rows of its KR's own start_date..due: every KR on the metric must agree."""
    spans: dict[str, set[tuple]] = {}
    for objective in filter(lambda o: isinstance(o, dict), objectives):
        for kr in filter(lambda k: isinstance(k, dict), _list(objective.get("key_results"))):
            metric = _dict(metrics.get(kr.get("metric"))) if isinstance(kr.get("metric"), str) else {}
            if metric.get("window") == "kr":
                spans.setdefault(kr["metric"], set()).add((str(kr.get("start_date")), str(kr.get("due"))))
    problems: list[Problem] = []
    for mid, found in spans.items():
        if len(found) > 1:
            message = f"its KRs have different start_date/due ({_spans(found)}): window: kr needs one span; "
            problems.append((("metrics", mid, "window"), message + "define one metric per KR, or use window: cycle"))
    return problems


def _spans(found: set[tuple]) -> str:
    return "; ".join(f"{start}..{due}".replace("None", "cycle") for start, due in sorted(found))


def check_metrics(metrics: dict, connections: dict) -> list[Problem]:
    out: list[Problem] = []
    for mid, metric in metrics.items():
        if not isinstance(metric, dict):
            continue
        name = metric.get("connection")
        if name is not None and name not in connections:
            out.append((("metrics", mid, "connection"), unknown("connection", name, connections)))
        if isinstance(metric.get("formula"), str):
            try:
                refs = formula.names(metric["formula"])
            except formula.FormulaError:
                refs = set()  # reported by the model
            out += [
                (("metrics", mid, "formula"), unknown("metric", ref, metrics)) for ref in sorted(refs - set(metrics))
            ]
    return out


def check_objectives(objectives: list, metrics: dict, namespace: str) -> list[Problem]:
    out: list[Problem] = []
    ids = [o.get("id") for o in objectives if isinstance(o, dict)]
    for i, obj in enumerate(objectives):
        if not isinstance(obj, dict):
            continue
        parent = obj.get("parent")
        if isinstance(parent, str) and "/" in parent:
            out += _cross_config_parent(("objectives", i, "parent"), parent, namespace)
        elif parent is not None and parent not in ids:
            out.append((("objectives", i, "parent"), unknown("objective", parent, ids)))
        for j, kr in enumerate(_list(obj.get("key_results"))):
            if isinstance(kr, dict) and "metric" in kr and kr["metric"] not in metrics:
                out.append((("objectives", i, "key_results", j, "metric"), unknown("metric", kr["metric"], metrics)))
    return out


def _cross_config_parent(loc: tuple, parent: str, namespace: str) -> list[Problem]:
    """``namespace/objective``: an objective of another config sharing the store (checked at sync time)."""
    other, _, objective = parent.partition("/")
    if not other or not objective or "/" in objective:
        return [(loc, f"expected an objective id, or namespace/objective for another config, got {parent!r}")]
    if other == namespace:
        return [(loc, f"{parent!r} is in this config's own namespace: write the objective id alone ({objective!r})")]
    return []


def check_kpis(kpis: list, metrics: dict, objectives: list) -> list[Problem]:
    krs = [
        kr.get("id")
        for o in objectives
        if isinstance(o, dict)
        for kr in _list(o.get("key_results"))
        if isinstance(kr, dict)
    ]
    out: list[Problem] = []
    for k, kpi in enumerate(kpis):
        if not isinstance(kpi, dict):
            continue
        if "metric" in kpi and kpi["metric"] not in metrics:
            out.append((("kpis", k, "metric"), unknown("metric", kpi["metric"], metrics)))
        for n, led in enumerate(_list(kpi.get("leads"))):
            if isinstance(led, str) and led not in krs:
                out.append((("kpis", k, "leads", n), unknown("key result", led, krs)))
    return out


def check_outputs(outputs: list, connections: dict) -> list[Problem]:
    """An output's ``connection:`` names a connection of its own type, checked before any fetch."""
    out: list[Problem] = []
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("connection"), str):
            continue
        name, kind = output["connection"], output.get("type")
        if name not in connections:
            out.append((("outputs", i, "connection"), unknown("connection", name, connections)))
        elif isinstance(connections[name], dict) and connections[name].get("type") != kind:
            other = connections[name].get("type")
            out.append(
                (
                    ("outputs", i, "connection"),
                    f"connection {name!r} is a {other} connection; a {kind} output needs a {kind} connection",
                )
            )
    return out


def check_ids(objectives: list, kpis: list) -> list[Problem]:
    objective_ids = [(("objectives", i, "id"), o.get("id")) for i, o in enumerate(objectives) if isinstance(o, dict)]
    kr_ids = [
        (("objectives", i, "key_results", j, "id"), kr.get("id"))
        for i, o in enumerate(objectives)
        if isinstance(o, dict)
        for j, kr in enumerate(_list(o.get("key_results")))
        if isinstance(kr, dict)
    ]
    kpi_ids = [(("kpis", k, "id"), kpi.get("id")) for k, kpi in enumerate(kpis) if isinstance(kpi, dict)]
    return [*_duplicates(objective_ids, "objective"), *_duplicates(kr_ids, "key result"), *_duplicates(kpi_ids, "KPI")]


def _duplicates(ids: list[tuple[tuple, Any]], what: str) -> list[Problem]:
    counts = Counter(i for _, i in ids if i is not None)
    return [
        (loc, f"duplicate {what} id {i!r}: ids address results in the store, status and overrides")
        for loc, i in ids
        if i is not None and counts[i] > 1
    ]


def formula_cycles(metrics: dict) -> list[Problem]:
    """Formula metrics that depend on themselves, directly or through others (they could never compute)."""
    deps: dict[str, set[str]] = {}
    for mid, metric in metrics.items():
        if isinstance(metric, dict) and isinstance(metric.get("formula"), str):
            try:
                deps[mid] = formula.names(metric["formula"])
            except formula.FormulaError:
                deps[mid] = set()
    out: list[Problem] = []
    for start in deps:
        trail, node = [start], start
        while True:  # follow the first dependency that leads back into formulas, remembering the way
            following = [d for d in sorted(deps.get(node, ())) if d in deps and _reaches(d, start, deps)]
            if not following:
                break
            node = following[0]
            if node == start:
                circle = " -> ".join(trail + [start])
                out.append((("metrics", start, "formula"), f"formulas depend on each other in a circle: {circle}"))
                break
            if node in trail:
                break
            trail.append(node)
    return out


def _reaches(node: str, goal: str, deps: dict[str, set[str]]) -> bool:
    seen, todo = set(), [node]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(d for d in deps.get(current, ()) if d in deps)
    return False


def parent_cycles(objectives: list) -> list[Problem]:
    parents = {o.get("id"): o.get("parent") for o in objectives if isinstance(o, dict)}
    out: list[Problem] = []
    for i, obj in enumerate(objectives):
        if not isinstance(obj, dict):
            continue
        seen, node = [obj.get("id")], obj.get("parent")
        while node is not None and node in parents and node not in seen[1:]:
            if node == obj.get("id"):
                circle = " -> ".join(map(str, seen + [node]))
                out.append((("objectives", i, "parent"), f"objectives align in a circle: {circle}"))
                break
            seen.append(node)
            node = parents[node]
    return out


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
