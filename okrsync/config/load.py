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
from okrsync.config.model import Config
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
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        found += problems_of(exc, (), data, Config)
    bound = bind(data, connectors or registry())
    found += bound.problems + cross_check(data)
    dup_lines = {path: line for path, line, _ in duplicates}
    problems = [ConfigProblem(shown, dup_lines.get(loc) or line_of(lines, loc), dotted(loc), msg) for loc, msg in found]
    if problems or config is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(_unique(problems))
    config = _apply(config, bound)
    config._path = base_path or Path(shown)
    config._lines = lines
    return config


def _apply(config: Config, bound: Bound) -> Config:
    """The config with each entry replaced by its connector's model, and metric params attached."""
    config = config.model_copy(update={"connections": bound.connections, "outputs": bound.outputs})
    for metric_id, params in bound.params.items():
        config.metrics[metric_id]._params = params
    return config


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.path, p.message) not in seen:
            seen.add((p.line, p.path, p.message))
            out.append(p)
    return out
