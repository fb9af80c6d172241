"""Publishing the check-in (docs/checkin.md#publishing-the-check-in): a known week, stored by two syncs and two
owners' notes, published to Slack, Teams and a webhook (a local receiver) and a report file by `okrsync checkin
--publish`, by the Prefect flow on `schedule.checkin`, once per period.

The week: cycle 2026-Q4 (Oct 1 to Dec 31, 92 days, Europe/Oslo), synced on Nov 9 and Nov 16 only (two values per
metric: no forecast, so no chance of target). Expected progress at the end of Nov 9 is 40/92 = 0.434783, of
Nov 16 47/92 = 0.510870; default thresholds (on track within 0.10 of expected, at risk within 0.25). The check-in
of Nov 16: since = Nov 16 - 7 days = Nov 9, a stored day.

    signups 0 -> 600: 400 (0.666667) -> 480 (0.8): 67% -> 80%, +13 pts; on track both days
    deploys 0 -> 100, owner cy: 25 -> 30: 25% -> 30%, +5 pts; gaps 0.184783 and 0.210870: at risk both days
    csat 70 -> 90: 78 (0.4) -> 74 (0.2): 40% -> 20%, -20 pts; gaps 0.034783 (on track), 0.310870 (off track)
    nps 0 -> 50: 30 -> 30 (0.6), on track: nothing moved, nothing to ask: not listed in chat
    Grow self-serve (ana): (0.666667 + 0.25)/2 = 0.458333 -> (0.8 + 0.3)/2 = 0.55: 46% -> 55%, +9 pts, on track
    Delight customers (bo): (0.4 + 0.6)/2 = 0.5 -> (0.2 + 0.6)/2 = 0.4: 50% -> 40%, -10 pts; gap 0.110870: at risk
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from unittest import mock

import pytest

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, OkrsyncError
from okrsync.okr.evaluate import end_of_day
from okrsync.sync.sequence import sync
from okrsync.testing import Fault
from tests.emulators.crm import HookReceiver
from tests.helpers import PREFECT, okrsync, oslo, poll

pytestmark = pytest.mark.usefixtures("waits")  # retry and pacing waits are recorded, not slept

HOOK_SECRET = "canary-checkin-hmac-77"
HOSTILE = "Survey changed <!channel> & <https://evil.example|click> *bold*"
DAYS = [date(2026, 11, 9), date(2026, 11, 16)]
VALUES = {"signups": [400, 480], "deploys": [25, 30], "csat": [78, 74], "nps": [30, 30]}
NOTES = [  # written after the run of Nov 16: the notes of the period (Nov 9, Nov 16]
    ("signups", "Campaign launched", "on_track", "ana", oslo(2026, 11, 16, 18)),
    ("csat", HOSTILE, "8", "bo", oslo(2026, 11, 16, 18, 5)),
]
CONFIG = """\
version: 1
namespace: team
title: Support team
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{store}"
connections: {{files: {{type: csv, root: data}}}}
metrics:
  signups: {{connection: files, path: signups.csv, column: n, date_column: date}}
  deploys: {{connection: files, path: deploys.csv, column: n, date_column: date}}
  csat: {{connection: files, path: csat.csv, column: n, date_column: date}}
  nps: {{connection: files, path: nps.csv, column: n, date_column: date}}
objectives:
  - id: grow
    title: Grow self-serve
    owner: ana
    key_results:
      - {{id: signups, title: Signups to 600, metric: signups, start: 0, target: 600}}
      - {{id: deploys, title: Deploys to 100, owner: cy, metric: deploys, start: 0, target: 100}}
  - id: delight
    title: Delight customers
    owner: bo
    key_results:
      - {{id: csat, title: CSAT from 70 to 90, metric: csat, start: 70, target: 90}}
      - {{id: nps, title: NPS to 50, metric: nps, start: 0, target: 50}}
checkin:
  prompts:
    at_risk: ["What is blocking {{kr}}?"]
    off_track: ["Why is {{kr}} off track?", "What would move {{kr}} by next week?"]
