"""`okrsync note` and the notes table (docs/checkin.md, "Notes and confidence"): a note is stored for the latest
synced day (today in the cycle's zone before any sync) with the moment it was written, refused plainly when it
breaks a limit, kept as history (`okrsync history` shows it on its day), never logged; on SQLite and PostgreSQL,
and migration 0007 brings a 0006 store up with its rows."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from unittest import mock

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.store import Store
from okrsync.store.notes import MAX_TEXT, checked_note, parsed_confidence
from okrsync.sync.sequence import sync
from tests.helpers import migrate_to, okrsync, oslo, write_csv

CONFIG = """\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{url}"
connections: {{files: {{type: csv, root: data}}}}
metrics: {{signups: {{connection: files, path: signups.csv, column: n, date_column: date}}}}
objectives:
  - id: grow
    title: Grow
    owner: ana
    key_results:
      - {{id: signups, title: Signups to 600, metric: signups, start: 0, target: 600}}
      - {{id: trials, title: Trials to 100, metric: signups, start: 0, target: 100}}
"""


def team(tmp_path, url: str, synced: tuple[date, ...] = ()):
    write_csv(tmp_path / "data" / "signups.csv", "date,n\n2026-11-09,100\n2026-11-12,160\n")
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(url=url))
    config = load_config(path)
    for day in synced:
        sync(config, end_of_day(day, config.cycle), now=oslo(day.year, day.month, day.day, 6))
    return path


NOV14 = oslo(2026, 11, 14, 10)


def note(path, *args: str, at: datetime = NOV14):
    with mock.patch("okrsync.clock.now", lambda config: at):  # the one clock reading of the command
        return okrsync("-c", str(path), "note", *args, cwd=path.parent)


def stored_notes(path, kr_id: str | None = None):
    config = load_config(path)
    with Store(config.store_url(), access="read") as store:
        return store.notes(config.namespace, config.cycle.name, kr_id=kr_id)


def test_a_note_is_for_the_latest_synced_day_with_the_moment_written(store_url, tmp_path):
    path = team(tmp_path, store_url, (date(2026, 11, 9), date(2026, 11, 12)))
    ran = note(path, "signups", "Campaign moved to Monday", "--confidence", "07", "--author", "Ana")
    assert ran.returncode == 0, ran.stderr
    assert "noted on signups for 2026-11-12 (the latest synced day), confidence 7" in ran.stdout
    [row] = stored_notes(path)  # written on Nov 14, about the numbers of Nov 12 (what `okrsync status` shows)
    assert (row.kr_id, row.day, row.author, row.confidence, row.text) == (
        "signups",
        date(2026, 11, 12),
        "Ana",
        "7",
        "Campaign moved to Monday",
    )
    assert row.written_at == oslo(2026, 11, 14, 10) and row.source == "cli"
    got = json.loads(okrsync("-c", str(path), "checkin", "-f", "json", cwd=tmp_path).stdout)
    [signups] = [k for k in got["key_results"] if k["id"] == "signups"]
    assert [n["text"] for n in signups["notes"]] == ["Campaign moved to Monday"]
    assert signups["confidence"]["label"] == "on_track"  # 7 of 10 reads on track


def test_before_any_sync_a_note_is_for_today_in_the_cycles_zone(tmp_path):
    path = team(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    ran = note(path, "trials", "Not started", at=datetime(2026, 11, 14, 23, 30, tzinfo=UTC))  # 00:30 in Oslo
    assert ran.returncode == 0 and "for 2026-11-15 (today: nothing is synced yet)" in ran.stdout
    assert [n.day for n in stored_notes(path)] == [date(2026, 11, 15)]


def test_bad_notes_are_plain_errors_and_store_nothing(tmp_path):
    path = team(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", (date(2026, 11, 12),))
    unknown = note(path, "signup", "x")
    assert unknown.returncode == 2 and "no key result 'signup' (known: signups, trials)" in unknown.stderr
    refused = {
        "x" * (MAX_TEXT + 1): "a note holds at most 2,000 characters, this one has 2,001",
        "   ": "a note needs some text",
        "red \x1b[31malert": "the note holds a control character (U+001B) at character 5",
        "safe \u202eexe.txt": "control character (U+202E)",
    }
    for text, message in refused.items():
        ran = note(path, "signups", text)
        assert ran.returncode == 2 and message in ran.stderr and "Traceback" not in ran.stderr, text
    for confidence in ("11", "7.5", "-1", "maybe", "٣"):
        ran = note(path, "signups", "fine", "--confidence", confidence)
        assert ran.returncode == 2 and "confidence is on_track, at_risk, off_track or a whole number" in ran.stderr
    long_name = note(path, "signups", "fine", "--author", "a" * 201)
    assert long_name.returncode == 2 and "at most 200 characters" in long_name.stderr
    assert stored_notes(path) == []
    assert note(path, "signups", "y" * MAX_TEXT).returncode == 0  # exactly the limit is fine
    assert note(path, "signups", "two\r\nlines\tand a tab").returncode == 0
    assert [n.text for n in stored_notes(path)][1] == "two\nlines\tand a tab"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("On Track", "on_track"),
        ("off-track", "off_track"),
        ("AT_RISK", "at_risk"),
        ("07", "7"),
        ("0", "0"),
        ("10", "10"),
    ],
)
def test_confidence_is_read_alike(written, stored):
    assert parsed_confidence(written) == stored


@given(st.integers(-1000, 1000))
def test_a_score_is_a_whole_number_from_0_to_10(n):
    if 0 <= n <= 10:
        assert parsed_confidence(str(n)) == str(n)
    else:
        with pytest.raises(ValueError):
            parsed_confidence(str(n))


@given(st.text(max_size=2100))
def test_checked_text_is_within_its_limits(text):
    try:
        checked = checked_note(text)
    except ValueError:
        body = text.replace("\r\n", "\n").strip()
        assert (
            not body
            or len(body) > MAX_TEXT
            or any(ord(c) < 32 and c not in "\n\t" for c in body)
            or any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 or 0x7F <= ord(c) <= 0x9F for c in body)
        )
        return
    assert 1 <= len(checked.text) <= MAX_TEXT and checked.text == checked.text.strip()


def test_history_shows_the_notes_on_their_days_and_keeps_every_one(store_url, tmp_path):
    path = team(tmp_path, store_url, (date(2026, 11, 9),))
    assert (
        note(path, "signups", "[bold]First[/bold] <i>week</i>", "--author", "ana", at=oslo(2026, 11, 9, 9)).returncode
        == 0
    )
    assert (
        note(path, "signups", "Second word on Nov 9", "--confidence", "at_risk", at=oslo(2026, 11, 9, 11)).returncode
        == 0
    )
    config = load_config(path)
    sync(config, end_of_day(date(2026, 11, 12), config.cycle), now=oslo(2026, 11, 12, 6))
    assert note(path, "signups", "After the 12th", "--author", "bo", "--confidence", "2").returncode == 0
    shown = okrsync("-c", str(path), "history", "signups", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    nov9 = next(i for i, line in enumerate(lines) if "2026-11-09" in line)
    assert "ana: [bold]First[/bold] <i>week</i>" in lines[nov9]  # as written: markup is not obeyed
    assert "at risk: Second word on Nov 9" in lines[nov9 + 1]  # a history: both notes of the day
    assert "bo · 2/10 (off track): After the 12th" in next(line for line in lines if "2026-11-12" in line)
    assert okrsync("-c", str(path), "runs", "delete", "2026-11-09", "--yes", cwd=tmp_path).returncode == 0
    after = okrsync("-c", str(path), "history", "signups", cwd=tmp_path).stdout.splitlines()
    nov9 = next(i for i, line in enumerate(after) if "2026-11-09" in line)  # the run is gone, the notes stay
    assert "ana: [bold]First[/bold]" in after[nov9] and "Second word on Nov 9" in after[nov9 + 1]
    assert "%" not in after[nov9]  # a day of notes only: no figures
    assert len(stored_notes(path, "signups")) == 3


def test_a_note_never_reaches_the_logs(tmp_path, caplog):
    path = team(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", (date(2026, 11, 12),))
    caplog.set_level(logging.DEBUG)
    ran = note(path, "signups", "canary-note-5d1f in confidence", "--confidence", "3")
    verbose = okrsync("-v", "-c", str(path), "note", "trials", "canary-note-5d1f again", cwd=tmp_path)
    assert ran.returncode == 0 and verbose.returncode == 0
    assert "canary-note-5d1f" not in caplog.text and "canary-note-5d1f" not in verbose.stderr
    assert "canary-note-5d1f" not in ran.stdout and "canary-note-5d1f" not in verbose.stdout  # not echoed either


def test_migration_0007_brings_a_0006_store_up_with_its_rows(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate_to(conn, "0006")
        conn.execute(
            sa.text(
                "insert into runs (namespace, cycle, day, as_of, started_at, trigger) "
                "values ('ns', 'Q4', '2026-11-12', '2026-11-12 22:59:59', '2026-11-12 05:00:00', 'run')"
            )
        )
        assert "notes" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    with Store(store_url) as store:  # opening migrates to the head
        assert [r.day for r in store.list_runs("ns", "Q4")] == [date(2026, 11, 12)]
        written = store.add_note(
            "ns", "Q4", "k", date(2026, 11, 12), checked_note(" ünïcode ✓ "), now=oslo(2026, 11, 13)
        )
        again = store.add_note(
            "ns", "Q4", "k", date(2026, 11, 12), checked_note("later", "bo", "on track"), now=oslo(2026, 11, 14)
        )
        assert store.notes("ns", "Q4", kr_id="k") == [written, again]
        assert store.notes("ns", "Q4", until=date(2026, 11, 11)) == [] and store.notes("ns", "other") == []
        assert (written.text, again.confidence, again.author) == ("ünïcode ✓", "on_track", "bo")


def test_the_next_sync_carries_the_latest_note_and_flags_a_confidence_the_data_disagrees_with(tmp_path):
    """Signups: 160 of 600 on Nov 16 is 26.7 % done against 47/92 = 51.1 % expected: a gap of 24.4 points, within
    at_risk_within (25): at risk. The owner said 8/10 (on track) on Nov 12, then a note without a confidence on
    Nov 16: the latest note is shown, the latest confidence given (8) is compared, and it disagrees."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    path = team(tmp_path, url, (date(2026, 11, 12),))
    assert note(path, "signups", "Launch slipped a week", "--confidence", "8", at=oslo(2026, 11, 12, 9)).returncode == 0
    assert note(path, "signups", "Ads back on", at=oslo(2026, 11, 12, 17)).returncode == 0
    config = load_config(path)
    doc = sync(config, end_of_day(date(2026, 11, 16), config.cycle), now=oslo(2026, 11, 16, 6)).document
    signups, trials = doc.kr("signups"), doc.kr("trials")
    assert signups is not None and trials is not None and signups.status == "at_risk"
    assert signups.owner_note is not None and signups.owner_note.text == "Ads back on"
    assert signups.owner_note.day == date(2026, 11, 12) and signups.owner_confidence == "8"
    assert signups.confidence_disagrees is True  # owner: on track · data: at risk
    assert trials.owner_note is None and trials.owner_confidence is None and trials.confidence_disagrees is False


