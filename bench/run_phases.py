"""One `okrsync run` in this process, each phase timed: the child that bench/run_bench.py starts.

    python bench/run_phases.py OUT.json [--profile OUT.prof] -- <okrsync arguments>

Kept apart from run_bench.py so that this process imports nothing okrsync would not (the benchmark's
emulators, cryptography and the test helpers stay in the parent). The phases are taken by wrapping the
functions the sync sequencer looks up when it runs (okrsync.sync.sequence reads ``planning.compile_plan``,
``storing.read_stored`` ... as module attributes at call time), so the product code runs unchanged. The
wrapped modules are imported before the CLI runs: their import is the phase "import (run's modules)", which
a plain run pays inside its first phase instead. ``--profile`` runs the CLI under cProfile (the main thread
only: the fetch's connection threads are not profiled, their time shows as the main thread waiting).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402 - the clock starts before anything is imported
import sys  # noqa: E402

PHASES = {  # module -> (function, phase)
    "okrsync.config.load": [("load_config", "config load + validate")],
    "okrsync.sync.persist": [
        ("open_store", "store open (engine, migrations)"),
        ("read_stored", "store read (history, overrides, notes)"),
        ("persist", "persist (values, results)"),
        ("finish", "finish (outcome, document)"),
    ],
    "okrsync.sync.plan": [("compile_plan", "plan")],
    "okrsync.sync.fetch": [("fetch", "fetch")],
    "okrsync.sync.compute": [("compute", "compute (evaluation, document)")],
    "okrsync.sync.publish": [("newer_day_note", "publish (outputs)"), ("publish", "publish (outputs)")],
}


def timed(function, phase: str, spent: dict[str, float]):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - started

    return wrapper


def instrument(spent: dict[str, float], ends: dict[str, float]) -> None:
    import importlib

    for module_name, functions in PHASES.items():
        module = importlib.import_module(module_name)
        for name, phase in functions:
            setattr(module, name, timed(getattr(module, name), phase, spent))
    sequence = importlib.import_module("okrsync.sync.sequence")
    sync = sequence.sync

    def sync_marked(*args, **kwargs):
        ends["sync start"] = time.perf_counter()
        try:
            return sync(*args, **kwargs)
        finally:
            ends["sync end"] = time.perf_counter()

    sequence.sync = sync_marked


def main() -> None:
    out, rest = sys.argv[1], sys.argv[2:]
    profile_to = None
    if rest[:1] == ["--profile"]:
        profile_to, rest = rest[1], rest[2:]
    okrsync_args = rest[rest.index("--") + 1 :]
    spent: dict[str, float] = {}
    ends: dict[str, float] = {}
    from okrsync.cli import main as cli_main

    ends["cli imported"] = time.perf_counter()
    instrument(spent, ends)
    ends["run modules imported"] = time.perf_counter()
    sys.argv = ["okrsync", *okrsync_args]
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    code = 0
    try:
        cli_main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        ends["cli done"] = time.perf_counter()
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_to)
    record = {"t0": T0, "ends": ends, "spent": spent, "exit_code": code}
    with open(out, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main()
