"""The CLI end to end: exit codes, messages without tracebacks, idempotent runs. In this process
(tests.helpers.okrsync) except the smoke tests, which start the real ``python -m okrsync``."""

import gc
import json
import os
import signal
import subprocess
import sys
from datetime import datetime

import pytest

from tests.helpers import okrsync, okrsync_process


def test_example_run_twice_then_status_history(example):
    first = okrsync_process("-c", str(example), "run", "--as-of", "2026-11-21")  # smoke: the real entry point
    assert first.returncode == 0, first.stderr
    assert "Grow recurring revenue" in first.stdout and "Synced: 11 key results" in first.stdout
    assert (example.parent.parent / "reports" / "okr.html").exists()
    db = example.parent.parent / ".okrsync" / "example.db"
    size = db.stat().st_size
    second = okrsync("-c", str(example), "run", "--as-of", "2026-11-21")
    assert second.returncode == 0 and "unchanged" in second.stdout
    status = okrsync("-c", str(example), "status", "--format", "json")
    doc = json.loads(status.stdout)
    assert doc["cycle"] == "2026-Q4" and doc["as_of"] == "2026-11-21T23:59:59.999999+01:00"  # the end of the day
    statuses = {kr["status"] for o in doc["objectives"] for kr in o["key_results"]}
    assert {"on_track", "at_risk", "off_track", "done"} <= statuses
    assert "history" not in doc
    table = okrsync("-c", str(example), "status")
    assert table.returncode == 0 and "Delight our customers" in table.stdout and "stale" in table.stdout
    history = okrsync("-c", str(example), "history", "mrr")
    assert history.returncode == 0 and "2026-11-21" in history.stdout
    assert db.stat().st_size == size or db.exists()


def test_dry_run_writes_nothing(example):
    result = okrsync("-c", str(example), "run", "--dry-run", "--as-of", "2026-11-10")
    assert result.returncode == 0, result.stderr
    assert "Dry run" in result.stdout and "would write" in result.stdout
    assert not (example.parent.parent / "reports").exists()
    assert not (example.parent.parent / ".okrsync").exists()  # no store file, schema or lock file
    status = okrsync("-c", str(example), "status")
    assert status.returncode == 1 and "No sync has been stored" in status.stderr


def test_bad_config_exit_2_all_problems_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("""\
version: 2
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Nowhere/City}
connections: {files: {type: csv, rot: data/}}
metrics:
  a: {connection: files, path: a.csv, column: x, aggregate: median}
objectives:
  - {id: o, title: O, key_results: [{id: k, metric: b, start: 0, target: 1}]}
""")
    result = okrsync_process("-c", str(bad), "validate")  # smoke: no traceback from a real process
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if "✗" in line]
    assert len(lines) == 5, result.stderr
    for line_no, key in (
        (1, "version"),
        (2, "cycle.timezone"),
        (3, "connections.files.rot"),
        (5, "metrics.a.aggregate"),
        (7, "objectives[0].key_results[0].metric"),
    ):
        assert any(f"bad.yaml:{line_no}: {key}:" in line for line in lines), (line_no, key, lines)


