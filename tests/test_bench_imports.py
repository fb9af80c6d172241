"""Every benchmark in bench/ still imports: they are run by hand, not by the suite, so a moved name broke
bench/microsoft_bench.py once without anyone noticing (found on 2026-12-07). Importing runs nothing: each
script runs under ``if __name__ == "__main__"``."""

from __future__ import annotations

import importlib

import pytest

from tests.helpers import REPO

SCRIPTS = sorted(p.stem for p in (REPO / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_benchmark_imports(name):
    importlib.import_module(f"bench.{name}")


def test_every_script_runs_only_as_a_script():
    for name in SCRIPTS:
        text = (REPO / "bench" / f"{name}.py").read_text(encoding="utf-8")
        library = name in ("fetching", "org", "company_store_load")  # shared by the scripts: nothing to run
        assert library or 'if __name__ == "__main__":' in text, name


def test_the_run_benchmark_phases_add_up_to_the_wall_time():
    """bench/run_bench.py names the time no wrapper covers by where it lies: the phases partition the
    subprocess's wall time (marks as bench/run_phases.py writes them, seconds since its clock started)."""
    from bench.run_bench import shares

    ends = {"cli imported": 1.0, "run modules imported": 2.0, "sync start": 4.0, "sync end": 10.0, "cli done": 11.0}
    spent = {"config load + validate": 1.5, "fetch": 5.0, "compute (evaluation, document)": 0.5}
    phases = shares({"t0": 0.0, "ends": ends, "spent": spent}, wall=11.5, base=0.05)
    assert phases == pytest.approx(
        {
            "interpreter start + exit (as a bare one)": 0.05,
            "interpreter exit beyond a bare one": 0.45,  # 11.5 - 11 outside the child's clock, less the bare 0.05
            "import (CLI)": 1.0,
            "import (run's modules)": 1.0,
            "config load + validate": 1.5,
            "CLI before the sync (args, as-of)": 0.5,  # 4 - 2, less the config load inside it
            "fetch": 5.0,
            "compute (evaluation, document)": 0.5,
            "sync, rest (run lock, store close)": 0.5,  # 10 - 4, less 5.5 in wrapped stages
            "CLI after the sync (status tree, summary)": 1.0,
            "total": 11.5,
        }
    )
    assert sum(v for k, v in phases.items() if k != "total") == pytest.approx(11.5)
