"""`okrsync cycle next` never loses a config (issue 21, items 1, 2 and 12).

The new config is written beside the old one, synced and moved over it (a kill leaves the old file or
the new one, never a part); only the cycle's name, start and end scalars change, each written so that it
reads back as what it is (a name stays a string, ``--name`` is a value and never YAML); anchors and
aliases keep working; the new text must load before it replaces the old; a read-only file is a plain
error; CRLF line endings, the file's mode and a symlink stay as they were.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from okrsync.config.load import load_config
from okrsync.config.yamlsource import MAX_BYTES, load_with_lines
from tests.helpers import cli

pytestmark = pytest.mark.reliability

HEAD = "version: 1\n# our quarter\ncycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
BODY = """\
connections: {files: {type: csv, root: data}}
metrics:
  tickets: {connection: files, path: tickets.csv, column: open}   # the helpdesk export
objectives:
  - id: o
    title: Support
    key_results:
      - {id: backlog, metric: tickets, start: 200, target: 100}
"""

# The child runs the real CLI and kills itself (SIGKILL) just before its Nth call that can change the config's
# folder on disk: every state a killed `cycle next` can leave there is reached, without sleeps or timing.
# An audit hook sees each open for writing, rename, remove, chmod or chown of a path in that folder; from
# the first such open on, a profile hook also sees each write, flush, fsync, fchmod, fchown and close.
# With N = 0 it runs to the end and prints how many such points it passed.
CHILD = r"""
import os, signal, sys
from okrsync.cli.main import main

