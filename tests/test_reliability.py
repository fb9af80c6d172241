"""Reliability suite (marker ``reliability``, runs in CI): the bad night, measured.

Concurrency: 2, 4 and 8 syncs at once — of one config and of different configs — on SQLite and on
PostgreSQL, in separate processes and **without the run lock** (exactly-once must hold on its own:
the store's claims decide), each delivering a Slack digest (at most once) and a webhook (idempotent)
to a slow receiver. Non-finite values: NaN, infinities and overflowing formulas from real sources fail
only their metric. Each test records its figures; the table is printed at the end of the session
(``pytest -m reliability -s`` or in the summary) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.store import Store
from okrsync.sync.sequence import sync
from okrsync.testing import Emulator, Request, Response, route
from tests.helpers import okrsync, oslo, posts, slow_receiver, team_config, write_csv

pytestmark = pytest.mark.reliability
DAY = oslo(2026, 11, 16)


def _sync_without_the_run_lock(path: str, barrier, results) -> None:
    """A child process: one sync, started together with the others, with the run lock switched off."""
    from okrsync.store.lock import HeldLock

    Store.run_lock = lambda self, namespace, cycle, **kwargs: contextlib.nullcontext(HeldLock(namespace, cycle))
    config = load_config(path)
    barrier.wait(60)
    try:
        result = sync(config, DAY, now=DAY)
        results.put({"exit": result.exit_code, "errors": [str(e) for e in result.output_errors]})
    except Exception as exc:  # a store error here is a finding, not a crash of the test
        results.put({"exit": -1, "errors": [f"{type(exc).__name__}: {exc}"]})


def run_at_once(paths: list[Path]) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(paths)), ctx.Queue()
    children = [ctx.Process(target=_sync_without_the_run_lock, args=(str(p), barrier, results)) for p in paths]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(30)
    return outcomes


@pytest.mark.parametrize("runs", [2, 4, 8])
@pytest.mark.parametrize("configs", ["one config", "different configs"])
def test_syncs_at_once_deliver_exactly_once_without_the_run_lock(store_url, tmp_path, runs, configs, figures):
    receiver = slow_receiver()
    try:
        teams = ["team"] if configs == "one config" else [f"team{i}" for i in range(runs)]
        Store(store_url).close()  # an existing store: the race under test is delivery, not the first migration
        paths = [team_config(tmp_path, teams[i % len(teams)], store_url, receiver.url) for i in range(runs)]
        outcomes = run_at_once(paths)
        duplicates = posts(receiver, "slack") - len(teams) + posts(receiver, "hook") - len(teams)
        errors = [e for o in outcomes for e in o["errors"] if o["exit"] == -1]
        backend = store_url.split(":", 1)[0]
        figures.append(
            (
                "concurrency",
                f"{runs} runs, {configs}, {backend}",
                {"duplicate deliveries": duplicates, "store errors": len(errors)},
            )
        )
        assert errors == []
        assert {o["exit"] for o in outcomes} == {0}, outcomes
        assert posts(receiver, "slack") == len(teams) and posts(receiver, "hook") == len(teams)
        with Store(store_url) as store, store.engine.connect() as conn:
            per_team = conn.execute(sa.text("select namespace, count(*) from runs group by namespace")).all()
        assert dict(per_team) == dict.fromkeys(teams, 1)
    finally:
        receiver.stop()


NON_FINITE = {
    "nan.csv": "n\nNaN\n",
    "inf.csv": "n\n1e999\n",
    "minus_inf.csv": "n\n-1e999\n",
    "huge.csv": "n\n" + "9" * 400 + "\n",
}


def test_non_finite_values_fail_only_their_metric_and_never_reach_the_store(store_url, tmp_path, write_config, figures):
    for name, text in NON_FINITE.items():
        write_csv(tmp_path / name, text)
    write_csv(tmp_path / "ok.csv", "n\n7\n")
    bad = {name.removesuffix(".csv"): name for name in NON_FINITE}
    metrics = "\n".join(f"  {m}: {{connection: files, path: {f}, column: n}}" for m, f in bad.items())
    path = write_config(f"""\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{store_url}"
connections: {{files: {{type: csv, root: .}}}}
metrics:
{metrics}
  ok: {{connection: files, path: ok.csv, column: n}}
  overflow: {{formula: "ok * 1e300 * 1e300"}}
  cancel: {{formula: "ok * 1e300 * 1e300 - ok * 1e300 * 1e300"}}
