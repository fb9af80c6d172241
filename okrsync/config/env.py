"""Credential references: ``${ENV_VAR}``, and ``${prefect:secret-block-name}`` for workers that keep
their secrets in Prefect Secret blocks instead of an environment (no .env file on other machines).

They stay references in the config and are resolved only when a connection is opened, so a validated
config (and anything printed from it) holds no secret. Every resolved value is registered for
redaction, so it cannot reach a log line or an error message either.
"""

from __future__ import annotations

import os
import re

from okrsync.errors import SourceError
from okrsync.redact import REDACTOR

_REF = re.compile(r"\$\{(?:(prefect):([a-z0-9][a-z0-9-]*)|([A-Za-z_][A-Za-z0-9_]*))\}")


def env_refs(value: str) -> list[str]:
    """The environment variables ``value`` refers to (Prefect secret blocks not included)."""
    return [m.group(3) for m in _REF.finditer(value) if m.group(3)]


def resolve_env(value: str, where: str, *, environ: dict[str, str] | os._Environ | None = None) -> str:
    """Replace ``${VAR}`` and ``${prefect:block}`` references; a missing one is an error naming the key."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match) -> str:
        if match.group(1):
            return prefect_secret(match.group(2), where)
        name = match.group(3)
        if name not in env:
            raise SourceError(
                f"environment variable {name} is not set (referenced by {where}); "
                f"export it or put it in the environment of the scheduler"
            )
        REDACTOR.add(env[name])
        return env[name]

    return _REF.sub(sub, value)


def prefect_secret(name: str, where: str) -> str:
    """The value of the Prefect Secret block ``name``, read from the Prefect API (PREFECT_API_URL)."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:  # else prefect would start a throwaway local server
        raise SourceError(
            f"Prefect secret block {name!r} (referenced by {where}) needs a Prefect server: set PREFECT_API_URL"
        )
    try:
        from prefect.blocks.system import Secret

        # prefect's async_dispatch takes _sync=True (load synchronously, also inside a flow's event loop) and then
        # returns the block itself, but its typed signature has neither that keyword nor that return type
        value = str(Secret.load(name, _sync=True).get())  # type: ignore[call-arg, union-attr]  # untyped _sync
    except ValueError:
        raise SourceError(
            f"Prefect secret block {name!r} not found (referenced by {where}); create it in the Prefect UI "
            f"(Blocks -> Secret) or with `Secret(value=...).save({name!r})`"
        ) from None
    except Exception as exc:  # the API unreachable, no server configured
        raise SourceError(
            f"cannot read Prefect secret block {name!r} (referenced by {where}): {type(exc).__name__}; "
            "is PREFECT_API_URL set on this machine?"
        ) from None
    REDACTOR.add(value)
    return value
