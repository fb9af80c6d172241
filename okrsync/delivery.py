"""Delivery: the write-ledger sequence every sink follows, written once.

A sink describes a write (a target, a fingerprint of what it would send, a function that sends)
and :class:`Delivery` decides whether to send, records each step in the ledger and says what
happened in a human line. Two modes:

``idempotent``   the write may be repeated safely (a Sheets table, a Jira field, a webhook with an
                 Idempotency-Key, a Jira comment whose send first looks for its marker).
                 planned -> confirmed (or failed); skipped when the fingerprint is the target's
                 last confirmed write, so a re-run with the same data sends nothing.
``at_most_once`` the write cannot be checked afterwards (a chat message). Marked ``sent`` before
                 the request; skipped whenever that fingerprint was ever sent or confirmed, so a
                 retry, a re-run or a crash never posts twice. A definite refusal (4xx) is marked
                 failed so a later run may try again; a maybe-delivered failure stays ``sent``.

Sinks never import the store: they get a Delivery, and the ledger behind it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


def fingerprint(payload: object) -> str:
    """A stable hash of what a sink would write: equal payloads, equal fingerprints."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class LedgerBook(Protocol):
    """What the store's ledger offers a delivery (see okrsync.store.ledger)."""

    def last_confirmed_entry(self, sink: str, target: str) -> tuple[str, str | None] | None: ...

    def state(self, sink: str, target: str, fp: str) -> str | None: ...

    def mark(self, sink: str, target: str, fp: str, state: str, now: datetime, detail: str | None = None) -> None: ...


@dataclass
class Delivery:
    ledger: LedgerBook
    sink: str  # the sink's ledger key
    now: datetime
    dry_run: bool = False
    planned: list[str] = field(default_factory=list)  # what was (or would be) written, one line each

    def last(self, target: str) -> tuple[str, str | None] | None:
        """(fingerprint, detail) of the newest confirmed write to ``target``."""
        return self.ledger.last_confirmed_entry(self.sink, target)

    def note(self, line: str) -> None:
        self.planned.append(line)

    def idempotent(
        self,
        target: str,
        fp: str,
        send: Callable[[], str | None],
        *,
        would: str,
        unchanged: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Send unless ``fp`` is the target's last confirmed write. ``send`` returns the line to log
        (None: nothing needed writing after all). True when something was sent."""
        last = self.last(target)
        if last and last[0] == fp:
            if unchanged:
                self.note(unchanged)
            return False
        if self.dry_run:
            self.note(would)
            return False
        self.ledger.mark(self.sink, target, fp, "planned", self.now)
        try:
            line = send()
        except Exception:
            self.ledger.mark(self.sink, target, fp, "failed", self.now)
            raise
        self.ledger.mark(self.sink, target, fp, "confirmed", self.now, detail=detail)
        if line:
            self.note(line)
        return True

    def at_most_once(
        self, target: str, fp: str, send: Callable[[], None], *, would: str, sent: str, already: str
    ) -> bool:
        """Send unless ``fp`` was ever sent to ``target``; never twice, even after a crash."""
        if self.ledger.state(self.sink, target, fp) in ("sent", "confirmed"):
            self.note(already)
            return False
        if self.dry_run:
            self.note(would)
            return False
        self.ledger.mark(self.sink, target, fp, "sent", self.now)
        try:
            send()
        except Exception as exc:
            if getattr(exc, "maybe_delivered", True) is False:  # a definite refusal was not delivered
                self.ledger.mark(self.sink, target, fp, "failed", self.now, detail=str(exc))
            raise
        self.ledger.mark(self.sink, target, fp, "confirmed", self.now)
        self.note(sent)
        return True
