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
ENTRYPOINTS = {FLOW: ENTRYPOINT, CHECKIN_FLOW: "okrsync.flows.checkin_flow.checkin_flow"}


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
    flow: str = FLOW  # or CHECKIN_FLOW: the check-in publish on schedule.checkin

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
        return ["okrsync", f"namespace:{self.namespace}"] + (["checkin"] if self.flow == CHECKIN_FLOW else [])

    def fields(self) -> dict[str, Any]:
        """What `--dry-run` compares with the deployment the server has."""
        return {
            "schedule": f"{self.cron} ({self.timezone}){'' if self.active else ', paused'}" if self.cron else "none",
            "config_path": self.config_path,
            "work_pool": self.pool,
            "working_dir": self.workdir,
            "tags": ", ".join(self.tags),
            "entrypoint": self.entrypoint,
        }

    def deployment(self, **options: Any):
        """The spec as Prefect's RunnerDeployment of its flow (``options``: a work pool's)."""
        from okrsync.flows.checkin_flow import checkin_flow
        from okrsync.flows.sync_flow import sync_flow

        flow: Any = checkin_flow if self.flow == CHECKIN_FLOW else sync_flow  # Flows, rebound as @flow does
        return flow.to_deployment(
            self.name,
            schedules=self.schedules(),
            parameters={"config_path": self.config_path},
            tags=self.tags,
            **options,
        )


def served(all_specs: list[DeploymentSpec]) -> list:
    """The same deployments for ``okrsync serve``: run in this process, no work pool."""
    return [spec.deployment() for spec in all_specs]


def specs(paths: list[Path], *, pool: str, workdir: Path) -> list[DeploymentSpec]:
    """A spec per config (each loaded and validated), each followed by its check-in's (:func:`checkin_spec`); two
    configs may not share a namespace, nor a deployment name (a namespace spelt like another one's derived name)."""
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
    return [found for spec in out.values() for found in (spec, checkin_spec(spec, configs[spec.name])) if found]


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
    return {
        "schedule": schedule,
        "config_path": (found.parameters or {}).get("config_path"),
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
            description=f"okrsync {'check-in' if spec.flow == CHECKIN_FLOW else 'sync'} of {spec.config_path} "
            f"(namespace {spec.namespace!r})",
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
