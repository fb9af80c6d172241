"""``${ENV_VAR}`` references: credentials stay references in the config and are resolved only
when a connection is opened, so a validated config (and anything printed from it) holds no secret."""

from __future__ import annotations

import os
import re

from okrsync.errors import SourceError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def env_refs(value: str) -> list[str]:
    return _ENV_REF.findall(value)


def resolve_env(value: str, where: str, *, environ: dict[str, str] | os._Environ | None = None) -> str:
    """Replace ``${VAR}`` references; a missing variable is an error naming the key, not the value."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise SourceError(
                f"environment variable {name} is not set (referenced by {where}); "
                f"export it or put it in the environment of the scheduler"
            )
        return env[name]

    return _ENV_REF.sub(sub, value)
