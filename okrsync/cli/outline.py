"""A rich ``Tree`` that draws a plain tree of text labels a line at a time.

Rich lays out every node of a tree as a renderable of its own (its lines measured, wrapped, split and cropped):
0.3 s for the 2,400 lines of a 2,000-KR status. A label that fits its line needs none of that: its segments
follow the guides as they are. The drawing is Rich's own, character for character and style for style (the
same guides, the guide style without bold or double underline, the label's spans); a label that does not fit
its line is wrapped by Rich as its Tree wraps it, and a tree Rich would draw differently (ASCII guides, styled
nodes, a hidden root or folded nodes) is drawn by Rich's Tree itself. Without a colour system (output to a pipe
or a file, as from cron) no style reaches the output, so such a line is its guides and its label's characters,
one segment (24,000 lines: 1.9 -> 1.0 s). ``tests/test_outline.py`` holds the drawings equal to Rich's, to a
terminal, a file with colours and a pipe.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.styled import Styled
from rich.text import Text
from rich.tree import Tree

SPACE, CONTINUE, FORK, END = Tree.TREE_GUIDES[0]
_GUIDE = Style(bold=False, underline2=False)  # what Rich's Tree gives the guides after the node's style


class Outline(Tree):
    """A ``Tree`` (add nodes with ``add``; tests walk ``label`` and ``children``) drawn a line at a time."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self._plain(console, options):
            yield from super().__rich_console__(console, options)
            return
        yield from self._node(self, [], console, options)

    def _plain(self, console: Console, options: ConsoleOptions) -> bool:
        """Rich would draw this tree with the unicode guides, unstyled nodes, every node shown."""
        if options.ascii_only or options.legacy_windows or options.justify is not None or self.hide_root:
            return False
        default = (console.get_style("tree"), console.get_style("tree.line"))
        stack: list[Tree] = [self]
        while stack:
            node = stack.pop()
            styles = (console.get_style(node.style), console.get_style(node.guide_style))
            if not node.expanded or styles != default or not isinstance(node.label, Text):
                return False
            stack += node.children
        return not default[0] and not default[1]

    def _node(self, node: Tree, guides: list[str], console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        """Depth first, each node's label after the guides that lead to it."""
        stack = [(node, guides)]
        while stack:
            node, guides = stack.pop()
            yield from self._label(cast(Text, node.label), guides, console, options)  # _plain: every label a Text
            above = [*guides[:-1], SPACE if guides[-1] == END else CONTINUE] if guides else []
            ends = [END] + [FORK] * (len(node.children) - 1)
            stack += [(child, [*above, end]) for child, end in zip(reversed(node.children), ends, strict=False)]

    def _label(self, label: Text, guides: list[str], console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        """A label's lines after their guides: as its segments when it fits its line, else wrapped by rich."""
        indent = 4 * len(guides)
        width = options.max_width - indent
        plain = "\n" not in label.plain and "\t" not in label.plain and label.justify is None
        fits = plain and width > 0 and cell_len(label.plain) <= width
        if fits and console.color_system is None:
            yield Segment("".join(guides) + label.plain)  # no colour system (a pipe, a file): the characters alone
            yield Segment.line()
            return
        if fits:
            unstyled = not label.spans and label.style  # Text.render leaves the style of a span-less text out
            lines = [
                [Segment(label.plain, console.get_style(label.style))] if unstyled else list(label.render(console))
            ]
        else:  # wrapped as Rich wraps a node's label
            lines = console.render_lines(
                Styled(label, Style.null()), options.update(width=width, highlight=False, height=None), pad=False
            )
        for i, line in enumerate(lines):
            if guides:
                shown = guides if i == 0 else [*guides[:-1], SPACE if guides[-1] == END else CONTINUE]
                yield from (Segment(guide, _GUIDE) for guide in shown)
            yield from line
            yield Segment.line()
