"""The manual holds together: every relative link and image of README.md, CHANGELOG.md and docs/**/*.md
resolves (to a file that exists, and an anchor `#x` to a heading of that file), the README stays short and
opens with the two commands, every page under docs/ is linked from the README, docs/index.md or (a source's
page under docs/sources/) docs/sources.md, and the worked example of "What a day means"
(docs/okr-semantics.md) gives the figures the calendar gives."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from okrsync.config.model import Cycle, StatusThresholds
from okrsync.okr.calendar import day_end, day_start, elapsed_share, end_of_day
from tests.helpers import REPO

DOCS = REPO / "docs"
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]
README_MAX_LINES = 250

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a file's headings: lower case, punctuation dropped, spaces to hyphens,
    repeats numbered."""
    found: set[str] = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", match.group("title").strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def broken_links(path: Path) -> list[str]:
    """Every relative link or image of ``path`` that does not resolve, as 'target: why'."""
    broken = []
    for match in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
        target = match.group("target").strip("<>")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ... are not checked here
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_image_resolves(path):
    assert path.exists(), f"{path.relative_to(REPO)} is missing"
    assert broken_links(path) == [], f"{path.relative_to(REPO)}: broken links"


def test_the_link_checker_finds_what_is_broken(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A heading: with `code`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#a-heading-with-code) [ok](#page) ![ok](other.md) [web](https://x.invalid/y)\n"
        "[gone](missing.md) ![gone](missing.png) [bad anchor](other.md#nowhere) [bad here](#nowhere)\n"
        "`[in code](missing-too.md)`\n\n```md\n[in a fence](missing-as-well.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "missing.png: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
        "#nowhere: no heading #nowhere in page.md",
    ]


def test_the_readme_is_short_and_opens_with_the_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    first_block = re.search(r"^```\w*\n(.*?)^```", text, re.M | re.S)
    assert first_block and first_block.group(1).split("\n")[:2] == ["make demo", "make test"]
    assert "OKRSYNC_TEST_POSTGRES_URL" in text and "chromium" in text  # what CI sets up, said next to them


def test_every_docs_page_is_linked_from_the_readme_or_an_index():
    """A page of docs/ from the README or docs/index.md; a source's own page (docs/sources/) from docs/sources.md."""
    linked = set()
    for path in (REPO / "README.md", DOCS / "index.md", DOCS / "sources.md"):
        for match in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
            target = match.group("target").strip("<>").partition("#")[0]
            if target:
                linked.add((path.parent / target).resolve())
    pages = {p.resolve() for p in DOCS.rglob("*.md")} - {(DOCS / "index.md").resolve()}
    assert pages, "no pages under docs/"
    assert sorted(str(p.relative_to(REPO)) for p in pages - linked) == []
    assert (DOCS / "index.md").resolve() in linked  # the index itself, from the README


def test_the_worked_example_of_what_a_day_means_is_what_the_calendar_gives():
    text = " ".join((DOCS / "okr-semantics.md").read_text(encoding="utf-8").split())
    begin = text.index("Worked example, cycle 2026-Q4")
    example = text[begin : text.index("With `window: all` the value would be", begin) + 60]
    cycle = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31), timezone="Europe/Oslo")
    thresholds = StatusThresholds()

    def pct(share: float) -> str:
        return f"{share * 100:.1f} %"

    days = (cycle.end - cycle.start).days + 1
    assert f"(Oct 1 to Dec 31, {days} days, Europe/Oslo)" in example
    as_of = end_of_day(date(2026, 10, 1), cycle)
    expected = elapsed_share(as_of, day_start(cycle.start, cycle), day_end(cycle.end, cycle))
    assert expected == pytest.approx(1 / days, abs=1e-6)
    assert f"expects 1/{days} = {pct(expected)} of the way" in example
    rows = [(date.fromisoformat(d), int(n)) for d, n in re.findall(r"`(\d{4}-\d\d-\d\d),(\d+)`", example)]
    assert len(rows) == 3
    value = sum(n for d, n in rows if cycle.start <= d <= as_of.date())  # window: cycle, up to the as-of day
    target = 600
    assert f"stores on Oct 1 the value {value}" in example and f'"{target} deploys this quarter"' in example
    progress = value / target
    gap = expected - progress
    assert gap <= thresholds.on_track_within
    assert f"so progress {value}/{target} = {pct(progress)} is on track" in example
    assert f"(gap {pct(gap)} ≤ {thresholds.on_track_within * 100:.0f} %)" in example
    assert f"`as_of` is `{as_of.isoformat()}`" in example
    assert f"`:as_of_end` = `{day_end(date(2026, 10, 1), cycle).isoformat()}`" in example
    every_row = sum(n for d, n in rows if d <= as_of.date())  # window: all
    assert f"With `window: all` the value would be {every_row}." in example
