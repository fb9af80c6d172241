"""The asana source: the contract suite against the Asana emulator (every request checked against Asana's
OpenAPI description), and respx for Asana's own answers (429 with Retry-After, its error bodies, paging, the
free domain's 150 requests a minute). Expected figures are worked out by hand in each test."""

import json
import re

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.connectors.asana import AsanaConnection, AsanaSource
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.asana import AsanaEmulator
from tests.helpers import REPO, oslo

TOKEN = "asanaPatCanary0123456789abcdef"
POINTS = "1209999999999999"  # a number custom field's gid
DAY = oslo(2026, 11, 16)
ROOT = "https://asana.test"
TASKS = f"{ROOT}/api/1.0/projects/1201/tasks"


def asana_emulator() -> AsanaEmulator:
    """Project Web; the cycle starts 2026-10-01 00:00 Oslo (2026-09-30T22:00Z), the as-of day 2026-11-16 ends at
    2026-11-16T23:00Z (Oslo is UTC+1 after 25 October)."""
    asana = AsanaEmulator(TOKEN)
    web = asana.add_project("Web")
    for completed_at, points in [
        ("2026-10-05T10:00:00.000Z", 3),  # in
        ("2026-11-10T08:00:00.000Z", 5),  # in (November too)
        ("2026-09-30T21:30:00.000Z", 8),  # 23:30 Oslo on 30 September: before the cycle
        ("2026-09-30T22:30:00.000Z", None),  # 00:30 Oslo on 1 October: in, without points
        (None, 13),  # incomplete: Asana returns it, the source leaves it out
        ("2026-11-20T10:00:00.000Z", 2),  # after the as-of day
        ("2026-11-16T22:30:00.000Z", 1),  # 23:30 Oslo on the as-of day: in (November too)
        ("2026-11-16T23:30:00.000Z", 4),  # 00:30 Oslo on 17 November: after the as-of day
    ]:
        asana.add_task(web, completed_at, {POINTS: points})
    return asana


def project_of(emulator: AsanaEmulator, name: str) -> str:
    return next(gid for gid, p in emulator.projects.items() if p["name"] == name)


def asana_case(emulator, tmp_path) -> ContractCase:
    web = project_of(emulator, "Web")
    return ContractCase(
        connection={"type": "asana", "token": "${ASANA_TOKEN}", "endpoint": emulator.url, "rate_limit": 1000},
        metrics={
            "done": {"project": web},  # 5 Oct, 1 Oct 00:30, 10 Nov, 16 Nov 23:30 Oslo
            "done_nov": {"project": web, "completed_since": "2026-11-01"},  # 10 Nov, 16 Nov
            "points": {"project": web, "aggregate": "sum", "field": POINTS},  # 3 + 5 + 1 (one has none)
        },
        expected={"done": 4.0, "done_nov": 2.0, "points": 9.0},
        env={"ASANA_TOKEN": TOKEN},
        broken={"project": "1299999999999999"},
        rejected_env={"ASANA_TOKEN": "asanaWrongToken9876543210"},
    )


TestAsanaContract = source_contract("asana", asana_case, emulator=asana_emulator)


def config(write_config, monkeypatch, metrics: dict[str, dict], **connection):
    monkeypatch.setenv("ASANA_TOKEN", TOKEN)
    conn = {"type": "asana", "token": "${ASANA_TOKEN}", "endpoint": ROOT, **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'asana', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    path = write_config(f"connections:\n  asana: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n")
    return load_config(path)


def fetch(cfg) -> dict:
    return fetch_connection(plan(cfg, DAY), "asana")


def values(got: dict) -> dict:
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def task(gid: int, completed_at: str | None) -> dict:
    return {"gid": str(gid), "completed": completed_at is not None, "completed_at": completed_at}


@respx.mock
def test_one_request_filters_the_completed_tasks_of_the_window(write_config, monkeypatch):
    page = [task(1, None), task(2, "2026-10-02T08:00:00.000Z"), task(3, "2026-09-01T08:00:00.000Z")]
    route = respx.get(TASKS).respond(200, json={"data": page, "next_page": None})
    got = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}}))
    assert values(got) == {"n": 1.0}  # task 2 only: 1 is incomplete, 3 was completed before the cycle
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert dict(sent.url.params) == {
        "completed_since": "2026-09-30T22:00:00.000Z",  # 2026-10-01 00:00 in Oslo (UTC+2 then)
        "limit": "100",
        "opt_fields": "completed,completed_at",
    }


@respx.mock
def test_a_project_url_is_read_as_its_gid(write_config, monkeypatch):
    route = respx.get(TASKS).respond(200, json={"data": [], "next_page": None})
    url = "https://app.asana.com/1/1100/project/1201/list/1300"
    got = fetch(
        config(
            write_config, monkeypatch, {"n": {"project": url}, "m": {"project": "https://app.asana.com/0/1201/1300"}}
        )
    )
    assert values(got) == {"n": 0.0, "m": 0.0} and route.call_count == 2


