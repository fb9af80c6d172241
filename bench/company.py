"""A whole company in one night on Prefect workers (issue 26): N team configs and a company config, one store.

    .venv/bin/python -m bench.company [--teams 100] [--krs 200] [--workers 1,2,4] [--json FILE]
    .venv/bin/python -m bench.company --company acme --team-concurrency 2    # the company deployment

In a temporary directory it writes N team configs (each ``--krs`` key results over a CSV file of its own, a
shared SQLite database through the ``sql`` source, and Sheets, Jira and HubSpot emulators started here on
loopback with ``--latency``: a few requests per team, so each team's network share is small and known) and a
company config whose objectives are the parents of the teams' first objectives; all share one PostgreSQL store
(the throwaway database okrsync_company_bench_<pid>). It starts a Prefect server on PostgreSQL (its own
throwaway database, see scripts/scale_demo.py), times `okrsync deploy --glob` of every config, and then, for each
worker count W, starts W process workers (one slot each), triggers every team at once (one flow run per
deployment, created together through Prefect's client) for that round's as-of day, polls the API until all are
final, and prints: trigger to the last team completed; each team's flow-run time (Prefect's start and end);
failed runs and runs that ran twice (flow runs per deployment; the store's run rows per namespace and day); rows
stored; the store's size; each process tree's peak memory (VmHWM); the issue's bound, (sum of the teams' run
times / W) + 30 s, and trigger-to-done / (sum / W). Then it times `okrsync status --all` and `report --all`.

With ``--company NAME`` it deploys with ``--company NAME --team-concurrency K`` and triggers the one company
deployment (okrsync-company/NAME) instead: the teams are its subflow runs, and the sum is divided by K; the
teams' own deployments must not run that night (they are checked). A failed run is printed with Prefect's
message; ``--logs DIR`` keeps the server's and workers' logs (their tracebacks). Everything started is stopped by
PID and both databases are dropped, also on Ctrl-C or SIGTERM; `python -m bench.company_prefect --drop` drops what a
SIGKILLed bench left. Linux only (/proc). Nothing here asserts a time: it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.company_configs import COMPANY, Emulators, team_name, write_company
from bench.company_prefect import (
    COMPANY_FLOW,
    TEAM_FLOW,
    Bench,
    Sampler,
    deploy,
    deployment_ids,
    parent_notes,
    runs_per_deployment,
    stored,
    subflow_runs,
    timed_or_error,
    trigger,
    wait,
)
from scripts.scale_demo import DEFAULT_POSTGRES, start_server, start_workers

DAYS = ("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24")  # a night per round
SLACK = 30.0  # seconds the issue's bound allows on top of the teams' own run times


def team_round(bench: Bench, teams: dict, company: dict, workers: int, day: str, args) -> dict[str, Any]:
    """Every team's deployment triggered at once on ``workers`` fresh workers; the round's figures."""

    async def one_night():
        sampler = Sampler(bench)
        began, runs = await trigger(bench, teams, day)
        final = await wait(bench, runs, sampler, args.poll, args.limit)
        return began, final, await runs_per_deployment(bench, teams, began), sampler.peaks

    began, final, counts, peaks = asyncio.run(one_night())
    return figures(bench, began, final, counts, day, workers, peaks)


def company_round(bench: Bench, teams: dict, company: dict, workers: int, day: str, args) -> dict[str, Any]:
    """The one company deployment triggered; its team subflow runs read back by their parent, and the teams'
    own deployments checked for runs of that night (none: the company run is the night's only sync)."""

    async def one_night():
        sampler = Sampler(bench)
        began, runs = await trigger(bench, company, day)
        run = (await wait(bench, runs, sampler, args.poll, args.limit))[args.company]
        own = await runs_per_deployment(bench, teams, began)
        return began, run, await subflow_runs(bench, run.id), own, sampler.peaks

    began, run, subflows, own, peaks = asyncio.run(one_night())
    final = {sub.name: sub for sub in subflows}
    counts = {name: sum(1 for sub in subflows if sub.name == name) for name in expected_names(args)}
    out = figures(bench, began, final, counts, day, args.team_concurrency, peaks)
    out["team_deployment_runs"] = {name: n for name, n in own.items() if n}
    done = round((run.end_time - began).total_seconds(), 1) if run.end_time else None
    out |= {
        "workers": workers,
        "company_run": {"state": message(run), "seconds": seconds(run), "trigger_to_end_s": done},
    }
    return out


def expected_names(args) -> list[str]:
    return [team_name(t) for t in range(args.teams)] + [COMPANY]


def seconds(run) -> float | None:
    return (run.end_time - run.start_time).total_seconds() if run.start_time and run.end_time else None


def message(run) -> str:
    """A run's final state and its message (Prefect's words for what went wrong)."""
    state = run.state
    return f"{state.name}: {state.message}" if state else "no state"


def by_start(final: dict) -> dict[str, float]:
    """The median run time of the first and of the last tenth of the runs, in the order they started: a night
    whose runs slow down as the store fills shows it here."""
    timed = sorted((run.start_time, t) for run in final.values() if (t := seconds(run)) is not None)
    if len(timed) < 2:
        return {}
    tenth = max(1, len(timed) // 10)
    return {
        "first_tenth_median": round(statistics.median(t for _, t in timed[:tenth]), 1),
        "last_tenth_median": round(statistics.median(t for _, t in timed[-tenth:]), 1),
    }


def figures(bench: Bench, began, final: dict, counts: dict, day: str, slots: int, peaks: dict) -> dict[str, Any]:
    """The round's figures: wall time from the trigger to the last end, run times, failures, twice-run, store."""
    times = {name: seconds(run) for name, run in final.items()}
    ran = sorted(t for t in times.values() if t is not None)
    ends = [run.end_time for run in final.values() if run.end_time]
    wall = (max(ends) - began).total_seconds() if ends else None
    store = stored(bench, day)
    total = sum(ran)
    per_slot = total / slots if slots else 0.0
    return {
        "day": day,
        "slots": slots,
        "teams": len(final),
        "trigger_to_done_s": round(wall, 1) if wall is not None else None,
        "run_s": {"min": ran[0], "median": statistics.median(ran), "max": ran[-1], "sum": round(total, 1)}
        if ran
        else {},
        "run_s_by_start": by_start(final),
        "failed": {name: message(run) for name, run in sorted(final.items()) if run.state_type.value != "COMPLETED"},
        "flow_runs_not_once": {name: n for name, n in counts.items() if n != 1},
        "store_runs_not_once": {name: store["runs"].get(name, 0) for name in counts if store["runs"].get(name, 0) != 1},
        "stored": {
            "runs": sum(store["runs"].values()),
            "kr_results": store["kr_results"],
            "metric_values": store["metric_values"],
        },
        "store_bytes": store["bytes"],
        "peak_mb": peaks,
        "bound_s": round(per_slot + SLACK, 1),
        "ratio_to_sum_over_slots": round(wall / per_slot, 2) if wall and per_slot else None,
        "ratio_to_bound": round(wall / (per_slot + SLACK), 2) if wall else None,
        "slot_seconds_outside_runs_per_run": round((slots * wall - total) / len(ran), 1) if wall and ran else None,
    }


def show(r: dict[str, Any], mode: str) -> None:
    run, s = r["run_s"], r["stored"]
    who = f"{r['workers']} worker(s), team concurrency {r['slots']}" if mode == "company" else f"{r['slots']} worker(s)"
    print(f"\n{who}, as of {r['day']}: trigger -> last of {r['teams']} runs completed in {r['trigger_to_done_s']} s")
    if run:
        minmax = f"min {run['min']:.1f} s, median {run['median']:.1f} s, max {run['max']:.1f} s"
        print(f"  flow-run time per team (Prefect's start to end): {minmax}, sum {run['sum']} s")
        tenths = r["run_s_by_start"]
        if tenths:
            print(f"  median of the first tenth to start {tenths['first_tenth_median']} s, "
                  f"of the last tenth {tenths['last_tenth_median']} s")  # fmt: skip
    print(f"  failed runs: {len(r['failed'])}")
    for name, why in list(r["failed"].items())[:5]:
        print(f"    {name}: {why[:300]}")
    for what in ("flow_runs_not_once", "store_runs_not_once", "team_deployment_runs"):
        if what in r:
            print(f"  {what.replace('_', ' ')}: {len(r[what])} {first(r[what])}")
    rows = f"{s['runs']} runs, {s['kr_results']} KR results, {s['metric_values']} metric values"
    print(f"  stored for the day: {rows}; store size {r['store_bytes'] / 1e6:.1f} MB")
    peaks = ", ".join(f"{k} {v}" for k, v in r["peak_mb"].items())
    print(f"  peak memory, VmHWM of each process with its children (MB): {peaks}")
    k = r["slots"]
    print(f"  bound (sum / {k}) + {SLACK:g} s = {r['bound_s']} s; trigger-to-done / bound = {r['ratio_to_bound']}")
    print(f"  trigger-to-done / (sum / {k}) = {r['ratio_to_sum_over_slots']}; slot time outside the runs: "
          f"({k} x trigger-to-done - sum) / runs = {r['slot_seconds_outside_runs_per_run']} s a run")  # fmt: skip
    if "company_run" in r:
        c = r["company_run"]
        print(f"  the company run: {c['state'][:200]}; {c['seconds']} s, trigger to its end {c['trigger_to_end_s']} s")


def first(found: dict, n: int = 5) -> dict:
    return dict(list(found.items())[:n])


def night(bench: Bench, emulators: Emulators, args) -> dict[str, Any]:
    """Deploy, then a round per worker count, then the lead's commands against the store."""
    out: dict[str, Any] = {"mode": "company" if args.company else "teams", "teams": args.teams, "krs": args.krs}
    start_server(bench)
    out["deploy_s"] = deploy(bench, args.company, args.team_concurrency)
    print(f"okrsync deploy of {args.teams + 1} configs: {out['deploy_s']} s (Prefect server {bench.api})")
    teams = asyncio.run(deployment_ids(bench, TEAM_FLOW, expected_names(args)))
    company = asyncio.run(deployment_ids(bench, COMPANY_FLOW, [args.company])) if args.company else {}
    out["rounds"] = []
    for round_no, workers in enumerate(args.workers, start=1):
        before = emulators.requests()
        names = start_workers(bench, workers, round_no)
        play = company_round if args.company else team_round
        r = play(bench, teams, company, workers, DAYS[round_no - 1], args)
        for name in names:
            bench.stop(name)
        r["requests"] = {api: n - before[api] for api, n in emulators.requests().items()}
        show(r, out["mode"])
        print(f"  requests to the emulators: {r['requests']}")
        out["rounds"].append(r)
    out["status_all_s"] = timed_or_error(bench, "-c", f"config/{COMPANY}.yaml", "status", "--all")
    out["report_all_s"] = timed_or_error(bench, "-c", f"config/{COMPANY}.yaml", "report", "--all", "-o", "reports")
    print(f"\nokrsync status --all: {out['status_all_s']} s; report --all: {out['report_all_s']} s")
    out["status_all_json"] = shown = parent_notes(bench, f"config/{COMPANY}.yaml")
    notes = shown.get("parent_notes", {})
    print(f"status --all --format json: {shown.get('namespaces')} namespaces, {len(notes)} parent notes shown "
          f"{first(notes, 3)}{shown.get('error', '')}")  # fmt: skip
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--teams", type=int, default=100, help="team configs (default 100)")
    parser.add_argument("--krs", type=int, default=200, help="key results per team (default 200)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, a round (a night) each (default 1,2,4)")
    parser.add_argument("--latency", type=float, default=0.05, help="the emulators' round trip, seconds (0.05)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the API (1)")
    parser.add_argument("--limit", type=float, default=3600.0, help="seconds a round may take before it fails")
    parser.add_argument("--company", metavar="NAME", help="trigger the company deployment okrsync-company/NAME")
    parser.add_argument("--team-concurrency", type=int, default=2, help="with --company: teams at once (2)")
    parser.add_argument("--postgres", default=os.environ.get("OKRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--logs", type=Path, help="keep the server's and workers' logs in this directory")
    args = parser.parse_args(argv)
    args.workers = [int(n) for n in args.workers.split(",")]
    if len(args.workers) > len(DAYS):
        parser.error(f"at most {len(DAYS)} rounds")
    return args


def keep_logs(bench: Bench, where: Path) -> None:
    """The server's and workers' logs, copied before the bench's directory goes (a failed run's traceback)."""
    where.mkdir(parents=True, exist_ok=True)
    for log in bench.home.glob("*.log"):
        shutil.copy(log, where / log.name)
    print(f"logs kept in {where}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout`/kill: tear down as on Ctrl-C
    with Bench(args.postgres) as bench, Emulators(args.teams, args.latency) as emulators:
        write_company(bench.home / "project" / "config", emulators, args.teams, args.krs, bench.store_url)
        try:
            out = night(bench, emulators, args)
        finally:
            if args.logs:
                keep_logs(bench, args.logs)
    out |= {"stopped_pids": bench.started, "databases": bench.databases}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    wrong = ("failed", "flow_runs_not_once", "store_runs_not_once", "team_deployment_runs")
    clean = all(not r.get(what) for r in out["rounds"] for what in wrong)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
