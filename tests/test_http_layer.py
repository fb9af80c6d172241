"""The shared httpx layer with respx: error classes, Retry-After, idempotency, pagination, redaction."""

import io
import logging
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from okrsync.errors import TransientError
from okrsync.sdk import retry
from okrsync.sdk.http import REDACTOR, ApiClient, HttpError, install_log_redaction, paginate, secret, tls_context
from okrsync.sdk.retry import Pacer, retry_after_seconds
from okrsync.testing.emulator import TestCertificates

BASE = "https://api.example.test"


pytestmark = pytest.mark.usefixtures("waits")  # retry and pacing waits are recorded, not slept


def client(**kw) -> ApiClient:
    return ApiClient(BASE, **kw)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, "bad_config", "check the token named"),
        (403, "bad_config", "permission or scope"),
        (404, "bad_config", "check the object name"),
        (400, "fatal", "HTTP 400: bad filter"),
        (422, "fatal", "HTTP 422"),
    ],
)
@respx.mock
def test_errors_are_classified_with_plain_messages(status, kind, words):
    respx.get(f"{BASE}/x").respond(status, json={"message": "bad filter"} if status == 400 else {})
    with pytest.raises(HttpError) as info:
        client(token_hint="the token named in connections.crm.token").json("GET", "/x")
    assert info.value.kind == kind and words in info.value.message and info.value.status == status
    assert respx.calls.call_count == 1  # never retried


@respx.mock
def test_retry_after_seconds_and_http_date_then_success(waits):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=8), usegmt=True)
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(500),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    assert client().json("GET", "/x") == {"ok": 1}
    assert route.call_count == 4
    slept = [w for w in waits if w > 0.01]
    assert 4.0 <= slept[0] <= 4.1 and 6.0 <= slept[1] <= 8.1
    assert 1.0 <= slept[2] <= 2.0  # third attempt: exponential backoff (2 s) with equal jitter


@respx.mock
def test_retries_are_bounded():
    route = respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": "1"})
    with pytest.raises(HttpError) as info:
        client().json("GET", "/x")
    assert info.value.kind == "retryable" and "gave up after retries: HTTP 429" in info.value.message
    assert route.call_count == retry.RetryPolicy().attempts


def test_retry_jitter_leaves_the_global_random_state_alone(waits):
    """A seeded program (or Hypothesis, which checks) keeps its random sequence while okrsync retries."""
    import random

    random.seed(7)
    state = random.getstate()
    attempts = iter([TransientError("HTTP 503"), TransientError("HTTP 429", retry_after=1), None])

    def flaky() -> str:
        failure = next(attempts)
        if failure:
            raise failure
        return "ok"

    assert retry.RetryPolicy().call(flaky) == "ok"
    assert len([w for w in waits if w > 0]) == 2 and random.getstate() == state


def test_a_failure_that_stops_the_guard_sends_nothing_more():
    """``stops`` (refused credentials): the failing call raises it, and later calls raise it without running."""
    from okrsync.sdk.guard import Guard

    guard = Guard(lambda exc: None, stops=lambda exc: isinstance(exc, PermissionError))
    sent: list[str] = []

    def refused() -> str:
        sent.append("x")
        raise PermissionError("HTTP 401")

    with pytest.raises(PermissionError):
        guard.call(refused)
    with pytest.raises(PermissionError):
        guard.call(lambda: sent.append("y") or "ok")
    assert sent == ["x"] and guard.calls == 1
    assert Guard(lambda exc: None).call(lambda: "ok") == "ok"


def test_retry_after_parsing():
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Sat, 21 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sat, 21 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


@respx.mock
def test_non_idempotent_post_is_not_retried_after_a_lost_answer():
    route = respx.post(f"{BASE}/hook").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(HttpError, match="may have been processed"):
        client().request("POST", "/hook", json={}, idempotent=False)
    assert route.call_count == 1
    route = respx.post(f"{BASE}/hook2").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    client().request("POST", "/hook2", json={}, idempotent=False)  # never arrived: safe to retry
    assert route.call_count == 2
    route = respx.post(f"{BASE}/hook3").respond(502)
    with pytest.raises(HttpError, match="HTTP 502; not retried"):
        client().request("POST", "/hook3", json={}, idempotent=False)
    assert route.call_count == 1


@respx.mock
def test_json_expected_but_html_received():
    respx.get(f"{BASE}/x").respond(200, text="<html>login</html>", headers={"content-type": "text/html"})
    with pytest.raises(HttpError, match="expected JSON, got text/html"):
        client().json("GET", "/x")


