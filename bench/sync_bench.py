"""An organisation's nightly sync against the project's emulators, with network latency and each API's
quota, next to its lower bound and a naive sequential sync measured in the same run.

    .venv/bin/python bench/sync_bench.py [--latency 0.05] [--naive-share 1.0]

The organisation: 2,000 KRs over 500 metrics — Google Sheets (25 spreadsheets x 8 cells), Jira (100
distinct JQL counts), HubSpot (40 searches), Salesforce (40 SOQL), Pipedrive (20 summaries) and a JSON
API (100 paths); 4 KRs per metric. Printed: per API the requests sent against the minimum and the
time it took against its bound, the whole fetch against the lower bound, the naive sync (one request
per KR, one at a time) and the speed-up, and the peak RSS. The lower bound of an API: its minimum
requests started as early as its published quota windows allow (with unlimited requests in flight),
plus one latency (two for Sheets, whose values read waits for the spreadsheet's metadata); the
sync's bound is the slowest API's. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.org import LIMITS, MINIMUM, Organisation
from okrsync.config.load import load_config
from okrsync.sync.fetch import fetch, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from tests.helpers import oslo

AS_OF = oslo(2026, 11, 16)


def bound(requests: int, limits: list[tuple[int, float]], latency: float, chain: int = 1) -> float:
    """The earliest the last of ``requests`` can finish: starts as the windows allow, plus the latency."""
    starts: list[float] = []
    for _ in range(requests):
        start = 0.0
        for n, window in limits:
            if len(starts) >= n:
                start = max(start, starts[-n] + window)
        starts.append(start)
    return (starts[-1] if starts else 0.0) + chain * latency


def naive(config, share: float) -> tuple[float, int]:
    """One request per KR, one at a time: each KR's metric fetched alone, with its own client, as a sync
    that knows nothing of batching would (a share of the KRs is timed and the total scaled)."""
    sync_plan = plan(config, AS_OF)
    every = max(1, round(1 / share))
    krs = [kr for _, kr in config.key_results()][::every]  # every n-th KR: all six APIs in proportion
    started = time.perf_counter()
    for kr in krs:
        name = config.metrics[kr.metric].connection
        one = [q for q in sync_plan.queries[name] if q.metric_id == kr.metric]
        fetch_connection(dataclasses.replace(sync_plan, queries={name: one}), name)
    return time.perf_counter() - started, len(krs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--naive-share", type=float, default=1.0, help="share of KRs the naive sync times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Organisation(Path(tmp), args.latency) as org:
        config = load_config(org.config_path)
        spans: dict[str, list[float]] = {}
        started = time.perf_counter()
        fetched = fetch(
            plan(config, AS_OF), lambda event, name, _: spans.setdefault(name, []).append(time.perf_counter())
        )
        wall = time.perf_counter() - started
        failed = [m for m, v in fetched.items() if not hasattr(v, "value")]
        sent = org.requests()
        org.reset_logs()
        naive_seconds, naive_krs = naive(config, args.naive_share)
    naive_total = naive_seconds / naive_krs * len(config.key_results())
    bounds = {
        api: bound(MINIMUM[api], LIMITS[api], args.latency, 2 if api == "google_sheets" else 1) for api in MINIMUM
    }
    lower = max(bounds.values())
    rows = {
        api: {
            "requests": sent[api],
            "minimum": MINIMUM[api],
            "span_s": round(spans[api][-1] - spans[api][0], 2),
            "bound_s": round(bounds[api], 2),
        }
        for api in MINIMUM
    }
    report = {
        "krs": len(config.key_results()),
        "metrics": len(config.metrics),
        "failed_metrics": failed[:5],
        "latency_s": args.latency,
        "apis": rows,
        "fetch_wall_s": round(wall, 2),
        "lower_bound_s": round(lower, 2),
        "ratio_to_bound": round(wall / lower, 2),
        "naive_s": round(naive_total, 1),
        "naive_measured_krs": naive_krs,
        "speed_up": round(naive_total / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
