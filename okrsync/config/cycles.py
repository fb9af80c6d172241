"""Cycle rollover: the cycle after this one, and that block written into the config in place.

``2026-Q4`` is followed by ``2027-Q1`` (three calendar months), ``2026-H2`` by ``2027-H1`` (six) and
``2026`` by ``2027`` (twelve); a cycle with another name needs the new name given, and its length in
days is kept.

The config file is edited so that it is never lost and never means more than asked:

- Only the three scalars of ``cycle.name``, ``cycle.start`` and ``cycle.end`` are replaced, at the exact
  place the YAML parser found them; every other byte (comments, layout, flow mappings, the time zone,
  CRLF line endings) stays as the team wrote it. A full round-trip dump (ruamel.yaml) re-emits the whole
  file instead: it joins multi-line flow mappings and drops comments inside them.
- Each new value is written so that it reads back as what it is (:func:`_scalar`): a name that would
  read as another type, or is not a plain word, is quoted, so ``--name`` is a value and never YAML.
- The edited text must mean exactly the old document with those values changed (checked by loading both)
  and must load as a config (:func:`rolled_over`) before :func:`write_config` replaces the file: a temporary
  file beside it, synced, moved over it with ``os.replace``, the folder synced.
"""

from __future__ import annotations

import calendar
import copy
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from okrsync.config.settings import MetricParams
from okrsync.config.yamlsource import MAX_VALUES, PyLoader, YamlSyntaxError, load_with_lines
from okrsync.errors import ConfigEditError

if TYPE_CHECKING:
    from okrsync.config.model import Config

PATTERNS = (  # name pattern, months per cycle, cycles per year
    (re.compile(r"^(?P<year>\d{4})-Q(?P<n>[1-4])$"), 3, 4, "{year}-Q{n}"),
    (re.compile(r"^(?P<year>\d{4})-H(?P<n>[12])$"), 6, 2, "{year}-H{n}"),
    (re.compile(r"^(?P<year>\d{4})$"), 12, 1, "{year}"),
)
MAX_NAME = 100  # the store keeps a cycle's name in a String(100) column


@dataclass(frozen=True)
class NextCycle:
    name: str
    start: date
    end: date


def next_cycle(name: str, start: date, end: date, new_name: str | None = None) -> NextCycle:
    """The cycle after (name, start, end). Raises ValueError when the name has no known pattern and no
    ``new_name`` is given, or when ``new_name`` is not a cycle name (:func:`check_cycle_name`)."""
    if new_name is not None:
        check_cycle_name(new_name, name)
    first = end + timedelta(days=1)
    for pattern, months, per_year, template in PATTERNS:
        m = pattern.match(name)
        if m and start.day == 1 and first.day == 1:
            n = int(m.groupdict().get("n") or 1)
            year, n = (int(m["year"]) + 1, 1) if n == per_year else (int(m["year"]), n + 1)
            return NextCycle(new_name or template.format(year=year, n=n), first, _add_months(first, months))
    if new_name is None:
        raise ValueError(
            f"cannot tell what follows cycle {name!r} (names like 2026-Q4, 2026-H2 or 2026 roll over by "
            "themselves): give the new name with --name"
        )
    return NextCycle(new_name, first, first + (end - start))


def check_cycle_name(name: str, old: str | None = None) -> None:
    """Raise ValueError unless ``name`` can name a cycle: one line of printable text (no newline, tab or
    control character), not empty, no spaces at either end (``status --cycle`` must find it as typed), at
    most 100 characters (what the store keeps) and not the current cycle's name (the new cycle's runs would
    mix with the old one's). Any such text is fine, ``# later`` or ``a, b: {c}`` too: it is written quoted."""
    if not name.strip():
        raise ValueError("a cycle name cannot be empty")
    if not name.isprintable():
        raise ValueError(f"a cycle name is one line of printable text (no newline, tab or control character): {name!r}")
    if name != name.strip():
        raise ValueError(f"a cycle name cannot start or end with spaces: {name!r}")
    if len(name) > MAX_NAME:
        raise ValueError(f"a cycle name has at most {MAX_NAME} characters (this one has {len(name)})")
    if name == old:
        raise ValueError(f"{name!r} is the current cycle's name: the next cycle needs a name of its own")


def _add_months(first: date, months: int) -> date:
    """The last day of the ``months``-month period starting on ``first`` (a first of a month)."""
    index = first.month - 1 + months - 1
    year, month = first.year + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


CYCLE_KEYS = ("name", "start", "end")
PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*(?: [A-Za-z0-9_.\-/]+)*")  # safe unquoted, in {...} too
MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class _Value:
    """One of the cycle's values as written: where its scalar (or alias) is, and how it was quoted."""

    begin: int
    finish: int
    style: str | None  # None (plain), "'" or '"'
    node: yaml.Node
    alias: bool


