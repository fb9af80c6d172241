"""The Prefect flow under one session-scoped test harness: one task per connection, artifacts, no secrets."""

import shutil

import httpx

from tests.helpers import REPO, poll


def test_flow_runs_one_task_per_connection_and_publishes_artifacts(prefect_harness, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.settings import PREFECT_API_URL

    from okrsync.flows.sync_flow import sync_flow

    shutil.copytree(REPO / "config", tmp_path / "config")
    config = tmp_path / "config" / "example.yaml"
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "canary-s3cret")  # in the environment, must not leak anywhere
    state = sync_flow(str(config), "2026-11-21T00:00:00+01:00", return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["krs"] == 11 and summary["exit_code"] == 0 and summary["errors"] == []
    assert (tmp_path / "reports" / "okr.html").exists()

    expected = ["compute", "fetch-business", "fetch-files", "persist", "plan", "publish"]
    this_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))

    def task_run_names():  # task runs reach the server through its event stream, a moment after the flow
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=this_run, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=50)
        names = sorted(r.name for r in runs)
        return names if len(names) >= len(expected) else None

    assert poll(task_run_names, 30, "the flow's task runs") == expected
    # the artifacts as the REST API serves them (what the Prefect UI reads)
    url = PREFECT_API_URL.value().rstrip("/") + "/artifacts/filter"
    body = {"flow_runs": {"id": {"any_": [str(state.state_details.flow_run_id)]}}, "limit": 50, "offset": 0}
    artifacts = httpx.post(url, json=body).raise_for_status().json()
    assert sorted(a["type"] for a in artifacts) == ["markdown", "progress", "table"]
    (progress,) = [a for a in artifacts if a["type"] == "progress"]
    assert progress["data"] == 100.0 and progress["description"] == "connections fetched (2/2)"
    text = " ".join(str(a["data"]) for a in artifacts)
    assert "Delight our customers" in text and "canary-s3cret" not in text


def test_a_partial_night_is_visible_in_prefect_and_the_cli_prints_the_same_as_a_plain_run(
    prefect_harness, tmp_path, write_config
):
    from typer.testing import CliRunner

    from okrsync.cli.main import app
    from okrsync.flows.sync_flow import sync_flow
    from tests.helpers import write_csv

    write_csv(tmp_path / "kpi.csv", "n\n40\n")
    path = write_config("""
        connections: {files: {type: csv, root: .}}
        metrics:
          n: {connection: files, path: kpi.csv, column: n}
          gone: {connection: files, path: missing.csv, column: n}
        objectives: [{id: o, title: Grow, key_results: [{id: k, title: Signups, metric: n, start: 0, target: 100}]}]
        kpis: [{id: g, metric: gone, healthy: {min: 0}}]
    """)
    state = sync_flow(str(path), "2026-11-16", return_state=True)
    assert state.is_failed() and state.name == "Partial" and "1 metric(s)" in state.message
    summary = state.result(raise_on_failure=False)
    assert summary["exit_code"] == 1 and summary["errors"][0]["metric"] == "gone"
    assert summary["document"]["objectives"][0]["key_results"][0]["value"] == 40  # the healthy value was stored

    out = CliRunner().invoke(app, ["-c", str(path), "run", "--prefect", "--as-of", "2026-11-17"])
    assert out.exit_code == 1, out.output
    assert "OKR status" in out.output and "Signups" in out.output  # the status tree
    assert "metric gone" in out.output and "file not found" in out.output  # the per-metric error
    assert "ended Partial" in out.output and "Traceback" not in out.output
