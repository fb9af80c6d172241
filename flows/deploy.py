"""One Prefect deployment per team config, created or updated from the config itself.

The deployment is named after the config's namespace (:func:`okrsync.flows.names.deployment_name`: the
namespace itself, or a slug and a short hash of it when Prefect could not hold it), runs the flow
``okrsync-sync`` (by module path, so a worker needs okrsync installed, not a copy of the source) with
the config's path as its parameter, on a process work pool, on the config's ``schedule:`` (cron and
time zone; paused when ``enabled: false``; none when the config has no schedule), with a concurrency
limit of 1 and the tags ``okrsync`` and ``namespace:<namespace>``. The worker starts the run in
``workdir`` (default: the directory ``okrsync deploy`` ran in), where the config path resolves.

A config whose outputs take the check-in (``on: [checkin]``) gets a second deployment of the same name under the
flow ``okrsync-checkin`` (okrsync.flows.checkin_flow), on the config's ``schedule.checkin`` in the schedule's time
zone (none without one: it runs when triggered). ``schedule.checkin`` with no output that takes the check-in is
refused: that schedule would publish nothing.

With ``--company NAME`` (:func:`company_spec`) the configs are also one company: a deployment ``okrsync-company/NAME``
(okrsync.flows.company_flow) whose one flow run syncs every config as its own subflow run, children before the
configs they align to, ``team_concurrency`` at once. It carries the nightly schedule — the one the configs
declare, which must then be the same for all that declare one — and the teams' own sync deployments are
registered without it, for manual runs: nothing triggers a team twice a night (docs/production.md, "A whole
company in one nightly run").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from okrsync.config.load import load_config
from okrsync.config.model import Config
from okrsync.errors import OkrsyncError
from okrsync.flows.names import deployment_name
from okrsync.present.triggers import CHECKIN_OUTPUTS, publishes_checkin

FLOW = "okrsync-sync"
ENTRYPOINT = "okrsync.flows.sync_flow.sync_flow"
CHECKIN_FLOW = "okrsync-checkin"
COMPANY_FLOW = "okrsync-company"
ENTRYPOINTS = {
    FLOW: ENTRYPOINT,
    CHECKIN_FLOW: "okrsync.flows.checkin_flow.checkin_flow",
    COMPANY_FLOW: "okrsync.flows.company_flow.company_flow",
}
DEFAULT_TEAM_CONCURRENCY = 4


@dataclass(frozen=True)
class DeploymentSpec:
    name: str  # the deployment's name, made from the namespace (okrsync.flows.names)
    namespace: str
    config_path: str
    cron: str | None
    timezone: str
    active: bool
    workdir: str
    pool: str
    flow: str = FLOW  # or CHECKIN_FLOW: the check-in publish on schedule.checkin; or COMPANY_FLOW
    team_configs: tuple[str, ...] = ()  # COMPANY_FLOW: its teams' config paths (config_path is then "")
    team_concurrency: int = DEFAULT_TEAM_CONCURRENCY  # COMPANY_FLOW: teams synced at once
    company: str | None = None  # the company deployment that runs this team's sync nightly, if any

    @property
    def full_name(self) -> str:
        return f"{self.flow}/{self.name}"

    @property
    def entrypoint(self) -> str:
        return ENTRYPOINTS[self.flow]

    def schedules(self) -> list:
        """The config's schedule as Prefect's (paused when ``enabled: false``); none without one."""
        from prefect.schedules import Cron

        return [Cron(self.cron, timezone=self.timezone, active=self.active)] if self.cron else []

    @property
    def tags(self) -> list[str]:
        if self.flow == COMPANY_FLOW:
            return ["okrsync", COMPANY_FLOW]
        return ["okrsync", f"namespace:{self.namespace}"] + (["checkin"] if self.flow == CHECKIN_FLOW else [])

    @property
    def parameters(self) -> dict[str, Any]:
        """The flow's parameters: a config's path, or the company's configs, its name and concurrency."""
        if self.flow == COMPANY_FLOW:
            configs = list(self.team_configs)
            return {"config_paths": configs, "company": self.namespace, "team_concurrency": self.team_concurrency}
        return {"config_path": self.config_path}

    def fields(self) -> dict[str, Any]:
        """What `--dry-run` compares with the deployment the server has."""
        return {
            "schedule": self.when if self.cron else "none",
            **{key: _shown(value) for key, value in self.parameters.items()},
            "work_pool": self.pool,
            "working_dir": self.workdir,
            "tags": ", ".join(self.tags),
            "entrypoint": self.entrypoint,
        }

    def deployment(self, **options: Any):
        """The spec as Prefect's RunnerDeployment of its flow (``options``: a work pool's)."""
        from importlib import import_module

        module, _, name = self.entrypoint.rpartition(".")
        flow: Any = getattr(import_module(module), name)  # a Flow, rebound as @flow does
        return flow.to_deployment(
            self.name, schedules=self.schedules(), parameters=self.parameters, tags=self.tags, **options
        )

    @property
    def when(self) -> str:
        """The schedule as people read it: ``0 2 * * * (Europe/Oslo)``, ``…, paused``, or why there is none."""
        if self.cron:
            return f"{self.cron} ({self.timezone}){'' if self.active else ', paused'}"
        if self.company:
            return f"no schedule: runs nightly in {COMPANY_FLOW}/{self.company}, or when triggered"
        return "no schedule: runs only when triggered"

    @property
    def description(self) -> str:
        if self.flow == COMPANY_FLOW:
            return (
                f"okrsync company {self.namespace!r}: {len(self.team_configs)} team configs, each its own subflow run, "
                f"{self.team_concurrency} at once, children before the configs they align to"
            )
        kind = "check-in" if self.flow == CHECKIN_FLOW else "sync"
        nightly = f"; runs nightly in {COMPANY_FLOW}/{self.company}" if self.company else ""
        return f"okrsync {kind} of {self.config_path} (namespace {self.namespace!r}){nightly}"


