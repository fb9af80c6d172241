"""The gitlab source: the contract suite against the GitLab emulator (tests/emulators/gitlab.py, every request
checked against tests/vendor_specs/gitlab.json), the counting paths end to end (issues_statistics, x-total,
keyset and offset pages above 10,000, merged_after by merged_at), and respx for GitLab's own answers (429 with
Retry-After, RateLimit-* headers, refusals, links). Expected figures are worked out by hand in each test."""

import json
import time

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.gitlab import GitlabEmulator
from tests.helpers import oslo
from tests.vendor_spec import PROBLEMS

TOKEN = "glpat-canaryToken0123456789"
DAY = oslo(2026, 11, 16)
API = "https://gitlab.test/api/v4"


def gitlab_emulator() -> GitlabEmulator:
    gl = GitlabEmulator(TOKEN)
    for state, labels in [("opened", ["P1"]), ("opened", ["P1", "bug"]), ("closed", ["P1"]), ("opened", [])]:
        gl.add("issues", "acme/web", state=state, labels=labels)
    gl.add("issues", "acme/api", state="opened", labels=["P1"])
    gl.add("issues", "acme/old", state="opened", labels=["P1"])
    gl.projects["acme/old"]["archived"] = True  # the group's issue list leaves it out
    for merged in ["2026-09-20T10:00:00Z", "2026-10-02T10:00:00Z", "2026-11-01T10:00:00Z"]:
        gl.add("merge_requests", "acme/web", state="merged", merged=merged)
    gl.add("merge_requests", "acme/web", state="opened")
    gl.add("merge_requests", "acme/api", state="opened")
    return gl


def gitlab_case(emulator, tmp_path) -> ContractCase:
    return ContractCase(
        connection={"type": "gitlab", "token": "${GITLAB_TOKEN}", "endpoint": emulator.url, "rate_limit": 100},
        metrics={
            "p1": {"group": "acme", "issues": {"state": "opened", "labels": "P1"}},
            "closed": {"project": "acme/web", "issues": {"state": "closed"}},
            "merged": {"project": "acme/web", "merge_requests": {"state": "merged", "merged_after": "{cycle.start}"}},
            "open_mrs": {"group": "acme", "merge_requests": {"state": "opened"}},
        },
        # p1: acme/web's two open P1 issues and acme/api's one (acme/old is archived); closed: one in acme/web;
        # merged: merged on 2 October and 1 November, not 20 September; open_mrs: one in each project
        expected={"p1": 3.0, "closed": 1.0, "merged": 2.0, "open_mrs": 2.0},
        env={"GITLAB_TOKEN": TOKEN},
        broken={"project": "acme/gone", "issues": {"state": "opened"}},
        rejected_env={"GITLAB_TOKEN": "glpat-wrongToken9876543210"},
    )


TestGitlabContract = source_contract("gitlab", gitlab_case, emulator=gitlab_emulator)


@pytest.fixture
def gl():
    server = GitlabEmulator(TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


def config(write_config, monkeypatch, metrics: dict[str, dict], **connection):
    """Connection ``gl`` (on https://gitlab.test unless ``endpoint`` is given) and ``metrics``, loaded for real."""
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    conn = {"type": "gitlab", "token": "${GITLAB_TOKEN}", "endpoint": "https://gitlab.test", **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'gl', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    return load_config(write_config(f"connections:\n  gl: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n"))


def values(cfg) -> dict:
    got = fetch_connection(plan(cfg, DAY), "gl")
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


# -- counting against the emulator ---------------------------------------------------------------------------


def test_project_issues_are_one_issues_statistics_request(write_config, monkeypatch, gl):
    for state in ["opened", "opened", "closed"]:
        gl.add("issues", "acme/web", state=state, labels=["P1"])
    gl.add("issues", "acme/web", state="opened", labels=["P2"])
    metrics = {"open_p1": {"project": "acme/web", "issues": {"state": "opened", "labels": "P1"}}}
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"open_p1": 2.0}
    (sent,) = gl.requests()
    # the state is read from the counts, never sent (issues_statistics takes none); the path is URL-encoded
    assert sent.path == "/api/v4/projects/acme%2Fweb/issues_statistics" and sent.query == {"labels": ["P1"]}
    assert sent.headers["private-token"] == TOKEN and "authorization" not in sent.headers


def test_oauth_tokens_go_as_bearer(write_config, monkeypatch, gl):
    gl.add("issues", "acme/web")
    gl.add("issues", "acme/api")
    metrics = {"all": {"project": 2, "issues": {}}}  # a project's numeric id (acme/api's)
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url, auth="oauth")) == {"all": 1.0}
    (sent,) = gl.requests()
    assert sent.headers["authorization"] == f"Bearer {TOKEN}" and "private-token" not in sent.headers
    assert sent.path == "/api/v4/projects/2/issues_statistics"


