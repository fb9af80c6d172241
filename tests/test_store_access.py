"""The store opened for what the command does: reading commands read (a read-only store, a missing one, an
older schema, a sync holding the write lock), lock-file oddities are plain errors, and a run that loses
its lock stops before it stores or publishes (PostgreSQL's session ended, the lock file replaced)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.errors import RunLockLostError, StoreError
from okrsync.store import Store
from okrsync.sync import fetch as fetch_stage
from okrsync.sync.sequence import sync
from tests.helpers import HEADER, REPO, migrate_to, okrsync, oslo, write_csv

pytestmark = pytest.mark.reliability

DAY = oslo(2026, 11, 16, 12)
BODY = """\
connections: {files: {type: csv, root: data}}
metrics: {csat: {connection: files, path: csat.csv, column: score}}
objectives: [{id: happy, title: Happy, key_results: [{id: csat, metric: csat, kind: at_least, target: 85}]}]
"""


@pytest.fixture
def shared_dir():
    """A folder other users may enter (pytest's tmp_path is the owner's only): for reading as nobody."""
    folder = Path(tempfile.mkdtemp(prefix="okrsync-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def project(folder: Path, store: str = "sqlite:///store.db", namespace: str = "default") -> Path:
    write_csv(folder / "data" / "csat.csv", "score\n86\n")
    config = folder / "okrsync.yaml"
    config.write_text(HEADER.replace("sqlite:///store.db", store) + f"namespace: {namespace}\n" + BODY)
    return config


def as_reader(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a user who may not write the store: nobody when we are root, else ourselves after the
    files were made read-only."""
    env = {**os.environ, "COLUMNS": "200", "HOME": "/tmp"}
    env.pop("OKRSYNC_STORE_URL", None)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    command = [*drop, sys.executable, "-m", "okrsync", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def freeze(folder: Path) -> dict[str, bytes]:
    """Make the folder and its files read-only for everyone but root; what they hold now."""
    for path in [*folder.rglob("*"), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_reading_commands_read_a_store_they_may_not_write(shared_dir):
    config = project(shared_dir)
    sync(load_config(config), DAY, now=DAY)
    before = freeze(shared_dir)
    for command in (["status", "-f", "json"], ["history", "csat"], ["runs", "-f", "json"]):
        done = as_reader("-c", str(config), *command)
        assert done.returncode == 0, (command, done.stderr)
        assert "86" in done.stdout or "2026-11-16" in done.stdout
    report = Path(tempfile.gettempdir()) / f"okrsync-ro-report-{uuid.uuid4().hex[:8]}.json"
    try:
        done = as_reader("-c", str(config), "report", "-o", str(report))
        assert done.returncode == 0, done.stderr
        assert '"value": 86' in report.read_text()
    finally:
        report.unlink(missing_ok=True)
    assert {str(p): p.read_bytes() for p in shared_dir.rglob("*") if p.is_file()} == before  # nothing written


def test_a_reading_command_creates_no_store(tmp_path):
    config = project(tmp_path)
    for command in (["status"], ["runs"], ["history", "csat"]):
        done = okrsync("-c", str(config), *command)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "okrsync.yaml"]


def test_a_reading_command_does_not_wait_for_a_syncs_write_lock(tmp_path):
    config = project(tmp_path)
    sync(load_config(config), DAY, now=DAY)
    writer = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with writer.engine.begin() as conn:  # a sync's write transaction, held
        conn.exec_driver_sql("UPDATE runs SET attempts = attempts")
        started = time.monotonic()
        reader = Store(f"sqlite:///{tmp_path / 'store.db'}", access="read")
        assert reader.latest_run("default", "2026-Q4").day.isoformat() == "2026-11-16"
        reader.close()
        assert time.monotonic() - started < 5  # a writing open would wait out busy_timeout (30 s)
    writer.close()


def test_a_reading_command_reads_an_older_schema_without_migrating_it(tmp_path):
    path = tmp_path / "store.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate_to(conn, "0003")
    engine.dispose()
    before = path.read_bytes()
    reader = Store(f"sqlite:///{path}", access="read")
    assert reader.latest_run("default", "2026-Q4") is None
    reader.close()
    assert path.read_bytes() == before  # still 0003 on disk: the next `okrsync run` migrates it


@pytest.mark.parametrize("odd", ["folder", "dangling symlink"])
def test_an_odd_lock_path_is_a_plain_error(tmp_path, odd):
    config = load_config(project(tmp_path))
    store = Store(config.store_url())
    lock = next(iter(store_lock_paths(store, config)))
    if odd == "folder":
        lock.mkdir()
    else:
        lock.symlink_to(tmp_path / "elsewhere" / "target")
    with pytest.raises(StoreError, match="cannot use the run lock file") as caught:
        sync(config, DAY, now=DAY, store=store)
    assert str(lock) in str(caught.value)
    assert not (tmp_path / "elsewhere").exists()  # a symlink's target is never created
    store.close()


def store_lock_paths(store: Store, config) -> list[Path]:
    import hashlib

    db = Path(store.url.database)
    name = hashlib.blake2b(f"{config.namespace}/{config.cycle.name}".encode(), digest_size=6).hexdigest()
    return [db.parent / f".{db.name}.run-{name}.lock"]


def test_a_replaced_lock_file_stops_the_run_before_it_stores(tmp_path, monkeypatch, figures):
    config = load_config(project(tmp_path))
    store = Store(config.store_url())
    real_fetch = fetch_stage.fetch

    def fetch_then_lose_the_lock(sync_plan, on_event=None):
        (lock,) = store_lock_paths(store, config)
        lock.unlink()  # someone cleans up the folder; the next run would create a new lock file
        return real_fetch(sync_plan, on_event)

    monkeypatch.setattr(fetch_stage, "fetch", fetch_then_lose_the_lock)
    with pytest.raises(RunLockLostError, match="was removed or replaced"):
        sync(config, DAY, now=DAY, store=store)
    stored = store.count_rows()["runs"]
    figures.append(("lost locks", "SQLite lock file replaced mid-run", {"runs that continued": stored}))
    assert stored == 0
    store.close()


def test_a_run_whose_postgresql_lock_session_ends_stops_and_the_next_run_is_alone(
    pg_url, tmp_path, monkeypatch, figures
):
    """pg_terminate_backend on the lock's session mid-fetch: a second run gets the lock and completes;
    the first stops before storing (runs that continued: 0)."""
    from okrsync.store.lock import lock_key

    namespace = f"lock-{uuid.uuid4().hex[:8]}"  # its own advisory lock key, whatever else runs on the server
    config = load_config(project(tmp_path, store=pg_url, namespace=namespace))
    key = lock_key(namespace, "2026-Q4") & 0xFFFFFFFFFFFFFFFF
    admin = sa.create_engine(pg_url)
    real_fetch = fetch_stage.fetch
    second: list = []
    lost: list[bool] = []

    def fetch_while_the_lock_is_lost(sync_plan, on_event=None):
        if not lost:
            lost.append(True)
            with admin.begin() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid::bigint = :high AND objid::bigint = :low"
                    ),
                    {"high": key >> 32, "low": key & 0xFFFFFFFF},
                ).all()
            assert killed == [(True,)]
            second.append(sync(config, DAY, now=DAY, wait=0))  # gets in at once: the lock was free
        return real_fetch(sync_plan, on_event)

    monkeypatch.setattr(fetch_stage, "fetch", fetch_while_the_lock_is_lost)
    with pytest.raises(RunLockLostError, match="PostgreSQL session ended") as caught:
        sync(config, DAY, now=DAY)
    assert "before storing anything" in str(caught.value)
    assert second[0].run_id is not None
    with admin.connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM runs WHERE namespace = :ns"), {"ns": namespace})
        stored = runs.scalar_one()
    figures.append(("lost locks", "PostgreSQL lock session terminated mid-fetch", {"runs that continued": stored - 1}))
    assert stored == 1  # the second run's only
    admin.dispose()


