"""Shared fixtures: store URLs for SQLite and PostgreSQL, and small config builders.

PostgreSQL tests read OKRSYNC_TEST_POSTGRES_URL. Unset on a laptop they skip with a reason;
in CI (.ci/run sets OKRSYNC_REQUIRE_POSTGRES=1) a missing URL is a failure, not a skip.
Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

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
    from okrsync import retry

    recorded: list[float] = []
    monkeypatch.setattr(retry, "sleep", recorded.append)
    return recorded


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
