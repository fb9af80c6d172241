"""What the source benchmarks share: a config of connections and metrics, each metric a KPI (so that it is
fetched), written to a folder; and the real fetch of it, timed, with each connection's start and end."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from okrsync.config.load import load_config
from okrsync.sync.fetch import fetch
from okrsync.sync.plan import compile_plan

CYCLE = {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"}


def write_config(folder: Path, name: str, connections: dict, metrics: dict) -> Path:
    document = {
        "version": 1,
        "cycle": CYCLE,
        "store": f"sqlite:///{folder / 'store.db'}",
        "connections": connections,
        "metrics": metrics,
        "kpis": [{"id": m, "metric": m, "healthy": {"min": 0}} for m in metrics],
    }
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(document, indent=1))  # JSON is YAML
    return path


def timed_fetch(path: Path, as_of: datetime) -> tuple[dict, dict[str, list[float]], float, float]:
    """The real fetch (compile_plan + fetch): its results, each connection's events (monotonic), when it
    started and how long it took."""
    sync_plan = compile_plan(load_config(path), as_of)
    events: dict[str, list[float]] = {}
    started = time.monotonic()
    fetched = fetch(sync_plan, lambda event, name, _: events.setdefault(name, []).append(time.monotonic()))
    return fetched, events, started, time.monotonic() - started
