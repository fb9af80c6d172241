"""Loading one config file: YAML with lines, the core model, the bind step, the cross checks.

:func:`load_config` returns a validated :class:`~okrsync.config.model.Config` or raises a
:class:`~okrsync.errors.ConfigError` listing *every* problem as ``file:line: key.path: message``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from okrsync.config.bind import Bound, bind
from okrsync.config.checks import cross_check
from okrsync.config.messages import dotted, problems_of
from okrsync.config.model import Config, ConfigBody, ConfigFile
from okrsync.config.yamlsource import MAX_BYTES, YamlSyntaxError, line_of, load_with_lines
from okrsync.errors import ConfigError, ConfigProblem
from okrsync.registry import Registry, registry

NOT_FOUND = "config file not found (use -c PATH or OKRSYNC_CONFIG; `okrsync init` writes a starter)"


def load_config(path: str | Path, *, connectors: Registry | None = None) -> Config:
    """Load and validate one config file. Raises ConfigError with every located problem."""
    path = Path(path)
    shown = str(path)
    try:
        if path.exists() and not path.is_file():  # a folder, or a pipe that would block the read forever
            raise ConfigError([ConfigProblem(shown, None, "", "not a regular file (give the path of a YAML file)")])
        if path.exists() and path.stat().st_size > MAX_BYTES:
            raise ConfigError([ConfigProblem(shown, None, "", f"the file is larger than {MAX_BYTES // 1000} kB")])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(shown, None, "", NOT_FOUND)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([ConfigProblem(shown, None, "", f"cannot read: {reason}")]) from None
    return parse_config(text, shown, base_path=path, connectors=connectors)


def parse_config(
    text: str, shown: str = "<config>", *, base_path: Path | None = None, connectors: Registry | None = None
) -> Config:
    try:
        data, lines, duplicates = load_with_lines(text)
    except YamlSyntaxError as exc:
        raise ConfigError([ConfigProblem(shown, exc.line, "", str(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(shown, lines.get(()), "", "expected a mapping of keys (version, cycle, ...)")])

    found = [(path, f"duplicate key {key!r}") for path, _, key in duplicates]
    written: ConfigFile | None = None
    try:
        written = ConfigFile.model_validate(data)
    except ValidationError as exc:
        found += problems_of(exc, (), data, ConfigFile)
    bound = bind(data, connectors or registry())
    found += bound.problems + cross_check(data)
    dup_lines = {path: line for path, line, _ in duplicates}
    problems = [ConfigProblem(shown, dup_lines.get(loc) or line_of(lines, loc), dotted(loc), msg) for loc, msg in found]
    if problems or written is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(_unique(problems))
    return bound_config(written, bound, base_path or Path(shown), lines)


def bound_config(written: ConfigFile, bound: Bound, path: Path, lines: dict[tuple, int]) -> Config:
    """The config as its connectors read it: each connection, output and metric's own keys in their models
    (validated already: the models are taken as they are)."""
    body = {name: getattr(written, name) for name in ConfigBody.model_fields}
    connections, outputs, params = bound.connections, bound.outputs, bound.params
    return Config(**body, connections=connections, outputs=outputs, params=params, path=path, lines=lines)


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.path, p.message) not in seen:
            seen.add((p.line, p.path, p.message))
            out.append(p)
    return out
