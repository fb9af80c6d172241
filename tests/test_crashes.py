"""Crashes (reliability suite): kill -9 at every step of a sync, on SQLite and PostgreSQL.

A child process runs a real sync and SIGKILLs itself at one point (inside a new store's creation, inside a
migration of a store an older okrsync left at revision 0001, between the store's writes, between each
delivery's claim and its send and between the send and its confirmation). Then the same sync runs again, and
once more after the claim lease. Counted: values lost, values duplicated, writes duplicated — all must be zero.
A webhook killed between its POST and the confirmation is sent again after the lease with the same
Idempotency-Key (a receiver that honours the key acts once: Stripe's contract); a chat message in that window
is never re-sent, and reported.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.sdk.delivery import CLAIM_LEASE
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.emulators.crm import HookReceiver
from tests.helpers import migrate_to, oslo, posts, slow_receiver, team_config

pytestmark = pytest.mark.reliability
DAY = oslo(2026, 11, 16)


def _die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _after(original, url_end: str | None = None):
    def call(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if url_end is None or str(args[1]).endswith(url_end):
            _die()
        return result

    return call


def _before(original, url_end: str):
    def call(self, *args, **kwargs):
        if str(args[1]).endswith(url_end):
            _die()
        return original(self, *args, **kwargs)

    return call


def _install(point: str) -> None:
    """Arrange the SIGKILL at ``point`` (in the child process only)."""
    import alembic.op

    from okrsync.sdk.http import ApiClient
    from okrsync.store.history import History
    from okrsync.store.tables import metadata
    from okrsync.sync import persist, publish

    patches = {
        "a new store: 4th table": lambda: sa.event.listen(metadata.sorted_tables[3], "before_create", _die),
        "migration 0002: after the ledger's new key": lambda: setattr(alembic.op, "execute", _die),
        "after the run row, before values": lambda: setattr(History, "save_values", _die),
        "after values, before results": lambda: setattr(History, "save_evaluation", _die),
        "after results, before outputs": lambda: setattr(publish, "publish", _die),
        "slack: claimed, not sent": lambda: setattr(ApiClient, "request", _before(ApiClient.request, "/slack")),
        "slack: sent, not confirmed": lambda: setattr(ApiClient, "request", _after(ApiClient.request, "/slack")),
        "webhook: claimed, not sent": lambda: setattr(ApiClient, "request", _before(ApiClient.request, "/hook")),
        "webhook: sent, not confirmed": lambda: setattr(ApiClient, "request", _after(ApiClient.request, "/hook")),
        "after outputs, before the run is finished": lambda: setattr(persist, "finish", _die),
    }
    patches[point]()


def _killed_sync(path: str, point: str) -> None:
    _install(point)
    sync(load_config(path), DAY, now=DAY)


POINTS = [
    "a new store: 4th table",
    "migration 0002: after the ledger's new key",
    "after the run row, before values",
    "after values, before results",
    "after results, before outputs",
    "slack: claimed, not sent",
    "slack: sent, not confirmed",
    "webhook: claimed, not sent",
    "webhook: sent, not confirmed",
    "after outputs, before the run is finished",
]


def _fresh(store_url: str, point: str) -> None:
    """An empty store (the first point must crash the very first open); for a migration's point, a store at
    revision 0001, as an older okrsync left it."""
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        for table in (
            "alembic_version",
            "write_ledger",
            "overrides",
            "metric_errors",
            "kpi_results",
            "objective_results",
            "kr_results",
            "metric_values",
            "runs",
        ):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    if point.startswith("migration 0002"):
        with engine.begin() as conn:
            migrate_to(conn, "0001")
    engine.dispose()


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_then_rerun_loses_nothing_and_sends_nothing_twice(point, store_url, tmp_path, figures):
    receiver = slow_receiver()
    try:
        _fresh(store_url, point)
        path = team_config(tmp_path, "team", store_url, receiver.url)
        child = multiprocessing.get_context("spawn").Process(target=_killed_sync, args=(str(path), point))
        child.start()
        child.join(120)
        assert child.exitcode == -signal.SIGKILL, f"the crash point was not reached (exit {child.exitcode})"

        config = load_config(path)
        again = sync(config, DAY, now=DAY)  # the next run, at once: repairs, migrates, completes
        assert again.exit_code == 0, (again.errors, again.output_errors)
        later = sync(config, DAY, now=DAY + CLAIM_LEASE * 2)  # after the lease: abandoned claims resolved
        figures_row = _count(store_url, receiver, later)
        figures.append(("crash", f"{point}, {store_url.split(':', 1)[0]}", figures_row))
        assert figures_row["values lost"] == 0 and figures_row["values duplicated"] == 0
        assert figures_row["writes duplicated"] == 0
        assert len(_keys(receiver)) == 1  # the idempotent write arrives; a repeat carries the same key
        if posts(receiver, "slack") == 0:  # at most once: a message that may be lost is reported, never resent
            assert any("may not have arrived" in e.message for e in later.output_errors), later.output_errors
    finally:
        receiver.stop()


def _count(store_url: str, receiver: HookReceiver, later) -> dict[str, int]:
    with Store(store_url) as store, store.engine.connect() as conn:
        runs = conn.execute(sa.text("select count(*) from runs")).scalar_one()
        values = conn.execute(sa.text("select count(*) from metric_values")).scalar_one()
        results = conn.execute(sa.text("select count(*) from kr_results")).scalar_one()
    expected_values, expected_results = len(later.fetched), len(later.document.objectives[0].key_results)
    return {
        "values lost": max(0, expected_values - values) + max(0, expected_results - results),
        "values duplicated": max(0, values - expected_values) + max(0, results - expected_results) + (runs - 1),
        "writes duplicated": max(0, posts(receiver, "slack") - 1) + max(0, len(_keys(receiver)) - 1),
        "repeats with the same Idempotency-Key": posts(receiver, "hook") - len(_keys(receiver)),
        "messages reported as maybe lost": sum("may not have arrived" in e.message for e in later.output_errors),
    }


def _keys(receiver: HookReceiver) -> set[str]:
    """Distinct Idempotency-Keys the webhook received: what a receiver that honours the key acts on."""
    return {
        next(v for k, v in r.headers.items() if k.lower() == "idempotency-key")
        for r in receiver.received
        if r.path == "/hook"
    }


def test_points_cover_every_step():
    assert len(POINTS) == 10 and Path(__file__).exists()
