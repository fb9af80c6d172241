"""The trello source: the contract suite against the Trello emulator (every request checked against Atlassian's
OpenAPI description of Trello), and respx for Trello's own answers (its plain-text refusals, the 429 of a token's
limit without Retry-After, the 100 requests in 10 s). Expected figures are worked out by hand in each test."""

import json
import re

import httpx
import pytest
import respx

from okrsync.config.load import load_config
from okrsync.connectors.trello import TrelloConnection, TrelloSource
from okrsync.errors import ConfigError, SourceError
from okrsync.sync.fetch import check_connection, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.trello import TrelloEmulator
from tests.helpers import REPO, oslo

KEY = "trelloKeyCanary0123456789abcdef0"
TOKEN = "trelloTokenCanary0123456789abcdef0123456789"
DAY = oslo(2026, 11, 16)
ROOT = "https://trello.test"
LIST = "5abbe4b7ddc1b351ef961415"
BOARD = "5abbe4b7ddc1b351ef961414"
CARDS = f"{ROOT}/1/lists/{LIST}/cards"
OAUTH = f'OAuth oauth_consumer_key="{KEY}", oauth_token="{TOKEN}"'


def trello_emulator() -> TrelloEmulator:
    trello = TrelloEmulator(KEY, TOKEN)
    board = trello.add_board("Product")
    doing, done = trello.add_list(board, "Doing"), trello.add_list(board, "Done")
    trello.add_list(board, "Done", closed=True)  # an archived list of the same name: not read
    trello.add_card(doing)
    trello.add_card(doing)
    trello.add_card(done, ("Bug",), "2026-10-03T08:00:00.000Z")
    trello.add_card(done, ("Feature",), "2026-09-20T08:00:00.000Z")  # last active before the cycle
    trello.add_card(done, ("Bug", "Urgent"), "2026-11-02T08:00:00.000Z")
    trello.add_card(done, ("Bug",), "2026-10-10T08:00:00.000Z", closed=True)  # archived: not in the list's cards
    trello.add_card(done, (), "2026-09-30T22:30:00.000Z")  # 00:30 Oslo on 1 October: in the cycle
    return trello


def ids(emulator: TrelloEmulator, board_name: str, list_name: str) -> tuple[str, str]:
    board = next(b for b, x in emulator.boards.items() if x["name"] == board_name)
    found = [i for i, x in emulator.lists.items() if x["idBoard"] == board and x["name"] == list_name]
    return board, found[0]


def trello_case(emulator, tmp_path) -> ContractCase:
    board, done = ids(emulator, "Product", "Done")
    return ContractCase(
        connection={"type": "trello", "key": "${TRELLO_KEY}", "token": "${TRELLO_TOKEN}", "endpoint": emulator.url},
        metrics={
            "done": {"list": done},  # the four open cards (the archived one is not a card of the list)
            "done_by_name": {"board": board, "list_name": "Done"},  # the open list named Done
            "bugs_done": {"list": done, "label": "Bug"},  # 3 October and 2 November
            "done_this_cycle": {"list": done, "active_since": "{cycle.start}"},  # 3 Oct, 2 Nov, 1 Oct 00:30 Oslo
            "doing": {"board": board, "list_name": "Doing"},
        },
        expected={"done": 4.0, "done_by_name": 4.0, "bugs_done": 2.0, "done_this_cycle": 3.0, "doing": 2.0},
        env={"TRELLO_KEY": KEY, "TRELLO_TOKEN": TOKEN},
        broken={"list": "0123456789abcdef01234567"},
        rejected_env={"TRELLO_TOKEN": "trelloWrongToken9876543210fedcba9876543210"},
    )


TestTrelloContract = source_contract("trello", trello_case, emulator=trello_emulator)


