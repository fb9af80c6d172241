"""One trigger semantics for every sink, the delivery helper's ledger sequence, and the guard."""

from datetime import UTC, datetime

import pytest

from okrsync import retry
from okrsync.delivery import Delivery
from okrsync.digest import run_digest
from okrsync.errors import RemoteError, TransientError
from okrsync.guard import Guard
from okrsync.status import ErrorEntry, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.triggers import fired, kr_events, new_errors

NOW = datetime(2026, 11, 16, tzinfo=UTC)


def kr(status="on_track", stale=False, error=None, id="k") -> KrStatus:
    reason = "old" if stale else None
    return KrStatus(id=id, title=id.upper(), metric="m", kind="increase", due="2026-12-31", expected=0.5,
                    progress=0.5, status=status, stale=stale, stale_reason=reason, error=error)  # fmt: skip


def doc(*krs: KrStatus, errors=()) -> StatusDocument:
    objective = ObjectiveStatus(id="o", title="O", expected=0.5, status="on_track", key_results=list(krs))
    failures = [ErrorEntry(metric=m, message="boom") for m in errors]
    return StatusDocument(cycle="Q4", cycle_start="2026-10-01", cycle_end="2026-12-31",
                          as_of="2026-11-16T00:00:00+01:00", objectives=[objective], errors=failures)  # fmt: skip


@pytest.mark.parametrize(
    ("prev", "now", "events"),
    [
        (None, kr(), set()),
        (None, kr("done"), {"done"}),
        (kr(), kr("at_risk"), {"status_change"}),
        (kr(), kr("done"), {"status_change", "done"}),  # becoming done is a status change
        (kr("done"), kr("done"), set()),
        (kr(), kr(stale=True), {"stale"}),
        (kr(stale=True), kr(stale=True), set()),  # stale fires when it starts, not while it lasts
        (kr(), kr(error="x"), {"error"}),
        (kr(error="x"), kr(error="y"), set()),
        (None, kr(stale=True, error="x"), {"stale", "error"}),
    ],
)
def test_kr_events(prev, now, events):
    assert kr_events(now, prev) == events


def test_fired_filters_by_the_outputs_triggers_and_every_run_always_fires():
    assert fired(kr("done"), kr(), ["stale"]) == set()
    assert fired(kr("done"), kr(), ["status_change"]) == {"status_change"}
    assert fired(kr(), kr(), ["every_run"]) == {"every_run"}
    assert new_errors(doc(errors=["a", "b"]), doc(errors=["a"])) == [ErrorEntry(metric="b", message="boom")]


def test_digest_lists_becoming_done_as_a_change_when_done_is_not_a_trigger():
    digest = run_digest(doc(kr("done")), doc(kr("on_track")), ["status_change"])
    (changed,) = [s for s in digest.sections if s.lines]
    assert changed.title == "Status changes" and "K: done" in changed.lines[0] and "was on track" in changed.lines[0]
    both = run_digest(doc(kr("done")), doc(kr("on_track")), ["status_change", "done"])
    assert [s.title for s in both.sections if s.lines] == ["Done"]  # listed once, under Done


def test_digest_stale_and_error_speak_once_unless_every_run():
    before, now = doc(kr(stale=True), errors=["m"]), doc(kr(stale=True), errors=["m"])
    assert run_digest(now, before, ["stale", "error"]).empty
    started = run_digest(now, doc(kr()), ["stale", "error"])
    assert {s.title for s in started.sections if s.lines} == {"Stale", "Failing sources"}
    always = run_digest(now, before, ["every_run"])
    assert {s.title for s in always.sections if s.lines} == {"Summary", "Stale", "Failing sources"}
    assert not run_digest(doc(kr()), doc(kr()), ["every_run"]).empty  # a message on every run


class Book:
    """An in-memory ledger with the store's semantics."""

    def __init__(self):
        self.rows: dict[tuple, tuple[str, str | None]] = {}
        self.order: list[tuple] = []

    def last_confirmed_entry(self, sink, target):
        confirmed = [k for k in self.order if k[:2] == (sink, target) and self.rows[k][0] == "confirmed"]
        return (confirmed[-1][2], self.rows[confirmed[-1]][1]) if confirmed else None

    def state(self, sink, target, fp):
        return self.rows.get((sink, target, fp), (None,))[0]

    def mark(self, sink, target, fp, state, now, detail=None):
        key = (sink, target, fp)
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)
        self.rows[key] = (state, detail)