objectives: [{{id: o, title: Grow, key_results: [{{id: k, title: OK, metric: ok, start: 0, target: 10}}]}}]
kpis: [{", ".join(f"{{id: {m}, metric: {m}, healthy: {{min: 0}}}}" for m in [*bad, "overflow", "cancel"])}]
""")
    config = load_config(path)
    for day in (DAY, oslo(2026, 11, 17)):  # the second run reads the first's history: it must still work
        result = sync(config, day, now=day)
        assert sorted(result.errors) == sorted([*bad, "overflow", "cancel"])
        assert all("number" in e.message or "out of range" in e.message for e in result.errors.values()), result.errors
    document = json.dumps(result.document.to_dict(), allow_nan=False)  # strict JSON: no NaN, no Infinity
    assert result.document.to_dict()["objectives"][0]["key_results"][0]["value"] == 7
    with Store(store_url) as store, store.engine.connect() as conn:
        values = [tuple(v) for v in conn.execute(sa.text("select metric_id, value from metric_values"))]
    assert {m for m, _ in values} == {"ok"}
    stored_bad = len([m for m, _ in values if m != "ok"])
    figures.append(
        (
            "non-finite values",
            f"{len(bad) + 2} bad metrics, two runs, {store_url.split(':', 1)[0]}",
            {"bad values stored": stored_bad, "healthy metrics lost": 0 if ("ok", 7.0) in values else 1},
        )
    )
    json.loads(document, parse_constant=lambda token: pytest.fail(f"{token} in the document"))


class Echo(Emulator):
    """A hostile API: every answer repeats the request's credentials back (header, Basic pair, query),
    and a next-page link points at another host. The chat webhook on the same server records payloads."""

    def __init__(self):
        super().__init__()
        self.posted: list[Request] = []

    @route("GET", r"/api/(bearer|basic|query)")
    def echo(self, req: Request, how: str):
        import base64

        auth = next((v for k, v in req.headers.items() if k.lower() == "authorization"), " ")
        scheme, _, credential = auth.partition(" ")
        if scheme == "Basic":
            credential += " " + base64.b64decode(credential).decode().partition(":")[2]
        said = {"message": f"token {credential} refused at {req.path}?{req.query}"}  # the bare credential
        return Response(400, said)

    @route("GET", r"/api/paged")
    def paged(self, req: Request):
        return Response(200, {"items": [1], "next": "http://evil.invalid:9/steal"})

    @route("POST", r"/hooks/(.*)")
    def hook(self, req: Request, rest: str):
        self.posted.append(req)
        return Response(200, "ok")


CANARIES = {
    "API_TOKEN": "canary-bearer-7f3a9c1d",
    "API_PASSWORD": "canary-basic-4b8e2f6a",
    "API_KEY": "canary-query-9d1c5e7b",
    "HOOK_SECRET": "canaryHookSecretXYZ0123456789",
}
LITERAL = "canary-literal-5e6f7a8b"  # written in the config itself: only "Bearer …" as a whole is a header value


def test_no_secret_reaches_output_store_report_or_payload_even_when_a_server_echoes_it(tmp_path, figures):
    server = Echo().start()
    try:
        path = tmp_path / "okrsync.yaml"
        path.write_text(echo_config(server.url))
        done = okrsync("--verbose", "-c", str(path), "run", "--as-of", "2026-11-16", cwd=tmp_path, env=CANARIES)
        assert done.returncode == 1, done.stdout + done.stderr  # the sync completed; the sources failed
        assert "400" in done.stdout + done.stderr  # the servers' words are shown, minus the secrets
        assert not any(r.path.startswith("/steal") for r in server.requests())  # no link to another origin
        places = {
            "stdout": done.stdout,
            "stderr": done.stderr,
            "store": "\n".join(str(row) for row in _dump(tmp_path / "store.db")),
            "report": (tmp_path / "report.html").read_text() + (tmp_path / "report.json").read_text(),
            "payloads": "\n".join(r.body.decode() for r in server.posted),
        }
        assert server.posted, "the digest was sent"
        canaries = {**CANARIES, "literal": LITERAL}
        leaks = {where: [n for n, c in canaries.items() if c.lower() in text.lower()] for where, text in places.items()}
        figures.append(("secrets", "echoing server, 5 canaries, 5 places", {"leaks": sum(map(len, leaks.values()))}))
        assert leaks == {where: [] for where in places}
    finally:
        server.stop()


def echo_config(url: str) -> str:
    """Four connections whose credentials the Echo server repeats, and outputs that would carry them."""
    return f"""\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