def config(write_config, monkeypatch, metrics: dict[str, dict], **connection):
    monkeypatch.setenv("TRELLO_KEY", KEY)
    monkeypatch.setenv("TRELLO_TOKEN", TOKEN)
    conn = {"type": "trello", "key": "${TRELLO_KEY}", "token": "${TRELLO_TOKEN}", "endpoint": ROOT, **connection}
    lines = "\n".join(f"  {m}: {json.dumps({'connection': 'trello', **keys})}" for m, keys in metrics.items())
    kpis = ", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in metrics)
    path = write_config(f"connections:\n  trello: {json.dumps(conn)}\nmetrics:\n{lines}\nkpis: [{kpis}]\n")
    return load_config(path)


def fetch(cfg) -> dict:
    return fetch_connection(plan(cfg, DAY), "trello")


def values(got: dict) -> dict:
    return {m: r.message if isinstance(r, SourceError) else r.value for m, r in got.items()}


def card(n: int, labels=(), active: str = "2026-10-05T10:00:00.000Z") -> dict:
    named = [{"id": f"{n:012x}{i:012x}", "name": name, "color": "green"} for i, name in enumerate(labels)]
    return {"id": f"{n:024x}", "closed": False, "labels": named, "dateLastActivity": active}


@respx.mock
def test_credentials_go_in_the_header_and_nothing_in_the_url(write_config, monkeypatch):
    route = respx.get(CARDS).respond(200, json=[card(1), card(2)])
    got = fetch(config(write_config, monkeypatch, {"n": {"list": LIST}}))
    assert values(got) == {"n": 2.0}
    sent = route.calls.last.request
    assert sent.headers["authorization"] == OAUTH
    assert str(sent.url) == CARDS  # no key=, no token=: the operation declares no query parameter at all


@respx.mock
def test_a_list_found_by_name_on_its_board(write_config, monkeypatch):
    lists = [{"id": "5abbe4b7ddc1b351ef961499", "name": "Doing"}, {"id": LIST, "name": "Done"}]
    board = respx.get(f"{ROOT}/1/boards/{BOARD}/lists").respond(200, json=lists)
    cards = respx.get(CARDS).respond(200, json=[card(1), card(2), card(3)])
    got = fetch(config(write_config, monkeypatch, {"n": {"board": BOARD, "list_name": "Done"}}))
    assert values(got) == {"n": 3.0} and cards.call_count == 1
    assert dict(board.calls.last.request.url.params) == {"filter": "open", "fields": "id,name"}


@pytest.mark.parametrize(
    ("lists", "says"),
    [
        (
            [{"id": LIST, "name": "Done"}, {"id": "5abbe4b7ddc1b351ef961499", "name": "Done"}],
            "2 open lists named 'Done'",
        ),
        ([{"id": LIST, "name": "Doing"}], "no open list named 'Done' (its open lists: 'Doing')"),
    ],
)
@respx.mock
def test_a_list_name_must_name_one_open_list(write_config, monkeypatch, lists, says):
    respx.get(f"{ROOT}/1/boards/{BOARD}/lists").respond(200, json=lists)
    (err,) = fetch(config(write_config, monkeypatch, {"n": {"board": BOARD, "list_name": "Done"}})).values()
    assert isinstance(err, SourceError) and says in err.message


@respx.mock
def test_label_and_active_since_filter_the_cards(write_config, monkeypatch):
    cards = [
        card(1, ("Bug",), "2026-11-02T08:00:00.000Z"),
        card(2, ("bug",), "2026-11-03T08:00:00.000Z"),  # another label: names are matched exactly
        card(3, ("Bug",), "2026-10-31T22:59:00.000Z"),  # 23:59 Oslo on 31 October: before 1 November
        card(4, ("Feature",), "2026-11-05T08:00:00.000Z"),
    ]
    respx.get(CARDS).respond(200, json=cards)
    metrics = {
        "bugs": {"list": LIST, "label": "Bug"},  # 1 and 3
        "bugs_nov": {"list": LIST, "label": "Bug", "active_since": "2026-11-01"},  # 1
        "by_id": {"list": LIST, "label": f"{4:012x}{0:012x}"},  # the Feature label's id: 4
        "nov": {"list": LIST, "active_since": "2026-11-01"},  # 1, 2 and 4
    }
    got = fetch(config(write_config, monkeypatch, metrics))
    assert values(got) == {"bugs": 2.0, "bugs_nov": 1.0, "by_id": 1.0, "nov": 3.0}


