"""Odd but possible inputs end in a plain message, never a traceback (issue 21, items 15 and 16).

* A day at the end of the calendar: `--as-of D` is the end of D, and the run also reads D + 1, which
  does not exist for 9999-12-31 (OverflowError); a moment in year 1 overflowed moving to UTC. Days from
  0002-01-01 to 9998-12-31 are taken; others are usage errors (exit 2) wherever --as-of is parsed.
* A report over an existing file that is not UTF-8: the report reads the file to skip rewriting an
  unchanged one, and that read raised UnicodeDecodeError. The file at the configured path is the tool's
  output, so it is replaced; a folder there is an error naming the path.
"""

from __future__ import annotations

import pytest

from okrsync.connectors.report import write_if_changed
from tests.helpers import cli, write_csv

pytestmark = pytest.mark.reliability

CONFIG = """\
version: 1
cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Pacific/Kiritimati}
store: sqlite:///store.db
connections: {files: {type: csv, root: .}}
metrics: {signups: {connection: files, path: signups.csv, column: n}}
objectives:
  - id: grow
    title: Grow
    key_results: [{id: signups, title: Signups, metric: signups, start: 0, target: 100}]
outputs: [{type: report, path: out/okr.json}]
"""
COMMANDS = {
    "status": ["status", "--as-of"],
    "status --all": ["status", "--all", "--as-of"],
    "run --dry-run --future": ["run", "--dry-run", "--future", "-q", "--as-of"],
    "connections test": ["connections", "test", "--as-of"],
}


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "signups.csv", "n\n40\n")
    (tmp_path / "okrsync.yaml").write_text(CONFIG)
    return str(tmp_path / "okrsync.yaml")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("9999-12-31", "9999-12-31 is too far in the future (okrsync takes days up to 9998-12-31)"),
        ("9999-12-31T23:00", "9999-12-31T23:00 is too far in the future"),
        ("0001-01-01T00:00", "0001-01-01T00:00 is too far in the past (okrsync takes days from 0002-01-01)"),
    ],
)
def test_a_day_at_the_end_of_the_calendar_is_a_usage_error(command, day, said, config):
    code, output = cli(["-c", config, *COMMANDS[command], day])
    assert code == 2, output
    assert said in output and "--as-of" in output and "Traceback" not in output
    code, output = cli(["-c", config, *COMMANDS[command], "9998-12-31"])
    assert code in (0, 1) and "Traceback" not in output, output  # the last day taken works (1: nothing stored)


def test_a_report_over_a_file_that_is_not_utf8_replaces_it(config, tmp_path):
    assert cli(["-c", config, "run", "--as-of", "2026-11-21"])[0] == 0
    for name, old in (("okr.html", b"\xff\xfe<\x00p\x00>\x00"), ("okr.md", "caf\xe9\n".encode("latin-1"))):
        (tmp_path / name).write_bytes(old)
        code, output = cli(["-c", config, "report", "-o", name])
        assert code == 0 and f"wrote {name}" in output, output
        assert (tmp_path / name).read_text(encoding="utf-8").startswith(("<!doctype html>", "#"))
        code, output = cli(["-c", config, "report", "-o", name])
        assert code == 0 and f"unchanged {name}" in output, output
    (tmp_path / "out" / "okr.json").write_bytes(b"\x80 not json, not utf-8")
    code, output = cli(["-c", config, "run", "--as-of", "2026-11-22"])
    assert code == 0, output
    assert (tmp_path / "out" / "okr.json").read_text(encoding="utf-8").startswith("{")


def test_a_report_path_that_is_a_folder_is_an_error_naming_it(config, tmp_path):
    assert cli(["-c", config, "run", "--as-of", "2026-11-21"])[0] == 0
    (tmp_path / "okr.html").mkdir()
    code, output = cli(["-c", config, "report", "-o", "okr.html"])
    assert code == 2 and "cannot write okr.html: it is a folder, not a file" in output, output
    (tmp_path / "out" / "okr.json").unlink()
    (tmp_path / "out" / "okr.json").mkdir()
    code, output = cli(["-c", config, "run", "--as-of", "2026-11-22"])
    assert code == 1, output  # the sync completed, an output failed
    assert f"cannot write {tmp_path / 'out' / 'okr.json'}: it is a folder, not a file" in output
    assert "Traceback" not in output and "unexpected error" not in output


def test_write_if_changed_compares_bytes(tmp_path):
    path = tmp_path / "okr.csv"
    path.write_bytes("kr;caf\xe9\n".encode("cp1252"))  # a spreadsheet saved it in its own encoding
    assert write_if_changed(path, "kr,café\n") is True
    assert path.read_bytes() == "kr,café\n".encode()
    assert write_if_changed(path, "kr,café\n") is False
