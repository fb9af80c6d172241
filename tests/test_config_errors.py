"""Every config mistake at once, each said so that the fix is plain (issue 20, item 6).

Impossible dates, values outside a list, numbers written with %, misspelt keys and ids are located
problems collected with every other one (``file:line: key: message``); tabs and unquoted ``${...}``
inside ``{...}`` say what to do; a parent in another config that the store knows is missing is an error.
"""

from __future__ import annotations

import textwrap

import pytest

from okrsync.config.load import load_config, parse_config
from okrsync.config.yamlsource import load_with_lines
from okrsync.errors import ConfigError
from tests.helpers import cli, oslo, write_csv

HEAD = "version: 1\ncycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
FILES = "connections: {files: {type: csv, root: .}}\n"


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "team.yaml")
    return info.value.problems


def at(text: str) -> dict[str, list]:
    """Key path -> the problems located there."""
    found: dict[str, list] = {}
    for p in problems(text):
        found.setdefault(p.path, []).append(p)
    return found


def kr(fields: str) -> str:
    metric = "metrics: {m: {connection: files, path: a.csv, column: n}}\n"
    return HEAD + FILES + metric + f"objectives: [{{id: o, title: O, key_results: [{{id: k, metric: m, {fields}}}]}}]\n"


SEVERAL = """\
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-13-01}
connections:
  files: {type: csv, root: .}
metrics:
  signups: {connection: files, path: s.csv, column: n, aggregate: summ}
objectives:
  - id: grow
    title: Grow
    key_results:
      - {id: a, metric: signups, start: 0, target: 92%}
      - {id: b, metric: signups, start: 0, taget: 5}
"""


