"""Jira end to end: the real jira client against the local emulator, Cloud and Data Center."""

import json
from datetime import timedelta
from unittest import mock

import pytest

from okrsync.config.load import load_config
from okrsync.store import Store
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.sync.sequence import sync
from okrsync.testing import Fault
from tests.emulators.jira import JiraEmulator
from tests.helpers import okrsync, oslo

DAY = oslo(2026, 11, 15)
TOKEN = "jira-api-token-canary-7d1e"


pytestmark = pytest.mark.usefixtures("waits")  # retry and pacing waits are recorded, not slept


def make_emulator(deployment: str, basic: bool | None = None) -> JiraEmulator:
    emulator = JiraEmulator(deployment, token=TOKEN, page_size=2, basic=basic).start()
    for i in range(1, 6):
        emulator.add_issue(f"APP-{i}", done=i <= 2, customfield_10016=float(i), timespent=3600 * i)
    emulator.add_issue("APP-100", customfield_10100=None)
    emulator.jql["project = APP AND priority = Highest"] = ["APP-1", "APP-3", "APP-4"]
    emulator.jql["parent = APP-7"] = ["APP-1", "APP-2", "APP-3", "APP-4", "APP-5"]
    emulator.jql["project = APP AND created >= 2026-10-01"] = ["APP-2", "APP-5"]
    return emulator


@pytest.fixture
def cloud():
    emulator = make_emulator("Cloud")
    yield emulator
    emulator.stop()


@pytest.fixture
def dc():
    emulator = make_emulator("Server")
    yield emulator
    emulator.stop()


def jira_config(
    write_config, emulator, *, email=True, krs="", outputs="", metrics=None, extra="", url="https://acme.atlassian.net"
):
    who = "email: bot@acme.example, " if email else ""
    metrics = (
        metrics
        or """\
  p1_open: {connection: jira, jql: "project = APP AND priority = Highest", aggregate: count}
  p1_again: {connection: jira, jql: "project = APP AND priority = Highest"}
  points: {connection: jira, jql: "parent = APP-7", aggregate: sum, field: Story Points}
  avg_points: {connection: jira, jql: "parent = APP-7", aggregate: avg, field: customfield_10016}
  epic_done: {connection: jira, jql: "parent = APP-7", aggregate: percent_done}
  new_this_cycle: {connection: jira, jql: "project = APP AND created >= {cycle.start}"}
  broken: {connection: jira, jql: "project = APP AND nonsense ~"}"""
    )
    krs = krs or "\n".join(
        f"      - {{id: {m}, metric: {m}, kind: at_least, target: 0}}"
        for m in ("p1_open", "p1_again", "points", "avg_points", "epic_done", "new_this_cycle", "broken")
    )
    body = (
        "connections:\n"
        f'  jira: {{type: jira, url: "{url}", endpoint: "{emulator.url}", {who}'
        f'token: "${{JIRA_TOKEN}}", rate_limit: 1000{extra}}}\n'
        f"metrics:\n{metrics}\n"
        f"objectives:\n  - id: o\n    title: Quality\n    key_results:\n{krs}\n"
        + (f"outputs:\n{outputs}\n" if outputs else "")
    )
    return load_config(write_config(body))


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)


def fetch(cfg):
    got = fetch_connection(plan(cfg, DAY), "jira")
    return {m: getattr(v, "value", None) if not hasattr(v, "message") else v.message for m, v in got.items()}