def test_an_idle_session_timeout_does_not_end_the_lock(pg_url, tmp_path, monkeypatch):
    """A server with idle_session_timeout (here 200 ms for every session of this URL): the lock's own
    session turns it off, so a fetch longer than the timeout keeps the lock."""
    url = pg_url + "%20-cidle_session_timeout%3D200"
    config = load_config(project(tmp_path, store=url))
    real_fetch = fetch_stage.fetch

    def slow_fetch(sync_plan, on_event=None):
        time.sleep(0.6)  # the fetch's duration (the scenario), not synchronisation
        return real_fetch(sync_plan, on_event)

    monkeypatch.setattr(fetch_stage, "fetch", slow_fetch)
    result = sync(config, DAY, now=DAY)
    assert result.run_id is not None and result.exit_code == 0


def test_a_reading_postgresql_store_keeps_the_urls_own_options(pg_url, tmp_path):
    """pg_url carries options=-csearch_path=<schema>: read-only access adds to it, never replaces it."""
    config = load_config(project(tmp_path, store=pg_url, namespace=f"ro-{uuid.uuid4().hex[:8]}"))
    sync(config, DAY, now=DAY)
    reader = Store(pg_url, access="read")
    assert reader.latest_run(config.namespace, "2026-Q4").day.isoformat() == "2026-11-16"
    with pytest.raises(StoreError, match="read-only transaction"):
        reader.add_override(config.namespace, "csat", 90, False, None, DAY)
    reader.close()