schedule: {{cron: "0 2 * * *", checkin: "0 8 * * 1"}}
outputs:
{outputs}
"""


def outputs(url: str) -> str:
    """The check-in's four outputs, and two outputs without `on: [checkin]` that must get nothing from it."""
    return "\n".join(
        f"  - {line}"
        for line in [
            f'{{type: slack, webhook_url: "{url}/slack/checkin", on: [checkin], report_url: "https://okr.example/team",'
            " rate_limit: 1000}",
            f'{{type: teams, webhook_url: "{url}/teams/checkin", on: [checkin], rate_limit: 1000}}',
            f'{{type: webhook, url: "{url}/hook/checkin", secret: "${{HOOK_SECRET}}", on: [checkin]}}',
            "{type: report, path: reports/okr.html, on: [every_run, checkin]}",
            f'{{type: slack, webhook_url: "{url}/slack/status", on: [status_change], rate_limit: 1000}}',
            f'{{type: webhook, url: "{url}/hook/status"}}',
        ]
    )


@pytest.fixture
def receiver():
    r = HookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def week(tmp_path, receiver, monkeypatch) -> Path:
    """The known week in a SQLite store, with the outputs of :func:`outputs`."""
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    return build_week(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", receiver)


@pytest.fixture
def week_on(tmp_path, receiver, store_url, monkeypatch) -> Path:
    """The known week in a SQLite store, then in a PostgreSQL one."""
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    return build_week(tmp_path, store_url, receiver)


def build_week(tmp_path: Path, store_url: str, receiver: HookReceiver) -> Path:
    (tmp_path / "data").mkdir()
    for name, values in VALUES.items():
        rows = "".join(f"{day},{value}\n" for day, value in zip(DAYS, values, strict=True))
        (tmp_path / "data" / f"{name}.csv").write_text("date,n\n" + rows)
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(store=store_url, outputs=outputs(receiver.url)))
    config = load_config(path)
    for day in DAYS:
        sync(config, end_of_day(day, config.cycle), now=oslo(day.year, day.month, day.day, 6))
    for kr, text, confidence, author, at in NOTES:
        with mock.patch("okrsync.clock.now", lambda config, at=at: at):  # the moment written, as the CLI reads it
            noted = okrsync("-c", str(path), "note", kr, text, "--confidence", confidence, "--author", author)
        assert noted.returncode == 0, noted.stderr
    return path


def posts(receiver: HookReceiver, path: str) -> list:
    return [r for r in receiver.received if r.path == path]


def publish(path: Path, *args: str):
    return okrsync("-c", str(path), "checkin", "--publish", *args, cwd=path.parent)


# --------------------------------------------------------------------------- what each output gets

GROW = [  # the objective's line, then the KRs that moved or need attention, their notes, questions, prompts
    "🟢 Grow self-serve (ana): 46% → 55% (+9 pts), on track",
    "🟢 Signups to 600: 400 → 480, 67% → 80% (+13 pts), on track",
    "    note: 2026-11-16 · ana · confidence on track: Campaign launched",
    "🟠 Deploys to 100 (cy): 25 → 30, 25% → 30% (+5 pts), at risk",
    "    ask: What is blocking Deploys to 100?",
]
DELIGHT = [
    "🟠 Delight customers (bo): 50% → 40% (-10 pts), on track → at risk",
    "🔴 CSAT from 70 to 90: 78 → 74, 40% → 20% (-20 pts), on track → off track",
    "    question: owner: 8/10 (on track) · data: off track",
    f"    note: 2026-11-16 · bo · confidence 8/10 (on track): {HOSTILE}",
    "    ask: Why is CSAT from 70 to 90 off track?",
    "    ask: What would move CSAT from 70 to 90 by next week?",
    "1 more key result: no change, nothing flagged",  # nps: 30 -> 30, on track, no note
]
TITLE = "Check-in: Support team · 2026-Q4 · 2026-11-09 → 2026-11-16"


def test_the_sync_never_posts_the_checkin(week, receiver):
    paths = [r.path for r in receiver.received]  # a note re-evaluates the latest day: the webhook posts its change
    assert set(paths) == {"/hook/status", "/slack/status"} and paths.count("/slack/status") == 1
    assert (week.parent / "reports" / "okr.html").exists()
    assert not (week.parent / "reports" / "okr-checkin.html").exists()