def test_a_group_reads_the_list_total_and_leaves_archived_projects_out(write_config, monkeypatch, gl):
    gl.add("issues", "acme/web", labels=["P1"])
    gl.add("issues", "acme/sub/app", labels=["P1"])  # a subgroup's project counts too
    gl.add("issues", "acme/old", labels=["P1"])
    gl.add("issues", "other/x", labels=["P1"])
    gl.projects["acme/old"]["archived"] = True
    metrics = {
        "listed": {"group": "acme", "issues": {"labels": "P1"}},
        "with_archived": {"group": "acme", "issues": {"labels": "P1", "non_archived": False}},
    }
    # listed: web and sub/app (old is archived, other/x is another group); with_archived: those and old
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"listed": 2.0, "with_archived": 3.0}
    listed = gl.requests(path=r"/groups/acme/issues$")
    assert len(listed) == 1 and listed[0].query == {"labels": ["P1"], "per_page": ["1"]}
    (stats,) = gl.requests(path=r"/issues_statistics$")  # non_archived: false is what the statistics count
    assert stats.query == {"labels": ["P1"]}


def test_above_10000_a_projects_issues_are_counted_by_keyset_pages(write_config, monkeypatch, gl, figures):
    for n in range(10_050):
        gl.add("issues", "acme/web", issue_type="incident" if n % 50 else "issue")
    metrics = {"incidents": {"project": "acme/web", "issues": {"issue_type": "incident"}}}
    # 10,050 issues, every 50th an issue (201 of them): 9,849 incidents, under the 10,000 whose total GitLab gives
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"incidents": 9849.0}
    gl.log.clear()
    metrics = {
        "all": {"project": "acme/web", "issues": {"issue_type": "incident", "state": "all", "confidential": False}}
    }
    gl.add("issues", "acme/web", issue_type="incident", confidential=True)  # not counted
    for _ in range(200):
        gl.add("issues", "acme/web", issue_type="incident")
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"all": 10_049.0}
    first, *pages = gl.requests()
    assert first.query["per_page"] == ["1"] and len(pages) == 101  # 10,049 = 100 pages of 100 and one of 49
    assert all(p.query["pagination"] == ["keyset"] and p.query["order_by"] == ["created_at"] for p in pages)
    assert all(p.query["per_page"] == ["100"] for p in pages) and "cursor" not in pages[0].query
    figures.append(("gitlab", "project issues above 10,000 (keyset)", {"requests": len(gl.requests())}))


def test_an_instance_before_keyset_for_issues_is_counted_by_offset_pages(write_config, monkeypatch, gl):
    gl.total_cap, gl.keyset_issues = 150, False  # GitLab before 18.3 answers keyset for issues with a 405
    for _ in range(230):
        gl.add("issues", "acme/web", issue_type="incident")
    metrics = {"incidents": {"project": "acme/web", "issues": {"issue_type": "incident"}}}
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"incidents": 230.0}
    total, keyset, *offset = gl.requests()
    assert keyset.query["pagination"] == ["keyset"] and [p.query.get("page", ["1"]) for p in offset] == [
        ["1"],
        ["2"],
        ["3"],
    ]
    assert all("pagination" not in p.query for p in offset)  # 100 + 100 + 30


