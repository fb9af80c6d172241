"""The contract every source connector keeps, as a pytest class generated in one line:

    from okrsync.testing.contract import ContractCase, source_contract

    def case(emulator, tmp_path):
        return ContractCase(
            connection={"type": "github", "token": "${GH_TOKEN}", "endpoint": emulator.url},
            metrics={"open_bugs": {"query": "repo:acme/app is:issue is:open label:bug"}},
            expected={"open_bugs": 3.0},
            env={"GH_TOKEN": "ghp_canary"},
            broken={"query": "repo:acme/gone is:issue"},
            rejected_env={"GH_TOKEN": "ghp_wrong"},
        )

    TestGithubContract = source_contract("github", case, emulator=lambda: GithubEmulator("ghp_canary"))

What it checks, through the real registry, config loader and pipeline: the type is registered
with strict models (an unknown metric key is a located config error) and is in the JSON Schema;
every metric reads the value the emulator serves; a broken metric fails alone with a message that
names it; the connection check succeeds; rejected credentials fail every metric with a plain
message that never quotes a secret; a missing ${ENV} variable names the key that referenced it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from okrsync.config.load import load_config
from okrsync.config.schema import json_schema
from okrsync.errors import ConfigError, SourceError
from okrsync.registry import registry
from okrsync.sync.fetch import check_connection, fetch, fetch_connection
from okrsync.sync.plan import compile_plan as plan
from okrsync.testing.emulator import Emulator, Fault

CYCLE = {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"}
AS_OF = datetime(2026, 11, 16, tzinfo=ZoneInfo("Europe/Oslo"))


@dataclass
class ContractCase:
    connection: dict[str, Any]  # the connection as a user writes it, type included
    metrics: dict[str, dict[str, Any]]  # metric id -> its keys (the suite adds `connection`)
    expected: dict[str, float]  # metric id -> the value the emulator serves
    env: dict[str, str] = field(default_factory=dict)  # ${ENV} values; treated as secrets
    broken: dict[str, Any] | None = None  # keys of a metric the source must refuse (e.g. a bad query)
    rejected_env: dict[str, str] | None = None  # env whose credentials the emulator rejects
    as_of: datetime = AS_OF


class WithEmulator:
    """Fixtures shared by the source and sink contracts: the connector's emulator (started and stopped
    around each test) and the case built against it, with its ${ENV} values set."""

    make_case: Callable[[Emulator | None, Path], Any]
    make_emulator: Callable[[], Emulator] | None = None

    @pytest.fixture
    def emulator(self) -> Iterator[Emulator | None]:
        make = type(self).make_emulator  # from the class: a function stored there is not bound to the test
        if make is None:
            yield None
            return
        server = make().start()
        try:
            yield server
        finally:
            server.stop()

    @pytest.fixture
    def case(self, emulator, tmp_path, monkeypatch):
        case = type(self).make_case(emulator, tmp_path)
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
        return case


class SourceContract(WithEmulator):
    type_name: str = ""

    def write(self, case: ContractCase, tmp_path: Path, extra: dict | None = None, broken: bool = False) -> Path:
        metrics = {m: {"connection": "c", **keys, **(extra or {})} for m, keys in case.metrics.items()}
        if broken and case.broken is not None:
            metrics["broken"] = {"connection": "c", **case.broken}
        config = {
            "version": 1,
            "cycle": CYCLE,
            "store": f"sqlite:///{tmp_path / 'contract.db'}",
            "connections": {"c": case.connection},
            "metrics": metrics,
            "kpis": [{"id": m, "metric": m, "healthy": {"min": -1e18}} for m in metrics],
        }
        path = tmp_path / "contract.yaml"
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        return path

    def fetch(self, case: ContractCase, tmp_path: Path, broken: bool = False) -> dict:
        config = load_config(self.write(case, tmp_path, broken=broken))
        return fetch_connection(plan(config, case.as_of), "c")

    def test_registered_with_strict_models(self, case, tmp_path):
        connector = registry().get(self.type_name)
        assert connector is not None and connector.connection is not None and connector.metric is not None
        with pytest.raises(ConfigError) as info:
            load_config(self.write(case, tmp_path, extra={"bogus_key": 1}))
        paths = {p.path: p for p in info.value.problems}
        metric = next(iter(case.metrics))
        assert f"metrics.{metric}.bogus_key" in paths, info.value
        assert f"not a key of a {self.type_name} metric" in paths[f"metrics.{metric}.bogus_key"].message
        assert paths[f"metrics.{metric}.bogus_key"].line is not None

    def test_in_the_json_schema(self):
        schema = json.dumps(json_schema())
        assert f'"const": "{self.type_name}"' in schema

    def test_reads_every_metric(self, case, tmp_path):
        got = self.fetch(case, tmp_path)
        values = {m: v.value if not isinstance(v, SourceError) else v.message for m, v in got.items()}
        assert values == case.expected

    def test_a_broken_metric_fails_alone(self, case, tmp_path):
        assert case.broken is not None, "declare a metric the source must refuse"
        got = self.fetch(case, tmp_path, broken=True)
        assert isinstance(got["broken"], SourceError), got["broken"]
        assert got["broken"].metric == "broken" and got["broken"].connection == "c" and got["broken"].message
        assert {m: v.value for m, v in got.items() if m != "broken"} == case.expected

    def test_connection_check(self, case, tmp_path):
        config = load_config(self.write(case, tmp_path))
        assert isinstance(check_connection(config, "c"), str)

    def test_rejected_credentials_are_plain_and_never_quoted(self, case, tmp_path, monkeypatch):
        assert case.rejected_env, "a source with credentials declares rejected_env (or credentials=False)"
        for name, value in case.rejected_env.items():
            monkeypatch.setenv(name, value)
        got = self.fetch(case, tmp_path)
        secrets = [v for v in [*case.env.values(), *case.rejected_env.values()] if len(v) >= 6]
        for metric, result in got.items():
            assert isinstance(result, SourceError), (metric, result)
            assert "Traceback" not in result.message and not any(s in result.message for s in secrets)

    def test_missing_env_names_the_key(self, case, tmp_path, monkeypatch):
        assert case.env, "a source with credentials reads them from ${ENV} (or credentials=False)"
        for name in case.env:
            monkeypatch.delenv(name)
        got = self.fetch(case, tmp_path)
        assert all(isinstance(r, SourceError) for r in got.values())
        message = next(iter(got.values())).message
        assert "is not set (referenced by connections.c." in message


FAULTS: dict[str, tuple[Fault, int]] = {
    "429 storm without Retry-After": (Fault(429, {"message": "slow down"}), 60),
    "503 burst, then healthy": (Fault(503, "<html><body>Service Unavailable</body></html>"), 2),
    "dropped connection, then healthy": (Fault(drop="before"), 1),
    "answer lost after the request was handled": (Fault(drop="after"), 1),
    "HTML error page": (Fault(500, "<!DOCTYPE html><html><body><h1>Oops</h1></body></html>"), 60),
    "foreign JSON error body": (Fault(502, {"error": "upstream overloaded"}), 60),
    "list as error body": (Fault(400, ["bad", "request"]), 60),
    "not JSON at all": (Fault(200, "this is not json", {"Content-Type": "application/json"}), 60),
    "empty answer": (Fault(200, b""), 60),
    "401 with an echo of nothing": (Fault(401, {}), 60),
    "404 HTML": (Fault(404, "<html>Not here</html>"), 60),
}


class RemoteFaults:
    """Faults a remote source must survive: every metric ends with its value or a plain error (no crash,
    no 'unexpected error', no secret, a bounded message). Retries do not sleep here."""

    if TYPE_CHECKING:  # SourceContract's, which every class with these tests has too (source_contract)

        def write(
            self, case: ContractCase, tmp_path: Path, extra: dict | None = None, broken: bool = False
        ) -> Path: ...

        def fetch(self, case: ContractCase, tmp_path: Path, broken: bool = False) -> dict: ...

    @pytest.mark.parametrize("fault_name", sorted(FAULTS))
    def test_faults_end_in_a_value_or_a_plain_error(self, fault_name, case, emulator, tmp_path, monkeypatch):
        from okrsync.sdk import retry

        monkeypatch.setattr(retry, "sleep", lambda seconds: None)
        fault, times = FAULTS[fault_name]
        emulator.fault("*", "", fault, times=times)
        got = self.fetch(case, tmp_path)
        secrets = [v for v in case.env.values() if len(v) >= 6]
        for metric, result in got.items():
            if not isinstance(result, SourceError):
                assert result.value == case.expected[metric], (fault_name, metric, result)
                continue
            message = result.message
            assert "unexpected error" not in message and "Traceback" not in message, (fault_name, message)
            assert len(message) < 500 and not any(s in message for s in secrets), (fault_name, message)

    def test_a_hung_server_is_cut_at_the_connection_deadline(self, case, emulator, tmp_path):
        emulator.fault("*", "", Fault(delay=5), times=20)  # answers only after the test is over
        hung = dataclasses.replace(case, connection={**case.connection, "deadline": "0.5s"})
        config = load_config(self.write(hung, tmp_path))
        got = fetch(plan(config, case.as_of))
        assert set(got) == set(case.metrics)
        for result in got.values():
            assert isinstance(result, SourceError) and "did not answer within its deadline" in result.message


def source_contract(
    type_name: str,
    case: Callable[[Emulator | None, Path], ContractCase],
    *,
    emulator: Callable[[], Emulator] | None = None,
    credentials: bool = True,
) -> type[SourceContract]:
    """A pytest test class that runs the source contract for ``type_name`` against its emulator.

    ``credentials=False`` (a local file source, a key file) leaves out the two credential checks."""
    bases: tuple[type, ...] = (SourceContract, RemoteFaults) if emulator else (SourceContract,)
    attrs: dict[str, Any] = {
        "type_name": type_name,
        "make_case": staticmethod(case),
        "make_emulator": staticmethod(emulator) if emulator else None,
    }
    if not credentials:
        attrs |= {"test_rejected_credentials_are_plain_and_never_quoted": None, "test_missing_env_names_the_key": None}
    return type(f"Test{type_name.title().replace('_', '')}Contract", bases, attrs)