@respx.mock
def test_pages_follow_next_page_offset(write_config, monkeypatch):
    first = {"data": [task(1, "2026-10-02T08:00:00Z")], "next_page": {"offset": "tok2", "path": "/x", "uri": "u"}}
    second = {"data": [task(2, "2026-10-03T08:00:00Z"), task(3, None)], "next_page": {"offset": "tok3"}}
    third = {"data": [task(4, "2026-10-04T08:00:00Z")], "next_page": None}
    route = respx.get(TASKS).mock(side_effect=[httpx.Response(200, json=p) for p in (first, second, third)])
    got = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}}))
    assert values(got) == {"n": 3.0}  # tasks 1, 2 and 4 (3 is incomplete)
    offsets = [c.request.url.params.get("offset") for c in route.calls]
    assert offsets == [None, "tok2", "tok3"]


@respx.mock
def test_an_offset_repeated_stops_instead_of_looping(write_config, monkeypatch):
    looping = {"data": [task(1, "2026-10-02T08:00:00Z")], "next_page": {"offset": "same"}}
    respx.get(TASKS).respond(200, json=looping)
    (err,) = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}})).values()
    assert isinstance(err, SourceError) and "same page cursor twice" in err.message


@respx.mock
def test_429_waits_retry_after_then_reads(write_config, monkeypatch, waits):
    body = {"errors": [{"message": "You've made too many requests and hit a rate limit."}]}
    limited = httpx.Response(429, json=body, headers={"Retry-After": "17"})
    ok = httpx.Response(200, json={"data": [task(1, "2026-10-02T08:00:00Z")], "next_page": None})
    route = respx.get(TASKS).mock(side_effect=[limited, ok])
    got = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}}))
    assert values(got) == {"n": 1.0} and route.call_count == 2
    assert any(17 <= w <= 17.2 for w in waits)


@pytest.mark.parametrize(
    ("status", "message", "words"),
    [
        (
            401,
            "Not Authorized",
            "Asana did not accept the personal access token of connection 'asana' (Not Authorized)",
        ),
        (403, "Forbidden", "the token's user may not read project '1201' (Forbidden): share the project"),
        (404, "project: Not a recognized ID: 1201", "project '1201' not found (project: Not a recognized ID: 1201)"),
        (400, "completed_since: Not a valid date-time", "Asana refused the request (HTTP 400) (completed_since: Not"),
    ],
)
@respx.mock
def test_asana_error_bodies_become_plain_messages(write_config, monkeypatch, waits, status, message, words):
    respx.get(TASKS).respond(status, json={"errors": [{"message": message, "help": "see the docs"}]})
    (err,) = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}})).values()
    assert isinstance(err, SourceError) and words in err.message and TOKEN not in err.message
    assert ("check project:" in err.message) == (status == 404)
    assert waits == []  # a refusal is not retried


def test_paging_against_the_emulator_reads_250_tasks_in_three_pages(write_config, monkeypatch):
    asana = AsanaEmulator(TOKEN).start()
    try:
        web = asana.add_project("Web")
        for i in range(250):
            asana.add_task(web, f"2026-10-{1 + i % 28:02d}T12:00:00.000Z")
        for _ in range(30):
            asana.add_task(web)  # incomplete: returned by Asana, not counted
        got = fetch(config(write_config, monkeypatch, {"n": {"project": web}}, endpoint=asana.url))
        # 280 tasks come back (250 completed in October, 30 incomplete): pages of 100, 100 and 80
        assert values(got) == {"n": 250.0}
        sent = asana.requests("GET", "/tasks$")
        assert [r.query["limit"] for r in sent] == [["100"]] * 3 and "offset" not in sent[0].query
    finally:
        asana.stop()


def test_sum_of_a_field_no_task_carries_is_an_error_not_zero(write_config, monkeypatch):
    asana = asana_emulator().start()
    try:
        web = project_of(asana, "Web")
        got = fetch(
            config(
                write_config, monkeypatch, {"n": {"project": web, "aggregate": "sum", "field": "1"}}, endpoint=asana.url
            )
        )
        assert "none of the 4 completed tasks has custom field 1: check field:" in values(got)["n"]
    finally:
        asana.stop()


