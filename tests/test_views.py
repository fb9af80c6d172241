"""The terminal views (okrsync/cli/views.py) on the example's document: `status --all` lists every team's KPIs
under the company tree, the run summary counts values held back for review, and a KR's owner note and a
confidence the data disagrees with are shown under it."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

from rich.console import Console

from okrsync.cli import views
from okrsync.okr.status import NoteDoc, StatusDocument
from okrsync.present.formats import fmt_chance


def text_of(renderable) -> str:
    console = Console(width=160, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_status_all_lists_every_teams_kpis(document: StatusDocument):
    other = document.model_copy(update={"namespace": "team-b", "title": None})
    shown = text_of(views.company_tree({"acme": document, "team-b": other}))
    lines = shown.splitlines()
    for k in document.kpis:
        for team in ("[acme]", "[team-b]"):
            assert any(team in line and k.title in line for line in lines), (team, k.title)


def test_the_run_summary_counts_values_held_back(document: StatusDocument):
    objective, kr = next(document.key_results())
    held = kr.model_copy(update={"suspect": True, "suspect_reason": "jumped 900 %"})
    krs = [held if k.id == kr.id else k for k in objective.key_results]
    objectives = [o.model_copy(update={"key_results": krs}) if o.id == objective.id else o for o in document.objectives]
    result = SimpleNamespace(
        document=document.model_copy(update={"objectives": objectives}), dry_run=False, fetched={}, errors={}, writes=[]
    )
    with views.console.capture() as captured:
        views.print_summary(result)
    assert "· 1 held back (okrsync accept)" in captured.get()


def test_a_kr_shows_its_owners_note_and_a_disagreeing_confidence(document: StatusDocument):
    objective, kr = next((o, k) for o, k in document.key_results() if k.status == "at_risk")
    said = NoteDoc(
        day="2026-11-20", written_at=datetime(2026, 11, 20, 9, tzinfo=UTC), author="Ana", text="Ads paused\nmore"
    )
    noted = kr.model_copy(update={"owner_note": said, "owner_confidence": "8", "confidence_disagrees": True})
    krs = [noted if k.id == kr.id else k for k in objective.key_results]
    objectives = [o.model_copy(update={"key_results": krs}) if o.id == objective.id else o for o in document.objectives]
    shown = text_of(views.status_tree(document.model_copy(update={"objectives": objectives})))
    assert shown.splitlines()[0].startswith(f"{document.title} — OKR status 2026-Q4")
    assert "💬 Ads paused  — Ana, 2026-11-20" in shown and "more" not in shown  # the first line only
    chance = noted.forecast.probability if noted.forecast else None
    data = "at risk" + ("" if chance is None else f", {fmt_chance(chance)} likely")
    assert f"❓ owner: 8/10 (on track) · data: {data}" in shown  # the check-in's words, the chance included


def test_an_escape_sequence_in_user_text_never_reaches_the_terminal(document: StatusDocument):
    """Found in review: a title imported with ESC [31m (or typed into the YAML) reached the terminal as it was."""
    objective, kr = next(document.key_results())
    hostile = "Obj \x1b[31mRED\x1b[0m \u202eevil \x1b]8;;https://x.example\x07link\x1b]8;;\x07"
    krs = [kr.model_copy(update={"title": hostile})] + objective.key_results[1:]
    objectives = [objective.model_copy(update={"title": hostile, "key_results": krs}), *document.objectives[1:]]
    shown = text_of(views.status_tree(document.model_copy(update={"objectives": objectives, "title": hostile})))
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert "Obj [31mRED[0m evil ]8;;https://x.example" in shown  # what is left is plain text, shown as text


def test_a_heard_note_says_where_it_was_written(document: StatusDocument):
    from okrsync.present.html_report import render_html

    objective, kr = next(document.key_results())
    said = NoteDoc(
        day="2026-11-20", written_at=datetime(2026, 11, 20, 9, tzinfo=UTC), author="Ana Lima", text="x", source="jira"
    )
    krs = [kr.model_copy(update={"owner_note": said}), *objective.key_results[1:]]
    doc = document.model_copy(
        update={"objectives": [objective.model_copy(update={"key_results": krs}), *document.objectives[1:]]}
    )
    assert "💬 x  — Ana Lima (Jira), 2026-11-20" in text_of(views.status_tree(doc))
    assert '<span class="who">— Ana Lima (Jira), 2026-11-20</span>' in render_html(doc)


def test_a_bar_fills_its_progress_and_marks_the_expected_share_in_its_cell():
    """Cells as counted by hand: 8 cells; progress 50 % fills 4, expected 25 % marks cell 2 (0-based), which
    the mark replaces; a mark past the progress sits in the dim part; expected 100 % marks the last cell."""
    cases = {
        (0.5, 0.25): "██│█░░░░",
        (0.25, 0.75): "██░░░░│░",
        (1.0, 1.0): "███████│",
        (0.0, None): "░░░░░░░░",
        (None, 0.5): "········",
        (0.25, -0.5): "██░░░░░░",  # an expected share below the bar: no mark, eight cells
    }
    for (progress, expected), drawn in cases.items():
        shown = views.bar(progress, expected, width=8, style="red")
        assert shown.plain == drawn, (progress, expected)
    styled = views.bar(0.5, 0.25, width=8, style="red")
    styles = [str(styled.get_style_at_offset(Console(), i)) for i in range(8)]
    assert styles == ["red", "red", "bold", "red", "dim", "dim", "dim", "dim"]


def test_a_team_title_in_the_company_table_is_shown_as_written(document: StatusDocument):
    from okrsync.cli.company_status import teams_table

    odd = document.model_copy(update={"namespace": "platform", "title": "Platform [api/web] [/] [bold]"})
    shown = text_of(teams_table({"platform": odd}))
    assert "Platform [api/web] [/] [bold] (platform)" in shown  # rich markup in a title is text, not a style