def test_run_with_failing_source_exits_1_and_names_the_metric(tmp_path):
    (tmp_path / "ok.csv").write_text("n\n3\n")
    config = tmp_path / "okrsync.yaml"
    config.write_text("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
connections: {files: {type: csv}, dwh: {type: sql, url: "${NO_SUCH_URL}"}}
metrics:
  ok: {connection: files, path: ok.csv, column: n}
  broken: {connection: dwh, query: select 1}
objectives: [{id: o, title: O, key_results: [{id: a, metric: ok, start: 0, target: 10},
                                              {id: b, metric: broken, start: 0, target: 10}]}]
""")
    result = okrsync("run", "--as-of", "2026-11-01", cwd=tmp_path)  # ./okrsync.yaml is the default
    assert result.returncode == 1
    assert "metric broken (connection dwh): environment variable NO_SUCH_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(okrsync("status", "-f", "json", cwd=tmp_path).stdout)
    assert doc["objectives"][0]["key_results"][0]["value"] == 3


def test_usage_errors_exit_2(example):
    assert okrsync("-c", str(example), "run", "--as-of", "yesterday").returncode == 2
    assert okrsync("-c", str(example), "history", "nope").returncode == 2
    assert okrsync("-c", str(example), "status", "--format", "xml").returncode == 2
    missing = okrsync("-c", "nowhere.yaml", "validate")
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_override_once_and_clear(example):
    assert okrsync("-c", str(example), "run", "--as-of", "2026-11-21").returncode == 0
    result = okrsync("-c", str(example), "override", "csat", "88", "--note", "survey re-count")
    assert result.returncode == 0, result.stderr
    assert "until the next sync" in result.stdout and "on track" in result.stdout
    doc = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    csat = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == "csat")
    set_at = datetime.fromisoformat(csat["override"].pop("set_at"))  # when it was typed: the real clock here
    assert csat["value"] == 88 and csat["override"] == {"value": 88, "sticky": False, "note": "survey re-count"}
    assert set_at.tzinfo is not None
    cleared = okrsync("-c", str(example), "override", "csat", "--clear")
    assert cleared.returncode == 0 and "cleared 1 override" in cleared.stdout
    doc = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    csat = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == "csat")
    assert csat["override"] is None and csat["value"] != 88


def test_validate_lints_with_warnings_and_init_scaffolds(tmp_path):
    assert okrsync("init", cwd=tmp_path).returncode == 0
    assert json.loads((tmp_path / "okrsync.schema.json").read_text())["title"] == "okrsync config"
    assert okrsync("init", cwd=tmp_path).returncode == 2  # refuses to overwrite
    valid = okrsync("validate", cwd=tmp_path)
    assert valid.returncode == 0 and "1 objectives" in valid.stdout
    lint = tmp_path / "lint.yaml"
    lint.write_text("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
metrics:
  m: {formula: "1", expect: {min: 0, max: 1}}
  unused: {formula: "2"}
objectives:
  - {id: empty, title: Empty}
  - id: moon
    title: Moon
    kind: aspirational
    key_results:
      - {id: a, metric: m, kind: at_least, target: 1}
      - {id: b, metric: m, start: 5, target: 5, due: 2027-02-01}
      - {id: c, metric: m, start: 0, target: 2}
      - {id: d, metric: m, start: 0, target: 1}
      - {id: e, metric: m, start: 0, target: 1}
      - {id: f, metric: m, start: 0, target: 1}
""")
    result = okrsync("-c", str(lint), "validate")
    assert result.returncode == 0
    out = " ".join(result.stdout.split())
    for expected in (
        "has no key results",
        "6 key results",
        "outside the cycle",
        "start equals target",
        "aspirational",
        "metrics.unused: not used",
        "key_results[2] (c): target 2 lies outside metrics.m.expect: such a value would be held back",
    ):
        assert expected in out, expected
    assert out.count("lies outside metrics.m.expect") == 3  # c's target 2, b's start and target 5; not d's 1


def test_schema_command_prints_json_schema():
    result = okrsync("schema")
    assert result.returncode == 0 and json.loads(result.stdout)["title"] == "okrsync config"


def test_run_prefect_keeps_prefects_files_in_the_project(example, tmp_path):
    """Without a server, --prefect starts a temporary one; its database goes to .okrsync/prefect, not ~."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_HOME", "PREFECT_API_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "okrsync", "-c", str(example), "run", "--prefect", "--as-of", "2026-11-21"],
        cwd=tmp_path,
        env={**env, "HOME": str(home), "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OKR status" in done.stdout and "ended Completed" in done.stdout
    assert (tmp_path / ".okrsync" / "prefect" / "prefect.db").exists() and not (home / ".prefect").exists()


def test_global_options_work_after_the_command_too(example):
    after = okrsync("run", "-c", str(example), "--as-of", "2026-11-21", "--verbose")
    assert after.returncode == 0, after.stderr
    assert "Synced: 11 key results" in after.stdout
    status = okrsync("status", "--config", str(example), "--format", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["as_of"].startswith("2026-11-21")


def test_what_a_lead_reads_is_tidy(example, tmp_path):
    """Status header in minutes (no microseconds), history with a named note column and counts without
    decimals, one line per connection for a missing token, no Alembic chatter with --verbose."""
    assert okrsync("-c", str(example), "run", "-q").returncode == 0  # now: as_of has microseconds
    table = okrsync("-c", str(example), "-v", "status")
    header = table.stdout.splitlines()[0]
    assert "OKR status 2026-Q4" in header and "." not in header.split("as of")[1], header
    assert "alembic" not in table.stderr
    history = okrsync("-c", str(example), "history", "p1")  # a count of bugs
    assert "note" in history.stdout and ".00" not in history.stdout
    doc = json.loads(okrsync("-c", str(example), "status", "-f", "json").stdout)
    signups = next(kr for o in doc["objectives"] for kr in o["key_results"] if kr["id"] == "signups")
    judged = f"{signups['judged_against'] * 100:.0f}%"  # the aspirational objective's 0.7 x expected
    assert (
        signups["judged_against"] < signups["expected"]
        and judged in okrsync("-c", str(example), "history", "signups").stdout
    )
    crm = okrsync("-c", str(example.parent / "crm.example.yaml"), "run", "--dry-run", "-q")
    lines = [line for line in crm.stderr.splitlines() if "HUBSPOT_TOKEN" in line]
    assert len(lines) == 1 and "connection hubspot, 2 metrics" in lines[0]


HUNG_RUNNER = """
import asyncio
from okrsync.flows.serve import Stopper, run_until_stopped
from okrsync.cli.prefect_commands import exit_now_stopping

