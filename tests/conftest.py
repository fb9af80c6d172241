"""Shared fixtures: store URLs for SQLite and PostgreSQL, and small config builders.

PostgreSQL tests read OKRSYNC_TEST_POSTGRES_URL. Unset on a laptop they skip with a reason;
in CI (.ci/run sets OKRSYNC_REQUIRE_POSTGRES=1) a missing URL is a failure, not a skip.
Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
OSLO = ZoneInfo("Europe/Oslo")
PG_ENV = "OKRSYNC_TEST_POSTGRES_URL"


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def postgres_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("OKRSYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but OKRSYNC_REQUIRE_POSTGRES=1: PostgreSQL tests must run here")
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema."""
    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def waits(monkeypatch):
    """Record retry and pacing waits instead of sleeping; the clock still runs."""
    from okrsync.sdk import retry

    recorded: list[float] = []
    monkeypatch.setattr(retry, "sleep", recorded.append)
    return recorded


@pytest.fixture
def no_token_backoff(monkeypatch):
    """google-auth retries a failed token request with its own exponential backoff (about 3 s each
    time); tests that fault every request, the token endpoint's too, need not wait it out."""
    from types import SimpleNamespace

    import google.auth._exponential_backoff as backoff

    monkeypatch.setattr(backoff, "time", SimpleNamespace(sleep=lambda seconds: None))


PREFECT = str(Path(sys.executable).with_name("prefect"))


def poll(check, seconds: float, what: str):
    """Wait for a condition (not a fixed sleep): ``check()`` until it returns something true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    pytest.fail(f"gave up after {seconds:g} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    base = sa.engine.make_url(postgres_base_url())
    name = f"okrsync_prefect_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": base.set(
            drivername="postgresql+asyncpg", database=name
        ).render_as_string(hide_password=False),
    }
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # wait for the condition, bounded
        try:
            if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"prefect server did not start:\n{log.read_text()[-2000:]}")
    yield {"api": api, "env": {**env, "PREFECT_API_URL": api}, "log": log}
    server.terminate()
    server.wait(30)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


# CI runs a fixed hypothesis profile (.ci/run sets HYPOTHESIS_PROFILE=ci): derandomized, so a green main
# stays green (hypothesis allows no examples database beside derandomize; a failure prints its blob to
# reproduce it). Runs elsewhere stay random, with the database in .hypothesis/ replaying what they found.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FIGURES: list[tuple[str, str, dict[str, int]]] = []


def pytest_configure(config):
    from tests import vendor_spec

    vendor_spec.install()


@pytest.fixture(autouse=True)
def requests_follow_the_vendors_descriptions():
    """Fail a test whose connector sent a request the vendor's published API description does not allow."""
    from tests.vendor_spec import PROBLEMS

    PROBLEMS.clear()
    yield
    found, PROBLEMS[:] = list(PROBLEMS), []
    assert not found, "requests outside the vendors' API descriptions:\n" + "\n".join(dict.fromkeys(found))


@pytest.fixture
def figures():
    """Rows (area, case, {figure: value}) for the reliability table printed at the end of the session."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    areas: dict[str, list] = {}
    for area, case, values in FIGURES:
        areas.setdefault(area, []).append((case, values))
    for area, rows in areas.items():
        if len(rows) > 12:  # a corpus: one line of totals
            totals: dict[str, int] = {}
            for _, values in rows:
                for name, value in values.items():
                    totals[name] = totals.get(name, 0) + value
            rows = [(f"{len(rows)} cases, totals", totals)]
        for case, values in rows:
            shown = ", ".join(f"{name} {value}" for name, value in values.items())
            terminalreporter.write_line(f"{area:<18} {case:<52} {shown}")


HEADER = """\
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: sqlite:///store.db
"""


@pytest.fixture
def write_config(tmp_path):
    """Write a config (dedented; HEADER prepended unless it has `version:`) and return its path."""

    def write(body: str, name: str = "okrsync.yaml", header: bool = True) -> Path:
        text = textwrap.dedent(body)
        if header and "version:" not in text:
            text = HEADER + text
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def example(tmp_path):
    """A copy of config/example.yaml with its data, so the run writes only into tmp_path."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path / "config" / "example.yaml"