def _shown(value: Any) -> Any:
    """A parameter as `--dry-run` shows and compares it (a list of configs as one line)."""
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def served(all_specs: list[DeploymentSpec]) -> list:
    """The same deployments for ``okrsync serve``: run in this process, no work pool."""
    return [spec.deployment() for spec in all_specs]


def specs(
    paths: list[Path],
    *,
    pool: str,
    workdir: Path,
    company: str | None = None,
    team_concurrency: int = DEFAULT_TEAM_CONCURRENCY,
) -> list[DeploymentSpec]:
    """A spec per config (each loaded and validated), each followed by its check-in's (:func:`checkin_spec`); two
    configs may not share a namespace, nor a deployment name (a namespace spelt like another one's derived name).
    With ``company``, first the company's spec (:func:`company_spec`), and the configs' syncs unscheduled."""
    out: dict[str, DeploymentSpec] = {}
    configs: dict[str, Config] = {}
    for path in paths:
        config = load_config(path)
        schedule = config.schedule
        shown, name = _relative(path, workdir), deployment_name(config.namespace)
        if name in out:
            other = out[name]
            same = other.namespace == config.namespace
            raise OkrsyncError(
                f"{other.config_path} and {shown} both use namespace {config.namespace!r}: give each team config "
                "its own namespace (it names the deployment and separates the teams' data in the store)"
                if same
                else f"{other.config_path} (namespace {other.namespace!r}) and {shown} (namespace "
                f"{config.namespace!r}) would both be deployed as {FLOW}/{name}: rename one namespace"
            )
        out[name] = DeploymentSpec(
            name=name,
            namespace=config.namespace,
            config_path=shown,
            cron=schedule.cron if schedule else None,
            timezone=config.schedule_timezone,
            active=schedule.enabled if schedule else False,
            workdir=str(workdir),
            pool=pool,
        )
        configs[name] = config
    teams = [found for spec in out.values() for found in (spec, checkin_spec(spec, configs[spec.name])) if found]
    if company is None:
        return teams
    nightly = company_spec(company, list(out.values()), team_concurrency)
    unscheduled = [replace(s, cron=None, active=False, company=company) if s.flow == FLOW else s for s in teams]
    return [nightly, *unscheduled]


def company_spec(company: str, syncs: list[DeploymentSpec], team_concurrency: int) -> DeploymentSpec:
    """The company deployment of these configs' syncs, on the nightly schedule they declare (the configs without
    a schedule take it). OkrsyncError when two configs declare different ones: the company runs once a night."""
    scheduled = [s for s in syncs if s.cron]
    for other in scheduled[1:]:
        if other.when != scheduled[0].when:
            raise OkrsyncError(
                f"{scheduled[0].config_path} and {other.config_path} declare different schedules "
                f"({scheduled[0].when} and {other.when}), but company {company!r} runs every team in one "
                "nightly run: give the configs of a company the same schedule (or none: they take the company's)"
            )
    timed = scheduled[0] if scheduled else replace(syncs[0], cron=None, timezone="UTC", active=False)
    return replace(
        timed,
        name=deployment_name(company),
        namespace=company,
        config_path="",
        flow=COMPANY_FLOW,
        team_configs=tuple(s.config_path for s in syncs),
        team_concurrency=team_concurrency,
    )