def test_above_the_cap_merge_requests_are_counted_by_offset_pages(write_config, monkeypatch, gl):
    gl.total_cap = 250  # GitLab's 10,000, lowered to keep the test small
    for n in range(301):
        gl.add("merge_requests", "acme/web" if n % 2 else "acme/api", state="opened", target_branch="main")
    gl.add("merge_requests", "acme/web", state="opened", target_branch="release")
    metrics = {"to_main": {"group": "acme", "merge_requests": {"state": "opened", "target_branch": "main"}}}
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"to_main": 301.0}
    first, *pages = gl.requests()
    assert first.query["per_page"] == ["1"]
    assert [p.query.get("page", ["1"]) for p in pages] == [["1"], ["2"], ["3"], ["4"]]  # 100 + 100 + 100 + 1
    assert all("pagination" not in p.query for p in pages)  # merge requests have no keyset pagination


def test_merged_after_counts_by_merged_at_in_the_cycles_time_zone(write_config, monkeypatch, gl):
    for merged in [
        "2026-09-30T21:30:00Z",  # 23:30 on 30 September in Oslo: before the cycle
        "2026-09-30T22:30:00Z",  # 00:30 on 1 October in Oslo: counts
        "2026-11-16T22:59:00Z",  # 23:59 on 16 November in Oslo: counts, even with merged_before {as_of}
        "2026-11-16T23:01:00Z",  # 00:01 on 17 November in Oslo: after {as_of}
    ]:
        gl.add("merge_requests", "acme/web", state="merged", merged=merged)
    for day in range(1, 29):  # 28 merged in October (plus 2 old ones, merged before the cycle)
        gl.add("merge_requests", "acme/web", state="merged", merged=f"2026-10-{day:02d}T12:00:00Z")
    gl.add("merge_requests", "acme/web", state="merged", merged="2026-08-01T12:00:00Z")
    gl.add("merge_requests", "acme/web", state="merged", merged="2026-07-01T12:00:00Z")
    gl.add("merge_requests", "acme/web", state="closed")
    window = {"merged_after": "{cycle.start}", "merged_before": "{as_of}"}
    metrics = {
        "since": {"project": "acme/web", "merge_requests": {"merged_after": "{cycle.start}"}},
        "window": {"project": "acme/web", "merge_requests": {"state": "merged", **window}},
    }
    # since: 00:30 on 1 October, the two on 16/17 November and the 28 of October = 31; window: 30 (not 17 Nov)
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"since": 31.0, "window": 30.0}
    sent = gl.requests()
    assert all(r.query["order_by"] == ["merged_at"] and r.query["sort"] == ["desc"] for r in sent)
    assert all(r.query["state"] == ["merged"] and "merged_after" not in r.query for r in sent)
    assert len(sent) == 2  # one page of 100 each: the first MR merged before the cycle ends the count


def test_bare_dates_are_the_cycles_days_and_placeholders_are_filled(write_config, monkeypatch, gl):
    gl.add("issues", "acme/web", created="2026-09-30T21:30:00Z")  # 23:30 on 30 September in Oslo
    gl.add("issues", "acme/web", created="2026-09-30T22:30:00Z")  # 00:30 on 1 October in Oslo
    gl.add("issues", "acme/web", created="2026-12-31T22:30:00Z")  # 23:30 on 31 December in Oslo
    gl.add("issues", "acme/web", created="2026-12-31T23:30:00Z")  # 00:30 on 1 January in Oslo
    dates = {"created_after": "{cycle.start}", "created_before": "{cycle.end}"}
    metrics = {"in_cycle": {"project": "acme/web", "issues": dates}}
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"in_cycle": 2.0}
    (sent,) = gl.requests()
    assert sent.query["created_after"] == ["2026-10-01T00:00:00+02:00"]
    assert sent.query["created_before"] == ["2026-12-31T23:59:59.999999+01:00"]