kill_at, folder, points, busy = int(sys.argv[1]), os.path.dirname(os.path.realpath(sys.argv[2])), [0], [False]
AUDITED = {"os.rename", "os.remove", "os.chmod", "os.chown", "os.truncate", "os.link", "os.symlink"}
CALLS = {"write", "flush", "close", "fsync", "fdatasync", "fchmod", "fchown", "ftruncate"}
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def point():
    points[0] += 1
    if points[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def here(path):
    try:
        return os.path.dirname(os.path.realpath(os.fsdecode(path))) == folder
    except (TypeError, ValueError):
        return False

def audit(event, args):
    if busy[0] or not (event == "open" or event in AUDITED):
        return
    busy[0] = True
    try:
        if event == "open" and here(args[0]) and (set(args[1] or "") & set("wax+") or (args[2] or 0) & WRITING):
            sys.setprofile(profile)
            point()
        elif event in AUDITED and any(here(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
            point()
    finally:
        busy[0] = False

def profile(frame, event, arg):
    if event == "c_call" and getattr(arg, "__name__", "") in CALLS:
        owner = getattr(arg, "__self__", None)
        if getattr(arg, "__module__", None) in ("posix", "nt") or type(owner).__module__ == "_io":
            point()

sys.argv = ["okrsync", "-c", sys.argv[2], "cycle", "next"]
sys.addaudithook(audit)
try:
    main()
finally:
    sys.setprofile(None)
    print(f"points {points[0]}", file=sys.stderr)
"""


def big_config() -> str:
    """A ~1 MB config (just under the loader's limit): 200 metrics and KRs, then a long notes section."""
    metrics = "".join(f"  m{i}: {{connection: files, path: m.csv, column: n}}  # metric {i}\n" for i in range(200))
    krs = "".join(f"      - {{id: kr{i}, metric: m{i}, start: 0, target: {i + 1}}}\n" for i in range(200))
    text = HEAD + "connections: {files: {type: csv, root: data}}\nmetrics:\n" + metrics
    text += "objectives:\n  - id: o\n    title: Support\n    key_results:\n" + krs
    note = "# notes: " + "the quick brown fox jumps over the lazy dog " * 2 + "\n"
    return text + note * ((MAX_BYTES - 2_000 - len(text)) // len(note))


def child(config: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OKRSYNC_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(kill_at), str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=config.parent,
    )


@pytest.mark.slow  # a dozen processes, ~20 s
def test_a_rollover_killed_at_any_point_leaves_the_old_or_the_new_config(tmp_path, figures):
    old = big_config()
    assert 900_000 < len(old) < MAX_BYTES
    done = tmp_path / "done" / "okrsync.yaml"
    done.parent.mkdir()
    done.write_text(old)
    full = child(done, 0)
    assert full.returncode == 0, full.stderr
    new, points = done.read_text(), int(full.stderr.rsplit("points ", 1)[1])
    assert new != old and load_config(done).cycle.name == "2027-Q1"
    intact = 0
    for kill_at in range(1, points + 1):
        config = tmp_path / str(kill_at) / "okrsync.yaml"
        config.parent.mkdir()
        config.write_text(old)
        killed = child(config, kill_at)
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr)
        text = config.read_text()
        assert text in (old, new), f"killed at point {kill_at} of {points}: {len(text)} bytes left"
        intact += 1
    figures.append(
        (
            "config edits",
            f"cycle next on {len(old) // 1000} kB, SIGKILL at each write point",
            {"killed": points, "intact": intact},
        )
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "okrsync.yaml"
    path.write_bytes(text.encode())
    return path


def test_the_yearly_rollover_of_a_quoted_name_stays_a_string(tmp_path):
    config = write(
        tmp_path, 'version: 1\ncycle:\n  name: "2026"   # the year\n  start: 2026-01-01\n  end: 2026-12-31\n'
    )
    code, out = cli(["-c", str(config), "cycle", "next"])
    assert code == 0, out
    assert (
        config.read_text()
        == 'version: 1\ncycle:\n  name: "2027"   # the year\n  start: 2027-01-01\n  end: 2027-12-31\n'
    )
    assert load_config(config).cycle.name == "2027"


ANCHORED = """\
version: 1
namespace: &team support
cycle:
  name: NAME
  start: &q_start 2026-10-01
  end: &q_end 2026-12-31
metrics: {tickets: {connection: files, path: tickets.csv, column: open}}
connections: {files: {type: csv, root: data}}
objectives:
  - id: o
    title: Support
    owner: *team
    key_results:
      - {id: backlog, metric: tickets, start: 200, target: 100, start_date: *q_start, due: *q_end}
"""


def test_anchors_on_cycle_values_move_with_them_and_an_alias_value_is_replaced(tmp_path):
    text = ANCHORED.replace("NAME", "&quarter 2026-Q4")
    config = write(tmp_path, text)
    assert cli(["-c", str(config), "cycle", "next"])[0] == 0
    assert config.read_text() == text.replace("2026-Q4", "2027-Q1").replace("2026-10-01", "2027-01-01").replace(
        "2026-12-31", "2027-03-31"
    )
    ((_, kr),) = load_config(config).key_results()
    assert (kr.start_date, kr.due) == (date(2027, 1, 1), date(2027, 3, 31))  # the aliases follow their anchors

    # the cycle's name is an alias of the namespace's value
    aliased = write(tmp_path, ANCHORED.replace("&team support", "&team 2026-Q4").replace("NAME", "*team"))
    code, out = cli(["-c", str(aliased), "cycle", "next"])
    assert code == 0, out
    moved = load_config(aliased)
    assert (moved.namespace, moved.cycle.name) == ("2026-Q4", "2027-Q1")  # the namespace stays as it was
    assert "namespace: &team 2026-Q4\n" in aliased.read_text() and "  name: 2027-Q1\n" in aliased.read_text()


def test_an_edit_that_would_not_load_leaves_the_file_untouched(tmp_path):
    text = ANCHORED.replace("NAME", "2026-Q4").replace("due: *q_end", "due: 2026-12-31")
    config = write(tmp_path, text)  # the KR starts with the cycle (an alias), but its due date is written out
    code, out = cli(["-c", str(config), "cycle", "next"])
    assert code == 2 and "Traceback" not in out
    assert "would not load" in out and "due 2026-12-31 is before start_date 2027-01-01" in out
    assert config.read_text() == text


HOSTILE = [
    "# later",
    "x, timezone: Mars/Base}",
    "x, timezone: Mars/Base}\nstore: sqlite:///evil.db\n#",
    "2027",
    "null",
    "true",
    "2027-01-01",
    "a: b",
    "&x",
    "*x",
    "!!int 5",
    "{store: x}",
    "[x]",
    "- x",
    "'quoted'",
    '"double"',
    "back\\slash",
    "[/] [bold]markup",
    "tab\tinside",
    " padded ",
    "",
    "Q1 – 2027 🚀",
    "x" * 101,
]


@pytest.mark.parametrize("name", HOSTILE, ids=[repr(n)[:30] for n in HOSTILE])
def test_a_hostile_cycle_name_is_a_value_or_refused_and_never_adds_a_key(name, tmp_path, figures):
    text = HEAD + BODY
    config = write(tmp_path, text)
    code, out = cli(["-c", str(config), "cycle", "next", "--name", name])
    assert "Traceback" not in out
    data, _, _ = load_with_lines(config.read_text())
    keys = (sorted(data), sorted(data["cycle"]))
    assert keys == (sorted(load_with_lines(text)[0]), ["end", "name", "start", "timezone"])
    if code == 0:
        assert load_config(config).cycle.name == name  # written as the value it is
    else:
        assert code == 2 and "--name" in out and config.read_text() == text  # refused, the file untouched
    injected = len(keys[0]) - len(load_with_lines(text)[0])
    figures.append(("cycle next names", f"--name {name!r}"[:52], {"keys injected": injected}))


def test_a_read_only_config_is_a_plain_error_and_stays_untouched(tmp_path):
    text = HEAD + BODY
    config = write(tmp_path, text)
    config.chmod(0o444)
    code, out = cli(["-c", str(config), "cycle", "next"])
    assert code == 2 and "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert "read-only" in out and config.read_text() == text
    config.chmod(0o644)
    tmp_path.chmod(0o555)  # the folder: the new file is written beside the old one
    try:
        code, out = cli(["-c", str(config), "cycle", "next"])
    finally:
        tmp_path.chmod(0o755)
    assert code == 2 and "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert "read-only" in out and config.read_text() == text and os.listdir(tmp_path) == ["okrsync.yaml"]


def test_crlf_line_endings_mode_and_a_symlink_are_kept(tmp_path):
    text = (HEAD + BODY).replace("\n", "\r\n")
    real = tmp_path / "real" / "okrsync.yaml"
    real.parent.mkdir()
    real.write_bytes(text.encode())
    real.chmod(0o640)
    link = tmp_path / "okrsync.yaml"
    link.symlink_to(real)
    code, out = cli(["-c", str(link), "cycle", "next"])
    assert code == 0, out
    expected = (
        text.replace("2026-Q4", "2027-Q1").replace("2026-10-01", "2027-01-01").replace("2026-12-31", "2027-03-31")
    )
    assert real.read_bytes() == expected.encode()  # CRLF stays CRLF, every other byte as it was
    assert link.is_symlink() and real.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(real.parent)) == ["okrsync.yaml"]  # no temporary file left behind