def test_idempotent_delivery_skips_unchanged_and_records_each_step():
    book, sent = Book(), []
    d = Delivery(book, "sheet", NOW)
    assert d.idempotent("t", "fp1", lambda: sent.append(1) or "wrote", would="would", unchanged="same")
    assert not d.idempotent("t", "fp1", lambda: sent.append(2) or "wrote", would="would", unchanged="same")
    assert d.idempotent("t", "fp2", lambda: sent.append(3) or "wrote", would="would")
    assert d.idempotent("t", "fp1", lambda: sent.append(4) or "wrote", would="would")  # A -> B -> A writes A again
    assert sent == [1, 3, 4] and d.planned == ["wrote", "same", "wrote", "wrote"]

    def fail():
        assert book.state("sheet", "t", "fp3") == "planned"  # recorded before the request
        raise RemoteError("HTTP 500", kind="fatal", status=500)

    with pytest.raises(RemoteError):
        d.idempotent("t", "fp3", fail, would="would")
    assert book.state("sheet", "t", "fp3") == "failed" and book.last_confirmed_entry("sheet", "t")[0] == "fp1"


def test_dry_run_plans_and_writes_nothing():
    book = Book()
    d = Delivery(book, "chat", NOW, dry_run=True)
    d.idempotent("t", "fp", lambda: pytest.fail("sent"), would="would write")
    d.at_most_once("m", "fp", lambda: pytest.fail("sent"), would="would send", sent="sent", already="already")
    assert d.planned == ["would write", "would send"] and book.rows == {}


def test_at_most_once_marks_sent_first_and_never_repeats_a_maybe_delivered_message():
    book = Book()
    d = Delivery(book, "chat", NOW)

    def lost():
        assert book.state("chat", "digest", "fp") == "sent"
        raise RemoteError("no answer", kind="unsure")

    with pytest.raises(RemoteError):
        d.at_most_once("digest", "fp", lost, would="w", sent="s", already="already")
    assert not d.at_most_once("digest", "fp", lambda: pytest.fail("repeated"), would="w", sent="s", already="already")
    assert d.planned == ["already"]


def test_at_most_once_retries_a_definite_refusal_on_a_later_run():
    book, calls = Book(), []
    d = Delivery(book, "chat", NOW)
    with pytest.raises(RemoteError):
        d.at_most_once("digest", "fp", lambda: (_ for _ in ()).throw(RemoteError("HTTP 400", kind="fatal", status=400)),
                       would="w", sent="s", already="a")  # fmt: skip
    assert book.state("chat", "digest", "fp") == "failed"
    assert d.at_most_once("digest", "fp", lambda: calls.append(1), would="w", sent="s", already="a")
    assert calls == [1] and book.state("chat", "digest", "fp") == "confirmed"


def classify(exc):
    return TransientError("flaky", 0.5, maybe_delivered=True) if isinstance(exc, ConnectionError) else None


def test_guard_retries_what_heals_and_raises_the_rest_at_once(waits):
    guard = Guard(classify, rate=1000)
    answers = iter([ConnectionError(), ConnectionError(), "ok"])

    def call():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert guard.call(call) == "ok" and guard.calls == 3 and sum(w >= 0.5 for w in waits) == 2
    with pytest.raises(KeyError):
        guard.call(lambda: {}["x"])  # not classified: raised as is, not retried
    assert guard.calls == 4


def test_guard_never_repeats_a_maybe_delivered_request_that_is_not_idempotent(waits):
    guard = Guard(classify, rate=1000)
    with pytest.raises(RemoteError, match="may have been processed") as info:
        guard.call(lambda: (_ for _ in ()).throw(ConnectionError()), idempotent=False)
    assert info.value.kind == "unsure" and guard.calls == 1


def test_guard_gives_up_after_bounded_attempts(waits):
    guard = Guard(classify, rate=1000, policy=retry.RetryPolicy(attempts=3))
    with pytest.raises(TransientError):
        guard.call(lambda: (_ for _ in ()).throw(ConnectionError()))
    assert guard.calls == 3
