"""Scale-out demonstration: one Prefect server on PostgreSQL, a process work pool, workers, three teams.

    .venv/bin/python scripts/scale_demo.py [--postgres URL] [--workers 1,2] [--json PATH]

On loopback it starts a Prefect server on its own PostgreSQL database, deploys one deployment per team
config with `okrsync deploy` (three copies of the example, namespaces north/south/west) into a process
work pool, and then, for each worker count asked for (default: one, then two), starts that many
`prefect worker start --limit 1` processes (each worker is one machine's slot), triggers the three
deployments at once and waits for them. It prints which worker ran which team, the time from trigger
to the last team completed, the rows each run stored in the shared okrsync store (its own PostgreSQL
database) and the peak memory of the server and of each worker (with the flow-run processes it
starts). Each round syncs its own as-of day, so "exactly once" is checkable per round. Everything it
started is stopped by PID (process groups) and its databases are dropped, also on Ctrl-C or failure.
Linux only (it reads /proc for memory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEAMS = ("north", "south", "west")
POOL = "okrsync-demo"
DAYS = ("2026-11-20", "2026-11-21", "2026-11-19", "2026-11-18")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the server runs uvicorn as a child)."""
    return memory_mb(pid, "VmRSS")


def memory_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status memory field (VmRSS now, VmHWM its peak) summed over a process and its descendants;
    bench/company.py samples VmHWM with it."""
    total_kb = 0
    for member in family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


def family(pid: int) -> set[int]:
    """A process and all its descendants, from /proc (psutil is not a dependency)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    members, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return members


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str):
    """Poll ``check()`` until it returns something true (bounded), instead of sleeping a guess."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.25)
    raise TimeoutError(f"gave up after {seconds:g} s waiting for {what}")


@dataclass
class Demo:
    postgres: str
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="okrsync-scale-")))
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started: list[int] = field(default_factory=list)  # every PID started, to prove the teardown
    api: str = ""

    @property
    def databases(self) -> dict[str, str]:
        return {"prefect": f"okrsync_demo_prefect_{self.tag}", "store": f"okrsync_demo_store_{self.tag}"}

    def url(self, which: str, driver: str) -> str:
        base = sa.engine.make_url(self.postgres)
        return base.set(drivername=driver, database=self.databases[which]).render_as_string(hide_password=False)

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home / "prefect"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",  # default 10: a worker looks for runs every 2 s here
            "OKRSYNC_STORE_URL": self.url("store", "postgresql+psycopg"),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.url("prefect", "postgresql+asyncpg"),
        }
        if self.api:
            env["PREFECT_API_URL"] = self.api
        return env

    def __enter__(self) -> Demo:
        with self._admin() as conn:
            for name in self.databases.values():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self

    def __exit__(self, *exc) -> None:
        for name in list(self.processes):
            self.stop(name)
        with self._admin() as conn:
            for name in self.databases.values():
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.home, ignore_errors=True)

    def _admin(self):
        return sa.create_engine(self.postgres, isolation_level="AUTOCOMMIT").connect()

    def start(self, name: str, *command: str) -> subprocess.Popen:
        """Start a process in its own process group (so stopping it stops its children), log to a file."""
        log = (self.home / f"{name}.log").open("w")
        process = subprocess.Popen(
            command, cwd=self.home / "project", env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes[name] = process
        self.started.append(process.pid)
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")


def write_project(demo: Demo) -> Path:
    """The example's data and one config per team (its own namespace and report directory)."""
    project = demo.home / "project"
    shutil.copytree(REPO / "config", project / "config", ignore=shutil.ignore_patterns("*.schema.json"))
    example = (project / "config" / "example.yaml").read_text()
    for team in TEAMS:
        text = example.replace("version: 1\n", f"version: 1\nnamespace: {team}\n", 1)
        text = text.replace("../reports/okr.", f"../reports/{team}/okr.")
        (project / "config" / f"team-{team}.yaml").write_text(text)
    return project


def start_server(demo: Demo) -> None:
    port = free_port()
    demo.start("server", str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port))
    api = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return demo.processes["server"].poll() is not None and _fail(demo.log("server"))

    wait_for(healthy, 120, "the Prefect server")
    demo.api = api


def _fail(log: str) -> bool:
    raise RuntimeError(f"the Prefect server exited:\n{log[-2000:]}")


def deploy(demo: Demo) -> dict[str, str]:
    """`okrsync deploy` of the three team configs; returns team -> deployment id."""
    command = [str(BIN / "okrsync"), "deploy", "--glob", "config/team-*.yaml", "--pool", POOL]
    done = subprocess.run(command, cwd=demo.home / "project", env=demo.env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"okrsync deploy failed:\n{done.stdout}{done.stderr}")
    return {team: httpx.get(f"{demo.api}/deployments/name/okrsync-sync/{team}").json()["id"] for team in TEAMS}


