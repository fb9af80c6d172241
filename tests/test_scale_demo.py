"""scripts/scale_demo.py end to end: a Prefect server on PostgreSQL, two workers, three teams.

Slow (~35 s: its own server, workers and flow-run processes) and run in CI, which has PostgreSQL.
Proves the runs spread over both workers and that the shared store holds each team's results once.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from tests.helpers import REPO, postgres_base_url

pytestmark = pytest.mark.slow


def test_three_teams_on_two_workers_land_once_each_in_the_shared_store(tmp_path):
    base = postgres_base_url()
    out = tmp_path / "figures.json"
    script = str(REPO / "scripts" / "scale_demo.py")
    command = [sys.executable, script, "--postgres", base, "--workers", "2", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    figures = json.loads(out.read_text())
    (two,) = figures["rounds"]
    krs = len(load_config(REPO / "config" / "example.yaml").key_results())

    assert {t["state"] for t in two["teams"].values()} == {"COMPLETED"}
    assert {t["worker"] for t in two["teams"].values()} == {"worker-1a", "worker-1b"}  # both ran a team
    for team, t in two["teams"].items():
        assert t["stored"]["runs"] == 1, team  # one run row for the team's day, not two
        assert t["stored"]["kr_results"] == krs, team  # every KR once
        assert t["stored"]["metric_values"] > 0, team

    assert not [pid for pid in figures["stopped_pids"] if Path(f"/proc/{pid}").exists()]  # torn down by PID
    names = list(figures["databases"].values())
    with sa.create_engine(base).connect() as conn:
        left = conn.execute(sa.text("select datname from pg_database where datname = any(:n)"), {"n": names}).all()
    assert left == []
