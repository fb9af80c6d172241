"""`okrsync deploy --company NAME`: one deployment `okrsync-company/NAME` on the teams' nightly schedule, the teams'
own sync deployments without it (so nothing runs a team twice a night), and a worker that runs the company's
night as one flow run of subflow runs (docs/production.md, "A whole company in one nightly run")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from okrsync.errors import OkrsyncError
from tests.helpers import free_port, okrsync, poll

PREFECT = str(Path(sys.executable).with_name("prefect"))


def team(directory: Path, namespace: str, *, parent: str | None = None, schedule: str = '{cron: "0 2 * * *"}') -> Path:
    """A team config over a csv of its own, one objective (under ``parent``), one KR."""
    directory.mkdir(exist_ok=True)
    (directory / f"{namespace}.csv").write_text("date,n\n2026-10-01,10\n2026-11-20,40\n")
    parent_line = f", parent: {parent}" if parent else ""
    path = directory / f"{namespace}.yaml"
    path.write_text(f"""\
version: 1
namespace: {namespace}
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
schedule: {schedule}
connections: {{files: {{type: csv, root: .}}}}
metrics: {{n: {{connection: files, path: {namespace}.csv, column: n, date_column: date}}}}
objectives:
  - {{id: goal, title: Goal of {namespace}{parent_line},
     key_results: [{{id: n, title: N to 100, metric: n, start: 0, target: 100}}]}}
""")
    return path


def test_the_company_carries_the_schedule_and_the_teams_keep_their_check_in(tmp_path):
    from okrsync.flows import deploy as deployments

    sales = team(tmp_path, "sales", parent="hq/goal", schedule='{cron: "30 1 * * *", checkin: "0 8 * * 1"}')
    sales.write_text(sales.read_text() + "outputs: [{type: report, path: okr.md, on: [checkin]}]\n")
    hq = team(tmp_path, "hq", schedule='{cron: "30 1 * * *", timezone: Europe/Oslo}')
    free = team(tmp_path, "free", schedule="null")  # no schedule of its own: it takes the company's
    company, *rest = deployments.specs([sales, hq, free], pool="p", workdir=tmp_path, company="acme")
    assert company.full_name == "okrsync-company/acme" and company.tags == ["okrsync", "okrsync-company"]
    assert company.parameters == {
        "config_paths": ["sales.yaml", "hq.yaml", "free.yaml"],
        "company": "acme",
        "team_concurrency": 4,
    }
    assert company.fields()["schedule"] == "30 1 * * * (Europe/Oslo)"  # the cycle's zone unless the schedule names one
    assert company.entrypoint == "okrsync.flows.company_flow.company_flow"
    shown = {spec.full_name: spec.fields()["schedule"] for spec in rest}
    assert shown == {
        "okrsync-sync/sales": "none",
        "okrsync-checkin/sales": "0 8 * * 1 (Europe/Oslo)",  # the check-in is not the company's: it keeps its own
        "okrsync-sync/hq": "none",
        "okrsync-sync/free": "none",
    }
    assert "runs nightly in okrsync-company/acme" in rest[0].description
    (served,) = deployments.served([company])
    assert (served.flow_name, served.name, served.parameters["company"]) == ("okrsync-company", "acme", "acme")
    without = deployments.specs([sales, hq], pool="p", workdir=tmp_path)  # no --company: as before
    assert [s.fields()["schedule"] for s in without if s.flow == deployments.FLOW] == ["30 1 * * * (Europe/Oslo)"] * 2


def test_configs_of_one_company_with_different_schedules_are_refused_by_name(tmp_path):
    from okrsync.flows import deploy as deployments

    a = team(tmp_path, "a")
    b = team(tmp_path, "b", schedule='{cron: "0 3 * * *"}')
    with pytest.raises(OkrsyncError, match=r"a\.yaml and b\.yaml declare different schedules .*0 2 \* \* \*.*0 3"):
        deployments.specs([a, b], pool="p", workdir=tmp_path, company="acme")
    env = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    done = okrsync("deploy", "--glob", "*.yaml", "--company", "acme", "--dry-run", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "a.yaml and b.yaml declare different schedules" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_deploy_company_then_one_trigger_runs_every_team_as_a_subflow(prefect_server, tmp_path, figures):
    """The real thing: `okrsync deploy --company`, the deployments as the server keeps them, a dry run that agrees,
    and the documented nightly action (`prefect deployment run`) picked up by a process worker."""
    project = tmp_path / "teams"
    team(project, "east", parent="hq/goal")
    team(project, "west", parent="hq/goal")
    team(project, "hq")
    env, api = prefect_server["env"], prefect_server["api"]

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done.stdout

    deploy = [sys.executable, "-m", "okrsync", "deploy", "--glob", "*.yaml", "--pool", "company"]
    said = run(*deploy, "--company", "acme", "--team-concurrency", "2")
    assert "okrsync-company/acme: 3 team configs, 2 at once, 0 2 * * * (Europe/Oslo)" in said, said
    assert "prefect deployment run okrsync-company/acme" in said
    found = httpx.get(f"{api}/deployments/name/okrsync-company/acme", timeout=10).json()
    assert found["parameters"] == {
        "config_paths": ["east.yaml", "hq.yaml", "west.yaml"],
        "company": "acme",
        "team_concurrency": 2,
    }
    assert [s["schedule"]["cron"] for s in found["schedules"]] == ["0 2 * * *"]
    assert found["global_concurrency_limit"]["limit"] == 1 and "okrsync-company" in found["tags"]
    for name in ("east", "west", "hq"):  # for manual runs, without the night's schedule
        assert httpx.get(f"{api}/deployments/name/okrsync-sync/{name}", timeout=10).json()["schedules"] == []
    again = run(*deploy, "--company", "acme", "--team-concurrency", "2", "--dry-run")
    assert again.count(": unchanged") == 4, again

    run(PREFECT, "deployment", "run", "okrsync-company/acme", "--param", "as_of=2026-11-21")
    run(PREFECT, "worker", "start", "--pool", "company", "--run-once")
    body = {"deployments": {"id": {"any_": [found["id"]]}}, "limit": 5}

    def finished():
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        return [r for r in runs if r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]

    (night,) = poll(finished, 90, "the company's flow run")
    assert night["state"]["type"] == "COMPLETED" and night["state"]["message"] == "3 teams synced", night["state"]
    children = {"flow_runs": {"parent_flow_run_id": {"any_": [night["id"]]}}, "limit": 10}
    subflows = httpx.post(f"{api}/flow_runs/filter", json=children, timeout=10).json()
    assert sorted((r["name"], r["state"]["type"]) for r in subflows) == [
        ("east", "COMPLETED"),
        ("hq", "COMPLETED"),
        ("west", "COMPLETED"),
    ]
    by_name = {r["name"]: r for r in subflows}
    assert by_name["hq"]["start_time"] >= max(by_name["east"]["end_time"], by_name["west"]["end_time"])
    figures.append(("company", "deploy --company, one trigger, 3 teams", {"subflow runs": 3, "failed": 0}))