def test_cloud_metrics_with_one_count_request_per_jql(write_config, cloud):
    got = fetch(jira_config(write_config, cloud))
    assert got["p1_open"] == 3 and got["p1_again"] == 3
    assert got["points"] == 15 and got["avg_points"] == 3
    assert got["epic_done"] == 40
    assert got["new_this_cycle"] == 2  # {cycle.start} was filled in
    assert "Error in the JQL Query" in got["broken"] and "nonsense" in got["broken"]
    counts = [r.json()["jql"] for r in cloud.requests("POST", "approximate-count")]
    assert counts.count("project = APP AND priority = Highest") == 1
    assert counts.count("parent = APP-7") == 1  # shared by epic_done's two counts
    assert "(parent = APP-7) AND statusCategory = Done" in counts
    pages = cloud.requests("GET", "/search/jql$")
    assert len(pages) == 3  # sum and avg (one field, by name and by id) share one paging through 5 issues, 2 a page
    assert [p.query.get("nextPageToken") for p in pages[:3]] == [None, ["p2"], ["p4"]]
    assert not cloud.requests("GET", "/search$")  # the legacy endpoint is gone on Cloud
    # okrsync's one lookup for both sum/avg metrics, plus the jira package's own one-off field cache
    assert len(cloud.requests("GET", "/field$")) == 2
    # an atlassian.net site is Cloud: serverInfo is not read (a paced request every night)
    assert not cloud.requests("GET", "serverInfo")
    assert counts and all(r.headers["authorization"].startswith("Basic ") for r in cloud.requests("POST", "count"))


def test_a_site_under_another_name_reads_server_info_once(write_config, cloud):
    """A custom domain may be Cloud or Data Center: serverInfo decides, read once before the counts."""
    got = fetch(jira_config(write_config, cloud, url="https://jira.acme.example"))
    assert got["p1_open"] == 3 and got["epic_done"] == 40
    assert len(cloud.requests("GET", "serverInfo")) == 1
    assert cloud.log[0].path.endswith("/serverInfo")
    assert not cloud.requests("GET", "/search$")


def test_a_data_center_behind_an_atlassian_net_name_is_found_out_once(write_config):
    """Cloud is assumed from the name; the first Cloud-only endpoint answers 404, serverInfo is read once (however
    many counts were in flight) and every metric is then read from Data Center's endpoints."""
    dc = make_emulator("Server", basic=True)
    try:
        got = fetch(jira_config(write_config, dc))
        assert got["p1_open"] == 3 and got["p1_again"] == 3 and got["points"] == 15 and got["avg_points"] == 3
        assert got["epic_done"] == 40 and got["new_this_cycle"] == 2
        assert "Error in the JQL Query" in got["broken"]
        assert len(dc.requests("GET", "serverInfo")) == 1
        assert 1 <= len(dc.requests("POST", "approximate-count")) + len(dc.requests("GET", "/search/jql$")) <= 4
        assert any(r.query.get("maxResults") == ["0"] for r in dc.requests("GET", "/search$"))
    finally:
        dc.stop()


COUNTS = """\
  a: {connection: jira, jql: "project = APP AND priority = Highest"}
  b: {connection: jira, jql: "parent = APP-7"}
  c: {connection: jira, jql: "project = APP AND created >= 2026-10-01"}"""
COUNT_KRS = "\n".join(f"      - {{id: {m}, metric: {m}, kind: at_least, target: 0}}" for m in "abc")


@pytest.fixture
def dc_basic():
    emulator = make_emulator("Server", basic=True)
    yield emulator
    emulator.stop()


def test_server_info_is_asked_once_while_other_counts_wait(write_config, dc_basic):
    """Three counts meet Data Center's 404 together; serverInfo answers slowly: one asks, the others wait for it."""
    dc_basic.fault("GET", "serverInfo", Fault(delay=0.3))
    got = fetch(jira_config(write_config, dc_basic, metrics=COUNTS, krs=COUNT_KRS))
    assert got == {"a": 3, "b": 5, "c": 2}
    assert len(dc_basic.requests("GET", "serverInfo")) == 1


def test_a_count_retried_after_the_switch_reads_data_center(write_config, dc_basic):
    """One count's first answer is a slow 503; meanwhile another finds Data Center out. Its retry is read on
    Data Center's search (the jira package's Cloud-only call would answer None without a request)."""
    dc_basic.fault("POST", "approximate-count", Fault(503, "<html>busy</html>", delay=0.3))
    got = fetch(jira_config(write_config, dc_basic, metrics=COUNTS, krs=COUNT_KRS))
    assert got == {"a": 3, "b": 5, "c": 2}


