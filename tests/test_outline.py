"""okrsync.cli.outline.Outline draws a tree exactly as rich's Tree does (characters, styles, wrapping), only
faster: the status trees of the example's document and of hostile labels, at several widths, to a terminal
(every escape code compared) and to a file."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from okrsync.cli import views
from okrsync.cli.outline import Outline
from okrsync.okr.status import StatusDocument


def drawn(tree: Tree, width: int, terminal: bool | None, **options) -> str:
    """The tree as printed to a terminal (True), to a file with colours forced (False), or to a pipe (None: no
    colour system, as from cron)."""
    colours = {"color_system": "truecolor"} if terminal is not None else {}
    console = Console(file=io.StringIO(), width=width, force_terminal=terminal, **colours, **options)
    console.print(tree)
    return console.file.getvalue()  # type: ignore[attr-defined]


def as_rich(tree: Tree) -> Tree:
    """The same nodes under a rich Tree root."""
    plain = Tree(tree.label, style=tree.style, guide_style=tree.guide_style, expanded=tree.expanded)
    plain.hide_root = tree.hide_root
    plain.children = tree.children
    return plain


def hostile() -> Outline:
    tree = Outline(Text.assemble(("Team ", "bold"), ("émoji 🚀 wide 漢字", "cyan")))
    one = tree.add(Text("a label long enough to wrap at the narrow widths below, with words " * 2, style="green"))
    one.add(Text("two\nlines"))  # a line break: left to rich
    one.add(Text("a\ttab"))  # a tab: left to rich
    one.add(Text("right", justify="right"))  # justified: left to rich, which pads it
    last = tree.add(Text.assemble(("████", "red"), ("│", "bold"), ("░░", "dim"), " 50%"))
    for n in range(3):
        last.add(Text(f"leaf {n}")).add(Text("deeper"))
    return tree


@pytest.mark.parametrize("width", [24, 60, 80, 160])
@pytest.mark.parametrize("terminal", [False, True, None])
def test_an_outline_is_drawn_as_rich_draws_the_tree(document: StatusDocument, width: int, terminal: bool):
    trees = [views.status_tree(document), views.company_tree({"acme": document, "b": document}), hostile()]
    for tree in trees:
        assert isinstance(tree, Outline)
        assert drawn(tree, width, terminal) == drawn(as_rich(tree), width, terminal)


def test_an_outline_rich_would_draw_otherwise_is_left_to_rich(document: StatusDocument):
    """A styled node, a folded node, a hidden root, ASCII guides: rich's own drawing, the same either way."""
    changes = [
        lambda tree: setattr(tree.children[0], "style", "bold"),
        lambda tree: setattr(tree.children[0], "guide_style", "red"),
        lambda tree: setattr(tree.children[0], "expanded", False),
        lambda tree: setattr(tree, "hide_root", True),
    ]
    for change in changes:
        tree = views.status_tree(document)
        change(tree)
        assert drawn(tree, 80, True) == drawn(as_rich(tree), 80, True)

    class AsciiFile(io.StringIO):
        encoding = "ascii"  # what rich reads for ascii_only

    for tree in (views.status_tree(document), as_rich(views.status_tree(document))):
        console = Console(file=AsciiFile(), width=80, force_terminal=False)
        console.print(tree)
        assert "+-- " in console.file.getvalue() and "├" not in console.file.getvalue()  # type: ignore[attr-defined]
