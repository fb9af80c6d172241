"""The contract every sink (output) connector keeps, as a pytest class generated in one line:

    from okrsync.testing.sink_contract import SinkCase, sink_contract

    def case(emulator, tmp_path):
        return SinkCase(
            output={"type": "webhook", "url": "${HOOK_URL}"},
            env={"HOOK_URL": f"{emulator.url}/hooks/s3cr3t-path"},
            writes=(("POST", "/hooks/"),),  # the requests that write (method, path regex); default: any POST
        )

    TestWebhookSink = sink_contract("webhook", case, emulator=HookReceiver)

A small team (one CSV metric, one key result "Signups to 100", the case's output) is synced through
the real config loader, pipeline and a SQLite store, and the emulator's log says what was written: the
requests matching ``SinkCase.writes`` that reached the server (:meth:`Emulator.applied`).
What it checks: the output model is registered, strict (an unknown key is a located config error)
and in the JSON Schema; a sync writes, and re-running it writes nothing new; a change is written on
the next run; a dry run plans and writes nothing; two runs at once write once; a target that refuses
(403) or stays down (503) is a plain output error that names no secret while the sync still stores
its results, and the next healthy run delivers — once for an idempotent sink, never again for an
at-most-once one (a chat message that may have arrived is not re-posted).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from okrsync.config.load import load_config
from okrsync.config.schema import json_schema
from okrsync.errors import ConfigError
from okrsync.registry import registry
from okrsync.sync.result import SyncResult
from okrsync.sync.sequence import sync
from okrsync.testing.contract import AS_OF, CYCLE, WithEmulator
from okrsync.testing.emulator import Emulator, Fault


@dataclass
class SinkCase:
    output: dict[str, Any]  # the output as a user writes it, type included
    writes: tuple[tuple[str, str], ...] = (("POST", ""),)  # (method, path regex) of the requests that write
    connection: dict[str, Any] | None = None  # the connection `c` the output writes through, if it needs one
    key_result: dict[str, Any] = field(default_factory=dict)  # keys the KR adds for this output (jira_issue)
    env: dict[str, str] = field(default_factory=dict)  # ${ENV} values; treated as secrets
    at_most_once: bool = False  # a chat message: what may have arrived is never sent again


def written(emulator: Emulator, case: SinkCase) -> int:
    """Writes the target applied so far (a refused request is not one; one whose answer was lost is)."""
    return sum(len(emulator.applied(method, path)) for method, path in case.writes)


class SinkContract(WithEmulator):
    type_name: str = ""

    def write(self, case: SinkCase, tmp_path: Path, value: float, extra: dict | None = None) -> Path:
        (tmp_path / "signups.csv").write_text(f"n\n{value}\n")
        connections: dict[str, Any] = {"files": {"type": "csv", "root": "."}}
        if case.connection is not None:
            connections["c"] = case.connection
        kr = {"id": "signups", "title": "Signups to 100", "metric": "n", "start": 0, "target": 100}
        config = {
            "version": 1,
            "cycle": CYCLE,
            "store": f"sqlite:///{tmp_path / 'sink.db'}",
            "connections": connections,
            "metrics": {"n": {"connection": "files", "path": "signups.csv", "column": "n"}},
            "objectives": [
                {"id": "o", "title": "Grow", "owner": "ana@acme.example", "key_results": [kr | case.key_result]}
            ],
            "outputs": [case.output | (extra or {})],
        }
        path = tmp_path / "sink.yaml"
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        return path

    def sync(self, case: SinkCase, tmp_path: Path, value: float = 10, days: int = 0, dry_run: bool = False):
        as_of = AS_OF + timedelta(days=days)
        config = load_config(self.write(case, tmp_path, value))
        return sync(config, as_of, now=as_of, dry_run=dry_run)

    def assert_plain(self, case: SinkCase, result: SyncResult) -> str:
        """The one output error: plain, bounded, no secret; the sync itself completed and was stored."""
        assert result.run_id is not None and result.exit_code == 1, result.writes
        (error,) = result.output_errors
        secrets = [v for v in case.env.values() if len(v) >= 6]
        text = " ".join([error.message, *result.writes])
        assert error.message and "Traceback" not in text and "unexpected error" not in text, text
        assert len(error.message) < 600 and not any(s in text for s in secrets), text
        return error.message

    def test_registered_with_strict_models(self, case, tmp_path):
        connector = registry().get(self.type_name)
        assert connector is not None and connector.output is not None and connector.sink is not None
        with pytest.raises(ConfigError) as info:
            load_config(self.write(case, tmp_path, 10, extra={"bogus_key": 1}))
        (problem,) = [p for p in info.value.problems if p.path == "outputs[0].bogus_key"]
        assert "unknown key" in problem.message and problem.line is not None

    def test_in_the_json_schema(self):
        assert f'"const": "{self.type_name}"' in json.dumps(json_schema())

    def test_writes_once_and_a_rerun_writes_nothing(self, case, emulator, tmp_path):
        first = self.sync(case, tmp_path)
        assert not first.output_errors and first.exit_code == 0, first.output_errors
        once = written(emulator, case)
        assert once >= 1 and first.writes
        again = self.sync(case, tmp_path)
        assert not again.output_errors and written(emulator, case) == once, again.writes

    def test_a_change_is_written_on_the_next_run(self, case, emulator, tmp_path):
        self.sync(case, tmp_path, value=10)
        before = written(emulator, case)
        changed = self.sync(case, tmp_path, value=60, days=7)
        assert not changed.output_errors and written(emulator, case) > before, changed.writes

    def test_dry_run_plans_and_writes_nothing(self, case, emulator, tmp_path):
        planned = self.sync(case, tmp_path, dry_run=True)
        assert planned.writes and written(emulator, case) == 0, planned.writes

    def test_two_runs_at_once_write_once(self, case, emulator, tmp_path, monkeypatch):
        alone = self._writes_of_one_run(tmp_path / "alone", monkeypatch)
        config = load_config(self.write(case, tmp_path, 10))
        self.sync(case, tmp_path, dry_run=True)  # the store exists before the race: it is about delivery
        start = threading.Barrier(2)
        results: list[SyncResult | BaseException] = []

        def run() -> None:
            start.wait()
            try:
                results.append(sync(config, AS_OF, now=AS_OF))
            except BaseException as exc:  # reported by the assertion below
                results.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(isinstance(r, SyncResult) and not r.output_errors for r in results), results
        assert written(emulator, case) == alone

    def _writes_of_one_run(self, tmp_path: Path, monkeypatch) -> int:
        """What one run writes to a fresh target: the same case against a second emulator and store."""
        make = type(self).make_emulator
        assert make is not None, "a sink contract runs against its emulator (sink_contract sets make_emulator)"
        other = make().start()
        try:
            tmp_path.mkdir()
            fresh = type(self).make_case(other, tmp_path)
            with monkeypatch.context() as env:
                for name, value in fresh.env.items():
                    env.setenv(name, value)
                self.sync(fresh, tmp_path)
            return written(other, fresh)
        finally:
            other.stop()

    def test_a_refusing_target_is_a_plain_error_and_the_next_run_delivers(self, case, emulator, tmp_path):
        emulator.fault("*", "", Fault(403, {"message": "forbidden"}), times=1000)
        refused = self.sync(case, tmp_path)
        self.assert_plain(case, refused)
        assert written(emulator, case) == 0
        emulator.clear_faults()
        healed = self.sync(case, tmp_path)
        assert not healed.output_errors and written(emulator, case) >= 1, healed.writes

    def test_a_target_that_stays_down_is_a_plain_error(self, case, emulator, tmp_path, monkeypatch):
        from okrsync.sdk import retry

        monkeypatch.setattr(retry, "sleep", lambda seconds: None)
        emulator.fault("*", "", Fault(503, "<html><body>Service Unavailable</body></html>"), times=1000)
        self.assert_plain(case, self.sync(case, tmp_path))
        emulator.clear_faults()
        after = self.sync(case, tmp_path)
        if case.at_most_once:  # a 503 may have been processed: never re-sent, so never twice
            assert written(emulator, case) == 0, after.writes
        else:
            assert not after.output_errors and written(emulator, case) >= 1, after.writes

    def test_a_lost_answer_is_reported_and_never_doubles_a_message(self, case, emulator, tmp_path, monkeypatch):
        from okrsync.sdk import retry

        monkeypatch.setattr(retry, "sleep", lambda seconds: None)
        for method, path in case.writes:  # every write lands, no answer comes back
            emulator.fault(method, path, Fault(drop="after"), times=1000)
        self.assert_plain(case, self.sync(case, tmp_path))
        landed = written(emulator, case)
        assert landed >= 1
        emulator.clear_faults()
        after = self.sync(case, tmp_path)
        if case.at_most_once:
            assert written(emulator, case) == landed, after.writes
        else:  # repeated safely (same content, an Idempotency-Key, a marker found first)
            assert not after.output_errors, after.output_errors


def sink_contract(
    type_name: str, case: Callable[[Emulator | None, Path], SinkCase], *, emulator: Callable[[], Emulator]
) -> type[SinkContract]:
    """A pytest test class that runs the sink contract for ``type_name`` against its emulator."""
    attrs: dict[str, Any] = {
        "type_name": type_name,
        "make_case": staticmethod(case),
        "make_emulator": staticmethod(emulator),
    }
    return type(f"Test{type_name.title().replace('_', '')}SinkContract", (SinkContract,), attrs)


__all__ = ["AS_OF", "SinkCase", "SinkContract", "sink_contract"]
