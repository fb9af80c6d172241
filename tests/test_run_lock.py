"""One run at a time per config: the store's run lock on SQLite and PostgreSQL, the CLI's exit code 4,
and two syncs of one config at once delivering a chat digest exactly once."""

import subprocess
import sys
import threading
import time

import pytest

from okrsync.config.load import load_config
from okrsync.errors import RunLockedError
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.emulators.crm import HookReceiver
from tests.helpers import REPO, oslo, write_csv

DAY = oslo(2026, 11, 16)


def test_second_holder_waits_then_gives_up(store_url):
    first, second = Store(store_url), Store(store_url)
    try:
        with first.run_lock("team", "Q4", wait=0):
            started = time.monotonic()
            with pytest.raises(RunLockedError, match="still in progress after waiting 0.3 s"):
                with second.run_lock("team", "Q4", wait=0.3):
                    pytest.fail("two holders at once")
            assert time.monotonic() - started >= 0.25
            with second.run_lock("other-team", "Q4", wait=0):  # another config does not wait
                pass
        with second.run_lock("team", "Q4", wait=0):  # released when the first run ended
            pass
    finally:
        first.close()
        second.close()


def test_a_waiting_run_proceeds_when_the_first_ends(store_url):
    first, second = Store(store_url), Store(store_url)
    order: list[str] = []
    holding = threading.Event()

    def hold():
        with first.run_lock("team", "Q4", wait=0):
            holding.set()
            order.append("first")
            time.sleep(0.3)  # the first run's work, not synchronisation: the second must wait it out
            order.append("first done")

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(5)
    with second.run_lock("team", "Q4", wait=10):
        order.append("second")
    thread.join()
    assert order == ["first", "first done", "second"]
    first.close()
    second.close()


def test_two_syncs_of_one_config_at_once_post_the_digest_once(tmp_path, write_config):
    hook = HookReceiver()
    hook.latency = 0.2  # a webhook that answers slowly, so two runs would overlap without the lock
    hook.start()
    try:
        write_csv(tmp_path / "kpi.csv", "n\n5\n")
        path = write_config(f"""
            connections: {{files: {{type: csv, root: .}}}}
            metrics:
              n: {{connection: files, path: kpi.csv, column: n}}
              gone: {{connection: files, path: x.csv, column: n}}
            kpis: [{{id: n, metric: n, healthy: {{min: 0}}}}, {{id: g, metric: gone, healthy: {{min: 0}}}}]
            outputs: [{{type: slack, webhook_url: "{hook.url}/hook", on: [error], rate_limit: 1000}}]
        """)
        config = load_config(path)
        Store(config.store_url()).close()  # created and migrated: this test is about the run lock
        results = []
        threads = [threading.Thread(target=lambda: results.append(sync(config, DAY, now=DAY))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 3 and len(hook.received) == 1
    finally:
        hook.stop()


def test_first_opens_of_a_new_sqlite_store_at_once_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    opened, failed = [], []

    def open_store():
        try:
            opened.append(Store(url))
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and len(opened) == 5
    assert opened[0].count_rows()["runs"] == 0
    for store in opened:
        store.close()


def test_cli_exits_4_with_one_line_when_the_config_is_busy(tmp_path, write_config):
    write_csv(tmp_path / "kpi.csv", "n\n5\n")
    path = write_config("""
        connections: {files: {type: csv, root: .}}
        metrics: {n: {connection: files, path: kpi.csv, column: n}}
        kpis: [{id: n, metric: n, healthy: {min: 0}}]
    """)
    config = load_config(path)
    store = Store(config.store_url())
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=0):
            done = subprocess.run(
                [sys.executable, "-m", "okrsync", "-c", str(path), "run", "--wait", "0.5"],
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=120,
            )
    finally:
        store.close()
    assert done.returncode == 4, done.stderr
    assert "still in progress after waiting 0.5 s" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