def start_workers(demo: Demo, count: int, round_no: int) -> list[str]:
    """``count`` process workers with one slot each, running until every one has said hello to the server."""
    names = [f"worker-{round_no}{chr(ord('a') + i)}" for i in range(count)]
    for name in names:
        demo.start(name, str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name, "--limit", "1")

    def online() -> bool:
        found = httpx.post(f"{demo.api}/work_pools/{POOL}/workers/filter", json={"limit": 50, "offset": 0}).json()
        return set(names) <= {w["name"] for w in found if w.get("status") == "ONLINE"}

    wait_for(online, 90, f"{count} worker(s) to come online")
    return names


def trigger_and_wait(demo: Demo, deployments: dict[str, str], day: str, peaks: dict[str, float]):
    """Trigger every team's deployment at once; wait for all, sampling each process tree's memory into
    ``peaks``; return the final runs by team and the wall time."""
    started = time.monotonic()
    runs = {
        team: httpx.post(f"{demo.api}/deployments/{dep}/create_flow_run", json={"parameters": {"as_of": day}}).json()
        for team, dep in deployments.items()
    }

    def all_final() -> dict[str, dict] | None:
        for name, process in demo.processes.items():
            peaks[name] = max(peaks.get(name, 0.0), rss_mb(process.pid))
        now = {team: httpx.get(f"{demo.api}/flow_runs/{run['id']}").json() for team, run in runs.items()}
        return now if all(r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") for r in now.values()) else None

    final = wait_for(all_final, 300, "every team's run")
    return final, round(time.monotonic() - started, 1)


def stored_rows(demo: Demo, team: str, day: str) -> dict[str, int]:
    """What the shared store holds for a team's day: run rows, KR results, metric values."""
    engine = sa.create_engine(demo.url("store", "postgresql+psycopg"))
    with engine.connect() as conn:
        params = {"ns": team, "day": day}
        runs = conn.execute(sa.text("select id from runs where namespace=:ns and day=:day"), params).scalars().all()
        krs = conn.execute(sa.text("select count(*) from kr_results where run_id = any(:ids)"), {"ids": runs}).scalar()
        values = conn.execute(sa.text("select count(*) from metric_values where namespace=:ns and day=:day"),
                              params).scalar()  # fmt: skip
    engine.dispose()
    return {"runs": len(runs), "kr_results": krs, "metric_values": values}


def run_round(demo: Demo, deployments: dict[str, str], workers: int, round_no: int) -> dict:
    day = DAYS[round_no - 1]
    names = start_workers(demo, workers, round_no)
    peaks: dict[str, float] = {}
    final, wall = trigger_and_wait(demo, deployments, day, peaks)
    logs = {name: demo.log(name) for name in names}
    for name in names:
        demo.stop(name)
    teams = {}
    for team, run in final.items():
        ran_on = [name for name, text in logs.items() if _ran(run["id"], text)]
        teams[team] = {
            "state": run["state"]["type"],
            "worker": ran_on[0] if len(ran_on) == 1 else ",".join(ran_on) or "?",
            "run_seconds": round(run.get("total_run_time") or 0, 1),
            "stored": stored_rows(demo, team, day),
        }
    return {"workers": workers, "day": day, "wall_seconds": wall, "teams": teams, "peak_rss_mb": peaks}


def _ran(run_id: str, worker_log: str) -> bool:
    """Whether this worker ran the flow run: two idle workers may both start to submit the same run;
    the one that loses the race logs "Aborted submission" for it."""
    return (
        f"submitting flow run '{run_id}'" in worker_log
        and f"Aborted submission of flow run '{run_id}'" not in worker_log
    )


def show(rounds: list[dict]) -> None:
    for r in rounds:
        print(f"\n{r['workers']} worker(s), as of {r['day']}: trigger -> all {len(r['teams'])} teams completed "
              f"in {r['wall_seconds']} s")  # fmt: skip
        for team, t in r["teams"].items():
            s = t["stored"]
            print(f"  {team:<6} {t['state']:<10} on {t['worker']:<10} flow run {t['run_seconds']:>5} s   stored: "
                  f"{s['runs']} run, {s['kr_results']} KR results, {s['metric_values']} metric values")  # fmt: skip
        peaks = ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb"].items())
        print(f"  peak RSS in MB (each process with its children, a worker's flow runs included): {peaks}")
    if len(rounds) > 1:
        base = rounds[0]["wall_seconds"]
        for r in rounds[1:]:
            print(f"\n{r['workers']} workers vs {rounds[0]['workers']}: {r['wall_seconds']} s vs {base} s "
                  f"({base / r['wall_seconds']:.2f}x faster)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("OKRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--workers", default="1,2", help="worker counts, one round each (default 1,2)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    rounds = []
    with Demo(args.postgres) as demo:
        write_project(demo)
        start_server(demo)
        deployments = deploy(demo)
        print(f"Prefect server {demo.api} on PostgreSQL, pool {POOL}, teams {', '.join(TEAMS)}")
        for round_no, count in enumerate(counts, start=1):
            rounds.append(run_round(demo, deployments, count, round_no))
    show(rounds)
    if args.json:
        args.json.write_text(
            json.dumps({"rounds": rounds, "stopped_pids": demo.started, "databases": demo.databases}, indent=2)
        )
    return 0 if all(t["state"] == "COMPLETED" for r in rounds for t in r["teams"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
