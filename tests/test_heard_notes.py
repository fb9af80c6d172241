"""Notes heard where okrsync writes (docs/checkin.md, "Notes from Sheets and Jira"): what people type in the Google
Sheets status table's "Note", "Confidence" and a manual KR's "Current" cells, and the comments people write on a
KR's Jira issue, handed back by the outputs and kept by the sync as notes, once; through the real gspread and jira
clients against their emulators, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import cast

import httpx
import jsonschema
import pytest

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.present.checkin import NoteEntry
from okrsync.present.checkin_text import note_text
from okrsync.present.status_table import unguarded
from okrsync.sdk.connector import heard_identity
from okrsync.store import Store
from okrsync.store.notes import MAX_TEXT, heard_note
from okrsync.sync.sequence import sync
from tests.emulators.jira import JiraEmulator
from tests.emulators.sheets import SheetsEmulator, Spreadsheet
from tests.helpers import CYCLE, SA_EMAIL, okrsync, oslo, service_account_file, write_csv
from tests.vendor_spec import spec

SID = "1HeardNotesSpreadsheet0123456789"
TAB = "OKR status"
# by hand: Current is column E; Note and Confidence come after the 13 columns there were (M: Chance of target)
CURRENT, NOTE, CONF = 5, 14, 15
SIGNUPS, PARTNERS = 2, 3  # their rows: the header is row 1
TOKEN = "jira-token-canary-3b9e"
CONFIG = """\
version: 1
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{url}"
connections:
  files: {{type: csv, root: data}}
  {connection}
metrics:
  signups: {{connection: files, path: signups.csv, column: n}}
objectives:
  - id: grow
    title: Grow
    owner: ana
    key_results:
      - {{id: signups, title: Signups to 600, metric: signups, start: 0, target: 600{issue}}}
      - {{id: partners, title: Partners to 10, start: 0, target: 10}}
outputs:
  - {output}
"""


def day(n: int) -> datetime:
    """The end of November ``n`` in the cycle's zone: what `okrsync run --as-of` syncs."""
    return end_of_day(date(2026, 11, n), CYCLE)


@pytest.fixture
def sheets(tmp_path):
    emulator = SheetsEmulator().start()
    emulator.spreadsheets[SID] = Spreadsheet({"Sheet1": {}}, shared_with={SA_EMAIL})
    service_account_file(tmp_path, f"{emulator.url}/token")
    yield emulator
    emulator.stop()


def sheets_team(tmp_path, store_url: str, sheets: SheetsEmulator):
    write_csv(tmp_path / "data" / "signups.csv", "n\n300\n")
    connection = (
        f'sheet: {{type: google_sheets, credentials_file: sa.json, endpoint: "{sheets.url}", rate_limit: 1000}}'
    )
    output = f"{{type: google_sheets, connection: sheet, spreadsheet: {SID}, worksheet: {TAB}}}"
    path = tmp_path / "team.yaml"
    path.write_text(CONFIG.format(url=store_url, connection=connection, output=output, issue=""))
    return load_config(path)


def typed(sheets: SheetsEmulator, row: int, column: int, text: str | None = None):
    """What a person types in a cell (``text``), or what the cell holds (as typed, apostrophe and all)."""
    cells = sheets.spreadsheets[SID].sheets[TAB]
    if text is not None:
        cells[(row, column)] = text
    return cells.get((row, column))


def notes_of(config, store: Store):
    return store.notes(config.namespace, config.cycle.name)


def test_a_note_and_a_confidence_typed_in_the_table_are_kept_once_and_shown_from_the_next_evaluation(
    tmp_path, store_url, sheets
):
    config = sheets_team(tmp_path, store_url, sheets)
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
        assert typed(sheets, 1, NOTE) == "Note" and typed(sheets, 1, CONF) == "Confidence"  # after "Chance of target"
        typed(sheets, SIGNUPS, NOTE, "Campaign slipped to next week")
        typed(sheets, SIGNUPS, CONF, "At risk")
        heard = sync(config, day(17), now=day(17), store=store)
        [kept] = notes_of(config, store)
        assert (kept.kr_id, kept.day, kept.text, kept.confidence) == ("signups", date(2026, 11, 17), *HEARD)
        assert (kept.source, kept.author, kept.written_at) == ("sheets", None, day(17))
        assert heard.document.kr("signups").owner_note is None  # this run's document was made before it was heard
        assert "sheets: kept 1 note(s) people wrote there, on the status from the next evaluation" in heard.writes
        assert (typed(sheets, SIGNUPS, NOTE), typed(sheets, SIGNUPS, CONF)) == (
            "Campaign slipped to next week",
            "At risk",
        )
        again = sync(config, day(17), now=day(17), store=store)  # the same day again: nothing new is kept
        assert len(notes_of(config, store)) == 1
        signups = again.document.kr("signups")
        assert (signups.owner_note.text, signups.owner_confidence) == ("Campaign slipped to next week", "at_risk")
        assert (typed(sheets, SIGNUPS, NOTE), typed(sheets, SIGNUPS, CONF)) == (
            "Campaign slipped to next week",
            "at risk",
        )
        sync(config, day(18), now=day(18), store=store)  # okrsync's own texts are not heard back
        assert len(notes_of(config, store)) == 1


