import json
import os

import pytest

from okrsync.config import resolve_env
from okrsync.config.load import load_config, parse_config
from okrsync.config.schema import json_schema
from okrsync.errors import ConfigError, SourceError
from tests.helpers import REPO


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "team.yaml")
    return info.value.problems


def test_example_config_is_valid():
    config = load_config(REPO / "config" / "example.yaml")
    kinds = {kr.kind or "inferred" for _, kr in config.key_results()}
    assert {"at_least", "at_most", "between", "milestone", "inferred"} <= kinds
    assert any(o.kind == "aspirational" for o in config.objectives)
    assert any(o.parent for o in config.objectives)
    assert any(m.formula for m in config.metrics.values())
    assert any(kr.phases for _, kr in config.key_results())
    assert len(config.key_results()) >= 10 and len(config.kpis) >= 2


FIVE_MISTAKES = """\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Mars/Olympus}
connections:
  files: {type: csv, root: data/}
metrics:
  signups: {connection: files, path: s.csv, column: count, agregate: sum}
  won: {connection: nowhere, path: w.csv, column: n}
objectives:
  - id: grow
    title: Grow
    key_results:
      - {id: a, metric: signups, start: 0, target: 100}
      - {id: b, metric: missing_metric, start: 0, target: 1}
      - {id: c, metric: signups, kind: between, min: 5}
"""


def test_five_mistakes_give_five_located_messages():
    found = problems(FIVE_MISTAKES)
    assert len(found) == 5, "\n".join(map(str, found))
    by_path = {p.path: p for p in found}
    assert by_path["cycle.timezone"].line == 2 and "Mars/Olympus" in by_path["cycle.timezone"].message
    assert by_path["metrics.signups.agregate"].line == 6
    assert "not a key of a csv metric" in by_path["metrics.signups.agregate"].message
    assert by_path["metrics.won.connection"].line == 7 and "files" in by_path["metrics.won.connection"].message
    assert by_path["objectives[0].key_results[1].metric"].line == 13
    assert by_path["objectives[0].key_results[2]"].line == 14
    assert "min and max" in by_path["objectives[0].key_results[2]"].message
    assert all(str(p).startswith("team.yaml:") for p in found)


def test_yaml_syntax_error_names_the_line():
    (p,) = problems("version: 1\ncycle: {name: Q4\nmetrics: {}\n")
    assert p.line is not None and "invalid YAML" in p.message


def test_duplicate_keys_and_ids_are_reported():
    found = problems("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
connections: {f: {type: csv}}
metrics:
  m: {connection: f, path: a.csv, column: x}
  m: {connection: f, path: b.csv, column: x}
objectives:
  - {id: o, title: O, key_results: [{id: k, metric: m, start: 0, target: 1}]}
  - {id: o, title: P, key_results: [{id: k, metric: m, start: 0, target: 1}]}
""")
    messages = [str(p) for p in found]
    assert any("duplicate key 'm'" in m and ":6:" in m for m in messages)
    assert sum("duplicate objective id 'o'" in m for m in messages) == 2
    assert sum("duplicate key result id 'k'" in m for m in messages) == 2


def test_kind_rules_and_references():
    found = problems("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-09-30}
metrics:
  x: {formula: "y * 2"}
  z: {formula: "__import__('os')"}
objectives:
  - id: o
    title: O
    parent: nobody
    key_results:
      - {id: a, metric: x, kind: increase, start: 10, target: 5}
      - {id: b, metric: x, kind: at_least}
      - {id: c, metric: x}
outputs:
  - {type: report, path: out.pdf}
  - {type: carrier_pigeon}
""")
    text = "\n".join(map(str, found))
    assert "cycle end 2026-09-30 is before its start" in text
    assert "unknown metric 'y'" in text
    assert "only min, max, abs, round may be called" in text
    assert "unknown objective 'nobody'" in text
    assert "kind increase contradicts start 10.0 and target 5.0" in text
    assert "at_least key result needs a target" in text
    assert "needs start and target" in text
    assert ".html, .md, .json or .csv" in text
    assert "carrier_pigeon" in text


