"""Delivery: the write-ledger sequence every sink follows, written once.

A sink describes a write (a target, a fingerprint of what it would send, a function that sends)
and :class:`Delivery` decides whether to send, records each step in the ledger and says what
happened in a human line. Two modes:

``idempotent``   the write may be repeated safely (a Sheets table, a Jira field, a webhook with an
                 Idempotency-Key, a Jira comment whose send first looks for its marker).
                 claimed ``planned`` -> confirmed (or failed); skipped when the fingerprint is the
                 target's last confirmed write, so a re-run with the same data sends nothing.
``at_most_once`` the write cannot be checked afterwards (a chat message). Claimed ``sent`` before
                 the request; skipped whenever that fingerprint was ever claimed, so a retry, a
                 re-run or a crash never posts twice. A definite refusal (4xx) is marked failed so a
                 later run may try again; a maybe-delivered failure is ``unsure`` and reported.

Both claim the write in the store before sending (see okrsync.store.ledger): the database lets one
run win, so two runs at once (a cron run next to a manual one, two workers) never both send.

Sinks never import the store: they get a Delivery, and the ledger behind it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


def fingerprint(payload: object) -> str:
    """A stable hash of what a sink would write: equal payloads, equal fingerprints."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def delivery_key(fp: str, base: int) -> str:
    """The idempotency key of one write: its content (``fp``) and the confirmed write it follows (``base``,
    the ledger's id of the target's last confirmed write; 0 for the first). A retry of the same write (a
    crash, a lost answer, a claim taken over) sends the same key, so a receiver that honours keys acts
    once; the same content sent again later, over another write (A, then B, then A again; a re-run after
    `okrsync runs delete`), is a new write with a new key."""
    return fp if base == 0 else fingerprint([fp, base])


CLAIM_LEASE = timedelta(minutes=15)  # longer than any send's retries and deadlines: a claim this old was abandoned


class LedgerEntry(Protocol):
    """One row of the ledger as a delivery reads it (the store's ``okrsync.store.ledger.Entry``)."""

    @property
    def id(self) -> int: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def state(self) -> str: ...  # planned | sent | confirmed | failed | unsure
    @property
    def run_id(self) -> int | None: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def detail(self) -> str | None: ...


class LedgerBook(Protocol):
    """What the store's ledger offers a delivery (see okrsync.store.ledger)."""

    run_id: int | None

    def last_confirmed(self, sink: str, target: str) -> LedgerEntry | None: ...

    def entry(self, sink: str, target: str, fp: str, base: int = 0) -> LedgerEntry | None: ...

    def claim(
        self,
        sink: str,
        target: str,
        fp: str,
        *,
        base: int,
        state: str,
        now: datetime,
        reclaim_before: datetime | None = None,
    ) -> int | None: ...

    def settle(
        self, entry_id: int, state: str, now: datetime, detail: str | None = None, *, only_from: str = ""
    ) -> bool: ...


@dataclass
class Delivery:
    ledger: LedgerBook
    sink: str  # the sink's ledger key
    now: datetime
    dry_run: bool = False
    planned: list[str] = field(default_factory=list)  # what was (or would be) written, one line each
    problems: list[str] = field(default_factory=list)  # what may not have arrived: reported as output errors

    def last(self, target: str) -> tuple[str, str | None] | None:
        """(fingerprint, detail) of the newest confirmed write to ``target``."""
        found = self.ledger.last_confirmed(self.sink, target)
        return (found.fingerprint, found.detail) if found else None

    def note(self, line: str) -> None:
        self.planned.append(line)

    def idempotent(
        self,
        target: str,
        fp: str,
        send: Callable[[str], str | None],
        *,
        would: str,
        unchanged: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Send unless ``fp`` is the target's last confirmed write or another run holds the same claim.
        ``send`` gets the write's :func:`delivery_key` and returns the line to log (None: nothing needed
        writing after all). True when sent.

        A claim left ``planned`` by a run that died is taken over after CLAIM_LEASE (the send may be
        repeated safely: that is what idempotent means here)."""
        last = self.ledger.last_confirmed(self.sink, target)
        if last and last.fingerprint == fp:
            if unchanged:
                self.note(unchanged)
            return False
        if self.dry_run:
            self.note(would)
            return False
        base = last.id if last else 0
        claim = self.ledger.claim(
            self.sink, target, fp, base=base, state="planned", now=self.now, reclaim_before=self.now - CLAIM_LEASE
        )
        if claim is None:
            self.note(self._claimed_elsewhere(target, fp, base))
            return False
        try:
            line = send(delivery_key(fp, base))
        except Exception:
            self.ledger.settle(claim, "failed", self.now)
            raise
        self.ledger.settle(claim, "confirmed", self.now, detail=detail)
        if line:
            self.note(line)
        return True

    def at_most_once(
        self, target: str, fp: str, send: Callable[[], None], *, would: str, sent: str, already: str
    ) -> bool:
        """Send unless ``fp`` was ever claimed for ``target``; never twice, even after a crash. A claim
        that never got its answer (the run died between claiming and the reply) is reported once as a
        problem, never re-sent."""
        earlier = self.ledger.entry(self.sink, target, fp)
        if earlier and earlier.state != "failed":
            self._report_if_lost(earlier, target, already)
            return False
        if self.dry_run:
            self.note(would)
            return False
        claim = self.ledger.claim(self.sink, target, fp, base=0, state="sent", now=self.now)
        if claim is None:  # another run claimed it between our look and our claim
            self.note(already)
            return False
        try:
            send()
        except Exception as exc:
            if getattr(exc, "maybe_delivered", True) is False:  # a definite refusal was not delivered
                self.ledger.settle(claim, "failed", self.now, detail=str(exc))
            else:
                self.ledger.settle(claim, "unsure", self.now, detail=str(exc))
            raise
        self.ledger.settle(claim, "confirmed", self.now)
        self.note(sent)
        return True

    def _report_if_lost(self, claim: LedgerEntry, target: str, already: str) -> None:
        """A ``sent`` claim older than the lease belongs to a run that died before the answer: say so,
        once (the state moves to ``unsure``, atomically, so two runs do not both report it)."""
        if claim.state == "sent" and claim.updated_at < self.now - CLAIM_LEASE:
            if self.ledger.settle(claim.id, "unsure", self.now, "the run stopped before the answer", only_from="sent"):
                self.problems.append(
                    f"{target} may not have arrived: run {claim.run_id} stopped after sending it and before the "
                    "answer; not sent again, so it can never arrive twice"
                )
                return
        self.note(already)

    def _claimed_elsewhere(self, target: str, fp: str, base: int) -> str:
        holder = self.ledger.entry(self.sink, target, fp, base)
        if holder and holder.state == "confirmed":
            return f"{self.sink}: {target} was just written by run {holder.run_id}; not written twice"
        run = f"run {holder.run_id}" if holder and holder.run_id else "another run"
        return f"{self.sink}: {target} is being written by {run}; not written twice"
