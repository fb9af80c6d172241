"""Helpers the test modules share: plain functions and constants (fixtures live in conftest.py).

Import them from here, never from another test module (tests/test_suite_shape.py holds the suite to that).

``okrsync(...)`` runs the CLI in this process, the way ``python -m okrsync`` does (``cli.main.main``:
argv, the environment, the working folder, stdout and stderr, the exit code), in a fraction of a
subprocess's second; ``okrsync_process(...)`` is the real subprocess, kept for the few smoke tests that
must prove the installed entry point, start-up and process boundaries.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from okrsync.config import Cycle, KeyResult, Objective, StatusThresholds
from okrsync.okr.results import MetricState, Point

REPO = Path(__file__).resolve().parent.parent
OSLO = ZoneInfo("Europe/Oslo")
PG_ENV = "OKRSYNC_TEST_POSTGRES_URL"
PREFECT = str(Path(sys.executable).with_name("prefect"))
HEADER = """\
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
store: sqlite:///store.db
"""


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def postgres_base_url() -> str:
    """OKRSYNC_TEST_POSTGRES_URL; unset, the test skips with a reason (fails under OKRSYNC_REQUIRE_POSTGRES=1)."""
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("OKRSYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but OKRSYNC_REQUIRE_POSTGRES=1: PostgreSQL tests must run here")
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@contextlib.contextmanager
def fresh_pg_schema():
    """A PostgreSQL URL whose search_path is a new schema, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


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


# --------------------------------------------------------------------------- the CLI

COLUMNS = 200  # what the subprocess runs get: one line per problem, tables unwrapped


@dataclass
class Ran:
    """What a finished command left: the same three fields as ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def okrsync(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """``okrsync ARGS`` in this process. An exception that escapes ``main`` (a crash the user would see
    as a traceback) becomes exit 1 with the traceback on stderr, as it would in a process."""
    from okrsync.cli.app import console, err_console
    from okrsync.cli.main import main

    environ = {**os.environ, "COLUMNS": str(COLUMNS), **(env or {})}
    for name in ("OKRSYNC_STORE_URL", "PREFECT_API_URL"):
        if name not in (env or {}):
            environ.pop(name, None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, environ, clear=True))
        stack.enter_context(mock.patch.object(sys, "argv", ["okrsync", *args]))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        for shown in (console, err_console):
            stack.enter_context(mock.patch.object(shown, "_width", COLUMNS))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        code = _exit_code(main, err)
    return Ran(code, out.getvalue(), err.getvalue())


def _exit_code(main, err: io.StringIO) -> int:
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what a process would print before dying
        err.write(traceback.format_exc())
        return 1
    return 0


def cli(argv: list[str]) -> tuple[int, str]:
    """``okrsync ARGV`` in this process as (exit code, stdout + stderr), no line wrapped: one problem, one
    line, however long."""
    from okrsync.cli.app import console

    with mock.patch.object(console, "soft_wrap", True):
        ran = okrsync(*argv)
    return ran.returncode, ran.stdout + ran.stderr


def okrsync_process(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None):
    """``python -m okrsync ARGS`` in a subprocess (a smoke test of the real entry point)."""
    full_env = {**os.environ, "COLUMNS": str(COLUMNS), **(env or {})}
    full_env.pop("OKRSYNC_STORE_URL", None)
    full_env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "okrsync", *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120
    )


# --------------------------------------------------------------------------- stores


def migrate_to(conn, revision: str) -> None:
    """Bring the database behind ``conn`` to an older schema ``revision`` (a store an older okrsync wrote)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from okrsync.store.engine import MIGRATIONS

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


# --------------------------------------------------------------------------- evaluation examples

CYCLE = Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31), timezone="Europe/Oslo")
THRESHOLDS = StatusThresholds()
COMMITTED = Objective(id="o", title="O")
# 2026-10-01 00:00 .. 2027-01-01 00:00 Oslo is 92 days; day 46 (2026-11-16 00:00) is exactly halfway.
HALFWAY = oslo(2026, 11, 16)


def kr(**kw) -> KeyResult:
    return KeyResult(id=kw.pop("id", "k"), metric="m", **kw)


def state(*points, **kw) -> MetricState:
    """A metric's state from (moment, value) pairs."""
    return MetricState(history=tuple(Point.of(at, v) for at, v in points), **kw)


def run(k: KeyResult, metric: MetricState, at=HALFWAY, objective=COMMITTED, override=None):
    """``evaluate_kr`` in CYCLE at HALFWAY (by default) with the default thresholds."""
    from okrsync.okr.evaluate import evaluate_kr

    return evaluate_kr(k, objective, metric, CYCLE, at, THRESHOLDS, override)


def level(id, holds, weight=1.0):
    """An at_least KR that holds its level at HALFWAY, or not."""
    return run(kr(id=id, kind="at_least", target=1, weight=weight), state((HALFWAY, 1 if holds else 0)))


def moving(id, value, weight=1.0, at=HALFWAY):
    """An increase KR from 0 to 100 standing at ``value``."""
    return run(kr(id=id, start=0, target=100, weight=weight), state((at, value)), at=at)


# --------------------------------------------------------------------------- teams aligned across configs

DAY1, DAY2 = oslo(2026, 11, 16), oslo(2026, 11, 17)


