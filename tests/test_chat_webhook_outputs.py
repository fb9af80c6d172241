"""Slack, Teams and webhook outputs against a local receiver: digests, at-most-once, signatures."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from okrsync.config.load import load_config
from okrsync.store import Store
from okrsync.sync.sequence import sync
from okrsync.testing import Fault
from tests.emulators.crm import HookReceiver
from tests.helpers import oslo, write_csv

MONDAY = oslo(2026, 11, 16)
SLACK_PATH = "/services/T0CANARY/B0CANARY/canarysecretpath123"
HOOK_SECRET = "canary-hmac-secret-55"


pytestmark = pytest.mark.usefixtures("waits")  # retry and pacing waits are recorded, not slept


@pytest.fixture
def receiver():
    r = HookReceiver().start()
    yield r
    r.stop()


def team(write_config, tmp_path, receiver, outputs: str, value: int = 10, expect: str = ""):
    write_csv(tmp_path / "kpi.csv", f"n\n{value}\n")
    return load_config(
        write_config(f"""
        connections: {{files: {{type: csv, root: .}}}}
        metrics:
          n: {{connection: files, path: kpi.csv, column: n{expect}}}
          gone: {{connection: files, path: x.csv, column: n}}
        objectives:
          - id: o
            title: Grow
            key_results:
              - {{id: signups, title: Signups to 100, metric: n, start: 0, target: 100}}
        kpis: [{{id: g, metric: gone, healthy: {{min: 0}}}}]
        outputs:
        {outputs}
    """)
    )


def slack_output(receiver, extra: str = "") -> str:
    return (
        f'  - {{type: slack, webhook_url: "{receiver.url}{SLACK_PATH}", report_url: "https://okr.acme.example",'
        f" rate_limit: 1000{extra}}}"
    )


def test_slack_digest_on_status_change_once(write_config, tmp_path, receiver):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [status_change, done]"))
    store = Store(cfg.store_url())
    sync(cfg, MONDAY, now=MONDAY, store=store)
    assert receiver.received == []  # first run: nothing changed yet
    (tmp_path / "kpi.csv").write_text("n\n100\n")
    next_day = MONDAY + timedelta(days=1)
    result = sync(cfg, next_day, now=next_day, store=store)
    (post,) = receiver.received
    body = post.json()
    assert "Signups to 100: done" in body["text"] and body["blocks"][0]["type"] == "header"
    assert any("okr.acme.example" in json.dumps(b) for b in body["blocks"])
    sync(cfg, next_day, now=next_day, store=store)  # a re-run of the same day
    assert len(receiver.received) == 1
    assert result.exit_code == 1  # the missing x.csv: the digest is sent anyway
    store.close()


def test_becoming_done_is_a_status_change_and_stale_speaks_once(write_config, tmp_path, receiver):
    """The one trigger semantics (okrsync.present.triggers), as Slack and Teams apply them."""
    teams = f'  - {{type: teams, webhook_url: "{receiver.url}/teams/hook", on: [stale], rate_limit: 1000}}'
    outputs = slack_output(receiver, ", on: [status_change]") + "\n        " + teams
    cfg = team(write_config, tmp_path, receiver, outputs)
    store = Store(cfg.store_url())
    sync(cfg, MONDAY, now=MONDAY, store=store)
    (tmp_path / "kpi.csv").write_text("n\n100\n")
    tuesday = MONDAY + timedelta(days=1)
    sync(cfg, tuesday, now=tuesday, store=store)
    (slack,) = [r for r in receiver.received if r.path != "/teams/hook"]
    assert "Status changes" in slack.json()["text"] and "Signups to 100: done" in slack.json()["text"]
    assert "was on track" in slack.json()["text"] or "was off track" in slack.json()["text"]
    (tmp_path / "kpi.csv").unlink()  # the source breaks: the KR becomes stale, then stays stale
    for offset in (2, 3):
        day = MONDAY + timedelta(days=offset)
        sync(cfg, day, now=day, store=store)
    (card,) = [r for r in receiver.received if r.path == "/teams/hook"]
    assert "Stale" in json.dumps(card.json()) and "fetch failed" in json.dumps(card.json())
    store.close()


def test_two_channels_each_get_the_digest_once(write_config, tmp_path, receiver):
    outputs = (
        slack_output(receiver, ", on: [error]")
        + "\n        "
        + slack_output(receiver, ", on: [error]").replace("canarysecretpath123", "otherchannel456")
    )
    cfg = team(write_config, tmp_path, receiver, outputs)
    store = Store(cfg.store_url())
    sync(cfg, MONDAY, now=MONDAY, store=store)
    sync(cfg, MONDAY, now=MONDAY, store=store)
    assert sorted(r.path.rsplit("/", 1)[-1] for r in receiver.received) == ["canarysecretpath123", "otherchannel456"]
    store.close()


def test_nothing_sent_when_nothing_matched(write_config, tmp_path, receiver):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [done]"))
    result = sync(cfg, MONDAY, now=MONDAY)
    assert receiver.received == [] and "slack: nothing to send" in result.writes


def test_errors_trigger_and_weekly_checkin_with_questions(write_config, tmp_path, receiver):
    weekly = ', weekly: {weekday: monday, questions: ["What moved the number?", "What will we change?"]}'
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [error]" + weekly), value=5)
    store = Store(cfg.store_url())
    sync(cfg, MONDAY, now=MONDAY, store=store)
    texts = sorted(r.json()["text"] for r in receiver.received)
    assert len(texts) == 2
    digest, checkin = texts if texts[0].startswith("OKR update") else texts[::-1]
    assert "Failing sources" in digest and "gone (files)" in digest
    assert "Weekly OKR check-in" in checkin and "Signups to 100: 5%" in checkin  # off track at mid-November
    assert "What moved the number?" in checkin and "What will we change?" in checkin
    tuesday = MONDAY + timedelta(days=1)
    sync(cfg, tuesday, now=tuesday, store=store)  # same errors: not repeated; not Monday: no check-in
    assert len(receiver.received) == 2  # `error` fires on the run where a failure starts, not while it lasts
    store.close()


def test_dropped_answer_is_not_reposted(write_config, tmp_path, receiver):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [error]"))
    receiver.fault("POST", SLACK_PATH, Fault(drop="after"))
    store = Store(cfg.store_url())
    result = sync(cfg, MONDAY, now=MONDAY, store=store)
    assert len(receiver.received) == 1  # it arrived, the answer did not
    (err,) = result.output_errors
    assert "may have been processed" in err.message and "canarysecretpath123" not in err.message
    sync(cfg, MONDAY, now=MONDAY, store=store)  # the re-run does not send it again
    assert len(receiver.received) == 1
    store.close()


def test_rate_limited_post_is_retried_and_delivered_once(write_config, tmp_path, receiver, waits):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [error]"))
    receiver.fault("POST", SLACK_PATH, Fault(429, "rate_limited", {"Retry-After": "2"}))
    result = sync(cfg, MONDAY, now=MONDAY)
    assert len(receiver.received) == 1 and len(receiver.requests("POST")) == 2
    assert 2.0 <= max(waits) <= 2.1 and not result.output_errors


def test_slack_permanent_error_is_reported(write_config, tmp_path, receiver):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver, ", on: [error]"))
    receiver.fault("POST", SLACK_PATH, Fault(404, "no_team"))
    result = sync(cfg, MONDAY, now=MONDAY)
    (err,) = result.output_errors
    assert "HTTP 404" in err.message and "no_team" in err.message


def test_teams_adaptive_card(write_config, tmp_path, receiver):
    out = f'  - {{type: teams, webhook_url: "{receiver.url}/workflows/abc", on: [error], rate_limit: 1000}}'
    sync(team(write_config, tmp_path, receiver, out), MONDAY, now=MONDAY)
    (post,) = receiver.received
    attachment = post.json()["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and any("Failing sources" in b["text"] for b in card["body"])


def test_webhook_signed_idempotent_and_unchanged_not_resent(write_config, tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    out = f'  - {{type: webhook, url: "{receiver.url}/okr", secret: "${{HOOK_SECRET}}"}}'
    cfg = team(write_config, tmp_path, receiver, out)
    store = Store(cfg.store_url())
    receiver.fault("POST", "/okr", Fault(503, "busy"))
    sync(cfg, MONDAY, now=MONDAY, store=store)
    first, second = receiver.requests("POST", "/okr")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]  # the retry is recognisable
    (post,) = receiver.received
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-okrsync-signature"] == expected
    doc = post.json()
    assert doc["cycle"] == "2026-Q4" and doc["objectives"][0]["key_results"][0]["value"] == 10
    sync(cfg, MONDAY, now=MONDAY, store=store)
    assert len(receiver.received) == 1
    text = "".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file())
    assert HOOK_SECRET not in text and "canarysecretpath123" not in text
    store.close()


def test_a_held_back_value_is_announced_once_and_nothing_else_about_it(write_config, tmp_path, receiver):
    cfg = team(write_config, tmp_path, receiver, slack_output(receiver), expect=", expect: {max: 100}")  # default on:
    store = Store(cfg.store_url())
    sync(cfg, MONDAY, now=MONDAY, store=store)
    receiver.received.clear()
    (tmp_path / "kpi.csv").write_text("n\n1000\n")  # a tenfold jump past its contract
    for offset in (1, 2):  # two nights in a row
        day = MONDAY + timedelta(days=offset)
        sync(cfg, day, now=day, store=store)
    (post,) = receiver.received  # once, when it starts
    body = post.json()
    assert "Held back for review" in body["text"] and "n = 1000 is above expect.max 100" in body["text"]
    assert "done" not in body["text"] and "Status changes" not in body["text"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in body["blocks"])  # Slack's block limit
    store.close()