def test_slack_gets_the_compact_checkin_as_plain_text(week, receiver):
    ran = publish(week)
    assert ran.returncode == 0, ran.stderr
    (post,) = posts(receiver, "/slack/checkin")
    body = post.json()
    header, grow, delight, link = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": TITLE, "emoji": False}}
    assert grow["text"] == {"type": "plain_text", "text": "\n".join(GROW), "emoji": False}
    assert delight["text"] == {"type": "plain_text", "text": "\n".join(DELIGHT), "emoji": False}
    assert link["elements"][0]["text"] == "<https://okr.example/team|Open the report>"
    # the fallback text is mrkdwn: Slack's three characters escaped, so the note mentions no one and links nowhere
    assert "Survey changed &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *bold*" in body["text"]
    assert "<!channel>" not in body["text"] and "Report: https://okr.example/team" in body["text"]


def test_teams_gets_text_runs_that_are_never_read_as_markdown(week, receiver):
    assert publish(week).returncode == 0
    (post,) = posts(receiver, "/teams/checkin")
    card = post.json()["attachments"][0]["content"]
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    runs = [block["inlines"][0] for block in card["body"]]
    assert {run["type"] for run in runs} == {"TextRun"}
    assert [run["text"] for run in runs] == [TITLE, *GROW, *DELIGHT]
    assert [run["text"] for run in runs if run.get("weight") == "Bolder"] == [TITLE, GROW[0], DELIGHT[0]]
    assert "actions" not in card  # no report_url on this output


def test_the_webhook_gets_the_checkin_json_signed(week_on, receiver):
    assert publish(week_on).returncode == 0
    (post,) = posts(receiver, "/hook/checkin")
    headers = {k.lower(): v for k, v in post.headers.items()}
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert headers["x-okrsync-signature"] == expected and headers["x-okrsync-event"] == "checkin"
    # once per period and team: sha256 of the JSON of [period, namespace, cycle, the output's own key], the
    # output's key being the first 16 hex digits of sha256 of its URL's JSON (the URL is never stored as such)
    url = f"{receiver.url}/hook/checkin"
    where = hashlib.sha256(f'"{url}"'.encode()).hexdigest()[:16]
    identity = f'["checkin/2026-11-16","team","2026-Q4","{where}"]'
    assert headers["idempotency-key"] == hashlib.sha256(identity.encode()).hexdigest()
    got = post.json()
    assert (got["since"], got["until"], got["title"], got["period_note"]) == (
        "2026-11-09",
        "2026-11-16",
        "Support team",
        None,
    )
    krs = {kr["id"]: kr for kr in got["key_results"]}
    figures = ("objective", "owner", "value_from", "value_to", "progress_change", "status_from", "status_to")
    assert [krs["csat"][f] for f in figures] == ["delight", "bo", 78, 74, -0.2, "on_track", "off_track"]
    assert [krs["deploys"][f] for f in figures] == ["grow", "cy", 25, 30, 0.05, "at_risk", "at_risk"]
    assert [krs["nps"][f] for f in ("stalled_days", "chance_change", "prompts")] == [7, None, []]  # 30 since Nov 9
    assert krs["csat"]["notes"][0]["text"] == HOSTILE and krs["csat"]["prompts"] == [
        "Why is CSAT from 70 to 90 off track?",
        "What would move CSAT from 70 to 90 by next week?",
    ]
    assert HOOK_SECRET not in post.body.decode()


def test_the_report_writes_the_checkin_next_to_itself(week):
    ran = publish(week)
    page = (week.parent / "reports" / "okr-checkin.html").read_text()
    assert f"report: wrote {week.parent / 'reports' / 'okr-checkin.html'}" in ran.stdout
    assert f"<title>{TITLE}</title>" in page and "<h2>Delight customers</h2>" in page
    assert "<li><b>ask</b>: Why is CSAT from 70 to 90 off track?</li>" in page
    assert "<li><b>status</b>: on track → off track</li>" in page
    assert "Survey changed &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *bold*" in page
    assert "<!channel>" not in page and "<script" not in page


