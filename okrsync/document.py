"""The JSON status document: the one shape every output, `status --format json` and the store share.

Keys are stable (add, never rename); progress values are fractions 0..1, times ISO 8601 in the
cycle's time zone. It is built from an :class:`~okrsync.evaluate.Evaluation` plus the config's
titles and owners, and holds no secrets: connection names only, never their settings.
"""

from __future__ import annotations

from datetime import datetime

from okrsync.config import Config, KeyResult
from okrsync.evaluate import Evaluation, KpiResult, KrResult, ObjectiveResult


def _iso(moment: datetime | None, config: Config) -> str | None:
    return moment.astimezone(config.cycle.tz).isoformat() if moment else None


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def kr_doc(kr: KrResult, config: Config, owner: str | None, spec: KeyResult) -> dict:
    return {
        "id": kr.id,
        "title": kr.title or spec.title or kr.id,
        "metric": kr.metric,
        "kind": kr.kind,
        "owner": spec.owner or owner,
        "unit": config.metrics[kr.metric].unit if kr.metric in config.metrics else None,
        "value": _round(kr.value),
        "start": kr.start,
        "target": kr.target,
        "min": kr.min,
        "max": kr.max,
        "weight": kr.weight,
        "due": (kr.due or config.cycle.end).isoformat(),
        "progress": _round(kr.progress),
        "progress_raw": _round(kr.progress_raw),
        "expected": _round(kr.expected),
        "status": kr.status.value,
        "stale": kr.stale,
        "stale_reason": kr.stale_reason,
        "error": kr.error,
        "observed_at": _iso(kr.observed_at, config),
        "forecast": (
            {"value": _round(kr.forecast.value), "progress": _round(kr.forecast.progress)} if kr.forecast else None
        ),
        "override": (
            {"value": kr.override.value, "sticky": kr.override.sticky, "note": kr.override.note}
            if kr.override
            else None
        ),
        "jira_issue": spec.jira_issue,
        "sheet_cell": spec.sheet_cell,
    }


def objective_doc(o: ObjectiveResult, config: Config, specs: dict[str, KeyResult]) -> dict:
    return {
        "id": o.id,
        "title": o.title,
        "owner": o.owner,
        "kind": o.kind,
        "parent": o.parent,
        "children": list(o.children),
        "progress": _round(o.progress),
        "expected": _round(o.expected),
        "status": o.status.value,
        "key_results": [kr_doc(kr, config, o.owner, specs[kr.id]) for kr in o.key_results],
    }


def kpi_doc(k: KpiResult, config: Config) -> dict:
    return {
        "id": k.id,
        "title": k.title or k.id,
        "metric": k.metric,
        "unit": config.metrics[k.metric].unit if k.metric in config.metrics else None,
        "value": _round(k.value),
        "healthy": k.healthy,
        "trend": _round(k.trend),
        "min": k.min,
        "max": k.max,
        "stale": k.stale,
        "stale_reason": k.stale_reason,
        "error": k.error,
        "observed_at": _iso(k.observed_at, config),
    }


def build_document(evaluation: Evaluation, config: Config) -> dict:
    """The status document (stored with the run, shown by `status`, handed to every output)."""
    specs = {kr.id: kr for _, kr in config.key_results()}
    doc = {
        "cycle": evaluation.cycle,
        "cycle_start": config.cycle.start.isoformat(),
        "cycle_end": config.cycle.end.isoformat(),
        "namespace": config.namespace,
        "as_of": _iso(evaluation.as_of, config),
        "objectives": [objective_doc(o, config, specs) for o in evaluation.objectives],
        "kpis": [kpi_doc(k, config) for k in evaluation.kpis],
        "errors": [{"metric": e.metric, "connection": e.connection, "message": e.message} for e in evaluation.errors],
    }
    return doc


def iter_krs(doc: dict):
    for o in doc.get("objectives", []):
        for kr in o["key_results"]:
            yield o, kr
