"""A whole company in one flow run: ``okrsync-company``, every team config as its own subflow run.

Why: on a process work pool every flow run starts a Python process, imports Prefect and loads its flow before
any sync — about 5 s measured on a 2-core machine, for syncs of 1–2 s (issue 26). A hundred team deployments
triggered together spend most of the night starting. The company deployment (``okrsync deploy --glob …
--company NAME``) starts once and runs each team's sync in that process, as a *subflow run* of the flow the
teams' own deployments run (``okrsync-sync``): each team keeps its own run in the Prefect UI, named by its
namespace and tagged ``namespace:<ns>``, with its state, logs and artifacts; its own run lock; its own
exactly-once delivery (the store's ledger). Nothing is shared between teams but the process.

Order: a team runs after every team of the company whose objectives align under its objectives (``parent:
ns/objective``), so a parent rolls in its children's runs of the same night. Teams with no such link run in
the order of the glob, up to ``team_concurrency`` at once (threads: a sync waits on the network most of the
time). Aligned configs that point at each other (a cycle) run as if unlinked, with a warning.

A team that fails (a config error, a source down, a run lock held by a manual run of the same team) fails its
own subflow run only: the others, its parents included, go on. The company run ends *Completed* when every
team did, else *Failed* named ``Partial`` with the teams that did not, and keeps a table artifact of the teams.

Heartbeats: the company run sends Prefect's flow-run heartbeats (for a zombie-run automation); its team subflows
do not. Prefect 3.9 joins a run's heartbeat thread when the run ends, and that thread sleeps in whole seconds:
each team's subflow ended up to a second after its sync (eight small teams one at a time: 1.00 s each, 0.2 s of
it the sync). A team's subflow lasts seconds, far less than the 180 s between heartbeats; the process they
share is watched through the company run's.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import Flow, tags
from prefect.artifacts import create_table_artifact
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Completed, State

from okrsync.config.yamlsource import YamlSyntaxError, load_with_lines
from okrsync.defaults import DEFAULT_NAMESPACE
from okrsync.flows.names import artifact_key
from okrsync.flows.sync_flow import artifact, failed, run_logger, sync_flow
from okrsync.sync.result import DEFAULT_WAIT

T = TypeVar("T")


@dataclass(frozen=True)
class Team:
    config_path: str
    namespace: str
    parents: frozenset[str]  # the namespaces its objectives align under (``parent: ns/objective``)


def read_team(path: str) -> Team:
    """The namespace and parent namespaces of one config, read from its YAML alone (the team's own sync loads
    and validates it: a config that does not parse here is ordered as unlinked and fails in its own run)."""
    try:
        data, _, _ = load_with_lines(Path(path).read_text(encoding="utf-8"))  # the config's own reading, bounded
    except (OSError, UnicodeDecodeError, YamlSyntaxError):
        data = None
    data = data if isinstance(data, dict) else {}
    namespace = data.get("namespace")
    namespace = namespace if isinstance(namespace, str) else DEFAULT_NAMESPACE
    objectives = data.get("objectives")
    objectives = objectives if isinstance(objectives, list) else []
    refs = [o.get("parent") for o in objectives if isinstance(o, dict)]
    parents = {r.partition("/")[0] for r in refs if isinstance(r, str) and "/" in r}
    return Team(path, namespace, frozenset(parents - {namespace}))


def children_first(teams: Iterable[Team]) -> dict[str, set[str]]:
    """Namespace -> the namespaces that must finish before it (its children within the company)."""
    teams = list(teams)
    graph: dict[str, set[str]] = {t.namespace: set() for t in teams}
    for team in teams:
        for parent in team.parents & graph.keys():
            graph[parent].add(team.namespace)
    return graph


def run_in_order(graph: dict[str, set[str]], run: Callable[[str], T], concurrency: int) -> dict[str, T]:
    """``run(node)`` for every node of ``graph`` (node -> the nodes that must finish first), up to
    ``concurrency`` at once, each in a thread that carries a copy of the caller's context (Prefect's run
    context: a flow called there becomes a subflow of the caller's run). ``run`` must not raise."""
    sorter = _sorter(graph)
    results: dict[str, T] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="okrsync-team") as pool:
        running: dict[Future[T], str] = {}
        while sorter.is_active():
            for node in sorter.get_ready():  # in insertion order: the glob's, for unlinked teams
                running[pool.submit(contextvars.copy_context().run, run, node)] = node
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                node = running.pop(future)
                results[node] = future.result()
                sorter.done(node)
    return results


def _sorter(graph: dict[str, set[str]]) -> TopologicalSorter:
    sorter: TopologicalSorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1]) if len(exc.args) > 1 else "?"
        run_logger().warning("teams align to each other in a cycle (%s): they run unordered", cycle)
        sorter = TopologicalSorter({node: set() for node in graph})
        sorter.prepare()
    return sorter


def company_flow(
    config_paths: list[str],
    company: str = "company",
    team_concurrency: int = 4,
    as_of: str | None = None,
    wait: float = DEFAULT_WAIT,
) -> State:
    """Sync every team config as its own subflow run, children before the configs they align to (``company``:
    the deployment's name, which keys the run's table of teams)."""
    teams = {t.namespace: t for t in map(read_team, config_paths)}

    def run_team(namespace: str) -> State:
        team = teams[namespace]
        with tags("okrsync", f"namespace:{namespace}"), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            team_flow = cast(Flow, sync_flow).with_options(flow_run_name=namespace)  # a Flow: rebound below its def
            state = team_flow(config_path=team.config_path, as_of=as_of, wait=wait, return_state=True)
            return cast(State, state)

    states = run_in_order(children_first(teams.values()), run_team, team_concurrency)
    return _outcome(company, teams, states)


def _outcome(company: str, teams: dict[str, Team], states: dict[str, State]) -> State:
    rows = [
        {"team": ns, "config": teams[ns].config_path, "state": s.name or str(s.type), "message": s.message or ""}
        for ns, s in states.items()
    ]
    artifact(create_table_artifact, rows, key=artifact_key(company) + "-teams", description="the teams of this run")
    summary: dict[str, Any] = {"teams": {row["team"]: row["state"] for row in rows}}
    not_done = sorted(ns for ns, s in states.items() if not s.is_completed())
    if not_done:
        names = ", ".join(not_done[:10]) + (f" and {len(not_done) - 10} more" if len(not_done) > 10 else "")
        return failed(f"{len(not_done)} of {len(states)} teams did not complete: {names}", name="Partial", data=summary)
    return Completed(message=f"{len(states)} teams synced", data=summary)


# what @flow does; the Flow keeps the function's name (deployments' entrypoint names it)
company_flow = Flow(company_flow, name="okrsync-company", log_prints=True)