class _Composer(PyLoader):
    """The project's loader, noting where each mapping value was written as an alias (``*name``): the
    composed node of an alias is its anchor's node, which sits elsewhere in the text."""

    def __init__(self, text: str):
        super().__init__(text)
        self.aliases: dict[tuple[int, int], yaml.AliasEvent] = {}

    def compose_node(self, parent, index):
        if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.Node) and self.check_event(yaml.AliasEvent):
            self.aliases[(id(parent), id(index))] = self.peek_event()
        return super().compose_node(parent, index)


def rewrite_cycle(text: str, new: NextCycle) -> str:
    """``text`` (a config) with its cycle's name, start and end replaced, nothing else touched.

    Anchors and aliases, as a careful reader of the file expects them:

    - a value that carries an anchor (``end: &q_end 2026-12-31``) keeps it on the new value, so every
      ``*q_end`` elsewhere (a KR's ``due``) moves with the cycle: that is what the alias said;
    - a value that is an alias (``name: *team``) is replaced by the new value at the cycle key only; the
      anchor's own key and its other aliases keep the old value (rolling the cycle over must not edit
      the namespace, say);
    - a ``cycle:`` that is itself an alias, or takes name, start or end from a merge key (``<<``), is
      refused: write those three in ``cycle:`` itself.

    Raises ConfigEditError (a ValueError) when the cycle cannot be found or edited safely."""
    root, values = _cycle_values(text)
    wanted = {"name": new.name, "start": new.start.isoformat(), "end": new.end.isoformat()}
    edits = sorted(((v.begin, v.finish, _scalar(wanted[k], v.style, k)) for k, v in values.items()), reverse=True)
    out = text
    for begin, finish, value in edits:  # from the end: earlier offsets stay valid
        out = out[:begin] + value + out[finish:]
    _check_meaning(root, values, out, new)
    return out


def _cycle_values(text: str) -> tuple[yaml.Node, dict[str, _Value]]:
    composer = _Composer(text)
    try:
        root = composer.get_single_node()
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigEditError(f"the config is not valid YAML: {exc}") from None
    finally:
        composer.dispose()
    if root is None:
        raise ConfigEditError("the config is empty: it has no cycle: mapping to roll over")
    items = root.value if isinstance(root, yaml.MappingNode) else []
    found = [(k, v) for k, v in items if isinstance(k, yaml.ScalarNode) and k.value == "cycle"]
    if not found or not isinstance(found[-1][1], yaml.MappingNode):
        raise ConfigEditError("the config has no cycle: mapping to roll over")
    key, cycle = found[-1]
    if (id(root), id(key)) in composer.aliases:
        raise ConfigEditError("cycle: is an alias of a mapping written elsewhere: write the cycle out to roll it over")
    values: dict[str, _Value] = {}
    for k, v in cycle.value:
        if k.tag != MERGE and isinstance(k, yaml.ScalarNode) and k.value in CYCLE_KEYS:
            if k.value in values:
                raise ConfigEditError(f"cycle.{k.value} is written twice (line {k.start_mark.line + 1})")
            values[k.value] = _value(text, k, v, composer.aliases.get((id(cycle), id(k))))
    if len(values) != 3:
        raise ConfigEditError("the cycle: mapping needs name, start and end (written in it, not merged with <<)")
    return root, values


def _value(text: str, key: yaml.Node, node: yaml.Node, alias: yaml.AliasEvent | None) -> _Value:
    if alias is not None:
        assert alias.start_mark is not None and alias.end_mark is not None  # the composer's events carry marks
        return _Value(alias.start_mark.index, alias.end_mark.index, None, node, True)
    if not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
        raise ConfigEditError(f"cycle.{key.value} (line {key.start_mark.line + 1}) must be a one-line value")
    begin, finish = node.start_mark.index, node.end_mark.index
    if text[begin] in "&!":  # an anchor or a tag before the scalar: they stay, the scalar alone changes
        token = next(t for t in yaml.scan(text[begin:finish]) if isinstance(t, yaml.ScalarToken))
        begin, finish = begin + token.start_mark.index, begin + token.end_mark.index
    return _Value(begin, finish, node.style, node, False)