def test_parent_cycle_is_an_error():
    text = "\n".join(
        map(
            str,
            problems("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
objectives:
  - {id: a, title: A, parent: b}
  - {id: b, title: B, parent: a}
"""),
        )
    )
    assert "objectives align in a circle: a -> b -> a" in text


def test_env_references_stay_unresolved_until_a_connection_opens(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://u:hunter2@db/x")
    config = parse_config("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
connections: {dwh: {type: sql, url: "${WAREHOUSE_URL}"}, jira: {type: jira, url: "https://x", token: "${JIRA_TOKEN}"}}
""")
    assert config.connections["dwh"].url == "${WAREHOUSE_URL}"
    assert "hunter2" not in config.model_dump_json()
    assert resolve_env(config.connections["dwh"].url, "dwh.url") == "postgresql://u:hunter2@db/x"
    with pytest.raises(SourceError, match="JIRA_TOKEN is not set .referenced by jira.token"):
        resolve_env(config.connections["jira"].token, "jira.token", environ={})


def test_store_url_env_override_and_relative_sqlite(tmp_path, monkeypatch):
    path = tmp_path / "team" / "okrsync.yaml"
    path.parent.mkdir()
    path.write_text("version: 1\ncycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}\nstore: sqlite:///s.db\n")
    config = load_config(path)
    monkeypatch.delenv("OKRSYNC_STORE_URL", raising=False)
    assert config.store_url() == f"sqlite:///{tmp_path / 'team' / 's.db'}"
    monkeypatch.setenv("OKRSYNC_STORE_URL", "postgresql+psycopg://x@h/db")
    assert config.store_url() == "postgresql+psycopg://x@h/db"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_committed_schema_is_current_and_covers_metric_keys():
    committed = json.loads((REPO / "config" / "okrsync.schema.json").read_text())
    assert committed == json_schema(), "run `okrsync schema -o config/okrsync.schema.json`"
    metric_props = committed["$defs"]["Metric"]["properties"]
    assert {"jql", "range", "query", "soql", "column", "select"} <= set(metric_props)
    first_line = (REPO / "config" / "example.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=okrsync.schema.json"


def test_unknown_connection_type_lists_known_ones():
    text = "\n".join(
        map(
            str,
            problems("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
connections: {x: {type: mongodb}}
"""),
        )
    )
    assert "unknown connection type 'mongodb'" in text and "google_sheets" in text
    assert os.linesep not in text.split("\n")[0]


def test_sheets_jira_example_is_valid():
    config = load_config(REPO / "config" / "sheets-jira.example.yaml")
    assert {c.type for c in config.connections.values()} == {"google_sheets", "jira"}
    assert {o.type for o in config.outputs} == {"google_sheets", "jira", "report"}


def test_yaml_1_2_booleans_keep_the_slack_on_key():
    config = parse_config("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}
outputs: [{type: slack, webhook_url: "${SLACK_WEBHOOK_URL}", on: [done, error]}]
""")
    assert config.outputs[0].on == ["done", "error"]


def test_crm_example_is_valid():
    config = load_config(REPO / "config" / "crm.example.yaml")
    assert {c.type for c in config.connections.values()} == {"hubspot", "salesforce", "pipedrive", "http", "github"}
    assert {o.type for o in config.outputs} == {"slack", "teams", "webhook", "report"}
    assert config.outputs[0].weekly.questions[0] == "What has had the most impact so far?"


@pytest.mark.parametrize(
    ("schedule", "path", "words"),
    [
        ('{cron: "61 25 * * *"}', "schedule.cron", "bad minute"),
        ('{cron: "0 2 30 2 *"}', "schedule.cron", "bad day-of-month"),
        ('{cron: "0 2 * *"}', "schedule.cron", "5-field cron"),
        ('{cron: "0 2 * * *", timezone: Mars/Olympus}', "schedule.timezone", "unknown time zone 'Mars/Olympus'"),
        ('{cron: "0 2 * * *", enabled: maybe}', "schedule.enabled", "valid boolean"),
        ('{cron: "0 2 * * *", every: day}', "schedule.every", "unknown key"),
    ],
)
def test_schedule_is_validated_with_located_errors(schedule, path, words):
    text = "version: 1\ncycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}\nschedule: " + schedule + "\n"
    (p,) = problems(text)
    assert p.path == path and words in p.message and p.line == 3, p


def test_schedule_timezone_defaults_to_the_cycles():
    base = "version: 1\ncycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
    config = parse_config(base + 'schedule: {cron: "*/30 6-18 * * mon-fri"}\n')
    assert config.schedule.enabled and config.schedule_timezone == "Europe/Oslo"
    own = parse_config(base + 'schedule: {cron: "0 2 * * *", timezone: America/New_York, enabled: false}\n')
    assert own.schedule_timezone == "America/New_York" and not own.schedule.enabled