connections:
  bearer: {{type: http, base_url: "{url}/api", headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}}}
  basic: {{type: http, base_url: "{url}/api", auth: {{username: okr, password: "${{API_PASSWORD}}"}}}}
  query: {{type: http, base_url: "{url}/api", params: {{api_key: "${{API_KEY}}"}}}}
  literal: {{type: http, base_url: "{url}/api", headers: {{Authorization: "Bearer {LITERAL}"}}}}
metrics:
  a: {{connection: bearer, path: /bearer, select: value}}
  b: {{connection: basic, path: /basic, select: value}}
  c: {{connection: query, path: /query, select: value}}
  d: {{connection: bearer, path: /paged, select: items, aggregate: sum, paginate: {{next: next}}}}
  e: {{connection: literal, path: /bearer, select: value}}
kpis: [{{id: e, metric: e, healthy: {{min: 0}}}}, {{id: a, metric: a, healthy: {{min: 0}}}},
       {{id: b, metric: b, healthy: {{min: 0}}}}, {{id: c, metric: c, healthy: {{min: 0}}}},
       {{id: d, metric: d, healthy: {{min: 0}}}}]
outputs:
  - {{type: slack, webhook_url: "{url}/hooks/${{HOOK_SECRET}}", on: [every_run], rate_limit: 1000}}
  - {{type: report, path: report.html}}
  - {{type: report, path: report.json}}
"""


def _dump(path: Path) -> list:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        rows = [row for name in names for row in conn.execute(sa.text(f'select * from "{name}"'))]
    engine.dispose()
    return rows


def test_every_user_string_is_escaped_in_reports_and_no_temp_file_survives(tmp_path, write_config, figures):
    hostile = "<img src=x onerror=alert(1)>"
    write_csv(tmp_path / "kpi.csv", "n\n5\n")
    (tmp_path / f".okr.html.{'k1ll3d'}.tmp").write_text("half a report")  # a run killed mid-write
    path = write_config(f"""\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
connections: {{files: {{type: csv, root: .}}}}
metrics:
  n: {{connection: files, path: kpi.csv, column: n, unit: "{hostile}"}}
objectives:
  - id: o
    title: "<script>alert(1)</script>"
    owner: "<b>me</b>"
    key_results: [{{id: k, title: "{hostile}", metric: n, start: 0, target: 10}}]
kpis: [{{id: h, title: "{hostile}", metric: n, healthy: {{min: 0, max: 9}}}}]
outputs: [{{type: report, path: okr.html}}, {{type: report, path: okr.md}}]
""")
    result = sync(load_config(path), DAY, now=DAY)
    assert result.exit_code == 0, result.output_errors
    html, markdown = (tmp_path / "okr.html").read_text(), (tmp_path / "okr.md").read_text()
    raw = [s for s in ("<img src=x", "<script>alert", "<b>me</b>") if s in html or s in markdown]
    figures.append(("security", "hostile titles, owner and unit in reports", {"unescaped": len(raw)}))
    assert raw == [] and "&lt;img src=x" in html
    assert list(tmp_path.glob(".okr.*.tmp")) == []


class Hung(Emulator):
    """An API that answers one path at once and never answers the other (within the test)."""

    def __init__(self):
        super().__init__()
        self.release = __import__("threading").Event()

    @route("GET", r"/(fast|hung)")
    def answer(self, req: Request, which: str):
        if which == "hung":
            self.release.wait(30)  # held until the test ends: a server that stopped answering
        return Response(200, {"value": 3})


def test_a_hung_connection_is_cut_at_its_deadline_and_the_rest_is_stored(tmp_path, write_config, figures):
    server = Hung().start()
    try:
        path = write_config(f"""\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: sqlite:///store.db
connections:
  fast: {{type: http, base_url: "{server.url}"}}
  hung: {{type: http, base_url: "{server.url}", deadline: 1s, timeout: 60}}
metrics:
  ok: {{connection: fast, path: /fast, select: value}}
  stuck: {{connection: hung, path: /hung, select: value}}
kpis: [{{id: a, metric: ok, healthy: {{min: 0}}}}, {{id: b, metric: stuck, healthy: {{min: 0}}}}]
""")
        result = sync(load_config(path), DAY, now=DAY)
        assert result.fetched["ok"].value == 3
        assert (
            list(result.errors) == ["stuck"]
            and "did not answer within its deadline (1 s)" in result.errors["stuck"].message
        )
        kpi = {k.id: k for k in result.document.kpis}["b"]
        assert kpi.stale and result.run_id is not None
        figures.append(("deadlines", "one hung connection, deadline 1s", {"healthy metrics lost": 0}))
    finally:
        server.release.set()
        server.stop()
