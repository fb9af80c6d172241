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
        library = name in ("fetching", "org")  # shared by the scripts: nothing to run
        assert library or 'if __name__ == "__main__":' in text, name
