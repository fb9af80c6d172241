"""Start-up time of the CLI, as issue 11 measures it: each command's wall time minus a bare
`python -c pass`, best of five, in fresh processes; and its CPU time (user + system), which other work on a
busy machine inflates less than the wall time.

    .venv/bin/python bench/startup.py                 # this working tree
    .venv/bin/python bench/startup.py --against HEAD  # and side by side with a commit (interleaved runs)

Each command runs once untimed first, with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is dropped and
the caches go to a temporary ``PYTHONPYCACHEPREFIX``), so the figures are what an installed okrsync costs,
not the compilation of its sources. ``--against REV`` exports REV with ``git archive`` (read-only: no
checkout, the index and the working tree are untouched) and runs it from that directory, whose ``okrsync``
comes first on ``sys.path``; the installed dependencies and entry points are the venv's for both.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = "python -c pass (baseline)"


def commands(tree: Path) -> dict[str, list[str]]:
    okrsync = [sys.executable, "-m", "okrsync"]
    return {
        BASELINE: [sys.executable, "-c", "pass"],
        "okrsync --help": [*okrsync, "--help"],
        "okrsync validate (example)": [*okrsync, "-c", str(tree / "config" / "example.yaml"), "validate"],
    }


def environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    return {**env, "PYTHONPYCACHEPREFIX": str(cache), "DO_NOT_TRACK": "1"}


def once(command: list[str], tree: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the child's own) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=tree, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def export(rev: str, into: Path) -> Path:
    """REV's files in ``into`` (git archive: reads the object store only)."""
    archive = into / "rev.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), rev], cwd=REPO, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="tar")
    return tree


Best = dict[str, dict[str, tuple[float, float]]]  # tree -> command -> (best wall, best CPU)


def measure(trees: dict[str, Path], runs: int, env: dict[str, str]) -> Best:
    """Best of ``runs`` per (tree, command), wall and CPU each; the trees' runs interleave so that load hits
    both alike."""
    best: Best = {label: {} for label in trees}
    for tree in trees.values():  # warm-up: writes the bytecode caches
        for command in commands(tree).values():
            once(command, tree, env)
    for _ in range(runs):
        for label, tree in trees.items():
            for name, command in commands(tree).items():
                wall, cpu = once(command, tree, env)
                known = best[label].get(name, (wall, cpu))
                best[label][name] = (min(wall, known[0]), min(cpu, known[1]))
    return best


def report(best: Best) -> None:
    """Wall (seconds over the bare interpreter) and CPU time, which a loaded machine inflates less."""
    labels = list(best)
    print(f"{'':<30} " + "   ".join(f"{label + ': wall, CPU':>34}" for label in labels))
    for name in best[labels[0]]:
        cells = []
        for label in labels:
            (wall, cpu), (base, base_cpu) = best[label][name], best[label][BASELINE]
            over = "" if name == BASELINE else f" (+{wall - base:.3f}), {cpu:.3f} (+{cpu - base_cpu:.3f})"
            cells.append(f"{wall:.3f}{over}".rjust(34) if over else f"{wall:.3f}, {cpu:.3f}".rjust(34))
        print(f"{name:<30} " + "   ".join(cells))
    print("(seconds, best of the runs; +x: over the bare interpreter of the same column)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, side by side")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (the best is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okrsync-startup-") as tmp:
        trees = {"working tree": REPO}
        if args.against:
            trees = {args.against: export(args.against, Path(tmp)), **trees}
        cache = Path(tmp) / "pycache"
        report(measure(trees, args.runs, environment(cache)))


if __name__ == "__main__":
    main()
