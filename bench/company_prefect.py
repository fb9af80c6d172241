"""What bench/company.py does against Prefect and the store: its throwaway databases and processes (scripts/
scale_demo.py's Demo, with this bench's names), `okrsync deploy` timed, every run triggered at once through
Prefect's client, the wait (a poll of the API each interval, each process tree's peak memory sampled then), the
flow runs counted per deployment, and the store's rows counted per namespace and day.

    .venv/bin/python -m bench.company_prefect [--drop]    # the databases a killed bench left, by PID
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from scripts.scale_demo import BIN, DEFAULT_POSTGRES, POOL, Demo, memory_mb

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
TEAM_FLOW, COMPANY_FLOW = "okrsync-sync", "okrsync-company"


@dataclass
class Bench(Demo):
    """The scale demo's server, workers and teardown by PID, with this bench's database names: the store is
    okrsync_company_bench_<pid> (the brief's name: a leftover one says which process left it)."""

    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="okrsync-company-")))

    @property
    def databases(self) -> dict[str, str]:
        pid = os.getpid()
        return {"prefect": f"okrsync_company_bench_{pid}_prefect", "store": f"okrsync_company_bench_{pid}"}

    @property
    def store_url(self) -> str:
        return self.url("store", "postgresql+psycopg")


def timed(bench: Bench, *command: str) -> float:
    """Seconds an okrsync command took in the project directory; RuntimeError with its output when it failed."""
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "okrsync"), *command], cwd=bench.home / "project", env=bench.env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"okrsync {' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return round(time.monotonic() - started, 2)


def timed_or_error(bench: Bench, *command: str) -> float | str:
    """``timed``, or the failure's last line when the command failed (the night's figures are kept)."""
    try:
        return timed(bench, *command)
    except RuntimeError as exc:
        return "failed: " + str(exc).strip().splitlines()[-1]


def parent_notes(bench: Bench, config: str) -> dict[str, Any]:
    """What `status --all --format json` shows: the namespaces, and each objective's parent note still shown
    (after the company's night none should say its parent is "not stored yet")."""
    done = subprocess.run(
        [str(BIN / "okrsync"), "-c", config, "status", "--all", "--format", "json"],
        cwd=bench.home / "project", env=bench.env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        return {"error": (done.stdout + done.stderr).strip().splitlines()[-1:]}
    docs = json.loads(done.stdout)
    notes = {
        f"{ns}/{o['id']}": o["parent_note"]
        for ns, doc in docs.items()
        for o in doc["objectives"]
        if o.get("parent_note")
    }
    return {"namespaces": len(docs), "parent_notes": notes}


def deploy(bench: Bench, company: str | None, concurrency: int) -> float:
    """`okrsync deploy` of every config in the project (and the company deployment in --company mode)."""
    extra = ["--company", company, "--team-concurrency", str(concurrency)] if company else []
    return timed(bench, "deploy", "--glob", "config/*.yaml", "--pool", POOL, *extra)


def client(bench: Bench):
    from prefect.client.orchestration import PrefectClient

    return PrefectClient(bench.api)


async def deployment_ids(bench: Bench, flow: str, names: list[str]) -> dict[str, UUID]:
    async with client(bench) as c:
        found = await asyncio.gather(*(c.read_deployment_by_name(f"{flow}/{name}") for name in names))
    return {name: d.id for name, d in zip(names, found, strict=True)}


@dataclass
class Sampler:
    """Each process tree's peak memory: the sum of VmHWM over the process and its children, sampled at every poll
    (a worker's flow-run processes come and go: the largest sum seen is its peak)."""

    bench: Bench
    peaks: dict[str, float] = field(default_factory=dict)

    def sample(self) -> None:
        for name, process in list(self.bench.processes.items()):
            self.peaks[name] = max(self.peaks.get(name, 0.0), memory_mb(process.pid, "VmHWM"))


async def trigger(bench: Bench, deployments: dict[str, UUID], day: str) -> tuple[dt.datetime, dict[str, UUID]]:
    """One flow run per deployment, created together; returns when the trigger began and the runs' ids."""
    began = dt.datetime.now(dt.UTC)
    async with client(bench) as c:
        runs = await asyncio.gather(
            *(c.create_flow_run_from_deployment(d, parameters={"as_of": day}) for d in deployments.values())
        )
    return began, {name: run.id for name, run in zip(deployments, runs, strict=True)}


async def wait(bench: Bench, runs: dict[str, UUID], sampler: Sampler, poll: float, limit: float) -> dict[str, Any]:
    """The runs once every one is final, polling the API every ``poll`` seconds (and sampling memory then)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + limit
    async with client(bench) as c:
        while True:
            sampler.sample()
            found = await read_all(c, flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(runs.values()))))
            if len(found) == len(runs) and all(r.state_type and r.state_type.value in FINAL for r in found):
                by_id = {r.id: r for r in found}
                return {name: by_id[run_id] for name, run_id in runs.items()}
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up after {limit:g} s waiting for {len(runs)} runs")
            await asyncio.sleep(poll)  # the poll interval: the API is asked again, nothing is assumed


async def read_all(c, **filters) -> list:
    """Every flow run matching ``filters``, page by page (the API answers at most 200 at a time)."""
    out: list = []
    while True:
        page = await c.read_flow_runs(**filters, limit=200, offset=len(out))
        out.extend(page)
        if len(page) < 200:
            return out


async def runs_per_deployment(bench: Bench, deployments: dict[str, UUID], since: dt.datetime) -> dict[str, int]:
    """How many flow runs of each deployment started since the trigger (exactly one each, or a run ran twice).
    The nightly schedule's runs for the coming nights wait in SCHEDULED (Prefect's start-time filter counts
    their expected start): they are left out, a run that left SCHEDULED is counted."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async with client(bench) as c:
        found = await read_all(
            c,
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=list(deployments.values()))),
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=since),
                state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])),
            ),
        )
    counts = Counter(r.deployment_id for r in found)
    return {name: counts[d] for name, d in deployments.items()}