@pytest.mark.parametrize(
    ("path", "written", "line"),
    [
        ("reports/okr.md", "reports/okr-checkin.md", "- **ask**: Why is CSAT from 70 to 90 off track?"),
        ("reports/okr.json", "reports/okr-checkin.json", '"until": "2026-11-16",'),
        ("reports/okr.csv", "reports/okr-checkin.json", '"stalled_days": 7,'),  # a check-in is no table
    ],
)
def test_the_checkin_file_follows_the_reports_suffix(week, path, written, line):
    text = week.read_text().replace("path: reports/okr.html", f"path: {path}")
    week.write_text(text)
    assert publish(week).returncode == 0
    assert line in [shown.strip() for shown in (week.parent / written).read_text().splitlines()]


def test_outputs_without_on_checkin_get_nothing(week, receiver):
    before = [r.path for r in receiver.received]
    ran = publish(week)
    after = [r.path for r in receiver.received]
    assert sorted(after[len(before) :]) == ["/hook/checkin", "/slack/checkin", "/teams/checkin"]
    assert len(ran.stdout.splitlines()) == 1 + 4  # the heading, then one line per output with on: [checkin]


# --------------------------------------------------------------------------- once per period


def test_a_second_publish_writes_nothing(week_on, receiver):
    week = week_on
    first = publish(week)
    assert first.returncode == 0, first.stderr
    count = len(receiver.received)
    page = week.parent / "reports" / "okr-checkin.html"
    written = page.stat().st_mtime_ns
    again = publish(week)
    assert again.returncode == 0 and len(receiver.received) == count
    assert "slack: checkin/2026-11-16 already sent" in again.stdout
    assert "webhook: checkin/2026-11-16 already delivered" in again.stdout
    assert f"report: {page} unchanged" in again.stdout and page.stat().st_mtime_ns == written


def test_a_note_added_after_the_publish_does_not_post_the_period_again(week, receiver):
    """Once per period, not once per content: chat and webhook stay quiet; the report file, a view, shows the note."""
    assert publish(week).returncode == 0
    checkins = [r for r in receiver.received if r.path.endswith("/checkin")]
    with mock.patch("okrsync.clock.now", lambda config: oslo(2026, 11, 16, 20)):
        noted = okrsync("-c", str(week), "note", "nps", "Survey vendor changes next week", "--author", "bo")
    assert noted.returncode == 0, noted.stderr  # the note re-evaluates the day: a status post, not a check-in
    again = publish(week)
    assert again.returncode == 0, again.stdout
    assert [r for r in receiver.received if r.path.endswith("/checkin")] == checkins
    page = week.parent / "reports" / "okr-checkin.html"
    assert f"report: wrote {page}" in again.stdout and "Survey vendor changes next week" in page.read_text()


def test_two_publishes_at_once_write_once(week_on, receiver):
    from okrsync.sync.checkin_publish import publish_checkin

    config = load_config(week_on)
    before = len(receiver.received)
    start = threading.Barrier(2)
    results: list = []

    def run() -> None:
        start.wait()
        try:
            results.append(publish_checkin(config, now=oslo(2026, 11, 16, 8)))
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(getattr(r, "exit_code", None) == 0 for r in results), results
    assert sorted(r.path for r in receiver.received[before:]) == ["/hook/checkin", "/slack/checkin", "/teams/checkin"]


def test_the_publish_waits_for_the_run_lock(week, receiver):
    """A sync (or accept, or another publish) of the same config holds the lock: the publish waits, then gives up
    with exit 4 and nothing sent."""
    from okrsync.store import Store

    config = load_config(week)
    before = len(receiver.received)
    store = Store(config.store_url())
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=0):
            ran = publish(week, "--wait", "0")
    finally:
        store.close()
    assert ran.returncode == 4 and "still in progress" in ran.stderr and len(receiver.received) == before


def test_a_dry_run_plans_and_writes_nothing(week, receiver):
    before = len(receiver.received)
    ran = publish(week, "--dry-run")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "Dry run (nothing written): the check-in of 2026-11-09 → 2026-11-16 (Support team)",
        "  slack: would send checkin/2026-11-16",
        "  teams: would send checkin/2026-11-16",
        "  webhook: would POST checkin/2026-11-16",
        f"  report: would write {week.parent / 'reports' / 'okr-checkin.html'}",
    ]
    assert len(receiver.received) == before and not (week.parent / "reports" / "okr-checkin.html").exists()
    assert publish(week).returncode == 0  # nothing was claimed: the real publish still delivers
    assert len(receiver.received) == before + 3