def checkin_spec(sync: DeploymentSpec, config: Config) -> DeploymentSpec | None:
    """The check-in deployment of a config whose outputs take the check-in, on ``schedule.checkin`` (none: it runs
    when triggered); None when no output does. OkrsyncError for a ``schedule.checkin`` that would publish nothing."""
    cron = config.schedule.checkin if config.schedule else None
    if not any(publishes_checkin(output) for output in config.outputs):
        if cron:
            which = ", ".join(CHECKIN_OUTPUTS[:-1]) + f" or {CHECKIN_OUTPUTS[-1]}"
            raise OkrsyncError(
                f"{sync.config_path}: schedule.checkin is {cron!r}, but no output publishes the check-in: add "
                f"`on: [checkin]` to a {which} output, or remove schedule.checkin"
            )
        return None
    return replace(sync, cron=cron, flow=CHECKIN_FLOW)


def _relative(path: Path, workdir: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(workdir)) if resolved.is_relative_to(workdir) else str(resolved)


def current(spec: DeploymentSpec, client) -> dict[str, Any] | None:
    """The same fields as ``spec.fields()``, read from the server; None when there is no such deployment."""
    from prefect.exceptions import ObjectNotFound

    try:
        found = client.read_deployment_by_name(spec.full_name)
    except ObjectNotFound:
        return None
    schedule = "none"
    if found.schedules:
        s = found.schedules[0]
        schedule = f"{s.schedule.cron} ({s.schedule.timezone}){'' if s.active else ', paused'}"
    parameters = found.parameters or {}
    return {
        "schedule": schedule,
        **{key: _shown(parameters.get(key)) for key in spec.parameters},
        "work_pool": found.work_pool_name,
        "working_dir": (found.job_variables or {}).get("working_dir"),
        "tags": ", ".join(found.tags or []),
        "entrypoint": found.entrypoint,
    }


def changes(all_specs: list[DeploymentSpec]) -> list[tuple[DeploymentSpec, str, list[str]]]:
    """(spec, create | update | unchanged, the differences) for each spec, read from the server."""
    from prefect.client.orchestration import get_client

    out = []
    with get_client(sync_client=True) as client:
        for spec in all_specs:
            have, want = current(spec, client), spec.fields()
            if have is None:
                out.append((spec, "create", [f"{k}: {v}" for k, v in want.items()]))
                continue
            diff = [f"{k}: {have.get(k)} -> {v}" for k, v in want.items() if have.get(k) != v]
            out.append((spec, "update" if diff else "unchanged", diff))
    return out


def replace_other_kind(all_specs: list[DeploymentSpec], *, pooled: bool) -> list[str]:
    """Delete deployments of these names that were made the other way (served vs on a work pool):
    Prefect mixes the two kinds' fields on update and the result cannot load its flow."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    replaced = []
    with get_client(sync_client=True) as client:
        for spec in all_specs:
            try:
                found = client.read_deployment_by_name(spec.full_name)
            except ObjectNotFound:
                continue
            if bool(found.work_pool_name) != pooled:
                client.delete_deployment(found.id)
                replaced.append(spec.full_name)
    return replaced


def ensure_pool(name: str) -> bool:
    """Create the process work pool ``name`` when the server has none; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def apply(all_specs: list[DeploymentSpec]) -> list[str]:
    """Create or update every deployment; returns their names."""
    from prefect import deploy
    from prefect.deployments.runner import EntrypointType

    deployments = [
        spec.deployment(
            concurrency_limit=1,
            job_variables={"working_dir": spec.workdir},
            entrypoint_type=EntrypointType.MODULE_PATH,
            work_pool_name=spec.pool,
            description=spec.description,
        )
        for spec in all_specs
    ]
    deploy(
        *deployments,
        work_pool_name=all_specs[0].pool,
        build=False,
        push=False,
        print_next_steps_message=False,
        ignore_warnings=True,
    )
    return [spec.full_name for spec in all_specs]