HEARD = ("Campaign slipped to next week", "at_risk")


def test_an_unreadable_confidence_is_a_plain_warning_naming_its_cell_and_is_not_kept(tmp_path, store_url, sheets):
    config = sheets_team(tmp_path, store_url, sheets)
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
        typed(sheets, SIGNUPS, CONF, "pretty good")
        result = sync(config, day(17), now=day(17), store=store)
        warning = (
            "sheets: warning: 'OKR status'!O2 (signups) is not a confidence (on track, at risk, off track or 0 to 10)"
        )
        assert f"{warning}: not kept" in result.writes, result.writes
        assert result.exit_code == 0 and result.output_errors == [] and notes_of(config, store) == []
        assert typed(sheets, SIGNUPS, CONF) == "pretty good"  # left as typed, for its author to fix
        typed(sheets, SIGNUPS, CONF, "7")
        fixed = sync(config, day(18), now=day(18), store=store)
        [kept] = notes_of(config, store)
        assert (kept.text, kept.confidence) == ("confidence typed in the status table", "7")
        assert not any("warning" in line for line in fixed.writes)


def test_a_formula_like_note_is_read_back_as_text_and_written_again_as_text(tmp_path, store_url, sheets):
    config = sheets_team(tmp_path, store_url, sheets)
    formula = '=IMPORTXML("http://x", "//a")'
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
        typed(sheets, SIGNUPS, NOTE, "'" + formula)  # how a person types text that starts with "=" in Sheets
        sync(config, day(17), now=day(17), store=store)
        [kept] = notes_of(config, store)
        assert kept.text == formula  # Sheets shows it without the apostrophe: the text itself
        shown = sync(config, day(18), now=day(18), store=store)
        assert shown.document.kr("signups").owner_note.text == formula
        assert typed(sheets, SIGNUPS, NOTE) == "'" + formula  # okrsync writes it as text, never as a formula
        sync(config, day(19), now=day(19), store=store)  # its own guarded text read back: not a new note
        assert len(notes_of(config, store)) == 1
    assert unguarded("'" + formula) == formula and unguarded("'hello") == "'hello" and unguarded("=1") == "=1"


@pytest.mark.parametrize("locale, typed_value, value", [("en_US", "2.5", 2.5), ("de_DE", "2,5", 2.5)])
def test_a_manual_krs_current_typed_in_the_table_becomes_its_sticky_override(
    tmp_path, store_url, sheets, locale, typed_value, value
):
    """Partners, start 0, target 10, no metric: 2.5 typed on Nov 17 (2,5 in a German sheet) is its value from the
    next evaluation: progress (2.5 - 0) / (10 - 0) = 25 %."""
    sheets.spreadsheets[SID].locale = locale
    config = sheets_team(tmp_path, store_url, sheets)
    with Store(config.store_url()) as store:
        first = sync(config, day(16), now=day(16), store=store)
        assert first.document.kr("partners").value is None and typed(sheets, PARTNERS, CURRENT) is None
        typed(sheets, PARTNERS, CURRENT, typed_value)
        heard = sync(config, day(17), now=day(17), store=store)
        assert heard.document.kr("partners").value is None  # kept now, used from the next evaluation
        override = store.active_overrides(config.namespace)["partners"]
        assert (override.value, override.sticky, override.note) == (value, True, "typed in sheets")
        assert "sheets: partners = 2.5 (typed there; sticky, from the next evaluation)" in heard.writes
        used = sync(config, day(18), now=day(18), store=store).document.kr("partners")
        assert (used.value, used.progress) == (2.5, 0.25)
        [kept] = notes_of(config, store)
        assert kept.text == "Current 2.5 typed in the status table"
        sync(config, day(18), now=day(18), store=store)  # again: nothing new
        assert len(notes_of(config, store)) == 1 and store.active_overrides(config.namespace)["partners"] == override