def test_lists_go_in_gitlabs_array_form_and_labels_comma_separated(write_config, monkeypatch, gl):
    for labels in [["a", "b"], ["a"], ["a", "b", "c"]]:
        gl.add("merge_requests", "acme/web", labels=labels)
    metrics = {"both": {"project": "acme/web", "merge_requests": {"labels": ["a", "b"], "iids": [1, 2]}}}
    assert values(config(write_config, monkeypatch, metrics, endpoint=gl.url)) == {"both": 1.0}  # iid 1 only
    (sent,) = gl.requests()
    assert sent.query["labels"] == ["a,b"] and sent.query["iids[]"] == ["1", "2"]


def test_connection_check_reads_the_version_and_each_list(write_config, monkeypatch, gl):
    metrics = {"a": {"project": "acme/web", "issues": {}}, "b": {"group": "acme", "merge_requests": {}}}
    gl.add_project("acme/web")
    said = check_connection(config(write_config, monkeypatch, metrics, endpoint=gl.url), "gl")
    assert said == "token accepted; 2 list(s) of issues or merge requests readable (an access token as PRIVATE-TOKEN)"
    paths = [r.path for r in gl.requests()]
    assert paths == ["/api/v4/version", "/api/v4/groups/acme/merge_requests", "/api/v4/projects/acme%2Fweb/issues"]


# -- config errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "where", "words"),
    [
        ({"project": "a/b", "issues": {"lables": "P1"}}, "issues", "'lables' is not a filter of a project's issues"),
        ({"project": "a/b", "issues": {"lables": "P1"}}, "issues", "(did you mean labels?)"),
        ({"project": "a/b", "issues": {"order_by": "id"}}, "issues", "order_by is not a filter"),
        ({"project": "a/b", "issues": {"state": "open"}}, "issues", "state must be one of opened, closed, all"),
        ({"group": "a", "merge_requests": {"iids": [1]}}, "merge_requests", "not a filter of a group's merge requests"),
        ({"project": "a/b", "issues": {"merged_after": "x"}}, "issues", "'merged_after' is not a filter"),
        (
            {"project": "a/b", "merge_requests": {"state": "opened", "merged_after": "2026-10-01"}},
            "merge_requests",
            "write state: merged or leave it out",
        ),
        ({"project": "a/b", "group": "a", "issues": {}}, None, "give project: (a path such as acme/web"),
        ({"project": "a/b"}, None, "give issues: or merge_requests:"),
    ],
)
def test_filters_are_gitlabs_own_and_checked_when_the_config_loads(write_config, monkeypatch, keys, where, words):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"m": keys})
    problems = {p.path: p.message for p in info.value.problems}
    path = "metrics.m" + (f".{where}" if where else "")
    assert path in problems and words in problems[path], problems


def test_endpoint_is_an_origin_only(write_config, monkeypatch):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"m": {"project": "a/b", "issues": {}}}, endpoint="https://x.test/api/v4")
    assert "scheme, host and port only" in str(info.value)


# -- GitLab's own answers (respx) ----------------------------------------------------------------------------


def one(write_config, monkeypatch, keys: dict, **connection):
    (got,) = fetch_connection(plan(config(write_config, monkeypatch, {"m": keys}, **connection), DAY), "gl").values()
    return got


MRS = {"project": "acme/web", "merge_requests": {"state": "opened"}}


@respx.mock
def test_a_429_waits_for_retry_after_then_succeeds(write_config, monkeypatch, waits):
    limited = httpx.Response(429, text="Retry later", headers={"Retry-After": "7", "RateLimit-Remaining": "0"})
    ok = httpx.Response(200, json=[{"iid": 1}], headers={"x-total": "12"})
    route = respx.get(f"{API}/projects/acme%2Fweb/merge_requests").mock(side_effect=[limited, ok])
    assert one(write_config, monkeypatch, MRS).value == 12 and route.call_count == 2
    assert any(7 <= w <= 7.2 for w in waits)  # Retry-After honoured


