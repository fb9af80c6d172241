"""Serving deployments in this process until Ctrl-C or SIGTERM, with a bounded shutdown.

Prefect's ``serve()`` left Ctrl-C to ``asyncio.run`` and SIGTERM to its runner, and a stop signal was
not always honoured: in a full test run here one arrived while the deployments were registering and
the process kept serving (seen 40 minutes later). Here a :class:`Stopper` owns both signals from the
start: before the runner's loop as plain handlers (KeyboardInterrupt), then as the loop's own handlers
(cancel the runner, which pauses the served schedules and returns). Whichever it is, the first signal
arms a timer, and ``exit_now`` ends the process if the shutdown takes longer than ``grace`` seconds,
or at a second signal.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopper:
    """The first stop signal starts the grace timer and stops the runner; a second one, or the timer,
    calls ``exit_now(signum)`` (which must end the process).

    Installed with :meth:`install` before Prefect does anything (a Ctrl-C while deployments are being
    registered raises KeyboardInterrupt, as usual, but the timer is armed), then as the event loop's
    own handlers while the runner runs (:func:`run_until_stopped`)."""

    def __init__(self, exit_now: Callable[[int], None], grace: float) -> None:
        self.exit_now = exit_now
        self.grace = grace
        self.asked = False

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.interrupt)

    def interrupt(self, signum: int, frame: object = None) -> None:
        """A plain signal handler: outside the runner's loop, stop by KeyboardInterrupt."""
        self._first_or_exit(signum)
        raise KeyboardInterrupt

    def request(self, signum: int, runner_task: asyncio.Task) -> None:
        """The loop's handler: cancel the runner, which pauses the served schedules and returns."""
        self._first_or_exit(signum)
        runner_task.cancel()

    def _first_or_exit(self, signum: int) -> None:
        if self.asked:
            self.exit_now(signum)
            return
        self.asked = True
        timer = threading.Timer(self.grace, self.exit_now, args=(signum,))
        timer.daemon = True
        timer.start()


async def run_until_stopped(start: Callable[[], Awaitable[None]], stopper: Stopper) -> None:
    """Run ``start()`` (a runner's main coroutine) until it returns or a stop signal cancels it."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(start())  # scheduled, not started yet

    def install() -> None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stopper.request, signum, task)

    install()  # before the runner's first step: no stop signal ever reaches another handler
    await asyncio.sleep(0)
    install()  # again: Runner.start sets its own SIGTERM handler before its first await
    try:
        await task
    except asyncio.CancelledError:
        if not stopper.asked:
            raise


def serve_until_stopped(deployments: list, stopper: Stopper) -> None:
    """Serve ``deployments`` (from :func:`flows.deploy.served`) in this process until a stop signal."""
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    asyncio.run(run_until_stopped(runner.start, stopper))