def test_a_lost_answer_is_reported_and_never_posted_again(week, receiver):
    receiver.fault("POST", "/slack/checkin", Fault(drop="after"))  # it arrives; the answer does not
    first = publish(week)
    assert first.returncode == 1 and len(posts(receiver, "/slack/checkin")) == 1
    assert "output outputs[0] (slack): checkin/2026-11-16:" in first.stderr
    again = publish(week)
    assert len(posts(receiver, "/slack/checkin")) == 1 and len(posts(receiver, "/teams/checkin")) == 1
    assert again.returncode == 0 and "slack: checkin/2026-11-16 already sent" in again.stdout


# --------------------------------------------------------------------------- plain errors


def test_nothing_stored_yet_is_exit_1_and_sends_nothing(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(store="sqlite:///store.db", outputs=outputs(receiver.url)))
    ran = publish(path)
    assert ran.returncode == 1 and "No sync has been stored for 2026-Q4 yet" in ran.stderr
    assert receiver.received == []


def test_no_output_takes_the_checkin_is_a_plain_error(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(store="sqlite:///store.db", outputs="  - {type: report, path: okr.md}"))
    ran = publish(path)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert "no output publishes the check-in: add `on: [checkin]` to a slack, teams, webhook or report output" in (
        " ".join(ran.stderr.split())
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dry-run"], "--dry-run goes with --publish"),
        (["--publish", "--since", "2026-11-02"], "--publish publishes the configured period"),
        (["--publish", "-f", "json"], "--publish says what each output got"),
    ],
)
def test_usage_errors(tmp_path, args, message):
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(store="sqlite:///store.db", outputs="  - {type: report, path: okr.md}"))
    ran = okrsync("-c", str(path), "checkin", *args, cwd=tmp_path)
    assert ran.returncode == 2 and message in ran.stderr and "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("output", "key", "message"),
    [
        (
            "{type: jira, connection: jira, progress_field: customfield_1, comment_on: [status_change, checkin]}",
            "outputs[0].comment_on[1]",
            "this output cannot publish the check-in: the slack, teams, webhook and report outputs can",
        ),
        ("{type: google_sheets, connection: sheet, spreadsheet: abc, on: [checkin]}", "outputs[0].on", "unknown key"),
        ("{type: report, path: okr.md, on: [done]}", "outputs[0].on[0]", "'done' is not one of every_run, checkin"),
    ],
)
def test_on_checkin_where_it_cannot_be_published_is_a_located_config_error(tmp_path, output, key, message):
    connections = (
        "connections:\n  jira: {type: jira, url: https://acme.atlassian.net, email: a@b.c, token: t}\n"
        "  sheet: {type: google_sheets, credentials_file: sa.json}\n"
    )
    path = tmp_path / "team.yaml"
    body = "version: 1\ncycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
    path.write_text(body + connections + f"outputs:\n  - {output}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = [p for p in info.value.problems if p.path == key]
    assert message in problem.message and problem.line == 7, problem


# --------------------------------------------------------------------------- the schedule


def test_schedule_checkin_reaches_serve_and_deploy(week, tmp_path):
    from prefect.deployments.runner import EntrypointType

    from okrsync.flows import deploy as deployments

    sync_spec, checkin_spec = deployments.specs([week], pool="teams", workdir=tmp_path)
    assert (sync_spec.full_name, sync_spec.cron) == ("okrsync-sync/team", "0 2 * * *")
    assert (checkin_spec.full_name, checkin_spec.cron, checkin_spec.timezone) == (
        "okrsync-checkin/team",
        "0 8 * * 1",
        "Europe/Oslo",  # the schedule's time zone: its own, else the cycle's
    )
    served = deployments.served([sync_spec, checkin_spec])
    assert [(d.flow_name, d.name) for d in served] == [("okrsync-sync", "team"), ("okrsync-checkin", "team")]
    (schedule,) = served[1].schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("0 8 * * 1", "Europe/Oslo", True)
    assert served[1].parameters == {"config_path": "team.yaml"} and "checkin" in served[1].tags
    pooled = checkin_spec.deployment(work_pool_name="teams", entrypoint_type=EntrypointType.MODULE_PATH)
    assert pooled.entrypoint == "okrsync.flows.checkin_flow.checkin_flow" == checkin_spec.fields()["entrypoint"]
    assert checkin_spec.fields()["schedule"] == "0 8 * * 1 (Europe/Oslo)"


def test_an_output_with_on_checkin_and_no_schedule_checkin_is_deployed_to_run_when_triggered(week, tmp_path):
    from okrsync.flows import deploy as deployments

    week.write_text(week.read_text().replace(', checkin: "0 8 * * 1"', ', enabled: false, timezone: "UTC"'))
    sync_spec, checkin_spec = deployments.specs([week], pool="teams", workdir=tmp_path)
    assert (checkin_spec.full_name, checkin_spec.cron, checkin_spec.schedules()) == ("okrsync-checkin/team", None, [])
    assert sync_spec.fields()["schedule"] == "0 2 * * * (UTC), paused"


def test_schedule_checkin_that_would_publish_nothing_is_refused(tmp_path):
    from okrsync.flows import deploy as deployments

    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(store="sqlite:///store.db", outputs="  - {type: report, path: okr.md}"))
    with pytest.raises(OkrsyncError, match=r"team.yaml: schedule.checkin is '0 8 \* \* 1', but no output publishes"):
        deployments.specs([path], pool="teams", workdir=tmp_path)