@respx.mock
def test_a_token_limit_429_waits_the_advertised_interval(write_config, monkeypatch, waits):
    limited = httpx.Response(
        429,
        json={"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"},
        headers={"x-rate-limit-api-token-interval-ms": "10000", "x-rate-limit-api-token-remaining": "0"},
    )
    route = respx.get(CARDS).mock(side_effect=[limited, httpx.Response(200, json=[card(1)])])
    got = fetch(config(write_config, monkeypatch, {"n": {"list": LIST}}))
    assert values(got) == {"n": 1.0} and route.call_count == 2
    assert any(10 <= w <= 10.2 for w in waits)  # no Retry-After: the token's window, 10 s


@respx.mock
def test_a_429_that_goes_on_names_the_limit(write_config, monkeypatch, waits):
    body = {"error": "API_KEY_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
    respx.get(CARDS).respond(429, json=body)
    (err,) = fetch(config(write_config, monkeypatch, {"n": {"list": LIST}})).values()
    assert isinstance(err, SourceError) and "Trello answered 429 (API_KEY_LIMIT_EXCEEDED)" in err.message


@pytest.mark.parametrize(
    ("status", "text", "words"),
    [
        (401, "invalid token", "Trello did not accept the token of connection 'trello' (invalid token): check token:"),
        (401, "invalid key", "Trello did not accept the key of connection 'trello' (invalid key): check key:"),
        (401, "unauthorized permission requested", f"the token's member may not read list '{LIST}'"),
        (400, "invalid id", f"Trello refused list '{LIST}' (invalid id): list: takes the 24-character id"),
        (404, "The requested resource was not found.", f"list '{LIST}' not found"),
    ],
)
@respx.mock
def test_trello_refusals_become_plain_messages(write_config, monkeypatch, waits, status, text, words):
    respx.get(CARDS).respond(status, text=text, headers={"Content-Type": "text/plain; charset=utf-8"})
    (err,) = fetch(config(write_config, monkeypatch, {"n": {"list": LIST}})).values()
    assert isinstance(err, SourceError) and words in err.message
    assert KEY not in err.message and TOKEN not in err.message
    assert ("check list:" in err.message) == (status == 404)
    assert waits == []  # a refusal is not retried


@respx.mock
def test_requests_are_paced_at_100_in_10_seconds(write_config, monkeypatch, waits, still_clock):
    respx.get(url__regex=rf"{ROOT}/1/lists/\w+/cards").respond(200, json=[card(1)])
    metrics = {f"m{i}": {"list": f"{i:024x}"} for i in range(102)}
    got = fetch(config(write_config, monkeypatch, metrics, max_concurrency=1))
    assert set(values(got).values()) == {1.0}
    # (sleeps are recorded, not slept) a token's 100 in any 10 s: a burst of 100, then the 101st and 102nd wait
    # for the window to move on (10 s after the 1st and the 2nd)
    assert [round(w) for w in waits] == [10, 10]


def test_a_board_the_member_cannot_see_is_named(write_config, monkeypatch):
    trello = TrelloEmulator(KEY, TOKEN).start()
    try:
        hidden = trello.add_board("Secret", visible=False)
        done = trello.add_list(hidden, "Done")
        metrics = {"by_id": {"list": done}, "by_name": {"board": hidden, "list_name": "Done"}}
        got = values(fetch(config(write_config, monkeypatch, metrics, endpoint=trello.url)))
        assert f"the token's member may not read list '{done}' (unauthorized permission requested)" in got["by_id"]
        assert f"the token's member may not read board '{hidden}'" in got["by_name"]
    finally:
        trello.stop()


@pytest.mark.parametrize(
    ("keys", "connection", "where", "says"),
    [
        ({"list": LIST, "board": BOARD, "list_name": "Done"}, {}, "metrics.n", "not both"),
        ({"list_name": "Done"}, {}, "metrics.n", "give list:"),
        ({"board": BOARD}, {}, "metrics.n", "with list_name:"),
        ({"list": LIST, "aggregate": "sum"}, {}, "metrics.n.aggregate", "supports count only"),
        ({"list": LIST, "active_since": "yesterday"}, {}, "metrics.n.active_since", "ISO date"),
        ({"list": LIST}, {"endpoint": "https://proxy.test/1"}, "connections.trello.endpoint", "host and port"),
    ],
)
def test_config_errors_are_located(write_config, monkeypatch, keys, connection, where, says):
    with pytest.raises(ConfigError) as info:
        config(write_config, monkeypatch, {"n": keys}, **connection)
    problems = {p.path: p.message for p in info.value.problems}
    assert where in problems and says in problems[where], problems


def test_the_documented_example_is_a_valid_config(write_config, monkeypatch):
    text = (REPO / "docs" / "sources" / "trello.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    monkeypatch.setenv("TRELLO_KEY", KEY)
    monkeypatch.setenv("TRELLO_TOKEN", TOKEN)
    cfg = load_config(
        write_config(block.group(1) + "kpis: [{id: cards_done, metric: cards_done, healthy: {min: 0}}]\n")
    )
    assert {m for m in cfg.metrics if cfg.metrics[m].connection == "trello"} >= {"cards_done", "bugs_fixed"}


def test_emulator_refuses_what_trello_refuses():
    now = [0.0]
    trello = TrelloEmulator(KEY, TOKEN, per_token=3, clock=lambda: now[0]).start()
    try:
        board = trello.add_board("Product")
        done = trello.add_list(board, "Done")
        with httpx.Client(base_url=trello.url) as client:
            assert client.get(f"/1/lists/{done}/cards", params={"key": KEY, "token": "nope"}).text == "invalid token"
            assert (
                client.get(f"/1/lists/{done}/cards", headers={"Authorization": "OAuth oauth_token=x"}).text
                == "invalid key"
            )
            client.headers["Authorization"] = OAUTH
            answers = [client.get("/1/lists/not-an-id/cards"), client.get(f"/1/lists/{done}/cards")]
            assert [(a.status_code, a.text) for a in answers] == [(400, "invalid id"), (200, "[]")]
            assert answers[1].headers["x-rate-limit-api-token-remaining"] == "1"
            limited = [client.get(f"/1/boards/{board}/lists") for _ in range(2)][-1]
            assert limited.status_code == 429 and limited.json()["error"] == "API_TOKEN_LIMIT_EXCEEDED"
            assert "Retry-After" not in limited.headers
            now[0] += 10
            assert client.get(f"/1/boards/{board}/lists", params={"fields": "name"}).json() == [
                {"id": done, "name": "Done"}
            ]
    finally:
        trello.stop()


def test_the_connection_test_reads_each_list_and_board_or_else_the_member(write_config, monkeypatch, tmp_path):
    trello = trello_emulator().start()
    try:
        board, done = ids(trello, "Product", "Done")
        metrics = {"a": {"list": done}, "b": {"board": board, "list_name": "Done"}}
        assert check_connection(config(write_config, monkeypatch, metrics, endpoint=trello.url), "trello") == (
            "accepted; can read 'Product' (an API key and token)"
        )
        assert [r.path for r in trello.requests()] == [f"/1/lists/{done}", f"/1/boards/{board}"]
        settings = TrelloConnection(type="trello", key=KEY, token=TOKEN, endpoint=trello.url)
        assert (
            TrelloSource("trello", settings, tmp_path).check()
            == "accepted; can read 'opsreader' (an API key and token)"
        )
        assert trello.requests()[-1].path == "/1/members/me"
    finally:
        trello.stop()
