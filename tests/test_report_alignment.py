"""The report's aligned children: a parent's card lists the objectives of other configs that roll into it, each with
its share of the parent's progress and a link to its team's page (docs/outputs.md, "HTML report")."""

from types import SimpleNamespace

import pytest

from okrsync.connectors.report import render_html
from tests.helpers import CONTRAST, card_of, open_report


def test_an_aligned_child_shows_its_share_of_the_parents_progress(tmp_path, write_config):
    """Every KR on the parent's card is at 100 % and it shows 83 %: the child at 50 % pulls it down."""
    from okrsync.config.load import load_config
    from okrsync.sync.sequence import sync
    from tests.helpers import DAY1, write_csv

    write_csv(tmp_path / "d.csv", "a,b,up,c,ok\n10,10,98,50,1\n")
    path = write_config("""
        connections: {files: {type: csv, root: .}}
        metrics: {a: {connection: files, path: d.csv, column: a}, b: {connection: files, path: d.csv, column: b},
                  up: {connection: files, path: d.csv, column: up}, c: {connection: files, path: d.csv, column: c},
                  ok: {connection: files, path: d.csv, column: ok}}
        objectives:
          - id: growth
            title: Grow
            key_results:
              - {id: ka, metric: a, start: 0, target: 10}
              - {id: kb, metric: b, start: 0, target: 10}
              - {id: kup, metric: up, kind: at_least, target: 99}
          - id: retention
            title: Keep <customers>
            parent: growth
            key_results: [{id: kc, metric: c, start: 0, target: 100}]
          - id: steady
            title: Stay up
            parent: growth
            weight: 5
            key_results: [{id: kok, metric: ok, kind: at_least, target: 1}]
    """)
    doc = sync(load_config(path), DAY1, now=DAY1).document
    # by hand: the level (98 < 99) and the child of levels only stay out of the mean, so growth is
    # (1 x 100 % + 1 x 100 % + 1 x 50 %) / (1 + 1 + 1) = 83.3 %; retention adds 1 x 50 / 3 = 16.7 points of it
    # (33.3 if done), the two KRs 2 x 100 / 3 = 66.7
    growth = card_of(render_html(doc), "objective-growth")
    assert "<p>progress 83% " in growth.replace('<p class="meta">', "<p>")
    assert "Progress 83.3%: the key results on\nthis card add 66.7 points, the aligned objectives 16.7." in growth
    assert (
        '<li><a href="#objective-retention">Keep &lt;customers&gt;</a>: 50% done, weight 1 of 3: adds 16.7 points'
        " (33.3 if done)</li>"
    ) in growth
    assert (
        '<li><a href="#objective-steady">Stay up</a>: keeps levels only, which stay out of the progress; all its '
        "levels hold</li>"
    ) in growth


def test_a_child_in_another_config_links_to_its_teams_page_with_its_share(tmp_path, write_config):

    from okrsync.present.site import build_site
    from okrsync.sync.sequence import sync
    from tests.helpers import DAY1, aligned_configs

    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    child = sync(team, DAY1, now=DAY1).document
    parent = sync(company, DAY1, now=DAY1).document
    # by hand: revenue 60 of 100 (weight 1) and the team's signups 30 of 100 (weight 3):
    # (1 x 60 % + 3 x 30 %) / 4 = 37.5 %, of which the child adds 3 x 30 / 4 = 22.5 points (75.0 if done)
    share = "30% done, weight 3 of 4: adds 22.5 points (75.0 if done)"
    page = build_site({"company": parent, "team-a": child}, {})["company.html"]
    assert (
        f'<a href="team-a.html#objective-self-serve">Self-serve signups</a> <span class="ns">team-a</span>: {share}'
        in page
    )
    assert "the key results on\nthis card add 15.0 points, the aligned objectives 22.5." in page
    alone = render_html(parent)  # one team's report: the other team's figures are not in its document
    assert "team-a/self-serve" in alone and "shows in okrsync report --all" in alone and 'href="team-a' not in alone
    rolled = SimpleNamespace(ref="team-a/self-serve", title="Self-serve signups", weight=3, progress=0.3)
    growth = parent.objectives[0].model_copy(update={"aligned": [SimpleNamespace(**vars(rolled), levels_only=False)]})
    carried = render_html(parent.model_copy(update={"objectives": [growth]}))  # the document carries what it rolled in
    assert f'Self-serve signups <span class="ns">team-a</span>: {share}' in carried
    moved = child.model_copy(update={"objectives": [child.objectives[0].model_copy(update={"progress": 0.5})]})
    later = build_site({"company": parent, "team-a": moved}, {})["company.html"]  # the team synced since
    assert "These shares add up to 52.5 points, not 37.5" in later  # 15 + 3 x 50 / 4
    index = build_site({"company": parent.model_copy(update={"title": "Acme"}), "team-a": child}, {})["index.html"]
    assert '<a href="company.html">Acme</a> <span class="ns">company</span>' in index
    assert '<td><time>2026-11-16</time> <span class="zone">Europe/Oslo</span></td>' in index


@pytest.mark.parametrize("width", [1280, 390])
def test_a_team_page_with_aligned_children_reads_well_in_a_browser(tmp_path, write_config, width):
    from okrsync.present.site import build_site
    from okrsync.sync.sequence import sync
    from tests.helpers import DAY1, aligned_configs

    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    child = sync(team, DAY1, now=DAY1).document
    parent = sync(company, DAY1, now=DAY1).document
    rev = parent.objectives[0].key_results[0].model_copy(update={"manual": True})
    growth = parent.objectives[0].model_copy(update={"key_results": [rev]})
    titled = parent.model_copy(update={"title": "Acme, the whole company", "objectives": [growth]})
    page_html = build_site({"company": titled, "team-a": child}, {})["company.html"]
    for page in open_report(page_html, tmp_path, width, name="team"):
        assert page.title() == "Acme, the whole company — OKR status 2026-Q4"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        link = page.locator(".aligned li a")
        assert link.get_attribute("href") == "team-a.html#objective-self-serve" and link.is_visible()
        assert page.locator(".pill.manual-pill").inner_text() == "✍ manual KR"
        assert page.evaluate(CONTRAST) == []
