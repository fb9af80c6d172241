"""Shared fixtures: store URLs for SQLite and PostgreSQL, and small config builders.

PostgreSQL tests read OKRSYNC_TEST_POSTGRES_URL. Unset on a laptop they skip with a reason;
in CI (.ci/run sets OKRSYNC_REQUIRE_POSTGRES=1) a missing URL is a failure, not a skip.
Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.helpers import HEADER, PREFECT, REPO, free_port, fresh_pg_schema, oslo, postgres_base_url


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def waits(monkeypatch):
    """Record retry and pacing waits instead of sleeping; the clock still runs. Only this test's waits: a
    fetch thread an earlier test left behind (past its deadline, by design) may still retry now, and its
    waits are slept as they would be, not recorded here."""
    from okrsync.sdk import retry

    recorded: list[float] = []
    # Thread objects, not idents: the system reuses the ident of a thread that has ended, so a fetch
    # thread of this test could carry the ident of an earlier one and sleep a minute unrecorded.
    earlier = {t for t in threading.enumerate() if t is not threading.main_thread()}

    def record(seconds: float) -> None:
        if threading.current_thread() in earlier:
            time.sleep(seconds)
        else:
            recorded.append(seconds)

    monkeypatch.setattr(retry, "sleep", record)
    return recorded


@pytest.fixture
def still_clock(monkeypatch):
    """The pacer's clock stands still, so a burst takes no time and a paced wait is exactly the window
    (with its arrival margin): on the real clock a loaded machine turned the 201st request's 60 s wait
    into 59.4 s. For tests of a pacing window's arithmetic, with ``waits``."""
    from okrsync.sdk import retry

    monkeypatch.setattr(retry, "monotonic", lambda: 1_000.0)


@pytest.fixture
def no_token_backoff(monkeypatch):
    """google-auth retries a failed token request with its own exponential backoff (about 3 s each
    time); tests that fault every request, the token endpoint's too, need not wait it out."""
    from types import SimpleNamespace

    import google.auth._exponential_backoff as backoff

    monkeypatch.setattr(backoff, "time", SimpleNamespace(sleep=lambda seconds: None))


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


# CI runs a fixed hypothesis profile (.ci/run sets HYPOTHESIS_PROFILE=ci) so that a green main stays green:
# - derandomized: every run draws the same examples (seeded from each test's source);
# - the examples database kept, written but never read back. hypothesis (6.170) refuses
#   settings(derandomize=True, database=...) ("derandomize=True implies database=None", hypothesis/_settings.py)
#   because a replayed database makes the draws depend on what the folder holds: its reuse phase samples the
#   saved corpus with the test's own random. A child of the derandomized settings may name a database, and
#   without Phase.reuse nothing is read from it: a failure found here is saved to .hypothesis/examples (and
#   printed as a blob), and a run with the default profile in that checkout replays it first;
# - no deadline and no too_slow health check: time on a loaded machine is not a finding (a test that bounds
#   CPU says so in its own @settings(deadline=...)).
# Runs elsewhere stay random, with the database in .hypothesis/ replaying what they found.
settings.register_profile(
    "ci",
    settings(settings(derandomize=True), database=DirectoryBasedExampleDatabase(REPO / ".hypothesis" / "examples")),
    phases=[phase for phase in Phase if phase is not Phase.reuse],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
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


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the session's in-process flow tests."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(restore_defaults={PREFECT_FLOWS_HEARTBEAT_FREQUENCY}), prefect_test_harness():
        yield


@pytest.fixture(autouse=True, scope="module")
def prefect_workers_drained():
    """Prefect keeps its events and logs workers running after a module's in-process flows, and the events
    worker's websocket pings its server every 20 s with a number from the global random generator: under a later
    module's Hypothesis test that is "the random module used inside a strategy" (HypothesisDeprecationWarning,
    found by logging every draw from another thread). Drained at each module's end; the next flow starts them."""
    yield
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        EventsWorker.drain_all(timeout=10)
        APILogWorker.drain_all(timeout=10)


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


@pytest.fixture
def example(tmp_path):
    """A copy of config/example.yaml with its data, so the run writes only into tmp_path."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path / "config" / "example.yaml"


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """The example config synced over a few weeks, so charts have history (once per module)."""
    from okrsync.config.load import load_config
    from okrsync.sync.sequence import sync

    root = tmp_path_factory.mktemp("example")
    shutil.copytree(REPO / "config", root / "config")
    config = load_config(root / "config" / "example.yaml")
    for day in (oslo(2026, 10, 8), oslo(2026, 10, 22), oslo(2026, 11, 5), oslo(2026, 11, 12)):
        sync(config, day, now=day)
    return sync(config, oslo(2026, 11, 21), now=oslo(2026, 11, 21))


@pytest.fixture(scope="module")
def document(synced):
    """The status document of ``synced``."""
    return synced.document


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory):
    """A test CA and a server certificate for 127.0.0.1, for emulators that serve HTTPS."""
    from okrsync.testing.emulator import TestCertificates

    return TestCertificates.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def graph_entra(tls_certificates, monkeypatch):
    """The identity platform's emulator over HTTPS with app-1 (secret XL_SECRET in ${XL_SECRET}), and a fresh
    msal app per test (okrsync keeps one per connection for the process)."""
    from okrsync.sdk import entra as entra_module
    from tests.emulators.entra import App, EntraEmulator
    from tests.helpers import XL_SECRET, XL_TENANT

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificates.ca_file))
    monkeypatch.setenv("XL_SECRET", XL_SECRET)
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    entra_module._APPS.clear()
    server = EntraEmulator(XL_TENANT).start(tls=tls_certificates)
    server.add_app(App("app-1", secret=XL_SECRET))
    yield server
    server.stop()
    entra_module._APPS.clear()