def _scalar(value: str, style: str | None, key: str) -> str:
    """``value`` as YAML that reads back as exactly it. A quoted old value keeps its quotes. Dates stay plain
    ISO dates (``2027-01-01``): the loader reads them as dates, as it read the old ones, and that is how
    okrsync init and the docs write them. A name is plain only when it is a plain word the loader reads as
    that same text (``2027-Q1``, ``Sprint 13``); ``2027``, ``null``, ``# later`` or ``a, b: c`` are
    double-quoted, the one style that can hold any printable text."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or (key == "name" and not _plain_word(value)):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars
    return value


def _plain_word(value: str) -> bool:
    if not PLAIN.fullmatch(value):
        return False
    return yaml.load(value, Loader=PyLoader) == value  # the project's safe loader: 2027 or null are not text


def _check_meaning(root: yaml.Node, values: dict[str, _Value], out: str, new: NextCycle) -> None:
    """Raise ConfigEditError unless ``out`` means the old document with the new values in exactly the places
    :func:`rewrite_cycle` promises (the cycle's keys, and every alias of an anchored cycle value)."""
    constructor = PyLoader("")
    try:
        old = constructor.construct_document(root)
        moving = {id(v.node): k for k, v in values.items() if not v.alias}
        places = [(path, moving[id(node)]) for path, node in _paths(root, constructor) if id(node) in moving]
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigEditError(f"the config is not valid YAML for okrsync: {exc}") from None
    finally:
        constructor.dispose()
    places += [(("cycle", k), k) for k, v in values.items() if v.alias]
    expected = copy.deepcopy(old)
    wanted: dict[str, str | date] = {"name": new.name, "start": new.start, "end": new.end}
    for path, key in places:
        was, value = old["cycle"][key], wanted[key]
        _set(expected, path, value.isoformat() if isinstance(was, str) and isinstance(value, date) else value)
    try:
        got = load_with_lines(out)[0]
    except YamlSyntaxError as exc:
        raise ConfigEditError(f"the edited config would not be valid YAML ({exc})") from None
    if repr(got) != repr(expected):
        raise ConfigEditError(
            "the edit would change more than the cycle's name, start and end (a YAML construct okrsync cannot "
            "edit safely): change them by hand"
        )


def _paths(root: yaml.Node, constructor: PyLoader):
    """(data path, node) for every value of the document as the loader builds it: aliases followed, merge
    keys (``<<``) merged. Bounded like the loader (MAX_VALUES)."""
    stack: list[tuple[tuple, yaml.Node]] = [((), root)]
    seen = 0
    while stack:
        path, node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ConfigEditError(f"the config expands to more than {MAX_VALUES} values")
        yield path, node
        if isinstance(node, yaml.SequenceNode):
            stack += [((*path, i), item) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            own = {k.value for k, _ in node.value if k.tag != MERGE and isinstance(k, yaml.ScalarNode)}
            for k, v in node.value:
                if k.tag != MERGE:
                    stack.append(((*path, _key(k, constructor)), v))
                    continue
                for merged in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                    if isinstance(merged, yaml.MappingNode):
                        stack += [
                            ((*path, _key(mk, constructor)), mv) for mk, mv in merged.value if mk.value not in own
                        ]


def _key(node: yaml.Node, constructor: PyLoader) -> Any:
    """A mapping key as the loader builds it (``1:`` is the number 1); a complex key stays a node, which no
    data path leads through, so :func:`_set` refuses an edit that would go there."""
    return constructor.construct_object(node) if isinstance(node, yaml.ScalarNode) else node


def _set(data: Any, path: tuple, value: Any) -> None:
    try:
        for part in path[:-1]:
            data = data[part]
        data[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        raise ConfigEditError(
            f"an alias carries a cycle value to {'.'.join(map(str, path))}, which okrsync cannot follow: "
            "change the cycle by hand"
        ) from None


def rolled_over(path: Path, new: NextCycle) -> tuple[bytes, str, Config]:
    """(the file's bytes, the edited text, the edited text loaded as a config). Raises ConfigEditError when
    the file cannot be read or edited, or the edited text does not load: the file is not touched."""
    from okrsync.config.load import parse_config
    from okrsync.errors import ConfigError

    try:
        raw = Path(path).read_bytes()
        text = raw.decode("utf-8")  # bytes, not read_text(): CRLF line endings stay CRLF
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigEditError(f"cannot read {path}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None
    edited = rewrite_cycle(text, new)
    try:
        config = parse_config(edited, str(path), base_path=Path(path))
    except ConfigError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        raise ConfigEditError(
            f"the rolled-over config would not load, so {path} was left as it was: {problems}"
        ) from None
    return raw, edited, config


CYCLE_PLACEHOLDERS = re.compile(r":cycle_(start|end)|\{cycle\.(start|end)\}")


def meaning_changes(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """What the cycle's change does to each connected metric's value: (metrics that start again, metrics
    that keep counting across cycles), each metric id with why. An aggregate over dated rows reads the
    new cycle's window; one over rows without dates (or ``window: all``) goes on over every row; a query
    that names the cycle's dates follows them. A ``latest`` value without cycle dates does not change."""
    again: dict[str, str] = {}
    on: dict[str, str] = {}
    for metric_id, metric in sorted(config.metrics.items()):
        if metric.connection is None:
            continue
        params = config.params.get(metric_id) or MetricParams()  # bound by the loader
        how = metric.aggregate
        if how not in (None, "latest") and not params.reads_dated_rows():
            on[metric_id] = f"{how} over rows without a date (add date_column to start again)"
        elif how not in (None, "latest") and metric.window == "all":
            on[metric_id] = f"{how} over every row (window: all)"
        elif how not in (None, "latest"):
            again[metric_id] = f"{how} over rows dated in " + (
                "its KR's dates" if metric.window == "kr" else "the cycle"
            )
        elif CYCLE_PLACEHOLDERS.search(params.model_dump_json()):
            again[metric_id] = "its query names the cycle's dates"
    return again, on