async def subflow_runs(bench: Bench, parent: UUID) -> list:
    """The team subflow runs of a company run (their parent is the company run)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async with client(bench) as c:
        return await read_all(
            c, flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent]))
        )


def stored(bench: Bench, day: str) -> dict[str, Any]:
    """The store for ``day``: run rows per namespace, KR results and metric values; the database's size."""
    engine = sa.create_engine(bench.store_url)
    try:
        with engine.connect() as conn:
            per_namespace = dict(
                conn.execute(
                    sa.text("select namespace, count(*) from runs where day = :d group by namespace"), {"d": day}
                ).all()
            )
            ids = conn.execute(sa.text("select id from runs where day = :d"), {"d": day}).scalars().all()
            krs = conn.execute(
                sa.text("select count(*) from kr_results where run_id = any(:ids)"), {"ids": ids}
            ).scalar()
            values = conn.execute(sa.text("select count(*) from metric_values where day = :d"), {"d": day}).scalar()
            size = conn.execute(sa.text("select pg_database_size(current_database())")).scalar()
    finally:
        engine.dispose()
    return {"runs": per_namespace, "kr_results": krs, "metric_values": values, "bytes": size}


def leftovers(postgres: str) -> list[str]:
    """This bench's databases whose process is gone (a bench killed with SIGKILL cannot drop them itself)."""
    engine = sa.create_engine(postgres)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                sa.text("select datname from pg_database where datname like 'okrsync_company_bench_%'")
            )
            found = list(names.scalars())
    finally:
        engine.dispose()
    return [name for name in found if not Path(f"/proc/{name.split('_')[3]}").exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List (or --drop) databases a killed bench/company.py left.")
    parser.add_argument("--postgres", default=os.environ.get("OKRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--drop", action="store_true", help="drop them")
    args = parser.parse_args(argv)
    names = leftovers(args.postgres)
    print("\n".join(names) or "no leftover databases")
    if args.drop and names:
        with sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT").connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped {len(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