async def runner_that_never_stops():
    print("ready", flush=True)
    while True:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            print("the runner swallowed it", flush=True)  # a clean-up that never returns

asyncio.run(run_until_stopped(runner_that_never_stops, Stopper(exit_now_stopping([]), grace=0.5)))
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_ctrl_c_stops_serve_even_when_prefects_runner_never_returns(signum, code):
    """flows/serve.py: the first Ctrl-C cancels the runner; when it does not stop, the grace timer ends the process."""
    root = os.path.dirname(os.path.dirname(__file__))
    hung = subprocess.Popen([sys.executable, "-c", HUNG_RUNNER], stdout=subprocess.PIPE, text=True, cwd=root)
    assert hung.stdout.readline().strip() == "ready"
    hung.send_signal(signum)
    try:
        output, _ = hung.communicate(timeout=30)
    finally:
        hung.kill()  # a no-op once it exited; never left running when the test fails
    assert hung.returncode == code
    assert "the runner swallowed it" in output and "did not finish its shutdown in time" in output


@pytest.fixture
def collector():
    """okrsync.cli.run turns Python's cyclic collector off: on again for the tests after this one."""
    yield
    gc.enable()


def test_the_program_keeps_the_collector_off_only_for_short_commands(monkeypatch, tmp_path, collector):
    """run() starts without the cyclic collector; status, report, checkin and the like and a sync of one day keep
    it off, any other command (backfill, note here) turns it on before its work."""
    from unittest import mock

    from okrsync.cli import run

    monkeypatch.setattr(os, "_exit", mock.Mock(side_effect=SystemExit))
    monkeypatch.setattr("atexit._run_exitfuncs", mock.Mock())
    missing = str(tmp_path / "missing.yaml")  # each command fails at its config, after the options are read
    commands = (("status", False), ("report", False), ("checkin", False), ("run", False), ("backfill", True))
    for command, collects in (*commands, ("note", True)):
        gc.enable()
        monkeypatch.setattr(
            sys, "argv", ["okrsync", "-c", missing, command, *(["-o", "r.html"] * (command == "report"))]
        )
        with pytest.raises(SystemExit):
            run()
        assert gc.isenabled() is collects, command


def test_the_program_leaves_at_once_after_its_exit_handlers_unless_a_thread_still_runs(monkeypatch, collector):
    """okrsync.cli.run: main, the exit handlers, the output flushed, then os._exit with main's code (no
    finalisation); while another thread runs, under a profiler, or once Prefect is loaded, Python's own exit."""
    import threading
    from unittest import mock

    from okrsync.cli import run

    monkeypatch.setattr(sys, "argv", ["okrsync", "validate", "--no-such-option"])
    handlers = mock.Mock()
    monkeypatch.setattr("atexit._run_exitfuncs", handlers)
    left = mock.Mock(side_effect=SystemExit)  # os._exit never returns
    monkeypatch.setattr(os, "_exit", left)
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    monkeypatch.setattr(sys, "gettrace", lambda: None)  # this test under coverage or a debugger: as without
    monkeypatch.delitem(sys.modules, "prefect", raising=False)  # as a plain run, which never imports Prefect
    with pytest.raises(SystemExit):
        run()
    handlers.assert_called_once_with()
    left.assert_called_once_with(2)  # a usage error's code, as main gives it
    still = threading.Thread(target=lambda: None)  # stands for a thread that has not ended
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread(), still])
    handlers.reset_mock(), left.reset_mock()
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2 and not left.called and not handlers.called  # Python's exit runs them
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    monkeypatch.setattr(sys, "getprofile", lambda: object())  # python -m cProfile -m okrsync: its figures at exit
    with pytest.raises(SystemExit):
        run()
    assert not left.called
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    monkeypatch.setitem(sys.modules, "prefect", mock.Mock())  # run --prefect: its workers flush at Python's exit
    with pytest.raises(SystemExit):
        run()
    assert not left.called