def test_pagination_follows_cursors_and_detects_loops():
    pages = {None: ([1, 2], "a"), "a": ([3], "b"), "b": ([4], None)}
    assert list(paginate(lambda c: pages[c])) == [1, 2, 3, 4]
    looping = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}
    with pytest.raises(HttpError, match="same page cursor twice"):
        list(paginate(lambda c: looping[c]))
    with pytest.raises(HttpError, match="more than 3 pages"):
        list(paginate(lambda c: ([c], (c or 0) + 1), max_pages=3))


@respx.mock
def test_secrets_never_reach_messages_or_logs(monkeypatch, caplog):
    monkeypatch.setenv("CANARY_TOKEN", "canary-tok-5f1e9a")
    token = secret("${CANARY_TOKEN}", "connections.crm.token")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        install_log_redaction()  # adds the redacting filter to every root handler
        caplog.set_level(logging.DEBUG)
        respx.get(f"{BASE}/deals").respond(400, json={"message": f"bad request for token {token}"})
        with pytest.raises(HttpError) as info:
            api = ApiClient(BASE, params={"api_token": token}, headers={"Authorization": f"Bearer {token}"})
            api.json("GET", "/deals")
        assert token not in info.value.message and "bad request for token ***" in info.value.message
        logging.getLogger("okrsync.test").warning("calling %s/deals?api_token=%s", BASE, token)
    finally:
        logging.getLogger().removeHandler(handler)
    assert "calling https://api.example.test/deals?api_token=***" in stream.getvalue()
    assert token not in stream.getvalue()
    assert not [r for r in caplog.records if r.name.startswith("httpx")]  # httpx's INFO URL log is silenced
    assert REDACTOR(f"{BASE}/x?api_token=abc123456&x=1") == f"{BASE}/x?api_token=***&x=1"


def test_pacer_spaces_requests(monkeypatch):
    clock = [0.0]
    waits: list[float] = []
    monkeypatch.setattr(retry, "monotonic", lambda: clock[0])
    monkeypatch.setattr(retry, "sleep", lambda s: (waits.append(s), clock.__setitem__(0, clock[0] + s)))
    pacer = Pacer([(4, 1.0)], margin=0)  # at most 4 in any second: a burst of 4, then the window
    for _ in range(9):
        pacer.acquire()
    assert waits == pytest.approx([1.0, 1.0])  # starts 0,0,0,0, 1,1,1,1, 2: the 5th and the 9th waited
    assert clock[0] == pytest.approx(2.0)
    kept_apart = Pacer([(4, 1.0)])  # the default keeps 50 ms from each window's edge (arrival jitter)
    for _ in range(5):
        kept_apart.acquire()
    assert clock[0] == pytest.approx(3.05)


def test_pacer_keeps_every_window_and_pauses_when_the_server_says(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(retry, "monotonic", lambda: clock[0])
    monkeypatch.setattr(retry, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    pacer = Pacer([(5, 1.0), (8, 10.0)], margin=0)  # HubSpot-style: 5 a second and 8 in ten seconds
    starts = []
    for _ in range(10):
        pacer.acquire()
        starts.append(round(clock[0], 3))
    assert starts == [0, 0, 0, 0, 0, 1, 1, 1, 10, 10]  # the second window holds the 9th back to t=10
    pacer.pause(30)  # a Retry-After of 30 s: nobody starts before t=40
    pacer.acquire()
    assert clock[0] == pytest.approx(40.0)
    unpaced = Pacer([])
    before = clock[0]
    for _ in range(100):
        unpaced.acquire()
    assert clock[0] == before  # no windows: no pacing (a JSON API without rate_limit)


def test_clients_opened_at_once_share_one_tls_context_per_ca_setting(monkeypatch, tmp_path):
    """A sync opens a client per connection at the same moment; each used to read the CA bundle itself
    (40-80 ms each, bench/sources_bench.py). One context per setting, built once even when asked at once."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    start, made = threading.Barrier(6), []

    def open_client() -> None:
        start.wait()
        made.append(ApiClient("https://api.x.test").client._transport._pool._ssl_context)

    threads = [threading.Thread(target=open_client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(context) for context in made}) == 1
    certifi_context = made[0]
    ca = TestCertificates.make(tmp_path).ca_file
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # what msal and httpx trust: a test CA (emulators over HTTPS)
    own = ApiClient("https://api.x.test").client._transport._pool._ssl_context
    assert own is not certifi_context and own is tls_context(str(ca), None)