def test_when_server_info_fails_too_it_is_asked_once(write_config, dc_basic):
    """A Data Center behind an atlassian.net name whose serverInfo fails: asked once, every count says why."""
    dc_basic.fault("GET", "serverInfo", Fault(404, {"errorMessages": ["Not found"]}), times=10)
    got = fetch(jira_config(write_config, dc_basic, metrics=COUNTS, krs=COUNT_KRS))
    assert all("HTTP 404" in message for message in got.values()), got
    assert len(dc_basic.requests("GET", "serverInfo")) == 1


@pytest.mark.parametrize(
    ("path", "body", "metric"),
    [("approximate-count", b"", "p1_open"), ("/search/jql$", {"isLast": True}, "points")],
)
def test_an_answer_without_its_figure_is_an_error_not_zero(write_config, cloud, path, body, metric):
    """The jira package reads an empty count answer as 0, and a page without issues would sum to 0."""
    cloud.fault("*", path, Fault(200, body), times=10)
    got = fetch(jira_config(write_config, cloud))
    assert "not the expected JSON" in got[metric], got[metric]


def test_distinct_jql_counts_are_in_flight_together(write_config, cloud):
    """Four counts at once by default, one at a time with max_concurrency: 1 (a slow Jira answers in 0.3 s,
    so concurrency shows as overlapping requests in the emulator's log); every metric still gets its count."""
    metrics = "\n".join(f'  m{i}: {{connection: jira, jql: "project = APP AND priority = P{i}"}}' for i in range(8))
    krs = "\n".join(f"      - {{id: m{i}, metric: m{i}, kind: at_least, target: 0}}" for i in range(8))
    for i in range(8):
        cloud.jql[f"project = APP AND priority = P{i}"] = ["APP-1", "APP-2"][: i % 3]
    for concurrency, expected in (("", 4), (", max_concurrency: 1", 1)):
        cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs, extra=concurrency)
        before = len(cloud.log)
        cloud.fault("POST", "approximate-count", Fault(delay=0.3), times=8)
        got = fetch(cfg)
        assert got == {f"m{i}": i % 3 for i in range(8)}
        started = sorted(r.at for r in cloud.log[before:] if "approximate-count" in r.path)
        assert len(started) == 8
        assert max(sum(1 for t in started if s <= t < s + 0.3) for s in started) == expected


