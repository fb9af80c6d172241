"""Serving deployments in this process until Ctrl-C or SIGTERM: runs in flight are never lost.

A :class:`Stopper` owns both stop signals from the start: before the runner's loop as plain handlers
(KeyboardInterrupt, deferred inside :meth:`Stopper.deferred` sections such as starting the local
server), then as the loop's own handlers. The first signal stops the polling (no new run starts),
pauses the served schedules and gives the runs in flight ``grace`` seconds to finish in their own
processes; after that, or at a second signal, each run still going is marked *Crashed* with the reason
and its process is ended (:mod:`okrsync.flows.runner`). Should the shutdown itself hang (an unreachable API),
a watchdog calls ``exit_now`` ``STOP_MARGIN`` seconds after the grace period. The exit code is 130
after SIGINT and 0 after SIGTERM, whichever way the stop went.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_MARGIN = 15.0  # seconds after the grace period: marking runs Crashed and ending their processes


def exit_code(signum: int | None) -> int:
    """130 after Ctrl-C (SIGINT), as shells expect; 0 after SIGTERM (`systemctl stop`: a clean stop)."""
    return 130 if signum == signal.SIGINT else 0


class Stopper:
    """What the stop signals do in `okrsync serve` (see the module's docstring)."""

    def __init__(self, exit_now: Callable[[int], None] | None, grace: float) -> None:
        # ends the process (stops the local server first); `okrsync serve` sets its own once it has one
        self.exit_now: Callable[[int], None] = exit_now or _exit_with_code
        self.grace = grace
        self.signum: int | None = None  # the first stop signal
        self.runner = None  # the ServeRunner, while it runs
        self.draining = False  # the runner takes no new runs and waits for those in flight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._deferring = False
        self._pending = False

    def reason(self, waited: bool = True) -> str:
        """The message of a run ended by the stop (its Crashed state's message in Prefect)."""
        name = signal.Signals(self.signum or signal.SIGTERM).name
        when = f"had not finished {self.grace:g} s later" if waited else "was still going at a second stop signal"
        return f"okrsync serve was stopped ({name}) and this run {when}, so serve ended it; the next run syncs again"

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.interrupt)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A section a stop signal may not cut (start a process and record it): the KeyboardInterrupt of a
        signal that arrived meanwhile is raised at its end."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def interrupt(self, signum: int, frame: object = None) -> None:
        """A plain signal handler: outside the runner's loop, stop by KeyboardInterrupt."""
        if self._first_or_exit(signum):
            if self._deferring:
                self._pending = True
                return
            raise KeyboardInterrupt

    def request(self, signum: int) -> None:
        """The loop's handler: stop taking runs and let those in flight finish, up to ``grace`` seconds."""
        if not self._first_or_exit(signum):
            return
        if self.runner is None or not self.runner.stop_taking_runs():
            if self._task is not None:
                self._task.cancel()  # not started yet: nothing is in flight
            return
        self.draining = True
        self._loop.call_later(self.grace, self.end_runs)

    def end_runs(self, waited: bool = True) -> None:
        """Mark the runs still in flight Crashed and end their processes (in the loop)."""
        if self.runner is not None and self._loop is not None:
            self._loop.create_task(self.runner.crash_in_flight(self.reason(waited)))

    def _first_or_exit(self, signum: int) -> bool:
        """True for the first stop signal (arms the watchdog); a second one ends the runs in flight now
        (in the loop) or the process (before it)."""
        if self.signum is not None:
            if self.draining and self._loop is not None:
                self.end_runs(waited=False)
            else:
                self.exit_now(signum)
            return False
        self.signum = signum
        timer = threading.Timer(self.grace + STOP_MARGIN, self.exit_now, args=(signum,))
        timer.daemon = True
        timer.start()
        return True


async def run_until_stopped(runner, stopper: Stopper) -> None:
    """Run ``runner`` (a :class:`okrsync.flows.runner.ServeRunner`, or any runner's main coroutine function, which a
    stop signal cancels) until it returns or a stop signal has stopped it."""
    loop = asyncio.get_running_loop()
    start = runner if not hasattr(runner, "stop_taking_runs") else runner.start
    stopper._loop, stopper.runner = loop, None if start is runner else runner
    stopper._task = task = asyncio.ensure_future(start())  # scheduled, not started yet

    def install() -> None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stopper.request, signum)

    install()  # before the runner's first step: no stop signal ever reaches another handler
    await asyncio.sleep(0)
    install()  # again: Runner.start sets its own SIGTERM handler before its first await
    try:
        await task
    except asyncio.CancelledError:
        if stopper.signum is None:
            raise
    finally:
        stopper._loop = None


def serve_until_stopped(deployments: list, stopper: Stopper, say: Callable[[str], None], verbose: bool = False) -> None:
    """Serve ``deployments`` (from :func:`okrsync.flows.deploy.served`) in this process until a stop signal; a
    logged exception is one line unless ``verbose``."""
    from okrsync.flows.runner import ServeRunner, flow_runs_in_own_sessions, one_line_errors

    runner = ServeRunner(say=say)
    for deployment in deployments:
        runner.add_deployment(deployment)
    if not verbose:
        one_line_errors()
    try:
        with flow_runs_in_own_sessions():
            asyncio.run(run_until_stopped(runner, stopper))
    finally:
        stopper.install()  # closing the loop reset both signals to their defaults: serve still has to stop


def _exit_with_code(signum: int) -> None:
    raise SystemExit(exit_code(signum))
