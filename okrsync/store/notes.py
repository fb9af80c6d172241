"""Owners' notes on key results (`okrsync note`): what moved, why, and how confident the owner is.

Notes are history: each note is a row of its own, never replaced or merged, on the synced day it comments on
(the caller passes it: the latest stored run's day, docs/checkin.md) with the moment it was written. They are
read oldest first (by day, then by the moment written). `okrsync history` shows them on their days, the
check-in shows those of its period and the latest confidence.

A note is user text, checked here (the command line says so first, with the same words) and stored as written;
whatever shows it escapes it, and nothing here logs it. The limits:

* text: 1 to ``MAX_TEXT`` (2,000) characters once leading and trailing blanks are dropped; line breaks and
  tabs are kept (a Windows line break is read as one), any other control character is refused, and so are
  the bidirectional overrides (a terminal escape sequence or a reversed run of text in a note would reach
  every later check-in and history);
* author: up to ``MAX_AUTHOR`` (200) characters on one line, or none;
* confidence: ``on_track``, ``at_risk`` or ``off_track`` (``on track`` and ``On-Track`` are read alike), or a
  whole number 0 to 10, stored as written (``7``); okrsync.present.checkin maps it to a label to compare.

A note *heard* where okrsync writes (a cell of the Sheets status table, a comment on a KR's Jira issue:
okrsync.sdk.connector.Heard) was not typed for okrsync, so it is made storable rather than refused
(:func:`heard_note`), and it carries an identity: :meth:`Notes.add_heard` keeps it once per namespace, however
often it is heard again (docs/checkin.md, "Notes from Sheets and Jira").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from okrsync.okr.owners import LABELS
from okrsync.store import tables as t
from okrsync.store.engine import Database, aware, utc

MAX_TEXT = 2000
MAX_AUTHOR = 200
KEPT_CONTROLS = frozenset("\n\t")
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))  # Unicode TR9 overrides


@dataclass(frozen=True)
class NoteRow:
    id: int
    kr_id: str
    day: date  # the synced day it comments on
    written_at: datetime
    author: str | None
    confidence: str | None  # a label of LABELS, or "0".."10"
    text: str
    source: str  # where it was written: cli, sheets, jira
    identity: str | None = None  # a heard note's (okrsync.sdk.connector.Heard.identity); None for `okrsync note`
    kept_at: datetime | None = None  # when okrsync stored it: a heard comment's is later than written_at


@dataclass(frozen=True)
class CheckedNote:
    text: str
    author: str | None
    confidence: str | None


def checked_note(text: str, author: str | None = None, confidence: str | None = None) -> CheckedNote:
    """The note as it is stored, or ValueError saying what to change (never quoting the text)."""
    body = text.replace("\r\n", "\n").strip()
    if not body:
        raise ValueError("a note needs some text")
    if len(body) > MAX_TEXT:
        raise ValueError(f"a note holds at most {MAX_TEXT:,} characters, this one has {len(body):,}: shorten it")
    _no_controls(body, "the note", KEPT_CONTROLS)
    who = None if author is None else author.strip() or None
    if who is not None:
        if len(who) > MAX_AUTHOR:
            raise ValueError(f"an author's name holds at most {MAX_AUTHOR} characters, this one has {len(who)}")
        _no_controls(who, "the author's name", frozenset())
    return CheckedNote(body, who, None if confidence is None else parsed_confidence(confidence))


def parsed_confidence(text: str) -> str:
    """on_track, at_risk, off_track (written with a space or a hyphen too, any case) or a whole number 0..10."""
    word = text.strip().lower().replace(" ", "_").replace("-", "_")
    if word in LABELS:
        return word
    if word.isdigit() and word.isascii() and 0 <= int(word) <= 10:
        return str(int(word))
    raise ValueError(f"confidence is on_track, at_risk, off_track or a whole number 0 to 10, not {text.strip()!r}")


def heard_note(text: str, author: str | None = None, confidence: str | None = None) -> CheckedNote:
    """A note written elsewhere (a Sheets cell, a Jira comment), made storable: control characters other than line
    breaks and tabs and the bidirectional overrides dropped, cut to ``MAX_TEXT`` characters (the last one "…"), the
    author's name put on one line and cut to ``MAX_AUTHOR``. ValueError when no text is left or the confidence is
    not one (:func:`parsed_confidence`)."""
    body = _printable(text.replace("\r\n", "\n"), KEPT_CONTROLS).strip()
    if len(body) > MAX_TEXT:
        body = body[: MAX_TEXT - 1].rstrip() + "…"
    who = None if author is None else _printable(" ".join(author.split()), frozenset())[:MAX_AUTHOR].strip()
    return checked_note(body, who or None, confidence)


def _printable(text: str, kept: frozenset[str]) -> str:
    return "".join(c for c in text if c not in BIDI_CONTROLS and (c in kept or unicodedata.category(c) != "Cc"))


def _no_controls(text: str, what: str, kept: frozenset[str]) -> None:
    for position, char in enumerate(text, 1):
        if char in BIDI_CONTROLS or (char not in kept and unicodedata.category(char) == "Cc"):
            raise ValueError(f"{what} holds a control character (U+{ord(char):04X}) at character {position}")


class Notes(Database):
    def add_note(
        self,
        namespace: str,
        cycle: str,
        kr_id: str,
        day: date,
        note: CheckedNote,
        *,
        now: datetime,
        source: str = "cli",
    ) -> NoteRow:
        """Store one note (a CheckedNote: checked_note says what is refused) for ``day``, written ``now``."""
        values = _row(namespace, cycle, kr_id, day, note, written_at=now, kept_at=now) | dict(source=source)
        with self._tx() as conn:
            note_id = conn.execute(t.notes.insert().values(**values).returning(t.notes.c.id)).scalar_one()
        return NoteRow(note_id, kr_id, day, now, note.author, note.confidence, note.text, source, kept_at=now)

    def add_heard(
        self,
        namespace: str,
        cycle: str,
        kr_id: str,
        day: date,
        note: CheckedNote,
        *,
        now: datetime,
        source: str,
        identity: str,
        kept_at: datetime | None = None,
    ) -> NoteRow | None:
        """Store a heard note (:func:`heard_note`) unless a note with its ``identity`` is already kept in the
        namespace: then None, and nothing is written (one INSERT … ON CONFLICT DO NOTHING: two runs at once keep
        it once)."""
        # ``now`` is when it was written; kept_at when the sync read it
        values = _row(namespace, cycle, kr_id, day, note, written_at=now, kept_at=kept_at or now)
        values |= dict(source=source, identity=identity)
        insert = self._insert(t.notes).values(**values)
        stmt = insert.on_conflict_do_nothing(index_elements=["namespace", "identity"]).returning(t.notes.c.id)
        with self._tx() as conn:
            note_id = conn.execute(stmt).scalar_one_or_none()
        if note_id is None:
            return None
        return NoteRow(
            note_id, kr_id, day, now, note.author, note.confidence, note.text, source, identity, kept_at or now
        )

    def heard_identities(self, namespace: str) -> set[str]:
        """The identities of the heard notes kept in the namespace (any cycle): what need not be heard again."""
        n = t.notes.c
        q = sa.select(n.identity).where(n.namespace == namespace, n.identity.is_not(None))
        with self._tx() as conn:
            return set(conn.execute(q).scalars())

    def notes(
        self, namespace: str, cycle: str, *, kr_id: str | None = None, until: date | None = None
    ) -> list[NoteRow]:
        """The notes of a cycle (of one KR; up to a day), oldest first: by day, then by the moment written."""
        n = t.notes.c
        q = sa.select(
            n.id, n.kr_id, n.day, n.written_at, n.author, n.confidence, n.body, n.source, n.identity, n.kept_at
        )
        q = q.where(n.namespace == namespace, n.cycle == cycle)
        if kr_id is not None:
            q = q.where(n.kr_id == kr_id)
        if until is not None:
            q = q.where(n.day <= until)
        with self._tx() as conn:
            rows = conn.execute(q.order_by(n.day, n.written_at, n.id)).all()
        return [NoteRow(r[0], r[1], r[2], aware(r[3]), *r[4:9], aware(r[9]) if r[9] else None) for r in rows]


def _row(
    namespace: str, cycle: str, kr_id: str, day: date, note: CheckedNote, *, written_at: datetime, kept_at: datetime
) -> dict:
    """The notes table's columns every note fills, whatever its source."""
    where = dict(namespace=namespace, cycle=cycle, kr_id=kr_id, day=day)
    return where | dict(
        written_at=utc(written_at), kept_at=utc(kept_at), author=note.author, confidence=note.confidence, body=note.text
    )


def with_notes(rows: list[dict], notes: Sequence[NoteRow]) -> list[dict]:
    """A KR's per-day history rows, each with the notes of its day (``notes``, oldest first); a day with notes
    but no stored result (its run deleted, or none synced yet) becomes a row of its own: ``day`` and ``notes``."""
    by_day: dict[date, list[NoteRow]] = {}
    for note in notes:
        by_day.setdefault(note.day, []).append(note)
    out = [{**row, "notes": by_day.pop(row["day"], [])} for row in rows]
    out += [{"day": day, "notes": of_day} for day, of_day in by_day.items()]
    return sorted(out, key=lambda row: row["day"])