def test_data_center_uses_legacy_search_and_bearer_token(write_config, dc):
    got = fetch(jira_config(write_config, dc, email=False))
    assert got["p1_open"] == 3 and got["points"] == 15 and got["epic_done"] == 40
    totals = dc.requests("GET", "/search$")
    assert any(r.query.get("maxResults") == ["0"] for r in totals)
    assert not dc.requests("POST", "approximate-count")
    assert dc.requests("GET", "serverInfo")[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_auth_failure_and_retry_after(write_config, cloud, monkeypatch, waits):
    cloud.fault("POST", "approximate-count", Fault(429, {"errorMessages": ["Rate limit"]}, {"Retry-After": "3"}))
    cloud.fault("POST", "approximate-count", Fault(503, "<html>down</html>"))
    got = fetch(
        jira_config(
            write_config,
            cloud,
            metrics='  p1_open: {connection: jira, jql: "project = APP AND priority = Highest"}',
            krs="      - {id: p1, metric: p1_open, start: 5, target: 0}",
        )
    )
    assert got["p1_open"] == 3 and 3.0 <= max(waits) <= 3.2
    monkeypatch.setenv("JIRA_TOKEN", "wrong")
    got = fetch(
        jira_config(
            write_config,
            cloud,
            metrics='  p1_open: {connection: jira, jql: "x"}',
            krs="      - {id: p1, metric: p1_open, start: 5, target: 0}",
        )
    )
    assert "rejected the credentials" in got["p1_open"] and "wrong" not in got["p1_open"]


def test_a_401_stops_the_connection(write_config, cloud, monkeypatch):
    """A wrong token fails every metric with the credentials' message, and only the first request is sent."""
    monkeypatch.setenv("JIRA_TOKEN", "wrong")
    got = fetch(jira_config(write_config, cloud, extra=", max_concurrency: 1"))
    assert all("rejected the credentials" in message for message in got.values()), got
    assert len(cloud.log) == 1


def test_malformed_json_is_a_clear_error(write_config, cloud):
    cloud.fault("POST", "approximate-count", Fault(200, "{oops", {"Content-Type": "application/json"}))
    metrics = '  p1_open: {connection: jira, jql: "project = APP AND priority = Highest"}'
    got = fetch(
        jira_config(write_config, cloud, metrics=metrics, krs="      - {id: p1, metric: p1_open, start: 5, target: 0}")
    )
    assert "not the expected JSON" in got["p1_open"]


def test_repeated_page_token_stops_paging(write_config, cloud):
    cloud.loop_token = True
    got = fetch(
        jira_config(
            write_config,
            cloud,
            metrics='  points: {connection: jira, jql: "parent = APP-7", aggregate: sum, field: Story Points}',
            krs="      - {id: pts, metric: points, start: 0, target: 10}",
        )
    )
    assert "repeated page token" in got["points"]
    assert len(cloud.requests("GET", "/search/jql$")) == 2


OUTPUT = "  - {type: jira, connection: jira, progress_field: customfield_10100, comment_on: [status_change]}"


def test_progress_field_written_only_when_it_differs(write_config, cloud):
    metrics = '  done_share: {connection: jira, jql: "parent = APP-7", aggregate: percent_done}'
    krs = "      - {id: epic, metric: done_share, start: 0, target: 100, jira_issue: APP-100}"
    cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs, outputs=OUTPUT)
    store = Store(cfg.store_url())
    result = sync(cfg, DAY, now=DAY, store=store)
    assert result.exit_code == 0, result.output_errors
    assert cloud.issues["APP-100"]["fields"]["customfield_10100"] == 40.0
    puts = cloud.requests("PUT", "/issue/")
    assert len(puts) == 1 and puts[0].query.get("notifyUsers") == ["false"]
    before = len(cloud.requests("PUT", "/issue/"))
    sync(cfg, DAY, now=DAY, store=store)  # same value: no write
    assert len(cloud.requests("PUT", "/issue/")) == before
    cloud.issues["APP-3"]["fields"]["status"]["statusCategory"]["key"] = "done"
    sync(cfg, DAY + timedelta(days=1), now=DAY, store=store)
    assert cloud.issues["APP-100"]["fields"]["customfield_10100"] == 60.0
    assert len(cloud.requests("PUT", "/issue/")) == before + 1
    store.close()


def status_change_setup(write_config, cloud):
    metrics = '  p1_open: {connection: jira, jql: "project = APP AND priority = Highest"}'
    krs = "      - {id: p1, title: Open P1 bugs to zero, metric: p1_open, start: 3, target: 0, jira_issue: APP-100}"
    cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs, outputs=OUTPUT)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)  # first run: nothing to compare with, no comment
    assert cloud.comments["APP-100"] == []
    cloud.jql["project = APP AND priority = Highest"] = []  # all P1s fixed: done
    return cfg, store


def test_status_change_comment_once_across_reruns(write_config, cloud):
    cfg, store = status_change_setup(write_config, cloud)
    next_day = DAY + timedelta(days=1)
    sync(cfg, next_day, now=next_day, store=store)
    (comment,) = cloud.comments["APP-100"]
    assert "Open P1 bugs to zero is done (was" in comment["body"]
    assert "[okrsync:default/p1/2026-11-16/done]" in comment["body"]
    posts = len(cloud.requests("POST", "/comment$"))
    sync(cfg, next_day, now=next_day, store=store)  # the same run again
    assert len(cloud.comments["APP-100"]) == 1 and len(cloud.requests("POST", "/comment$")) == posts
    store.close()


def test_dropped_connection_after_post_never_duplicates(write_config, cloud):
    cfg, store = status_change_setup(write_config, cloud)
    cloud.fault("POST", "/comment$", Fault(drop="after"))  # the comment lands, the answer never arrives
    next_day = DAY + timedelta(days=1)
    result = sync(cfg, next_day, now=next_day, store=store)
    assert result.exit_code == 0, result.output_errors
    assert len(cloud.comments["APP-100"]) == 1
    assert len(cloud.requests("POST", "/comment$")) == 1  # the retry looked first and found the marker
    store.close()