@pytest.mark.slow
def test_okrsync_deploy_registers_the_checkin_and_a_worker_publishes_it(prefect_server, week, receiver):
    """The real thing: a Prefect server, `okrsync deploy`, the deployment's schedule as the server keeps it, and a
    worker that runs the check-in flow by its module path in the deploy's working directory."""
    import httpx

    env, api = {**prefect_server["env"], "HOOK_SECRET": HOOK_SECRET}, prefect_server["api"]

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=week.parent, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done.stdout

    okrsync_cli = [sys.executable, "-m", "okrsync", "deploy", "-c", "team.yaml", "--pool", "checkins"]
    assert "okrsync-checkin/team: would create" in run(*okrsync_cli, "--dry-run")
    assert "okrsync-checkin/team: team.yaml, 0 8 * * 1 (Europe/Oslo)" in run(*okrsync_cli)
    found = httpx.get(f"{api}/deployments/name/okrsync-checkin/team", timeout=10).json()
    (schedule,) = found["schedules"]
    assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == ("0 8 * * 1", "Europe/Oslo")
    assert found["entrypoint"] == "okrsync.flows.checkin_flow.checkin_flow" and found["work_pool_name"] == "checkins"
    assert found["parameters"] == {"config_path": "team.yaml"} and "checkin" in found["tags"]

    run(PREFECT, "deployment", "run", "okrsync-checkin/team")
    run(PREFECT, "worker", "start", "--pool", "checkins", "--run-once")
    body = {"deployments": {"id": {"any_": [found["id"]]}}, "limit": 50, "offset": 0}

    def finished():
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        return [r for r in runs if r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]

    (flow_run,) = poll(finished, 60, "the check-in's flow run")
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert [len(posts(receiver, p)) for p in ("/slack/checkin", "/teams/checkin", "/hook/checkin")] == [1, 1, 1]
    assert (week.parent / "reports" / "okr-checkin.html").exists()


def test_the_flow_calls_the_same_publish(week, receiver, monkeypatch):
    from okrsync.flows import checkin_flow as module

    kept = []
    monkeypatch.setattr(module, "create_markdown_artifact", lambda text, **kw: kept.append((text, kw)))
    state = module.checkin_flow.fn(str(week))
    assert state.is_completed(), state
    summary = state.result()
    assert (summary["since"], summary["until"], summary["exit_code"]) == ("2026-11-09", "2026-11-16", 0)
    published = sorted(r.path for r in receiver.received if r.path.endswith("/checkin"))
    assert published == ["/hook/checkin", "/slack/checkin", "/teams/checkin"]
    ((text, kw),) = kept
    assert text.startswith(f"# {TITLE}") and kw["key"] == "okrsync-team-checkin"
    before = len(receiver.received)
    again = module.checkin_flow.fn(str(week))  # the next scheduled run in the same period: nothing new
    assert again.is_completed() and len(receiver.received) == before