def test_a_current_typed_over_a_kr_with_a_metric_is_ignored_said_and_written_back(tmp_path, store_url, sheets):
    config = sheets_team(tmp_path, store_url, sheets)
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
        assert typed(sheets, SIGNUPS, CURRENT) == "300"
        typed(sheets, SIGNUPS, CURRENT, "999")
        result = sync(config, day(16), now=day(16), store=store)
        said = (
            "google_sheets: warning: 'OKR status'!E2 (signups) is read from its metric: a value typed there is not used"
        )
        assert said in result.writes and result.exit_code == 0
        assert store.active_overrides(config.namespace) == {} and notes_of(config, store) == []
        assert typed(sheets, SIGNUPS, CURRENT) == "300"  # the cell is okrsync's: written back at once
        quiet = sync(config, day(16), now=day(16), store=store)
        assert "google_sheets: OKR status unchanged" in quiet.writes and not any("warning" in w for w in quiet.writes)


def test_a_dry_run_hears_but_keeps_nothing(tmp_path, store_url, sheets):
    config = sheets_team(tmp_path, store_url, sheets)
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
    typed(sheets, SIGNUPS, NOTE, "Looks fine")
    dry = sync(config, day(17), now=day(17), dry_run=True)
    assert "sheets: would keep 1 note(s) people wrote there, on the status from the next evaluation" in dry.writes
    with Store(config.store_url()) as store:
        assert notes_of(config, store) == []


# --------------------------------------------------------------------------- Jira


@pytest.fixture
def jira(monkeypatch):
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    emulator = JiraEmulator("Cloud", token=TOKEN).start()
    emulator.add_issue("APP-100")
    yield emulator
    emulator.stop()


def jira_team(tmp_path, store_url: str, jira: JiraEmulator):
    write_csv(tmp_path / "data" / "signups.csv", "n\n300\n")
    connection = (
        f'jira: {{type: jira, url: "https://acme.atlassian.net", endpoint: "{jira.url}", email: bot@acme.example, '
        'token: "${JIRA_TOKEN}", rate_limit: 1000}'
    )
    output = "{type: jira, connection: jira, comment_on: [every_run]}"  # okrsync comments on every run
    path = tmp_path / "team.yaml"
    text = CONFIG.format(url=store_url, connection=connection, output=output, issue=", jira_issue: APP-100")
    path.write_text(text)
    return path


def test_a_comment_by_a_person_is_a_note_with_its_author_quoted_in_the_checkin(tmp_path, store_url, jira):
    path = jira_team(tmp_path, store_url, jira)
    config = load_config(path)
    jira.now = oslo(2026, 11, 16, 7)
    jira.person_comment("APP-100", "Vendor API blocks the import", author="Ana Lima", created=oslo(2026, 11, 16, 9))
    jira.person_comment("APP-100", "Old news", author="Bo", created=oslo(2026, 11, 2, 9))  # before the check-in
    with Store(config.store_url()) as store:
        first = sync(config, day(16), now=day(16), store=store)
        assert first.exit_code == 0, first.output_errors
        assert "[okrsync:default/signups/" in jira.comments["APP-100"][-1]["body"]  # okrsync commented too
        [kept] = notes_of(config, store)  # Ana's only: not Bo's (before Nov 9), not okrsync's own
        assert (kept.kr_id, kept.text, kept.author, kept.source) == (
            "signups",
            "Vendor API blocks the import",
            "Ana Lima",
            "jira",
        )
        assert (kept.day, kept.written_at) == (date(2026, 11, 16), oslo(2026, 11, 16, 9))
        own = heard_identity("jira", "jira", "APP-100", jira.comments["APP-100"][-1]["id"], "signups")
        assert kept.identity != own and own not in store.heard_identities(config.namespace)
        sync(config, day(16), now=day(16), store=store)  # read again: kept once
        assert len(notes_of(config, store)) == 1
    checkin = okrsync("-c", str(path), "checkin", "-f", "markdown", cwd=tmp_path)
    assert checkin.returncode == 0, checkin.stderr
    assert "Ana Lima" in checkin.stdout and "Vendor API blocks the import" in checkin.stdout
    assert "Old news" not in checkin.stdout and TOKEN not in checkin.stdout + checkin.stderr