@respx.mock
def test_a_429_without_retry_after_waits_for_ratelimit_reset(write_config, monkeypatch, waits):
    reset = str(int(time.time()) + 20)
    limited = httpx.Response(429, text="Retry later", headers={"RateLimit-Reset": reset})
    ok = httpx.Response(200, json=[], headers={"x-total": "0"})
    respx.get(f"{API}/projects/acme%2Fweb/merge_requests").mock(side_effect=[limited, ok])
    assert one(write_config, monkeypatch, MRS).value == 0
    assert any(18 <= w <= 20.2 for w in waits)  # about 20 s (the reset is a whole second)


@respx.mock
def test_a_429_that_names_no_wait_backs_off_instead_of_retrying_at_once(write_config, monkeypatch, waits):
    limited = httpx.Response(429, json={"error": "This endpoint has been requested too many times. Try again later."})
    ok = httpx.Response(200, json=[], headers={"x-total": "2"})
    respx.get(f"{API}/projects/acme%2Fweb/merge_requests").mock(side_effect=[limited, ok])
    assert one(write_config, monkeypatch, MRS).value == 2
    assert len(waits) == 1 and waits[0] >= 0.25  # the retry policy's first backoff (0.25-0.5 s), not ~0 s


@respx.mock
def test_no_requests_left_holds_the_connection_until_the_reset(write_config, monkeypatch, waits):
    spent = {"x-total": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": str(int(time.time()) + 40)}
    respx.get(f"{API}/projects/acme%2Fweb/merge_requests").respond(200, json=[], headers=spent)
    cfg = config(write_config, monkeypatch, {"a": MRS, "b": MRS}, max_concurrency=1)
    assert values(cfg) == {"a": 3.0, "b": 3.0}
    assert any(38 <= w <= 40.2 for w in waits)  # the second request waited for RateLimit-Reset


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"message": "401 Unauthorized"}, "GitLab did not accept the token of connection 'gl'"),
        (403, {"error": "insufficient_scope", "scope": "api read_api"}, "lacks the scope read_api"),
        (403, {"message": "403 Forbidden"}, "GitLab refused project 'acme/web' to the token of connection 'gl'"),
        (404, {"message": "404 Project Not Found"}, "project 'acme/web' not found, or not visible to the token"),
        (400, {"error": "wip does not have a valid value"}, "(GitLab: wip does not have a valid value)"),
    ],
)
@respx.mock
def test_refusals_are_plain_messages_and_not_retried(write_config, monkeypatch, waits, status, body, words):
    respx.get(f"{API}/projects/acme%2Fweb/merge_requests").respond(status, json=body)
    err = one(write_config, monkeypatch, MRS)
    assert isinstance(err, SourceError) and words in err.message and TOKEN not in err.message, err
    assert err.metric == "m" and waits == []


@respx.mock
def test_next_links_from_gitlabs_own_url_are_followed_at_the_endpoint(write_config, monkeypatch):
    home = "https://gitlab.example.com/api/v4/projects/acme%2Fweb/merge_requests"
    first = httpx.Response(200, json=[{}], headers={"x-total": ""})  # no total: above 10,000
    page1 = httpx.Response(200, json=[{}] * 100, headers={"Link": f'<{home}?page=2&per_page=100>; rel="next"'})
    page2 = httpx.Response(200, json=[{}] * 7)
    route = respx.get(f"{API}/projects/acme%2Fweb/merge_requests").mock(side_effect=[first, page1, page2])
    got = one(write_config, monkeypatch, MRS, url="https://gitlab.example.com")
    assert got.value == 107 and route.call_count == 3
    assert route.calls.last.request.url.params["page"] == "2"  # asked of the endpoint, not gitlab.example.com


@respx.mock
def test_a_relative_root_is_kept_behind_the_endpoint(write_config, monkeypatch):
    route = respx.get("https://gitlab.test/gitlab/api/v4/groups/acme/issues").respond(
        200, json=[], headers={"x-total": "4"}
    )
    keys = {"group": "acme", "issues": {"issue_type": "incident"}}
    assert one(write_config, monkeypatch, keys, url="https://example.com/gitlab").value == 4 and route.called


