"""One trigger semantics for every sink, the delivery helper's ledger sequence, and the guard."""

from datetime import UTC, datetime

import pytest

from okrsync.errors import RemoteError, TransientError
from okrsync.okr.status import ErrorEntry, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present.digest import run_digest
from okrsync.present.triggers import fired, kr_events, new_errors
from okrsync.sdk import retry
from okrsync.sdk.delivery import Delivery
from okrsync.sdk.guard import Guard

NOW = datetime(2026, 11, 16, tzinfo=UTC)


def kr(status="on_track", stale=False, error=None, id="k") -> KrStatus:
    reason = "old" if stale else None
    return KrStatus(
        id=id,
        title=id.upper(),
        metric="m",
        kind="increase",
        due="2026-12-31",
        expected=0.5,
        progress=0.5,
        status=status,
        stale=stale,
        stale_reason=reason,
        error=error,
    )


def doc(*krs: KrStatus, errors=()) -> StatusDocument:
    objective = ObjectiveStatus(id="o", title="O", expected=0.5, status="on_track", key_results=list(krs))
    failures = [ErrorEntry(metric=m, message="boom") for m in errors]
    return StatusDocument(
        cycle="Q4",
        cycle_start="2026-10-01",
        cycle_end="2026-12-31",
        as_of="2026-11-16T00:00:00+01:00",
        objectives=[objective],
        errors=failures,
    )


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


@pytest.fixture
def book(tmp_path):
    """The store's real ledger (SQLite), as a delivery sees it."""
    from okrsync.store import Store

    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store.ledger("ns", None)
    store.close()


def test_idempotent_delivery_skips_unchanged_and_records_each_step(book):
    sent = []
    d = Delivery(book, "sheet", NOW)
    assert d.idempotent("t", "fp1", lambda _key: sent.append(1) or "wrote", would="would", unchanged="same")
    assert not d.idempotent("t", "fp1", lambda _key: sent.append(2) or "wrote", would="would", unchanged="same")
    assert d.idempotent("t", "fp2", lambda _key: sent.append(3) or "wrote", would="would")
    assert d.idempotent("t", "fp1", lambda _key: sent.append(4) or "wrote", would="would")  # A -> B -> A writes A again
    assert sent == [1, 3, 4] and d.planned == ["wrote", "same", "wrote", "wrote"]
    base = book.last_confirmed("sheet", "t").id

    def fail(_key):
        assert book.state("sheet", "t", "fp3", base) == "planned"  # claimed before the request
        raise RemoteError("HTTP 500", kind="fatal", status=500)

    with pytest.raises(RemoteError):
        d.idempotent("t", "fp3", fail, would="would")
    assert book.state("sheet", "t", "fp3", base) == "failed" and book.last_confirmed("sheet", "t").fingerprint == "fp1"
    assert d.idempotent("t", "fp3", lambda _key: sent.append(5) or "wrote", would="would")  # a failed claim is retried
    assert sent[-1] == 5


@pytest.mark.reliability
def test_the_delivery_key_is_the_write_not_just_its_content(book):
    """A -> B -> A: the second A is a new write with a new key (a receiver that honours keys must act on
    it); a retry of one write keeps its key (the receiver drops the repeat)."""
    keys: list[str] = []
    d = Delivery(book, "hook", NOW)
    for fp in ("A", "B", "A"):
        d.idempotent("t", fp, lambda key: keys.append(key) or "sent", would="w")
    assert keys[0] == "A" and len(set(keys)) == 3  # the first write of A keeps the plain fingerprint
    base = book.last_confirmed("hook", "t").id

    def lost(key):
        keys.append(key)
        raise RemoteError("timed out", kind="transient")

    with pytest.raises(RemoteError):
        d.idempotent("t", "C", lost, would="w")
    d.idempotent("t", "C", lambda key: keys.append(key) or "sent", would="w")  # the retry after the failure
    assert keys[-1] == keys[-2] != "C" and book.last_confirmed("hook", "t").id != base


def test_a_claim_held_by_another_run_is_not_sent_until_its_lease_runs_out(book):
    from okrsync.sdk.delivery import CLAIM_LEASE

    assert book.claim("sheet", "t", "fp", base=0, state="planned", now=NOW) is not None  # a run that died
    d = Delivery(book, "sheet", NOW + CLAIM_LEASE / 2)
    assert not d.idempotent("t", "fp", lambda _key: pytest.fail("sent while held"), would="w")
    assert "being written by another run" in d.planned[-1]
    later = Delivery(book, "sheet", NOW + CLAIM_LEASE * 2)
    assert later.idempotent("t", "fp", lambda _key: "wrote", would="w")  # abandoned: taken over
    assert book.last_confirmed("sheet", "t").fingerprint == "fp"


