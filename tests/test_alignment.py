"""Teams aligned across configs that share a store: `parent: namespace/objective`."""

import pytest

from okrsync.config.load import load_config
from okrsync.errors import ConfigError
from okrsync.okr.evaluate import roll_up
from okrsync.okr.results import AlignedChild
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.helpers import DAY1, DAY2, REPO, aligned_configs, okrsync


def test_roll_up_takes_children_from_other_configs_by_weight():
    from okrsync.config import Objective, StatusThresholds

    (growth,) = roll_up(
        [Objective(id="growth", title="G")],
        {},
        StatusThresholds(),
        aligned={
            "growth": [
                AlignedChild("team-a/x", 3, 0.2, 0.5, "off_track"),
                AlignedChild("team-b/y", 1, 0.6, 0.5, "on_track"),
                AlignedChild("team-c/z", 5, None, 0.5, "no_data"),  # no data: left out
            ]
        },
    )
    assert growth.progress == pytest.approx((3 * 0.2 + 0.6) / 4)
    assert growth.children == ("team-a/x", "team-b/y", "team-c/z")


def test_parent_rolls_up_the_teams_latest_result_and_notes_a_missing_parent(tmp_path, write_config, store_url):
    company, team = aligned_configs(tmp_path, write_config, store_url)
    first = sync(team, DAY1, now=DAY1)  # the company has not synced yet
    (objective,) = first.document.objectives
    assert objective.parent == "company/growth" and "no run of namespace 'company'" in objective.parent_note
    result = sync(company, DAY1, now=DAY1)
    (growth,) = result.document.objectives
    assert growth.children == ["team-a/self-serve"]
    assert growth.progress == pytest.approx((1 * 0.6 + 3 * 0.3) / 4)  # own KR 60%, the team's 30% with weight 3
    assert sync(team, DAY2, now=DAY2).document.objectives[0].parent_note is None  # the parent exists now


def test_status_all_shows_the_teams_and_the_company_tree_and_with_krs_their_key_results(
    tmp_path, write_config, store_url
):
    """The company view reads each team's objectives only (SQLite cuts the documents in SQL, PostgreSQL in
    Python): a row per team, then the objectives aligned across configs; ``--krs`` reads the documents whole
    and adds the key results under their objectives."""
    company, team = aligned_configs(tmp_path, write_config, store_url)
    sync(team, DAY1, now=DAY1)
    sync(company, DAY1, now=DAY1)
    done = okrsync("-c", str(company.path), "status", "--all", cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    parent = next(i for i, line in enumerate(lines) if "[company]" in line and "Grow the company" in line)
    child = next(i for i, line in enumerate(lines) if "[team-a]" in line and "Self-serve signups" in line)
    assert child > parent and lines[child].index("[team-a]") > lines[parent].index("[company]")  # nested under it
    assert "30%" in lines[child]  # the team's 30 signups of 100
    assert "38%" in lines[parent]  # its own KR 60 % with weight 1, the team's 30 % with weight 3: 1.5 / 4 = 37.5 %
    assert not any(" su " in line or " rev " in line for line in lines), done.stdout  # no key result
    assert "--krs" in lines[-1]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[:parent] if line.startswith("│")]
    counts = ["1", "", "", "1", "", "", ""]  # objectives, done, on track, at risk, off track, no data, notes
    assert rows == [["company", "2026-11-16", *counts], ["team-a", "2026-11-16", *counts]], done.stdout
    every = okrsync("-c", str(company.path), "status", "--all", "--krs", cwd=REPO)
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    (su,) = [i for i, line in enumerate(lines) if " su " in line]
    child = next(i for i, line in enumerate(lines) if "[team-a]" in line and "Self-serve signups" in line)
    assert su == child + 1 and "30%" in lines[su] and "--krs" not in every.stdout
    objectives = okrsync("-c", str(company.path), "status", "--all", "--objectives", cwd=REPO).stdout.splitlines()
    assert objectives[0].startswith("OKR status 2026-Q4") and len(objectives) == 3  # the heading, two objectives
    alone = okrsync("-c", str(company.path), "status", "--krs", cwd=REPO)
    assert alone.returncode == 2 and "--krs goes with --all" in alone.stderr


