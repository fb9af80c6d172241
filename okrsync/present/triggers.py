"""When an output speaks up, decided once for every sink (pure: two documents in, events out).

    status_change  the KR's status differs from the previous run's (becoming done counts)
    done           the KR became done on this run
    stale          the KR became stale on this run (not on every run while it stays stale)
    error          the KR's metric started failing on this run (likewise once, when it starts)
    suspect        the KR's new value was held back by its metric's data contract (once, when it starts);
                   a suspect KR fires nothing else: no number of it is written back until reviewed
    every_run      always: the output speaks on every run

A KR with no previous run has no status change; it can still be done, stale or failing.

One more trigger is not about a run: ``checkin`` (``on: [checkin]``) asks an output to publish the weekly
check-in when it is published (``okrsync checkin --publish``, ``schedule.checkin``; okrsync.sync.checkin_publish).
Only the outputs that can publish one take it (:data:`OutputTrigger`: slack, teams, webhook, report); a key that
takes run triggers only (:data:`Trigger`, Jira's ``comment_on``) refuses it with a message that says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

from okrsync.okr.results import Status
from okrsync.okr.status import ErrorEntry, KrStatus, StatusDocument

RunTrigger = Literal["status_change", "done", "stale", "error", "suspect", "every_run"]
TRIGGERS: tuple[str, ...] = get_args(RunTrigger)
CHECKIN = "checkin"
CHECKIN_OUTPUTS = ("slack", "teams", "webhook", "report")  # the built-in outputs that publish the check-in


def _no_checkin(value: object) -> object:
    if value == CHECKIN:
        outputs = ", ".join(CHECKIN_OUTPUTS[:-1]) + f" and {CHECKIN_OUTPUTS[-1]}"
        raise ValueError(
            f"this output cannot publish the check-in: the {outputs} outputs can (on: [checkin]); "
            f"here the triggers are {', '.join(TRIGGERS)}"
        )
    return value


Trigger = Annotated[RunTrigger, BeforeValidator(_no_checkin)]  # run triggers only: `checkin` is refused, saying why
OutputTrigger = Literal[RunTrigger, "checkin"]  # an output that also publishes the check-in (chat's `on:`)
# an output that writes the whole state (report, webhook): after every sync (the default), and/or the check-in
StateTrigger = Literal["every_run", "checkin"]


def publishes_checkin(output: object) -> bool:
    """Whether an output's settings ask for the check-in (``on:`` holds ``checkin``)."""
    return CHECKIN in (getattr(output, "on", None) or ())


def kr_events(kr: KrStatus, prev: KrStatus | None) -> set[str]:
    """The edge events of one KR between the previous run and this one."""
    events = set()
    if prev is not None and prev.status != kr.status:
        events.add("status_change")
    if kr.status == Status.DONE and (prev is None or prev.status != Status.DONE):
        events.add("done")
    if kr.stale and not (prev is not None and prev.stale):
        events.add("stale")
    if kr.error and not (prev is not None and prev.error):
        events.add("error")
    if kr.suspect and not (prev is not None and prev.suspect):
        events.add("suspect")
    return events


def fired(kr: KrStatus, prev: KrStatus | None, triggers: Iterable[str]) -> set[str]:
    """Which of an output's ``triggers`` fire for this KR on this run."""
    wanted = set(triggers)
    events = kr_events(kr, prev) & wanted
    if kr.suspect:
        return events & {"suspect"}
    return events | {"every_run"} if "every_run" in wanted else events


def previous_krs(previous: StatusDocument | None) -> dict[str, KrStatus]:
    return {kr.id: kr for _, kr in previous.key_results()} if previous else {}


def new_errors(doc: StatusDocument, previous: StatusDocument | None) -> list[ErrorEntry]:
    """Metric failures that started on this run."""
    before = {e.metric for e in previous.errors} if previous else set()
    return [e for e in doc.errors if e.metric not in before]