def test_an_empty_page_of_comments_is_not_read_as_none_posted(write_config, cloud):
    """A 200 without its comments (a proxy's empty answer) cannot tell whether the comment is there: nothing is
    posted on it (read as no comments, a lost answer to the POST would have posted twice); the next run posts once."""
    cfg, store = status_change_setup(write_config, cloud)
    cloud.fault("GET", "/comment$", Fault(200, b""), times=2)
    cloud.fault("POST", "/comment$", Fault(drop="after"))
    next_day = DAY + timedelta(days=1)
    failed = sync(cfg, next_day, now=next_day, store=store)
    assert failed.exit_code == 1
    assert "APP-100: Jira answered a page of comments without its comments" in failed.output_errors[0].message
    assert cloud.comments["APP-100"] == []
    sync(cfg, next_day, now=next_day, store=store)
    assert len(cloud.comments["APP-100"]) == 1
    store.close()


def test_crash_between_post_and_ledger_then_rerun(write_config, cloud):
    cfg, store = status_change_setup(write_config, cloud)
    cloud.fault("POST", "/comment$", Fault(drop="after"), times=10)
    cloud.fault("GET", "/comment$", Fault(500, {"errorMessages": ["boom"]}), times=50)  # cannot even check
    next_day = DAY + timedelta(days=1)
    failed = sync(cfg, next_day, now=next_day, store=store)
    assert failed.exit_code == 1 and "APP-100" in failed.output_errors[0].message
    cloud.faults.clear()
    sync(cfg, next_day, now=next_day, store=store)  # the re-run finds what the crashed run left
    assert len(cloud.comments["APP-100"]) <= 1
    sync(cfg, next_day, now=next_day, store=store)
    assert len(cloud.comments["APP-100"]) == 1
    store.close()


def test_cli_connections_test_and_run(write_config, cloud, tmp_path):
    cfg = jira_config(write_config, cloud)
    env = {"JIRA_TOKEN": TOKEN}
    out = okrsync("-c", str(cfg.path), "connections", "test", "--as-of", "2026-11-15", env=env)
    assert out.returncode == 1  # the broken JQL
    assert "✓ jira (jira): Jira Cloud 1001.0.0" in out.stdout
    assert "p1_open = 3" in out.stdout and "epic_done = 40" in out.stdout
    assert "broken: Jira answered HTTP 400: Error in the JQL Query" in out.stdout
    assert TOKEN not in out.stdout + out.stderr
    run = okrsync("-v", "-c", str(cfg.path), "run", "--as-of", "2026-11-15", env=env)
    assert run.returncode == 1 and "metric broken (connection jira)" in run.stderr
    assert TOKEN not in run.stdout + run.stderr
    status = json.loads(okrsync("-c", str(cfg.path), "status", "-f", "json", env=env).stdout)
    assert {kr["id"]: kr["value"] for kr in status["objectives"][0]["key_results"]}["points"] == 15
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_stale_comment_fires_when_it_starts_not_while_it_lasts(write_config, cloud):
    """The one trigger semantics (okrsync.present.triggers): `stale` speaks on the run where a KR becomes stale."""
    metrics = '  p1_open: {connection: jira, jql: "project = APP AND priority = Highest"}'
    krs = "      - {id: p1, title: Open P1 bugs, metric: p1_open, start: 3, target: 0, jira_issue: APP-100}"
    outputs = "  - {type: jira, connection: jira, comment_on: [stale]}"
    cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs, outputs=outputs)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)
    cloud.fault("POST", "approximate-count", Fault(400, {"errorMessages": ["JQL broke"]}), times=10)
    for offset in (1, 2):  # the source fails two days running
        day = DAY + timedelta(days=offset)
        sync(cfg, day, now=day, store=store)
    (comment,) = cloud.comments["APP-100"]
    assert "Stale: fetch failed" in comment["body"] and "/2026-11-16/" in comment["body"]
    store.close()