def test_dry_run_plans_and_writes_nothing(book):
    d = Delivery(book, "chat", NOW, dry_run=True)
    d.idempotent("t", "fp", lambda _key: pytest.fail("sent"), would="would write")
    d.at_most_once("m", "fp", lambda: pytest.fail("sent"), would="would send", sent="sent", already="already")
    assert d.planned == ["would write", "would send"] and book.entry("chat", "m", "fp") is None


def test_at_most_once_claims_first_and_never_repeats_a_maybe_delivered_message(book):
    d = Delivery(book, "chat", NOW)

    def lost():
        assert book.state("chat", "digest", "fp") == "sent"
        raise RemoteError("no answer", kind="unsure")

    with pytest.raises(RemoteError):
        d.at_most_once("digest", "fp", lost, would="w", sent="s", already="already")
    assert book.state("chat", "digest", "fp") == "unsure"
    assert not d.at_most_once("digest", "fp", lambda: pytest.fail("repeated"), would="w", sent="s", already="already")
    assert d.planned == ["already"]


def test_a_message_whose_run_died_after_claiming_is_reported_once_and_never_resent(book):
    from okrsync.sdk.delivery import CLAIM_LEASE

    book.claim("chat", "digest", "fp", base=0, state="sent", now=NOW)  # kill -9 between claim and answer
    soon = Delivery(book, "chat", NOW + CLAIM_LEASE / 2)  # maybe still in flight: quiet
    assert not soon.at_most_once("digest", "fp", lambda: pytest.fail("resent"), would="w", sent="s", already="a")
    assert soon.problems == []
    later = Delivery(book, "chat", NOW + CLAIM_LEASE * 2)
    assert not later.at_most_once("digest", "fp", lambda: pytest.fail("resent"), would="w", sent="s", already="a")
    assert len(later.problems) == 1 and "digest may not have arrived" in later.problems[0]
    again = Delivery(book, "chat", NOW + CLAIM_LEASE * 3)
    again.at_most_once("digest", "fp", lambda: pytest.fail("resent"), would="w", sent="s", already="a")
    assert again.problems == [] and again.planned == ["a"]  # reported once


def test_at_most_once_retries_a_definite_refusal_on_a_later_run(book):
    calls = []
    d = Delivery(book, "chat", NOW)
    with pytest.raises(RemoteError):
        d.at_most_once(
            "digest",
            "fp",
            lambda: (_ for _ in ()).throw(RemoteError("HTTP 400", kind="fatal", status=400)),
            would="w",
            sent="s",
            already="a",
        )
    assert book.state("chat", "digest", "fp") == "failed"
    assert d.at_most_once("digest", "fp", lambda: calls.append(1), would="w", sent="s", already="a")
    assert calls == [1] and book.state("chat", "digest", "fp") == "confirmed"


def classify(exc):
    return TransientError("flaky", 0.5, maybe_delivered=True) if isinstance(exc, ConnectionError) else None


def test_guard_retries_what_heals_and_raises_the_rest_at_once(waits):
    guard = Guard(classify)
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
    guard = Guard(classify)
    with pytest.raises(RemoteError, match="may have been processed") as info:
        guard.call(lambda: (_ for _ in ()).throw(ConnectionError()), idempotent=False)
    assert info.value.kind == "unsure" and guard.calls == 1


def test_guard_gives_up_after_bounded_attempts(waits):
    guard = Guard(classify, policy=retry.RetryPolicy(attempts=3))
    with pytest.raises(TransientError):
        guard.call(lambda: (_ for _ in ()).throw(ConnectionError()))
    assert guard.calls == 3


def test_a_429_without_retry_after_slows_the_whole_connection_then_it_recovers(waits):
    """Another thread of the same connection waits out the back-off too; after an answer, the pace is back."""
    import threading

    guard = Guard(classify, policy=retry.RetryPolicy(attempts=5, base_delay=0.5, max_delay=30))
    answers = iter([TransientError("HTTP 429", throttled=True), TransientError("HTTP 429", throttled=True), "ok"])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    worker = threading.Thread(target=lambda: guard.call(flaky))
    worker.start()
    worker.join()
    assert guard._throttled == 0  # recovered after the answer
    waits.clear()
    guard.pacer.acquire()  # another thread's request: held back by the last pause (0.5 * 2**2 = 2 s)
    assert waits and 1.9 <= waits[0] <= 2.0