def test_okrsyncs_own_comment_is_never_heard(tmp_path, store_url, jira):
    config = load_config(jira_team(tmp_path, store_url, jira))
    jira.now = oslo(2026, 11, 16, 7)
    with Store(config.store_url()) as store:
        for n in (16, 17):
            assert sync(config, day(n), now=day(n), store=store).exit_code == 0
        assert len(jira.comments["APP-100"]) == 2 and notes_of(config, store) == []


def test_the_emulators_comments_answer_as_atlassians_description_says(jira):
    jira.person_comment("APP-100", "hello", created=oslo(2026, 11, 16, 9))
    jira.comments["APP-100"].append({"id": "1", "body": "stored by a test"})
    page = httpx.get(
        f"{jira.url}/rest/api/2/issue/APP-100/comment",
        params={"orderBy": "-created"},
        auth=("bot@acme.example", TOKEN),
    ).json()
    defs = json.loads(json.dumps(spec("jira")["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    schema = {"$ref": "#/$defs/PageOfComments", "$defs": defs}
    jsonschema.validate(page, schema)
    assert [c["body"] for c in page["comments"]] == ["hello", "stored by a test"]  # newest first
    assert page["comments"][0]["author"]["displayName"] == "Ana Lima"
    assert page["comments"][0]["created"] == "2026-11-16T08:00:00.000+0000"


# --------------------------------------------------------------------------- the pieces


def test_the_checkin_names_where_a_heard_note_was_written():
    at = oslo(2026, 11, 16, 9)
    assert note_text(NoteEntry(date(2026, 11, 16), at, "Ana Lima", None, "Blocked", "jira")) == (
        "2026-11-16 (Jira, Ana Lima): Blocked"
    )
    assert note_text(NoteEntry(date(2026, 11, 16), at, None, "7", "Fine", "sheets")) == (
        "2026-11-16 (Sheets) · confidence 7/10 (on track): Fine"
    )
    assert note_text(NoteEntry(date(2026, 11, 16), at, "ana", None, "Typed")) == "2026-11-16 · ana: Typed"


def test_a_heard_note_is_made_storable_not_refused():
    note = heard_note("a\x1b[31mred\u202e\r\nline\t" + "x" * MAX_TEXT, "Ana\nLima", "on track")
    assert note.text.startswith("a[31mred\nline\t") and len(note.text) == MAX_TEXT and note.text.endswith("…")
    assert (note.author, note.confidence) == ("Ana Lima", "on_track")
    with pytest.raises(ValueError, match="some text"):
        heard_note("\x07 \x1b")
    long = heard_identity("sheets", "x" * 300)
    assert len(long) <= 200 and long == heard_identity("sheets", "x" * 300) and long.startswith("sheets:sha256:")


def test_a_heard_identity_is_kept_once_per_namespace(store_url):
    with Store(store_url) as store:
        note, jira = heard_note("Blocked", "Ana"), {"source": "jira", "identity": "jira:c:1"}
        first = store.add_heard("ns", "Q4", "k", date(2026, 11, 16), note, now=oslo(2026, 11, 16), **jira)
        again = store.add_heard("ns", "Q4", "k", date(2026, 11, 17), note, now=oslo(2026, 11, 17), **jira)
        other = store.add_heard("other", "Q4", "k", date(2026, 11, 17), note, now=oslo(2026, 11, 17), **jira)
        assert first is not None and again is None and other is not None
        assert store.heard_identities("ns") == {"jira:c:1"} and store.notes("ns", "Q4") == [first]


def test_the_sync_keeps_a_value_only_for_a_manual_kr_and_only_for_a_kr_of_the_config(tmp_path, store_url, sheets):
    """What any sink hands back goes through the same rules: a value for a KR with a metric is said and not used
    (its note is kept), an unknown KR's note is not kept, and an unreadable confidence on words that stood there
    before leaves nothing to keep."""
    from okrsync.sdk.connector import Heard
    from okrsync.sync.compute import Computed
    from okrsync.sync.plan import compile_plan
    from okrsync.sync.publish import keep_heard
    from okrsync.sync.result import SyncResult

    config = sheets_team(tmp_path, store_url, sheets)
    result = SyncResult(None, cast(Computed, None))
    result.heard = [
        Heard("signups", "Typed over", "sheets", "sheets:1", value=999.0),
        Heard("partners", "Three signed", "sheets", "sheets:2", value=3.0),
        Heard("nobody", "Lost", "sheets", "sheets:3"),
        Heard("partners", "Three signed", "sheets", "sheets:4", "so-so", restated=True, confidence_at="'T'!O3"),
    ]
    with Store(config.store_url()) as store:
        keep_heard(store, compile_plan(config, day(16)), result, now=day(16))
        assert {k: o.value for k, o in store.active_overrides(config.namespace).items()} == {"partners": 3.0}
        assert [(n.kr_id, n.text) for n in notes_of(config, store)] == [
            ("signups", "Typed over"),
            ("partners", "Three signed"),
        ]
    assert "sheets: signups reads metric signups: a value typed for it is not used" in result.writes
    assert "sheets: heard a note on 'nobody', not a key result here: not kept" in result.writes
    assert any(w.startswith("sheets: warning: 'T'!O3 (partners) is not a confidence") for w in result.writes)


def test_migration_0008_brings_a_0007_store_up_with_its_notes(store_url):
    import sqlalchemy as sa

    from tests.helpers import migrate_to

    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate_to(conn, "0007")
        conn.execute(
            sa.text(
                "insert into notes (namespace, cycle, kr_id, day, written_at, body, source) "
                "values ('ns', 'Q4', 'k', '2026-11-12', '2026-11-12 09:00:00+00:00', 'typed before', 'cli')"
            )
        )
    engine.dispose()
    with Store(store_url) as store:  # opening migrates to the head
        [before] = store.notes("ns", "Q4")
        assert (before.text, before.source, before.identity) == ("typed before", "cli", None)
        heard = store.add_heard(
            "ns",
            "Q4",
            "k",
            date(2026, 11, 13),
            heard_note("heard"),
            now=oslo(2026, 11, 13),
            source="jira",
            identity="j",
        )
        assert heard is not None and store.notes("ns", "Q4") == [before, heard]


def test_a_note_typed_once_is_kept_once_while_its_metric_moves(tmp_path, store_url, sheets):
    """Found in review: the identity of an edit held okrsync's own cells, so when Current moved with the metric
    (300 -> 320 -> 340) the same note typed once was kept again at every sync."""
    config = sheets_team(tmp_path, store_url, sheets)
    signups = tmp_path / "data" / "signups.csv"
    with Store(config.store_url()) as store:
        sync(config, day(16), now=day(16), store=store)
        typed(sheets, SIGNUPS, NOTE, "Campaign slipped to next week")
        for n, value in ((17, 320), (18, 340), (19, 360)):
            write_csv(signups, f"n\n{value}\n")
            sync(config, day(n), now=day(n), store=store)
        assert [(k.day, k.text) for k in notes_of(config, store)] == [
            (date(2026, 11, 17), "Campaign slipped to next week")
        ]


def test_okrsyncs_own_comment_is_known_by_its_marker_line_whatever_the_namespace():
    """Found in review: a namespace or KR id with a space ("Growth team") hid okrsync's marker from the pattern,
    so its own comments were kept as people's notes at every run."""
    from okrsync.connectors.jira.sink import MARKER, OWN

    marker = MARKER.format(ns="Growth team", kr="signups 2026", day="2026-11-17", status="at_risk")
    ours = f"OKR update: Signups to 600 is at risk (47%, expected 51%).\n[{marker}]"
    assert OWN.search(ours)
    assert not OWN.search("Ana: see [okrsync:growth] in yesterday's update, then talk to me")  # in a sentence


def test_a_comment_read_after_the_check_in_went_out_is_in_the_next_one(store_url):
    """Found in review: a Jira comment written at 07:30, before the 08:00 check-in, but read by a sync at 09:00
    is kept on that day after the check-in went out: the next check-in shows it (by when it was kept)."""
    from okrsync.present.checkin import NoteEntry, in_period
    from okrsync.store.notes import heard_note

    with Store(store_url) as store:
        written, kept = oslo(2026, 11, 16, 7, 30), oslo(2026, 11, 16, 9)
        note = heard_note("Vendor call moved", author="Ana", confidence=None)
        store.add_heard(
            "ns", "Q4", "signups", date(2026, 11, 16), note, now=written, source="jira", identity="j:1", kept_at=kept
        )
        (row,) = store.notes("ns", "Q4")
    assert (row.written_at, row.kept_at) == (written, kept)
    entry = NoteEntry(row.day, row.written_at, row.author, row.confidence, row.text, row.source, row.kept_at)
    published = oslo(2026, 11, 16, 8)
    assert in_period(entry, date(2026, 11, 16), published)  # kept at 09:00, after the 08:00 check-in
    assert not in_period(entry, date(2026, 11, 16), oslo(2026, 11, 16, 10))  # that check-in had it already
