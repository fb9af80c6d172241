"""The GitHub source, written the new way: the contract suite against its emulator, plus respx for
GitHub's own answers (rate limits, validation errors, incomplete results) and its pacing."""

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.errors import SourceError
from okrsync.sync.fetch import fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.github import GithubEmulator
from tests.helpers import oslo

TOKEN = "ghp_canaryToken0123456789"
DAY = oslo(2026, 11, 16)


def github_emulator() -> GithubEmulator:
    gh = GithubEmulator(TOKEN)
    for labels, state, created in [
        (["bug"], "open", "2026-10-03"),
        (["bug"], "open", "2026-09-20"),
        (["bug"], "closed", "2026-10-20"),
        ([], "open", "2026-11-01"),
    ]:
        gh.add("acme/app", labels=labels, state=state, created=created)
    gh.add("acme/app", kind="pr", state="closed", created="2026-10-10")
    return gh


def github_case(emulator, tmp_path) -> ContractCase:
    return ContractCase(
        connection={"type": "github", "token": "${GH_TOKEN}", "endpoint": emulator.url, "rate_limit": 100},
        metrics={
            "open_bugs": {"query": "repo:acme/app is:issue is:open label:bug"},
            "new_bugs": {"query": "repo:acme/app is:issue label:bug created:>={cycle.start}"},
            "merged_prs": {"query": "repo:acme/app is:pr is:closed"},
        },
        expected={"open_bugs": 2.0, "new_bugs": 2.0, "merged_prs": 1.0},
        env={"GH_TOKEN": TOKEN},
        broken={"query": "repo:acme/gone is:issue"},
        rejected_env={"GH_TOKEN": "ghp_wrongToken9876543210"},
    )


TestGithubContract = source_contract("github", github_case, emulator=github_emulator)


def config(write_config, monkeypatch, queries: dict[str, str], rate: str = ", rate_limit: 100"):
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    metrics = "\n".join(f"  {m}: {{connection: gh, query: {q!r}}}" for m, q in queries.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in queries)
    path = write_config(
        f"connections:\n  gh: {{type: github, token: '${{GH_TOKEN}}', endpoint: 'https://gh.test'{rate}}}\n"
        f"metrics:\n{metrics}\nkpis: [{kpis}]\n"
    )
    return load_config(path)


def fetch(cfg):
    return fetch_connection(plan(cfg, DAY), "gh")


@respx.mock
def test_request_shape_and_placeholders(write_config, monkeypatch):
    route = respx.get("https://gh.test/search/issues").respond(
        200, json={"total_count": 7, "incomplete_results": False}
    )
    got = fetch(config(write_config, monkeypatch, {"n": "repo:a/b created:>={cycle.start}"}))
    assert got["n"].value == 7
    sent = route.calls.last.request
    assert sent.url.params["q"] == "repo:a/b created:>=2026-10-01" and sent.url.params["per_page"] == "1"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["accept"] == "application/vnd.github+json"


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"message": "Bad credentials"}, "authentication failed, check the token of connection 'gh'"),
        (403, {"message": "Resource not accessible by personal access token"}, "lack a permission"),
        (
            422,
            {"message": "Validation Failed", "errors": [{"message": "cannot be searched"}]},
            "Validation Failed: cannot be searched",
        ),
    ],
)
@respx.mock
def test_refusals_are_plain_messages(write_config, monkeypatch, waits, status, body, words):
    respx.get("https://gh.test/search/issues").respond(status, json=body)
    (err,) = fetch(config(write_config, monkeypatch, {"n": "repo:a/b"})).values()
    assert isinstance(err, SourceError) and words in err.message and TOKEN not in err.message
    assert waits == []  # a refusal is not retried


@respx.mock
def test_rate_limit_answer_waits_for_reset_then_succeeds(write_config, monkeypatch, waits):
    limited = httpx.Response(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"},
    )
    secondary = httpx.Response(429, json={"message": "secondary rate limit"}, headers={"retry-after": "7"})
    ok = httpx.Response(200, json={"total_count": 3, "incomplete_results": False})
    route = respx.get("https://gh.test/search/issues").mock(side_effect=[limited, secondary, ok])
    got = fetch(config(write_config, monkeypatch, {"n": "repo:a/b"}))
    assert got["n"].value == 3 and route.call_count == 3
    assert any(7 <= w <= 7.2 for w in waits)  # the secondary limit's retry-after is honoured


@respx.mock
def test_incomplete_results_fail_instead_of_a_short_count(write_config, monkeypatch):
    respx.get("https://gh.test/search/issues").respond(200, json={"total_count": 2, "incomplete_results": True})
    (err,) = fetch(config(write_config, monkeypatch, {"n": "repo:a/b"})).values()
    assert isinstance(err, SourceError) and "timed out" in err.message


@respx.mock
def test_default_pacing_keeps_search_under_30_per_minute(write_config, monkeypatch, waits, still_clock):
    respx.get("https://gh.test/search/issues").respond(200, json={"total_count": 1, "incomplete_results": False})
    queries = {f"m{i}": f"repo:a/b label:l{i}" for i in range(32)}
    fetch(config(write_config, monkeypatch, queries, rate=", max_concurrency: 1"))
    # (sleeps are recorded, not slept) GitHub's search window: 30 a minute, so a burst of 30, and the
    # 31st and 32nd wait for the window to move on (one minute after the 1st and the 2nd)
    assert [round(w) for w in waits] == [60, 60]


def test_emulator_enforces_the_search_quota():
    now = [1000.0]
    gh = GithubEmulator(TOKEN, per_minute=2, clock=lambda: now[0]).start()
    try:
        gh.add("a/b")
        with httpx.Client(base_url=gh.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            codes = [client.get("/search/issues", params={"q": "repo:a/b"}).status_code for _ in range(3)]
            assert codes == [200, 200, 403]
            now[0] += 60
            assert client.get("/search/issues", params={"q": "repo:a/b"}).status_code == 200
    finally:
        gh.stop()
