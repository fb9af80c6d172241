"""`okrsync deploy` and `serve` work for every namespace `okrsync run` accepts, `--dry-run` and the real
deploy agree, and a Prefect API that does not answer is one line and exit 2 (docs/production.md, "Nightly
by itself")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from okrsync.flows.names import artifact_key, deployment_name
from tests.helpers import free_port, okrsync

pytestmark = pytest.mark.reliability
NAMESPACES = ["a/b", "../x", "<b>x</b>", "a%2Fb"]


def okrsync_served(env: dict, cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, talking to the test's Prefect server."""
    return subprocess.run(
        [sys.executable, "-m", "okrsync", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def configs(directory: Path, namespaces: list[str]) -> Path:
    directory.mkdir()
    for n, namespace in enumerate(namespaces):
        quoted = namespace.replace("\\", "\\\\").replace('"', '\\"')
        (directory / f"team-{n}.yaml").write_text(f"""\
version: 1
namespace: "{quoted}"
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
schedule: {{cron: "0 2 * * *"}}
""")
    return directory


def test_names_are_stable_distinct_and_keep_safe_namespaces():
    assert deployment_name("team-a_1") == "team-a_1" and deployment_name("eu.sales") == "eu.sales"
    assert artifact_key("team-a") == "okrsync-team-a"
    namespaces = [*NAMESPACES, "a-b", "A/B", "équipe", "..", "/"]
    derived = [deployment_name(ns) for ns in namespaces]
    assert len(set(derived)) == len(derived)  # a/b and a-b, a/b and A/B never share a deployment
    assert derived == [deployment_name(ns) for ns in namespaces]  # the namespace alone decides
    assert deployment_name("a/b").startswith("a-b-") and deployment_name("équipe").startswith("equipe-")
    for name in derived:
        assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in name) and name.strip(".") == name, name
    keys = [artifact_key(ns) for ns in [*NAMESPACES, "Team_A", "team-a"]]
    assert len(set(keys)) == len(keys) and all(k == k.lower() and "_" not in k for k in keys)


@pytest.mark.slow
def test_every_valid_namespace_deploys_and_the_dry_run_agrees(prefect_server, tmp_path, figures):
    project = configs(tmp_path / "teams", NAMESPACES)
    env, api = prefect_server["env"], prefect_server["api"]
    dry = okrsync_served(env, project, "deploy", "--glob", "team-*.yaml", "--dry-run")
    assert dry.returncode == 0 and "Traceback" not in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    for namespace in NAMESPACES:
        assert f"okrsync-sync/{deployment_name(namespace)}: would create" in dry.stdout, dry.stdout

    done = okrsync_served(env, project, "deploy", "--glob", "team-*.yaml", "--pool", "names")
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    for n, namespace in enumerate(NAMESPACES):
        found = httpx.get(f"{api}/deployments/name/okrsync-sync/{deployment_name(namespace)}").json()
        assert f"namespace:{namespace}" in found["tags"] and found["parameters"] == {"config_path": f"team-{n}.yaml"}

    again = okrsync_served(env, project, "deploy", "--glob", "team-*.yaml", "--pool", "names", "--dry-run")
    unchanged = [ns for ns in NAMESPACES if f"okrsync-sync/{deployment_name(ns)}: unchanged" in again.stdout]
    assert unchanged == NAMESPACES, again.stdout
    figures.append(
        (
            "deploy names",
            "a/b, ../x, <b>x</b>, a%2Fb: dry run, deploy, dry run",
            {"deployed": len(NAMESPACES), "dry run disagreeing": 0, "tracebacks": 0},
        )
    )


def test_a_namespace_spelt_like_another_ones_deployment_name_is_refused(tmp_path):
    project = configs(tmp_path / "teams", ["a/b", deployment_name("a/b")])
    env = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    done = okrsync("deploy", "--glob", "team-*.yaml", "--dry-run", cwd=project, env=env)
    assert done.returncode == 2 and f"okrsync-sync/{deployment_name('a/b')}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [["deploy"], ["deploy", "--dry-run"], ["serve"], ["run", "--prefect", "-q"]],
    ids=["deploy", "deploy --dry-run", "serve", "run --prefect"],
)
def test_an_unreachable_prefect_api_is_one_line_and_exit_2(tmp_path, write_config, command, figures):
    path = write_config("objectives: []\n")
    api = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect")}
    own_config = command[0] in ("deploy", "serve")
    args = [*command, "-c", str(path)] if own_config else ["-c", str(path), *command]
    done = okrsync(*args, cwd=tmp_path, env=env)  # refused before Prefect is reached
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert len(lines) == 1 and f"the Prefect server at {api} does not answer" in lines[0], done.stderr
    figures.append(("prefect api down", f"okrsync {' '.join(command)}", {"exit code": 2, "lines": len(lines)}))