def test_a_note_is_on_the_latest_days_status_at_once(tmp_path):
    """`okrsync note` evaluates the latest stored day again (as an override does): `status` shows the note."""
    path = team(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", (date(2026, 11, 12),))
    assert note(path, "trials", "Waiting on legal", "--confidence", "2").returncode == 0
    doc = json.loads(okrsync("-c", str(path), "status", "-f", "json", cwd=tmp_path).stdout)
    trials = next(k for o in doc["objectives"] for k in o["key_results"] if k["id"] == "trials")
    assert trials["owner_note"]["text"] == "Waiting on legal" and trials["owner_note"]["day"] == "2026-11-12"
    assert trials["owner_confidence"] == "2"
    # 160 of 100 trials: done, which reads on track; the owner's 2 reads off track: a question for the meeting
    assert trials["status"] == "done" and trials["confidence_disagrees"] is True


def test_a_note_waits_for_the_run_lock_and_stores_nothing_when_it_gives_up(tmp_path):
    """Found in review: the note was stored before the lock was asked for, so exit 4 left it behind (a retry
    then stored it twice) and a sync could move the latest day under it."""
    path = team(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", (date(2026, 11, 12),))
    config = load_config(path)
    store = Store(config.store_url())
    try:
        with store.run_lock(config.namespace, config.cycle.name, wait=0):
            ran = note(path, "signups", "written while a sync runs", "--wait", "0")
    finally:
        store.close()
    assert ran.returncode == 4 and "still in progress" in ran.stderr, ran.stderr
    assert stored_notes(path) == []
