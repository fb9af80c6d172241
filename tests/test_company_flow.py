"""The company deployment's flow: every team as its own subflow run, children before their parents, once each."""

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from okrsync.flows.company_flow import Team, children_first, read_team, run_in_order
from tests.helpers import HEADER, write_csv

AS_OF = "2026-11-21T12:00:00+01:00"


def team_config(tmp_path, namespace: str, parent: str | None = None, *, connection: str = "files") -> str:
    """A small team config over a shared csv and a shared SQLite store, one objective, two KRs."""
    write_csv(tmp_path / "data" / "kpis.csv", "date,n,m\n2026-10-01,10,1\n2026-11-20,40,3\n")
    parent_line = f"    parent: {parent}\n" if parent else ""
    text = HEADER.replace("sqlite:///store.db", "sqlite:///../store.db") + (
        f"namespace: {namespace}\n"
        "connections:\n  files: {type: csv, root: ../data}\n"
        "metrics:\n"
        f"  n: {{connection: {connection}, path: kpis.csv, column: n, date_column: date}}\n"
        "  m: {connection: files, path: kpis.csv, column: m, date_column: date}\n"
        "objectives:\n"
        f"  - id: {namespace}-goal\n    title: Goal of {namespace}\n{parent_line}"
        "    key_results:\n"
        "      - {id: n, title: N to 100, metric: n, start: 0, target: 100}\n"
        "      - {id: m, title: M to 10, metric: m, start: 0, target: 10}\n"
    )
    path = tmp_path / "teams" / f"{namespace}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def test_a_team_is_read_from_its_yaml_alone(tmp_path):
    path = team_config(tmp_path, "sales", "company/company-goal")
    assert read_team(path) == Team(path, "sales", frozenset({"company"}))
    (tmp_path / "broken.yaml").write_text("objectives: [unclosed\n")
    assert read_team(str(tmp_path / "broken.yaml")) == Team(str(tmp_path / "broken.yaml"), "default", frozenset())


def test_children_run_before_the_configs_they_align_to():
    teams = [
        Team("a.yaml", "a", frozenset({"region"})),
        Team("b.yaml", "b", frozenset({"region", "elsewhere"})),  # a parent outside the company orders nothing
        Team("region.yaml", "region", frozenset({"company"})),
        Team("company.yaml", "company", frozenset()),
    ]
    graph = children_first(teams)
    assert graph == {"a": set(), "b": set(), "region": {"a", "b"}, "company": {"region"}}
    finished: list[str] = []
    lock = threading.Lock()

    def run(node: str) -> str:
        with lock:
            finished.append(node)
        return node.upper()

    assert run_in_order(graph, run, 2) == {"a": "A", "b": "B", "region": "REGION", "company": "COMPANY"}
    assert finished.index("region") > max(finished.index("a"), finished.index("b"))
    assert finished.index("company") > finished.index("region")


def test_no_more_teams_than_the_concurrency_run_at_once():
    graph = {str(i): set() for i in range(12)}
    running, most = 0, 0
    lock = threading.Lock()
    three_in = threading.Barrier(3, timeout=5)  # three must be able to run together, or this waits out

    def run(node: str) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if int(node) < 3:
            three_in.wait()
        with lock:
            running -= 1

    run_in_order(graph, run, 3)
    assert most == 3


def test_teams_aligned_in_a_cycle_still_all_run():
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert sorted(run_in_order(graph, lambda n: n, 2)) == ["a", "b", "c"]


@pytest.mark.slow
def test_the_company_run_syncs_each_team_as_its_own_subflow_once(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    from okrsync.flows.company_flow import company_flow

    paths = [
        team_config(tmp_path, "sales", "company/company-goal"),
        team_config(tmp_path, "support", "company/company-goal"),
        team_config(tmp_path, "company"),
        team_config(tmp_path, "broken", connection="nowhere"),  # a config error: fails alone, stores nothing
    ]
    state = company_flow(paths, company="acme", team_concurrency=2, as_of=AS_OF, return_state=True)
    assert state.name == "Partial" and "1 of 4 teams did not complete: broken" in state.message
    summary = state.result(raise_on_failure=False)

    company_run = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[company_run]))
        )
    assert sorted(r.name for r in runs) == ["broken", "company", "sales", "support"]
    by_name = {r.name: r for r in runs}
    assert {r.name for r in runs if r.state.is_completed()} == {"company", "sales", "support"}
    assert "namespace:sales" in by_name["sales"].tags
    assert by_name["company"].start_time >= max(by_name["sales"].end_time, by_name["support"].end_time)
    assert summary is not None

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as db:
        stored = Counter(row[0] for row in db.execute(sa.text("select namespace from runs")))
        company_doc = db.execute(sa.text("select count(*) from kr_results")).scalar()
    assert stored == {"sales": 1, "support": 1, "company": 1}
    assert company_doc == 6  # two KRs each, three teams, once

    again = company_flow(paths[:3], company="acme", team_concurrency=2, as_of=AS_OF, return_state=True)
    assert again.is_completed() and again.message == "3 teams synced"
    with engine.connect() as db:  # the same day again: nothing new
        assert db.execute(sa.text("select count(*) from runs")).scalar() == 3
        assert db.execute(sa.text("select count(*) from kr_results")).scalar() == 6


def test_team_subflows_run_without_a_heartbeat_of_their_own(prefect_harness, tmp_path, monkeypatch):
    """Prefect joins a run's heartbeat thread at its end, and that thread sleeps in whole seconds: a team's
    subflow would end up to a second after its sync. The company run keeps its heartbeat; its teams do not."""
    from prefect import flow
    from prefect.settings import get_current_settings
    from prefect.states import Completed

    from okrsync.flows import company_flow as module

    seen: dict[str, int | None] = {}

    @flow(name="okrsync-sync")
    def probe(config_path: str, as_of: str | None = None, wait: float = 0):
        seen[config_path] = get_current_settings().flows.heartbeat_frequency
        return Completed()

    monkeypatch.setattr(module, "sync_flow", probe)
    paths = [team_config(tmp_path, "sales"), team_config(tmp_path, "support")]
    before = get_current_settings().flows.heartbeat_frequency
    state = module.company_flow(paths, company="acme", team_concurrency=2, as_of=AS_OF, return_state=True)
    assert state.is_completed(), state.message
    assert seen == {paths[0]: None, paths[1]: None}
    assert before == get_current_settings().flows.heartbeat_frequency  # elsewhere, as configured