def test_the_duplicate_check_reads_every_page_of_comments(write_config, cloud):
    """A crashed run's comment (posted, never confirmed) in the middle of 250 comments by people: the
    marker is on the second page whichever way they are ordered (Cloud pages comments 100 at a time).
    The run must find it there, not post again."""
    cfg, store = status_change_setup(write_config, cloud)
    crashed = {"id": "c0", "body": "Open P1 bugs to zero is done\n[okrsync:default/p1/2026-11-16/done]"}
    people = [{"id": f"p{i}", "body": f"comment {i}"} for i in range(250)]
    cloud.comments["APP-100"] = people[:120] + [crashed] + people[120:]
    next_day = DAY + timedelta(days=1)
    result = sync(cfg, next_day, now=next_day, store=store)
    assert result.exit_code == 0, result.output_errors
    assert [c for c in cloud.comments["APP-100"] if "okrsync:" in c["body"]] == [crashed]
    assert cloud.requests("POST", "/comment$") == []
    pages = [r.query.get("startAt", ["0"])[0] for r in cloud.requests("GET", "/comment$")]
    # the check read on to the second page, where the marker was, and stopped there; around it, each run's read
    # of what people wrote since the check-in (newest first: one page, all these comments are older)
    assert pages == ["0", "0", "100", "0"]
    store.close()


def test_an_unbounded_jql_gets_plain_advice_on_cloud(write_config, cloud):
    metrics = '  everything: {connection: jira, jql: "ORDER BY created DESC"}'
    krs = "      - {id: e, title: Everything, metric: everything, start: 0, target: 10}"
    cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs)
    got = fetch_connection(plan(cfg, DAY), "jira")["everything"]
    assert got.message == (
        "Jira Cloud refuses a JQL without a restriction: add one, e.g. project = APP or created >= -90d"
    )


def test_a_held_back_value_is_never_written_to_jira(write_config, cloud):
    metrics = '  p1_open: {connection: jira, jql: "project = APP AND priority = Highest", expect: {max_change: 1}}'
    krs = "      - {id: p1, title: Open P1 bugs to zero, metric: p1_open, start: 3, target: 0, jira_issue: APP-100}"
    cfg = jira_config(write_config, cloud, metrics=metrics, krs=krs, outputs=OUTPUT)
    store = Store(cfg.store_url())
    sync(cfg, DAY, now=DAY, store=store)
    cloud.issues["APP-100"]["fields"]["customfield_10100"] = 55.0  # someone typed over the field meanwhile
    writes = len(cloud.requests("PUT", "/issue/APP-100$"))
    cloud.jql["project = APP AND priority = Highest"] = []  # 3 -> 0 at once: more than max_change 1
    next_day = DAY + timedelta(days=1)
    result = sync(cfg, next_day, now=next_day, store=store)
    assert result.document.kr("p1").suspect and result.exit_code == 0
    assert cloud.comments["APP-100"] == [] and len(cloud.requests("PUT", "/issue/APP-100$")) == writes
    assert cloud.issues["APP-100"]["fields"]["customfield_10100"] == 55.0  # not "corrected" from a held value
    cloud.jql["project = APP AND priority = Highest"] = ["APP-1", "APP-3"]  # 3 -> 2: believable
    sync(cfg, DAY + timedelta(days=2), now=DAY + timedelta(days=2), store=store)
    assert cloud.issues["APP-100"]["fields"]["customfield_10100"] == 33.3  # written again once trusted
    store.close()


def test_the_comment_says_how_likely_the_target_is():
    from okrsync.connectors.jira.sink import comment_text
    from okrsync.okr.status import ForecastDoc, KrStatus

    kr = KrStatus(
        id="k",
        title="Signups",
        metric="m",
        kind="increase",
        value=40,
        start=0,
        target=100,
        due="2026-12-31",
        expected=0.5,
        status="on_track",
        forecast=ForecastDoc(value=96, progress=0.96, low=80, high=112, probability=0.4),
    )
    assert "Forecast 96 (80–112, 40% likely) by 2026-12-31." in comment_text(kr, None, mock.Mock(day="2026-11-16"), "m")
