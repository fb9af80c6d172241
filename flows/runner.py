"""Prefect's Runner as `okrsync serve` uses it: stopping without losing a run, and riding out an outage.

Prefect 3.9's Runner, when stopped, kills the flow-run processes it started, and none of them reports its
end: the run stays *Running* in Prefect for ever. :class:`ServeRunner` stops differently:

- :meth:`ServeRunner.stop_taking_runs` ends the polling (no new run starts), pauses the served schedules
  and lets the runs in flight finish in their own processes; the runner returns once they have;
- :meth:`ServeRunner.crash_in_flight` (after the grace period, or at a second signal) marks every run
  still in flight *Crashed* with the reason, then ends its process (SIGTERM, SIGKILL 5 s later);
- flow-run processes start in sessions of their own (:func:`flow_runs_in_own_sessions`), so the Ctrl-C
  a terminal sends to its whole process group reaches `okrsync serve` only, which decides.

A Prefect server outage is one line when it starts and one when it ends (:func:`tolerant`), instead of
Prefect's tracebacks and a runner that gives up after three failed polls.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from uuid import UUID

import httpx
from prefect.runner import Runner

KILL_GRACE = 5.0  # seconds a flow-run process gets after SIGTERM before SIGKILL


class ServeRunner(Runner):
    """A Runner that never leaves a run Running when it stops (see the module's docstring)."""

    def __init__(self, *, say: Callable[[str], None], **kwargs) -> None:
        super().__init__(pause_on_shutdown=True, **kwargs)
        self.say = say

    async def __aenter__(self):
        with tolerant_cancellation_checks():
            await super().__aenter__()
        poller = self._scheduled_run_poller
        poller._get_and_submit_flow_runs = tolerant(poller._get_and_submit_flow_runs, self.say)  # type: ignore[method-assign]  # patching Prefect 3.9's runner internals on purpose (module docstring)
        return self

    async def _pause_schedules(self) -> None:
        """Pause the served schedules on the way out; with the server down, say so and stop anyway."""
        try:
            await super()._pause_schedules()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            self.say(f"could not pause the served schedules ({describe(exc)}); serving again resumes them")

    def stop_taking_runs(self) -> bool:
        """Stop polling for new runs; the runs in flight go on. False before the runner has started (there
        is nothing in flight then: the caller cancels it outright)."""
        loops = getattr(self, "_loops_task_group", None)
        poller = getattr(self, "_scheduled_run_poller", None)
        if not self.started or loops is None or poller is None:
            return False
        poller.stopping = True
        loops.cancel_scope.cancel()
        return True

    def in_flight(self) -> dict[UUID, int]:
        """flow run id -> pid of each flow-run process still running."""
        manager = getattr(self, "_process_manager", None)
        if manager is None:
            return {}
        handles = {run_id: manager.get(run_id) for run_id in manager.flow_run_ids()}
        return {run_id: h.pid for run_id, h in handles.items() if h is not None and h.pid is not None}

    async def crash_in_flight(self, reason: str) -> list[UUID]:
        """Mark each run in flight Crashed with ``reason`` (first, so that nothing the dying process reports
        replaces it), then end its process. Returns the runs it ended."""
        from prefect.states import Crashed

        runs = list(self.in_flight())
        for run_id in runs:
            try:
                await self._client.set_flow_run_state(run_id, Crashed(message=reason), force=True)
            except Exception as exc:  # the API is down: the process still has to end
                self.say(f"could not mark flow run {run_id} Crashed ({describe(exc)})")
        for run_id in runs:
            with contextlib.suppress(Exception):
                await self._process_manager.kill(run_id, grace_seconds=KILL_GRACE)
        return runs


def crash_now(runner: ServeRunner | None, api: str | None, reason: str) -> None:
    """The last resort, from any thread, when the runner's own shutdown is stuck: mark the runs in flight
    Crashed through the REST API (a few seconds at most) and SIGKILL their processes."""
    import os

    for run_id, pid in (runner.in_flight() if runner else {}).items():
        if api:
            state = {"state": {"type": "CRASHED", "name": "Crashed", "message": reason}, "force": True}
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{api.rstrip('/')}/flow_runs/{run_id}/set_state", json=state, timeout=3)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # the run's own process group (flow_runs_in_own_sessions)


def tolerant(poll: Callable[[], Awaitable[None]], say: Callable[[str], None] | None):
    """``poll`` (a runner loop's workload) that rides out a Prefect server outage: a failed poll is one
    line when the outage starts (``say``) and one when it ends, never a traceback, and never counts towards
    the three failures after which Prefect's service loop stops the runner."""
    down_since: float | None = None

    async def poll_quietly() -> None:
        nonlocal down_since
        try:
            await poll()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                raise
            if down_since is None and say:
                say(f"the Prefect server does not answer ({describe(exc)}); serving goes on when it is back")
            down_since = down_since or time.monotonic()
            return
        if down_since is not None and say:
            say(f"the Prefect server answers again (after {time.monotonic() - down_since:.0f} s)")
        down_since = None

    return poll_quietly


@contextlib.contextmanager
def tolerant_cancellation_checks() -> Iterator[None]:
    """The runner's cancellation observer checks by :func:`tolerant` polls. Prefect 3.9 hands the check to its
    event delivery when the observer starts, inside ``Runner.__aenter__``, so the runner builds a subclass
    meanwhile: otherwise three failed polls in an outage end cancellation watching until serve restarts
    (with a "cancellation will fail" traceback)."""
    import prefect.runner.runner as runner_module

    original = runner_module.FlowRunCancellingObserver

    class TolerantObserver(original):  # type: ignore[misc, valid-type]  # patching Prefect 3.9's runner internals on purpose (module docstring)
        async def _check_for_cancelled_flow_runs(self) -> None:
            await tolerant(super()._check_for_cancelled_flow_runs, None)()

    runner_module.FlowRunCancellingObserver = TolerantObserver  # type: ignore[misc]  # patching Prefect 3.9's runner internals on purpose (module docstring)
    try:
        yield
    finally:
        runner_module.FlowRunCancellingObserver = original  # type: ignore[misc]  # patching Prefect 3.9's runner internals on purpose (module docstring)


def one_line_errors() -> None:
    """Every console handler of this process prints a logged exception as ``(Type: message)`` on the
    record's own line instead of a traceback (`okrsync serve` without ``--verbose``). Records are left
    alone: Prefect's API log handler still ships the traceback to the server's logs."""
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    for handler in {h for lg in loggers for h in lg.handlers if isinstance(h, logging.StreamHandler)}:
        if not getattr(handler, "okrsync_one_line", False):
            handler.format = _without_traceback(handler.format)  # type: ignore[assignment, method-assign]  # a console handler wrapped in place (see the docstring)
            handler.okrsync_one_line = True  # type: ignore[attr-defined]  # a console handler wrapped in place (see the docstring)


def _without_traceback(format_record: Callable[[logging.LogRecord], str]) -> Callable[[logging.LogRecord], str]:
    def format_one_line(record: logging.LogRecord) -> str:
        if not record.exc_info or not record.exc_info[1]:
            return format_record(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return f"{format_record(record)} ({describe(saved[0][1])})"
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved

    return format_one_line


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def flow_runs_in_own_sessions() -> Iterator[None]:
    """Flow-run processes start in a session (and process group) of their own, which Prefect's own
    ``isolate_process_group`` option gives and its Runner does not set: a terminal's Ctrl-C goes to its
    whole foreground group, and a run in flight must be left to finish, or be ended by `okrsync serve`
    with a reason, not killed mid-step by a KeyboardInterrupt. Ending a run then ends its whole group."""
    import prefect.runner.runner as runner_module

    original = runner_module.EngineCommandStarter

    class IsolatedStarter(original):  # type: ignore[misc, valid-type]  # patching Prefect 3.9's runner internals on purpose (module docstring)
        def __init__(self, **kwargs) -> None:
            super().__init__(**{**kwargs, "isolate_process_group": True})

    runner_module.EngineCommandStarter = IsolatedStarter  # type: ignore[misc]  # patching Prefect 3.9's runner internals on purpose (module docstring)
    try:
        yield
    finally:
        runner_module.EngineCommandStarter = original  # type: ignore[misc]  # patching Prefect 3.9's runner internals on purpose (module docstring)