def test_the_flow_is_partial_when_an_output_fails(week, receiver, monkeypatch):
    from okrsync.flows import checkin_flow as module

    monkeypatch.setattr(module, "create_markdown_artifact", lambda text, **kw: None)
    receiver.fault("POST", "/teams/checkin", Fault(403, {"message": "forbidden"}))
    state = module.checkin_flow.fn(str(week))
    assert state.is_failed() and state.name == "Partial" and state.message == "1 output(s) failed"
    assert len(posts(receiver, "/slack/checkin")) == 1  # one failing output never stops the others


# --------------------------------------------------------------------------- beside chat's weekly digest


def test_the_weekly_digest_and_the_checkin_are_two_messages(week, receiver):
    """weekly: still posts its digest during the Monday run (Nov 16 is a Monday); the check-in is its own."""
    text = week.read_text().replace(
        "on: [checkin], report_url", 'on: [checkin], weekly: {weekday: monday, questions: ["Why?"]}, report_url'
    )
    week.write_text(text)
    config = load_config(week)
    sync(config, end_of_day(date(2026, 11, 16), config.cycle), now=oslo(2026, 11, 16, 7))
    assert publish(week).returncode == 0
    texts = [r.json()["text"] for r in posts(receiver, "/slack/checkin")]
    assert len(texts) == 2 and texts[0].startswith("Weekly OKR check-in — Support team") and texts[1].startswith(TITLE)


def test_two_teams_check_ins_of_one_day_never_share_an_idempotency_key():
    """Found in review: the key was the period's alone, so a receiver that honours Idempotency-Key dropped the
    second team's check-in of the same day."""
    from types import SimpleNamespace

    from okrsync.sdk.connector import CheckinContext

    def ctx(namespace: str) -> CheckinContext:
        config = SimpleNamespace(namespace=namespace, cycle=SimpleNamespace(name="2026-Q4"))
        return CheckinContext(config, None, {"until": "2026-11-16"}, None)  # type: ignore[arg-type]

    assert ctx("team").fingerprint() == ctx("team").fingerprint()
    assert ctx("team").fingerprint() != ctx("other").fingerprint()
    assert ctx("team").fingerprint("hook-a") != ctx("team").fingerprint("hook-b")  # two outputs, one receiver


def test_a_note_written_after_the_check_in_went_out_is_in_the_next_one(week, receiver):
    """Found in review: a note is dated the latest synced day, so one written on Monday evening, after Monday's
    check-in was published, was dated Monday and fell outside the next period (after Monday) too. The next
    check-in takes the notes of its start day written after that day's check-in went out; one written before
    it was in that check-in and is not shown twice."""
    from okrsync.store import Store
    from okrsync.sync.checkin_publish import stored_checkin

    def at(hour: int):
        return mock.patch("okrsync.clock.now", lambda config: oslo(2026, 11, 16, hour))

    with at(7):
        assert okrsync("-c", str(week), "note", "nps", "Before the meeting", cwd=week.parent).returncode == 0
    with at(8):
        assert publish(week).returncode == 0  # the check-in of Nov 16 goes out at 08:00
    with at(18):
        assert okrsync("-c", str(week), "note", "nps", "Vendor call moved", cwd=week.parent).returncode == 0
    config = load_config(week)
    store = Store(config.store_url())
    try:
        assert store.ledger(config.namespace, None).first_sent("checkin/2026-11-16") == oslo(2026, 11, 16, 8)
        found = stored_checkin(config, store, since=date(2026, 11, 16))  # the next period starts on Nov 16
    finally:
        store.close()
    assert found is not None
    nps = next(k for k in found[0].key_results if k.id == "nps")
    assert [n.text for n in nps.notes] == ["Vendor call moved"]
