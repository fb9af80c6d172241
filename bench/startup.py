"""Start-up time of the CLI, as issue 11 measures it: each command's wall time minus a bare
`python -c pass`, best of five, in fresh processes.

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OKRSYNC = [sys.executable, "-m", "okrsync"]
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "okrsync --help": [*OKRSYNC, "--help"],
    "okrsync validate (example)": [*OKRSYNC, "-c", str(REPO / "config" / "example.yaml"), "validate"],
}


def best_of(command: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    results = {name: best_of(command) for name, command in COMMANDS.items()}
    base = results["python -c pass (baseline)"]
    for name, seconds in results.items():
        extra = "" if name.startswith("python") else f"   ({seconds - base:.3f} s over the baseline)"
        print(f"{name:<30} {seconds:.3f} s{extra}")


if __name__ == "__main__":
    main()