def test_several_mistakes_are_reported_in_one_run_each_on_its_line(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(SEVERAL)
    code, output = cli(["-c", str(path), "validate"])
    assert code == 2, output
    assert "config has 4 problem(s)" in output, output
    assert f"{path}:2: cycle.end: 2026-13-01 is not a date (month 13)" in output
    assert f"{path}:6: metrics.signups.aggregate: 'summ' is not one of count, sum, avg" in output
    assert "did you mean 'sum'?" in output
    assert f"{path}:11: objectives[0].key_results[0].target: write 92 instead of '92%'" in output
    assert f"{path}:12: objectives[0].key_results[1].taget: unknown key; did you mean 'target'?" in output
    assert "invalid YAML" not in output


@pytest.mark.parametrize(
    ("date", "says"),
    [
        ("2026-13-01", "2026-13-01 is not a date (month 13)"),
        ("2026-12-32", "2026-12-32 is not a date (day 32)"),
        ("2026-02-30", "2026-02-30 is not a date (day 30 is not in February 2026, which has 28 days)"),
        ("2026-11-31", "2026-11-31 is not a date (day 31 is not in November 2026, which has 30 days)"),
        ("0000-12-31", "0000-12-31 is not a date (year 0)"),
    ],
)
def test_an_impossible_date_is_a_located_key_error_not_a_yaml_error(date, says):
    (p,) = problems(HEAD.replace("2026-12-31", date))
    assert (p.line, p.path, p.message) == (2, "cycle.end", says)


def test_impossible_dates_in_key_results_are_located_too():
    found = at(kr("start: 0, target: 5, due: 2026-02-29, phases: [{date: 2026-04-31, target: 2}]"))
    assert found["objectives[0].key_results[0].due"][0].message.endswith(
        "(day 29 is not in February 2026, which has 28 days)"
    )
    assert "day 31 is not in April 2026" in found["objectives[0].key_results[0].phases[0].date"][0].message
    assert all(p.line == 5 for ps in found.values() for p in ps)


def test_an_impossible_date_is_only_text_where_text_belongs():
    config = parse_config(HEAD + "objectives: [{id: o, title: 2026-13-01}]\n")
    assert config.objectives[0].title == "2026-13-01"


@pytest.mark.parametrize(
    ("fields", "path", "says"),
    [
        (
            "aggregate: summ",
            "metrics.m.aggregate",
            "'summ' is not one of count, sum, avg, min, max, latest, percent_done; did you mean 'sum'?",
        ),
        (
            "aggregate: total",
            "metrics.m.aggregate",
            "'total' is not one of count, sum, avg, min, max, latest, percent_done",
        ),
        ("window: cylce", "metrics.m.window", "'cylce' is not one of cycle, kr, all; did you mean 'cycle'?"),
    ],
)
def test_a_value_outside_the_allowed_ones_quotes_it_lists_them_and_suggests(fields, path, says):
    (p,) = problems(HEAD + FILES + f"metrics: {{m: {{connection: files, path: a.csv, column: n, {fields}}}}}\n")
    assert (p.path, p.message) == (path, says)


def test_a_kr_kind_typo_suggests_the_kind():
    (p,) = problems(kr("kind: atleast, target: 5"))
    assert p.message.startswith("'atleast' is not one of increase, decrease, at_least")
    assert p.message.endswith("did you mean 'at_least'?")


def test_a_value_of_a_union_is_one_error():
    (p,) = problems(kr("start: lots, target: 5"))
    assert p.message == "expected a number or 'auto' (got 'lots')"


@pytest.mark.parametrize(
    ("fields", "path", "says"),
    [
        ("start: 0, target: 92%", "objectives[0].key_results[0].target", "write 92 instead of '92%'"),
        ("start: 12.5%, target: 92", "objectives[0].key_results[0].start", "write 12.5 instead of '12.5%'"),
    ],
)
def test_a_number_with_percent_is_one_error_saying_where_the_unit_goes(fields, path, says):
    (p,) = problems(kr(fields))
    assert p.path == path and p.line == 5
    assert p.message == f"{says} (the unit belongs in the metric's `unit:`)"


def test_percent_in_kpi_thresholds_and_status_is_one_error_each():
    text = HEAD + "metrics: {m: {formula: '1'}}\nkpis: [{id: k, metric: m, healthy: {max: 2%}}]\n"
    found = at(text + "status: {on_track_within: 10%}\n")
    assert [p.message for p in found["kpis[0].healthy.max"]] == [
        "write 2 instead of '2%' (the unit belongs in the metric's `unit:`)"
    ]
    assert [p.message for p in found["status.on_track_within"]] == [
        "write 0.1 instead of '10%' (a share between 0 and 1)"
    ]


@pytest.mark.parametrize(
    ("text", "path", "says"),
    [
        (kr("start: 0, taget: 5"), "objectives[0].key_results[0].taget", "unknown key; did you mean 'target'?"),
        (HEAD + "shedule: {cron: '0 2 * * *'}\n", "shedule", "unknown key; did you mean 'schedule'?"),
        (HEAD + "objectives: [{id: o, title: O, parnet: x}]\n", "objectives[0].parnet", "did you mean 'parent'?"),
        (HEAD + "connections: {files: {type: csv, rooot: .}}\n", "connections.files.rooot", "did you mean 'root'?"),
        (
            HEAD + FILES + "metrics: {m: {connection: files, path: a.csv, column: n, agregate: sum}}\n",
            "metrics.m.agregate",
            "not a key of a csv metric (expected: column, date_column, path, where); did you mean 'aggregate'?",
        ),
        (HEAD + "outputs: [{type: report, paht: r.html}]\n", "outputs[0].paht", "did you mean 'path'?"),
        (HEAD + "connections: {x: {type: csb}}\n", "connections.x.type", "did you mean 'csv'?"),
    ],
)
def test_a_misspelt_key_suggests_the_closest_one(text, path, says):
    found = at(text)
    assert path in found, found
    assert found[path][0].message.endswith(says), found[path][0].message


def test_an_unknown_key_with_nothing_close_lists_the_keys():
    (p,) = problems(HEAD + "schedule: {cron: '0 2 * * *', every: day}\n")
    assert p.message == "unknown key (expected one of: checkin, cron, enabled, timezone)"


@pytest.mark.parametrize(
    ("text", "path", "says"),
    [
        (
            kr("start: 0, target: 5").replace("metric: m,", "metric: mm,"),
            "objectives[0].key_results[0].metric",
            "unknown metric 'mm' (defined: m); did you mean 'm'?",
        ),
        (
            HEAD + FILES + "metrics: {m: {connection: fils, path: a.csv, column: n}}\n",
            "metrics.m.connection",
            "unknown connection 'fils' (defined: files); did you mean 'files'?",
        ),
        (
            HEAD + "objectives: [{id: growth, title: G}, {id: b, title: B, parent: grwoth}]\n",
            "objectives[1].parent",
            "unknown objective 'grwoth' (defined: b, growth); did you mean 'growth'?",
        ),
        (
            HEAD + "metrics: {revenue: {formula: '1'}, r2: {formula: 'revenu * 2'}}\n",
            "metrics.r2.formula",
            "did you mean 'revenue'?",
        ),
    ],
)
def test_an_unknown_id_suggests_the_closest_one(text, path, says):
    found = at(text)
    assert found[path][0].message.endswith(says), found[path][0].message


def test_a_tab_that_indents_says_to_use_spaces():
    (p,) = problems(HEAD + "metrics:\n\tm: {formula: '1'}\n")
    assert p.line == 4 and "tabs cannot indent YAML; use spaces" in p.message


def test_an_unquoted_env_reference_in_a_flow_mapping_says_to_quote_it():
    (p,) = problems(HEAD + "connections:\n  dwh: {type: sql, url: ${WAREHOUSE_URL}}\n")
    assert p.line == 4
    assert 'must be quoted: write url: "${WAREHOUSE_URL}"' in p.message
    config = parse_config(HEAD + 'connections:\n  dwh: {type: sql, url: "${WAREHOUSE_URL}"}\n')
    assert config.connections["dwh"].url == "${WAREHOUSE_URL}"
    (p,) = problems(HEAD + "connections: {dwh: {type: sql, url: postgresql://${DB_USER}@db/x}, b: {type: csv}}\n")
    assert p.message.endswith('write url: "postgresql://${DB_USER}@db/x"')


def test_the_init_template_loads_with_its_commented_examples_uncommented(tmp_path):
    path = tmp_path / "okrsync.yaml"
    code, output = cli(["init", str(path)])
    assert code == 0, output
    lines = path.read_text().splitlines()
    body = next(i for i, line in enumerate(lines) if line.startswith("version:"))  # the header above is prose
    commented = [i for i in range(body, len(lines)) if lines[i].lstrip().startswith("# ")]
    assert len(commented) >= 4
    for i in commented:  # each alone is YAML in its place
        alone = lines[:i] + [lines[i].replace("# ", "", 1)] + lines[i + 1 :]
        load_with_lines("\n".join(alone) + "\n")
    for i in commented:
        lines[i] = lines[i].replace("# ", "", 1)
    path.write_text("\n".join(lines) + "\n")
    config = load_config(path)  # together they are a valid config
    assert {"warehouse", "files"} == set(config.connections) and "conversion" in config.metrics


# ---------------------------------------------------------------- parents in other configs


def two_configs(tmp_path, write_config, parent: str):
    write_csv(tmp_path / "d.csv", "uptime,deploys\n99,3\n")
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    platform = write_config(
        HEAD
        + textwrap.dedent(f"""
        namespace: platform
        store: "{store}"
        connections: {{files: {{type: csv, root: .}}}}
        metrics: {{uptime: {{connection: files, path: d.csv, column: uptime}}}}
        objectives:
          - {{id: reliability, title: Reliable, key_results: [{{id: up, metric: uptime, start: 90, target: 100}}]}}
          - {{id: cost, title: Cheaper, key_results: [{{id: up2, metric: uptime, start: 90, target: 100}}]}}
    """),
        name="platform.yaml",
    )
    team = write_config(
        HEAD
        + textwrap.dedent(f"""
        namespace: team-a
        store: "{store}"
        connections: {{files: {{type: csv, root: .}}}}
        metrics: {{deploys: {{connection: files, path: d.csv, column: deploys}}}}
        objectives:
          - id: ship
            title: Ship often
            parent: {parent}
            key_results: [{{id: d, metric: deploys, start: 0, target: 10}}]
    """),
        name="team.yaml",
    )
    return load_config(platform), team


def test_a_parent_missing_from_a_stored_namespace_is_an_error_with_the_closest_ids(tmp_path, write_config):
    from okrsync.sync.sequence import sync

    platform, team = two_configs(tmp_path, write_config, "platform/reliabilty")
    sync(platform, oslo(2026, 11, 16), now=oslo(2026, 11, 16))
    code, output = cli(["-c", str(team), "validate"])
    assert code == 2, output
    assert (
        f"{team}:11: objectives[0].parent: parent platform/reliabilty: namespace 'platform' has no objective "
        "'reliabilty' (its objectives: cost, reliability); did you mean 'platform/reliability'?"
    ) in output


def test_a_parent_in_a_namespace_not_stored_yet_stays_a_warning_with_a_suggestion(tmp_path, write_config):
    from okrsync.sync.sequence import sync

    platform, team = two_configs(tmp_path, write_config, "platfrom/reliability")
    sync(platform, oslo(2026, 11, 16), now=oslo(2026, 11, 16))
    code, output = cli(["-c", str(team), "validate"])
    assert code == 0, output
    assert "warning objectives.ship.parent: parent platfrom/reliability: no run of namespace 'platfrom'" in output
    assert "did you mean 'platform/reliability'?" in output


def test_leads_name_key_results_and_the_checkin_cron_is_checked_like_the_sync_cron(tmp_path):
    """Issue 25's keys: a KPI's ``leads`` must name key results of the config; ``schedule.checkin`` is a cron."""
    path = tmp_path / "team.yaml"
    path.write_text(
        "version: 1\ntitle: Growth team\ncycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}\n"
        "metrics:\n  a: {formula: '1'}\n"
        "objectives:\n  - id: o\n    title: Grow\n    key_results:\n"
        "      - {id: signups, title: Signups, metric: a, start: 0, target: 10}\n"
        "kpis:\n  - {id: traffic, metric: a, healthy: {min: 0}, leads: [signups, signupz]}\n"
        "schedule: {cron: '0 2 * * *', checkin: '0 8 * * 9'}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    found = {p.path: (p.line, p.message) for p in info.value.problems}
    assert found["kpis[0].leads[1]"] == (12, "unknown key result 'signupz' (defined: signups); did you mean 'signups'?")
    assert found["schedule.checkin"][0] == 13 and "bad day-of-week" in found["schedule.checkin"][1]
    assert len(found) == 2