@respx.mock
def test_sum_of_a_field_that_is_not_a_number_is_named(write_config, monkeypatch):
    text = {"gid": POINTS, "resource_subtype": "text", "number_value": None}
    page = [{**task(1, "2026-10-02T08:00:00Z"), "custom_fields": [text]}]
    route = respx.get(TASKS).respond(200, json={"data": page, "next_page": None})
    got = fetch(config(write_config, monkeypatch, {"n": {"project": "1201", "aggregate": "sum", "field": POINTS}}))
    assert values(got) == {"n": f"custom field {POINTS} is a text field, not a number field"}
    assert route.calls.last.request.url.params["opt_fields"].split(",") == [
        "completed",
        "completed_at",
        "custom_fields.number_value",
        "custom_fields.resource_subtype",
    ]


@respx.mock
def test_requests_are_paced_at_150_a_minute(write_config, monkeypatch, waits, still_clock):
    def page(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("offset") or 0) + 1
        following = {"offset": str(n)} if n < 152 else None
        return httpx.Response(200, json={"data": [task(n, "2026-10-02T08:00:00Z")], "next_page": following})

    respx.get(TASKS).mock(side_effect=page)
    got = fetch(config(write_config, monkeypatch, {"n": {"project": "1201"}}))
    assert values(got) == {"n": 152.0}
    # (sleeps are recorded, not slept) a free domain's 150 a minute: a burst of 150, then the 151st and 152nd
    # wait for the window to move on (a minute after the 1st and the 2nd)
    assert [round(w) for w in waits] == [60, 60]


@pytest.mark.parametrize(
    ("keys", "connection", "where", "says"),
    [
        ({"project": "1", "aggregate": "sum"}, {}, "metrics.n", "aggregate sum needs field:"),
        ({"project": "1", "aggregate": "avg"}, {}, "metrics.n.aggregate", "supports count or sum only"),
        ({"project": "1", "completed_since": "last monday"}, {}, "metrics.n.completed_since", "ISO date"),
        ({"project": "https://app.asana.com/1/2/home"}, {}, "metrics.n.project", "not the URL of an Asana project"),
        ({"project": "1"}, {"endpoint": "https://proxy.test/api/1.0"}, "connections.asana.endpoint", "host and port"),
    ],
)
def test_config_errors_are_located(write_config, monkeypatch, keys, connection, where, says):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"n": keys}, **connection)
    problems = {p.path: p.message for p in info.value.problems}
    assert where in problems and says in problems[where], problems


def test_the_documented_example_is_a_valid_config(write_config, monkeypatch):
    text = (REPO / "docs" / "sources" / "asana.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    monkeypatch.setenv("ASANA_TOKEN", TOKEN)
    cfg = load_config(
        write_config(block.group(1) + "kpis: [{id: tasks_done, metric: tasks_done, healthy: {min: 0}}]\n")
    )
    assert {m for m in cfg.metrics if cfg.metrics[m].connection == "asana"} >= {"tasks_done", "story_points_done"}


def test_emulator_refuses_what_asana_refuses():
    now = [0.0]
    asana = AsanaEmulator(TOKEN, per_minute=3, clock=lambda: now[0]).start()
    try:
        web = asana.add_project("Web")
        asana.unpaginated_max = 1
        asana.add_task(web)
        asana.add_task(web)
        path = f"/api/1.0/projects/{web}/tasks"
        with httpx.Client(base_url=asana.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            answers = [
                client.get(path, params={"limit": 101}),
                client.get(path, params={"limit": 10, "opt_fields": "completed,secret_sauce"}),
                client.get(path),  # unpaginated, over the cap
                client.get(path, params={"limit": 10}),  # the 4th request in the minute
            ]
            assert [a.status_code for a in answers] == [400, 400, 400, 429]
            assert answers[2].json()["errors"][0]["message"].startswith("The result is too large")
            assert answers[3].headers["Retry-After"] == "60"
            now[0] += 60
            assert client.get(path, params={"limit": 10}).status_code == 200
        assert httpx.get(f"{asana.url}{path}").json() == {
            "errors": [{"message": "Not Authorized", "help": answers[0].json()["errors"][0]["help"]}]
        }
    finally:
        asana.stop()


def test_the_connection_test_reads_each_project_or_else_the_user(write_config, monkeypatch, tmp_path):
    asana = asana_emulator().start()
    try:
        web = project_of(asana, "Web")
        cfg = config(write_config, monkeypatch, {"a": {"project": web}, "b": {"project": web}}, endpoint=asana.url)
        assert check_connection(cfg, "asana") == "personal access token accepted; can read 'Web'"
        assert [r.path for r in asana.requests()] == [f"/api/1.0/projects/{web}"]  # each project once
        alone = AsanaSource("asana", AsanaConnection(type="asana", token=TOKEN, endpoint=asana.url), tmp_path)
        assert alone.check() == "personal access token accepted; can read 'Ops Reader'"
        assert asana.requests()[-1].path == "/api/1.0/users/me"
    finally:
        asana.stop()
