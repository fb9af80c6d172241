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


def test_status_all_shows_the_company_tree(tmp_path, write_config):
    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    sync(team, DAY1, now=DAY1)
    sync(company, DAY1, now=DAY1)
    done = okrsync("-c", str(company.path), "status", "--all", cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    parent = next(i for i, line in enumerate(lines) if "[company]" in line and "Grow the company" in line)
    child = next(i for i, line in enumerate(lines) if "[team-a]" in line and "Self-serve signups" in line)
    assert child > parent and lines[child].index("[team-a]") > lines[parent].index("[company]")  # nested under it


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
