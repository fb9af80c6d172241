"""Objectives aligned across configs that share a store (pure: documents in, roll-up inputs out).

A team config writes ``parent: company/growth`` (namespace/objective id) to align one of its
objectives under an objective of another config. The parent's sync rolls in each such child as its
latest stored run left it; the child's own status shows a note while its parent is not in the store, and
the commands that show a stored status check that note again against the store (:func:`refresh_parent_notes`).

Whether such a parent exists is decided here only (:func:`parent_findings`): a namespace that is stored
without that objective is a config error (`okrsync validate` exits 2, naming the closest stored ids);
a namespace that has not synced yet is a warning. Pure: ``okrsync.validate.checks.parent_problems`` reads the
store for `okrsync validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from okrsync.config.messages import did_you_mean
from okrsync.config.model import Config
from okrsync.okr.results import AlignedChild
from okrsync.okr.status import ObjectiveStatus, StatusDocument


def split_ref(parent: str) -> tuple[str | None, str]:
    """'company/growth' -> ('company', 'growth'); a local id -> (None, id)."""
    namespace, sep, objective = parent.partition("/")
    return (namespace, objective) if sep else (None, parent)


def aligned_children(config: Config, documents: Mapping[str, StatusDocument]) -> dict[str, list[AlignedChild]]:
    """Our objective id -> the objectives of other namespaces' latest runs that name it as parent."""
    ours = {o.id for o in config.objectives}
    out: dict[str, list[AlignedChild]] = {}
    for namespace, doc in sorted(documents.items()):
        if namespace == config.namespace:
            continue
        for o in doc.objectives:
            parent_ns, parent_id = split_ref(o.parent or "")
            if parent_ns == config.namespace and parent_id in ours:
                child = AlignedChild(
                    f"{namespace}/{o.id}", o.weight, o.progress, o.expected, str(o.status), o.levels_only
                )
                out.setdefault(parent_id, []).append(child)
    return out


@dataclass(frozen=True)
class ParentFinding:
    """A parent in another config that cannot take the objective in: an error, or a warning (not synced yet)."""

    index: int  # of the objective in config.objectives
    objective: str
    note: str
    error: bool


def parent_findings(config: Config, documents: Mapping[str, StatusDocument]) -> list[ParentFinding]:
    """Every ``parent: namespace/objective`` that the other namespaces' latest runs do not hold."""
    found = []
    for index, o in enumerate(config.objectives):
        missing = _missing_parent(o.parent, config.cycle.name, documents)
        if missing is not None:
            note, stored = missing
            found.append(ParentFinding(index, o.id, note, stored))
    return found


def _missing_parent(parent: str | None, cycle: str, documents: Mapping[str, StatusDocument]) -> tuple[str, bool] | None:
    """Why ``parent`` (namespace/objective) cannot take an objective in, and whether its namespace is stored;
    None when it can (or ``parent`` is a local id or none)."""
    namespace, objective = split_ref(parent or "")
    if namespace is None:
        return None
    doc = documents.get(namespace)
    if doc is not None and any(p.id == objective for p in doc.objectives):
        return None
    stored = sorted(f"{ns}/{o.id}" for ns, d in documents.items() for o in d.objectives)  # for the hint only
    hint = did_you_mean(parent or "", stored)
    if doc is None:
        return f"parent {parent}: no run of namespace {namespace!r} is stored for {cycle} yet{hint}", False
    ids = ", ".join(sorted(p.id for p in doc.objectives)) or "none"
    return (
        f"parent {parent}: namespace {namespace!r} has no objective {objective!r} (its objectives: {ids}){hint}",
        True,
    )


def refresh_parent_notes(doc: StatusDocument, parents: Mapping[str, StatusDocument]) -> StatusDocument:
    """``doc`` with each objective's parent note checked again against ``parents`` (the parent namespaces'
    latest documents, as the store holds them now): the note a child's run stored says how its parent stood
    *then* ("no run of namespace 'company' is stored yet"), and a parent that ran after it (the company's night
    runs children first) has since taken it in. A note for a namespace not in ``parents`` is kept as stored."""
    objectives = []
    for o in doc.objectives:
        namespace, _ = split_ref(o.parent or "")
        if o.parent_note and namespace in parents:
            missing = _missing_parent(o.parent, doc.cycle, parents)
            o = o.model_copy(update={"parent_note": missing[0] if missing else None})
        objectives.append(o)
    return doc.model_copy(update={"objectives": objectives})


def parent_namespaces(doc: StatusDocument) -> set[str]:
    """The namespaces a document's parent notes are about (what :func:`refresh_parent_notes` needs)."""
    return {ns for o in doc.objectives if o.parent_note and (ns := split_ref(o.parent or "")[0]) is not None}


def parent_notes(config: Config, documents: Mapping[str, StatusDocument]) -> dict[str, str]:
    """Our objective id -> why its parent in another config cannot take it in (the status shows it)."""
    return {f.objective: f.note for f in parent_findings(config, documents)}


def company_order(docs: Mapping[str, StatusDocument]) -> list[tuple[str, ObjectiveStatus, int]]:
    """Every namespace's objectives as one tree, depth first: (namespace, objective, depth), children under
    their parents across configs; an objective whose parent is not in ``docs`` starts a tree of its own."""
    nodes = {f"{ns}/{o.id}": (ns, o) for ns, doc in docs.items() for o in doc.objectives}
    children: dict[str, list[str]] = {}
    for key, (ns, o) in nodes.items():
        parent = None if not o.parent else (o.parent if "/" in o.parent else f"{ns}/{o.parent}")
        children.setdefault(parent if parent in nodes else "", []).append(key)
    ordered: list[tuple[str, ObjectiveStatus, int]] = []

    def add(key: str, depth: int, seen: frozenset[str]) -> None:
        ns, o = nodes[key]
        ordered.append((ns, o, depth))
        for child in children.get(key, []):
            if child not in seen:
                add(child, depth + 1, seen | {child})

    for key in children.get("", []):
        add(key, 0, frozenset({key}))
    return ordered


def across_configs(order: list[tuple[str, ObjectiveStatus, int]]) -> list[tuple[str, ObjectiveStatus, int]]:
    """Of the company tree (:func:`company_order`), the objectives on a path that crosses configs: each
    objective aligned to another namespace's, and that objective with its ancestors, at their depths; and an
    objective whose parent in another namespace is not there (at the top, with its note)."""
    kept: set[int] = set()
    path: list[int] = []  # the indexes of the current entry's ancestors, by depth
    for i, (namespace, objective, depth) in enumerate(order):
        del path[depth:]
        if path and order[path[-1]][0] != namespace:
            kept.update(path, [i])
        elif not path and split_ref(objective.parent or "")[0] not in (None, namespace):
            kept.add(i)
        path.append(i)
    return [order[i] for i in sorted(kept)]


def with_parent_notes(stored: dict, doc: StatusDocument) -> dict:
    """A stored document's dict as stored, with the parent notes of ``doc`` (:func:`refresh_parent_notes`)."""
    notes = [o.parent_note for o in doc.objectives]
    objectives = [{**o, "parent_note": note} for o, note in zip(stored.get("objectives", []), notes, strict=False)]
    return {**stored, "objectives": objectives}
