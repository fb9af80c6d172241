"""`store:` as a URL alone or as a mapping (url, keep_cycles, archive): both load, both pass the JSON Schema, and a
bad keep_cycles is a located problem (``file:line: key: message``)."""

import json

import jsonschema
import pytest

from okrsync.config.load import load_config, parse_config
from okrsync.errors import ConfigError
from tests.helpers import REPO

HEAD = "version: 1\ncycle: {name: Q4, start: 2026-10-01, end: 2026-12-31}\n"


def located(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + text, "team.yaml")
    return [str(p) for p in info.value.problems]


def test_a_url_alone_and_a_mapping_both_name_the_store(tmp_path, monkeypatch):
    monkeypatch.delenv("OKRSYNC_STORE_URL", raising=False)
    folder = tmp_path / "team"
    folder.mkdir()
    for text in ("store: sqlite:///s.db\n", "store: {url: sqlite:///s.db, keep_cycles: 2}\n"):
        (folder / "okrsync.yaml").write_text(HEAD + text)
        config = load_config(folder / "okrsync.yaml")
        assert config.store_url() == f"sqlite:///{folder / 's.db'}"
    assert (config.store.keep_cycles, config.store.archive) == (2, "okrsync-archive")
    alone = parse_config(HEAD + "store: postgresql+psycopg://u@h/db\n")
    assert (alone.store.url, alone.store.keep_cycles) == ("postgresql+psycopg://u@h/db", None)
    assert parse_config(HEAD).store.url == "sqlite:///okrsync.db"  # the default, unchanged


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("store: {keep_cycles: 0}\n", "team.yaml:3: store.keep_cycles: must be greater than or equal to 1 (got 0)"),
        (
            "store:\n  url: sqlite:///s.db\n  keep_cycles: two\n",
            "team.yaml:5: store.keep_cycles: must be a valid integer, unable to parse string as an integer (got 'two')",
        ),
        ("store: {keep_cycle: 2}\n", "team.yaml:3: store.keep_cycle: unknown key; did you mean 'keep_cycles'?"),
        ("store: 5\n", "team.yaml:3: store: expected the store's URL, or a mapping with url, keep_cycles and archive"),
    ],
)
def test_a_bad_store_setting_is_a_located_problem(text, problem):
    assert located(text) == [problem]


def test_the_json_schema_takes_both_forms_and_refuses_a_bad_keep_cycles():
    schema = json.loads((REPO / "config" / "okrsync.schema.json").read_text())
    base = {"version": 1, "cycle": {"name": "Q4", "start": "2026-10-01", "end": "2026-12-31"}}
    for store in ("sqlite:///s.db", {"url": "sqlite:///s.db", "keep_cycles": 3, "archive": "old"}):
        jsonschema.validate({**base, "store": store}, schema)
    for bad in ({"keep_cycles": 0}, {"keep": 2}, 5):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, "store": bad}, schema)