@respx.mock
def test_counting_page_by_page_stops_at_the_page_cap(write_config, monkeypatch):
    import okrsync.connectors.gitlab as gitlab

    monkeypatch.setattr(gitlab, "MAX_PAGES", 3)
    url = f"{API}/projects/acme%2Fweb/merge_requests"
    pages = [httpx.Response(200, json=[{}])] + [
        httpx.Response(200, json=[{}] * 100, headers={"Link": f'<{url}?page={n + 1}>; rel="next"'}) for n in range(1, 4)
    ]
    respx.get(url).mock(side_effect=pages)
    err = one(write_config, monkeypatch, MRS)
    assert isinstance(err, SourceError) and "more than 300 merge requests match" in err.message


# -- the emulator is as strict as GitLab -----------------------------------------------------------------------


def test_emulator_refuses_as_gitlab_does(gl):
    gl.add("issues", "acme/web")
    gl.hidden.add("acme/secret")
    gl.add_project("acme/secret")
    with httpx.Client(base_url=gl.url, headers={"PRIVATE-TOKEN": TOKEN}) as client:
        assert client.get("/api/v4/projects/acme%2Fweb/issues", headers={"PRIVATE-TOKEN": "nope"}).json() == {
            "message": "401 Unauthorized"
        }
        bad = client.get("/api/v4/projects/acme%2Fweb/issues", params={"state": "open"})
        assert bad.status_code == 400 and bad.json() == {"error": "state does not have a valid value"}
        hidden = client.get("/api/v4/projects/acme%2Fsecret/issues")
        assert hidden.status_code == 404 and hidden.json() == {"message": "404 Project Not Found"}
        assert client.get("/api/v4/groups/nobody/issues").json() == {"message": "404 Group Not Found"}
        keyset = client.get("/api/v4/projects/acme%2Fweb/merge_requests", params={"pagination": "keyset"})
        assert keyset.status_code == 405
        gl.scopes = {"read_user"}
        assert client.get("/api/v4/version").json()["error"] == "insufficient_scope"
    # the two refused requests are outside GitLab's description too: the excerpt catches what GitLab refuses
    found, PROBLEMS[:] = list(PROBLEMS), []
    assert any("state=['open'] is not one of ['opened', 'closed', 'all']" in p for p in found), found
    assert any("merge_requests: query parameter 'pagination' is not declared" in p for p in found), found


def test_emulator_caps_per_page_and_leaves_totals_out_above_the_cap(gl):
    for _ in range(130):
        gl.add("issues", "acme/web")
    with httpx.Client(base_url=gl.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        page = client.get("/api/v4/projects/acme%2Fweb/issues", params={"per_page": 500})
        assert len(page.json()) == 100 and page.headers["x-per-page"] == "100" and page.headers["x-total"] == "130"
        assert 'rel="last"' in page.headers["link"] and page.headers["x-next-page"] == "2"
        gl.total_cap = 129
        page = client.get("/api/v4/projects/acme%2Fweb/issues", params={"per_page": 100})
        assert "x-total" not in page.headers and "x-total-pages" not in page.headers
        assert 'rel="last"' not in page.headers["link"] and 'rel="next"' in page.headers["link"]


def test_emulator_enforces_the_rate_limit():
    now = [1000.0]
    gl = GitlabEmulator(TOKEN, per_minute=2, clock=lambda: now[0]).start()
    try:
        with httpx.Client(base_url=gl.url, headers={"PRIVATE-TOKEN": TOKEN}) as client:
            answers = [client.get("/api/v4/version") for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]
            assert answers[1].headers["RateLimit-Remaining"] == "0" and answers[2].text == "Retry later"
            assert answers[2].headers["Retry-After"] == "60" and answers[2].headers["RateLimit-Reset"] == "1060"
            now[0] += 60
            assert client.get("/api/v4/version").status_code == 200
    finally:
        gl.stop()