def aligned_configs(tmp_path, write_config, store_url: str):
    """A company config and a team config whose objective has the company's as its parent, one store."""
    from okrsync.config.load import load_config

    write_csv(tmp_path / "d.csv", "revenue,signups\n60,30\n")
    head = "version: 1\ncycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
    company = write_config(
        head
        + textwrap.dedent(f"""
            namespace: company
            store: "{store_url}"
            connections: {{files: {{type: csv, root: .}}}}
            metrics: {{revenue: {{connection: files, path: d.csv, column: revenue}}}}
            objectives:
              - id: growth
                title: Grow the company
                key_results: [{{id: rev, metric: revenue, start: 0, target: 100}}]
        """),
        name="company.yaml",
    )
    team = write_config(
        head
        + textwrap.dedent(f"""
            namespace: team-a
            store: "{store_url}"
            connections: {{files: {{type: csv, root: .}}}}
            metrics: {{signups: {{connection: files, path: d.csv, column: signups}}}}
            objectives:
              - id: self-serve
                title: Self-serve signups
                parent: company/growth
                weight: 3
                key_results: [{{id: su, metric: signups, start: 0, target: 100}}]
        """),
        name="team.yaml",
    )
    return load_config(company), load_config(team)


# --------------------------------------------------------------------------- the HTML report in a browser

CHROMIUM = Path(os.environ.get("OKRSYNC_CHROMIUM", "/usr/bin/chromium"))
CONTRAST = """() => {
  const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
    if (c !== "rgba(0, 0, 0, 0)") return c; } return "rgb(255, 255, 255)"; };
  const worst = [];
  for (const e of document.querySelectorAll("h1,h2,h3,p,li,td,th,span,b,time,.nums,svg text")) {
    if (!e.textContent.trim() || !e.getClientRects().length) continue;
    const s = getComputedStyle(e), fg = e instanceof SVGElement ? s.fill : s.color;
    const [a, b] = [lum(fg), lum(background(e))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) worst.push([e.tagName, e.className.baseVal ?? e.className, e.textContent.slice(0, 30), ratio]);
  }
  return worst; }"""


def open_report(html, tmp_path, width, name="report"):
    """Yield the page ``html`` opened in headless Chromium at ``width``; afterwards, assert that it logged no
    error or warning and requested nothing but files."""
    if not CHROMIUM.exists():
        if os.environ.get("OKRSYNC_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"no chromium at {CHROMIUM} but OKRSYNC_REQUIRE_CHROMIUM=1")
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "okr.html"
    page_path.write_text(html, encoding="utf-8")
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        yield page
        if os.environ.get("OKRSYNC_SCREENSHOTS"):  # docs/: OKRSYNC_SCREENSHOTS=docs pytest -k chromium
            page.screenshot(path=f"{os.environ['OKRSYNC_SCREENSHOTS']}/{name}-{width}.png", full_page=True)
        browser.close()
    assert problems == []
    assert all(url.startswith("file://") for url in requests), requests


# --------------------------------------------------------------------------- deliveries under races


def slow_receiver():
    """Slack and a webhook receiver in one (the project's HookReceiver), answering after 0.2 s: wide windows
    for races."""
    from tests.emulators.crm import HookReceiver

    receiver = HookReceiver()
    receiver.latency = 0.2  # the receiver's latency (not synchronisation)
    return receiver.start()


def posts(receiver, which: str) -> int:
    return len(receiver.requests("POST", f"^/{which}$"))


def team_config(directory: Path, namespace: str, store_url: str, receiver: str) -> Path:
    """A one-KR team config whose every run posts a Slack digest and a webhook to ``receiver``."""
    write_csv(directory / "kpi.csv", "n\n5\n")
    path = directory / f"{namespace}.yaml"
    path.write_text(f"""\
version: 1
namespace: {namespace}
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{store_url}"
connections: {{files: {{type: csv, root: .}}}}
metrics:
  n: {{connection: files, path: kpi.csv, column: n}}
objectives: [{{id: o, title: Grow, key_results: [{{id: k, title: N, metric: n, start: 0, target: 10}}]}}]
outputs:
  - {{type: slack, webhook_url: "{receiver}/slack", on: [every_run], rate_limit: 1000}}
  - {{type: webhook, url: "{receiver}/hook"}}
""")
    return path


# --------------------------------------------------------------------------- connector contracts

SECRET = "canary-contract-secret-1"  # the credential the contract suites watch for in every output
SA_EMAIL = "contract@acme-okrs.iam.gserviceaccount.com"


@cache
def private_key() -> str:
    """A service account's RSA key (PEM), made once per session."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def service_account_file(folder: Path, token_uri: str, key: str | None = None, email: str = SA_EMAIL) -> Path:
    """``folder/sa.json``: a Google service account's key file, its token endpoint an emulator's."""
    fields = {"type": "service_account", "project_id": "acme", "private_key_id": "k1"}
    fields |= {"private_key": key or private_key(), "client_email": email, "client_id": "1", "token_uri": token_uri}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sa.json"
    path.write_text(json.dumps(fields))
    return path


XL_TENANT = "contoso-tenant"  # the Excel Online tests' identity platform (conftest.graph_entra)
XL_SECRET = "xlSecretCanary~0123456789"


def card_of(html: str, anchor: str) -> str:
    """A report card's HTML, from its id to the next card."""
    return html.split(f'id="{anchor}"')[1].split("<article")[0].split("<section")[0]
