"""`okrsync report`: the latest stored status as a file, and with --all a page per team and an index."""

import json
import re

import pytest

from okrsync.present.site import build_site, page_names
from okrsync.sync.sequence import sync
from tests.helpers import CONTRAST, DAY1, aligned_configs, okrsync, open_report


def test_page_names_are_safe_and_unique_whatever_the_namespace():
    names = page_names(["../etc/passwd", "a/b", "Team A", "team-a", "index", "", "ünïcode"])
    assert len(set(names.values())) == 7 and "index.html" not in names.values()
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.html", name), name
    assert names["team-a"] == "team-a.html" and names["../etc/passwd"] == "etc-passwd.html"


def test_report_all_writes_a_page_per_team_and_an_index_with_the_company_tree(tmp_path, write_config):
    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    sync(team, DAY1, now=DAY1)
    sync(company, DAY1, now=DAY1)
    site = tmp_path / "site"
    done = okrsync("-c", str(company.path), "report", "--all", "-o", str(site))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in site.iterdir()) == ["company.html", "index.html", "team-a.html"]
    index = (site / "index.html").read_text()
    growth = index.index('href="company.html#objective-growth"')
    child = index.index('href="team-a.html#objective-self-serve"')
    assert growth < child  # the team's objective under the company's
    assert re.search(r'<li style="--depth:1">[^<]*<div class="ohead"><span><span class="ns">team-a</span>', index)
    assert 'href="team-a.html">team-a</a>' in index and 'href="company.html">company</a>' in index
    rows = re.findall(r'<tr id="team-\d">(.*?)</tr>', index, re.S)
    assert len(rows) == 2 and all(row.count('class="pill s-') == 1 for row in rows)  # one KR each, counted
    page = (site / "team-a.html").read_text()
    assert '<a href="index.html">← all teams</a>' in page and 'id="objective-self-serve"' in page
    assert '<svg class="chart' in page and "<title>16 Nov 2026: 30</title>" in page  # its history, in its zone
    again = okrsync("-c", str(company.path), "report", "--all", "-o", str(site))
    assert again.stdout.count("unchanged") == 3  # the same store gives the same bytes


def test_report_writes_this_configs_latest_status(tmp_path, write_config):
    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    missing = okrsync("-c", str(team.path), "report", "-o", str(tmp_path / "team.json"))
    assert missing.returncode == 1 and "run `okrsync run` first" in missing.stderr
    sync(team, DAY1, now=DAY1)
    sync(company, DAY1, now=DAY1)
    done = okrsync("-c", str(team.path), "report", "-o", str(tmp_path / "team.json"))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "team.json").read_text())
    assert doc["namespace"] == "team-a" and doc["timezone"] == "Europe/Oslo"
    wrong = okrsync("-c", str(team.path), "report", "-o", str(tmp_path / "team.pdf"))
    assert wrong.returncode == 2 and ".html, .md, .json or .csv" in wrong.stderr and "Traceback" not in wrong.stderr
    folder = okrsync("-c", str(team.path), "report", "--all", "-o", str(tmp_path / "site.html"))
    assert folder.returncode == 2 and "folder" in folder.stderr
    (tmp_path / "notes").write_text("a file, not a folder")
    blocked = okrsync("-c", str(team.path), "report", "--all", "-o", str(tmp_path / "notes"))
    assert blocked.returncode == 2 and "cannot write" in blocked.stderr and "Traceback" not in blocked.stderr


@pytest.mark.parametrize("width", [1280, 390])
def test_the_index_reads_well_in_chromium(tmp_path, write_config, width):
    company, team = aligned_configs(tmp_path, write_config, f"sqlite:///{tmp_path / 'shared.db'}")
    sync(team, DAY1, now=DAY1)
    result = sync(company, DAY1, now=DAY1)
    other = sync(team, DAY1, now=DAY1).document
    index = build_site({"company": result.document, "team-a": other}, {})["index.html"]
    for page in open_report(index, tmp_path, width, name="index"):
        assert page.title() == "OKRs — 2026-Q4"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        child, parent = (page.locator(f".tree li >> nth={i}").bounding_box() for i in (1, 0))
        assert child["x"] > parent["x"]  # the team's objective indented under the company's
        assert page.evaluate(CONTRAST) == []