def test_the_objectives_aligned_across_configs_are_each_crossing_with_its_parents():
    from types import SimpleNamespace

    from okrsync.okr.alignment import across_configs

    def objective(id: str, parent: str | None = None):
        return SimpleNamespace(id=id, parent=parent)

    order = [  # the company tree, depth first: (namespace, objective, depth)
        ("company", objective("grow"), 0),
        ("company", objective("grow-eu", "grow"), 1),  # a parent in its own config: shown, a team aligns under it
        ("team-a", objective("signups", "company/grow-eu"), 2),  # aligned to another config's objective
        ("team-a", objective("signups-web", "signups"), 3),  # aligned within its own config: not shown
        ("company", objective("hire"), 0),  # nothing aligns to it
        ("team-b", objective("churn"), 0),
        ("team-c", objective("retain", "team-b/churn"), 1),
        ("team-d", objective("lost", "company/gone"), 0),  # its parent is not there: shown, with its note
        ("team-d", objective("own", "team-d/lost"), 1),  # its own config's parent
    ]
    shown = [(ns, o.id, depth) for ns, o, depth in across_configs(order)]  # type: ignore[arg-type]
    assert shown == [
        ("company", "grow", 0),
        ("company", "grow-eu", 1),
        ("team-a", "signups", 2),
        ("team-b", "churn", 0),
        ("team-c", "retain", 1),
        ("team-d", "lost", 0),
    ]


def test_a_childs_stored_parent_note_is_checked_again_once_the_parent_is_stored(tmp_path, write_config):
    """The company's night runs children first: a child's run stores "no run of namespace 'company' is stored yet",
    then the company's run is stored. status, status --all and report show the store as it is now: no stale note."""
    import json

    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    stale = "parent company/growth: no run of namespace 'company' is stored for 2026-Q4 yet"
    assert sync(team, DAY1, now=DAY1).document.objectives[0].parent_note == stale  # stored with the child's run
    before = okrsync("-c", str(team.path), "status", cwd=REPO)
    assert before.returncode == 0 and "no run of namespace 'company'" in before.stdout  # still true here
    sync(company, DAY1, now=DAY1)
    for command in (["status"], ["status", "--all"]):
        done = okrsync("-c", str(team.path), *command, cwd=REPO)
        assert done.returncode == 0 and "Self-serve signups" in done.stdout, done.stderr
        assert "no run of namespace" not in done.stdout and "⚠" not in done.stdout, done.stdout
    shown = json.loads(okrsync("-c", str(team.path), "status", "--format", "json", cwd=REPO).stdout)
    assert shown["objectives"][0]["parent"] == "company/growth" and shown["objectives"][0]["parent_note"] is None
    every = json.loads(okrsync("-c", str(team.path), "status", "--all", "--format", "json", cwd=REPO).stdout)
    assert every["team-a"]["objectives"][0]["parent_note"] is None
    report = tmp_path / "site"
    assert okrsync("-c", str(team.path), "report", "--all", "-o", str(report), cwd=REPO).returncode == 0
    assert "no run of namespace" not in (report / "index.html").read_text()
    with Store(f"sqlite:///{tmp_path / 'shared.db'}") as store:  # the stored run itself is left as it was
        (run,) = [r for ns, r in store.latest_runs("2026-Q4").items() if ns == "team-a"]
        assert run.document["objectives"][0]["parent_note"] == stale


def test_a_parent_stored_without_the_objective_turns_the_note_into_that(tmp_path, write_config):
    from okrsync.okr.alignment import refresh_parent_notes

    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    child = sync(team, DAY1, now=DAY1).document
    parent = sync(company, DAY1, now=DAY1).document
    renamed = parent.model_copy(update={"objectives": [parent.objectives[0].model_copy(update={"id": "grow"})]})
    (objective,) = refresh_parent_notes(child, {"company": renamed}).objectives
    expected = "parent company/growth: namespace 'company' has no objective 'growth' (its objectives: grow)"
    assert objective.parent_note is not None and objective.parent_note.startswith(expected), objective.parent_note
    assert refresh_parent_notes(child, {}).objectives[0].parent_note == child.objectives[0].parent_note  # unknown
    assert refresh_parent_notes(child, {"company": parent}).objectives[0].parent_note is None


def test_cross_config_parents_are_checked_for_shape(write_config):
    path = write_config("""
        namespace: team-a
        objectives:
          - {id: a, title: A, parent: company/}
          - {id: b, title: B, parent: team-a/c}
          - {id: c, title: C, parent: company/growth}
    """)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = {p.path: p.message for p in info.value.problems}
    assert set(problems) == {"objectives[0].parent", "objectives[1].parent"}
    assert "namespace/objective" in problems["objectives[0].parent"]
    assert "write the objective id alone ('c')" in problems["objectives[1].parent"]


def test_validate_warns_about_a_parent_the_store_does_not_hold(tmp_path, write_config):
    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    Store(team.store_url()).close()
    done = okrsync("-c", str(team.path), "validate", cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "warning objectives.self-serve.parent: parent company/growth: no run of namespace 'company'" in done.stdout
