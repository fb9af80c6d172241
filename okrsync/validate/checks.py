"""What `okrsync validate` checks beyond the config file itself, as config problems and warnings: the
store URL (offline), what each connection can check without the network, and parents in other configs
(looked up in the store, read-only). The CLI presents them; nothing here prints."""

from __future__ import annotations

from pathlib import Path

from okrsync.config.messages import dotted
from okrsync.config.model import Config
from okrsync.errors import ConfigProblem, StoreError
from okrsync.okr.alignment import parent_findings


def problems(config: Config) -> tuple[list[ConfigProblem], list[str]]:
    """(errors, warnings) of the config beyond its file; parents are looked up only with a usable store URL."""
    found = store_url_problems(config)
    errors, warnings = ([], []) if found else parent_problems(config)
    return found + offline_problems(config) + errors, warnings


def store_url_problems(config: Config) -> list[ConfigProblem]:
    """The store URL names a known database whose driver is installed (no connection: validate works offline)."""
    from okrsync.store.url import store_url_problem

    if problem := store_url_problem(config.store_url()):
        message = problem.removeprefix("store: ").removeprefix("store ")
        return [ConfigProblem(str(config.path), None, "store", message)]
    return []


def offline_problems(config: Config) -> list[ConfigProblem]:
    """What the connections can check without the network (key files readable and well-formed)."""
    from okrsync.validate.offline import preflight

    return [ConfigProblem(str(config.path), None, *p.split(": ", 1)) for p in preflight(config)]


def parent_problems(config: Config) -> tuple[list[ConfigProblem], list[str]]:
    """(errors, warnings) for the parents in other configs, looked up in the store read-only
    (`okrsync validate`): a stored namespace without the objective is an error, one not synced yet a warning."""
    if not any(o.parent and "/" in o.parent for o in config.objectives):
        return [], []
    url = config.store_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return [], ["objectives align to other configs, but the store does not exist yet: nothing to check"]
    from okrsync.sync.persist import open_store, other_documents

    try:
        store = open_store(config, access="read")
    except StoreError as exc:
        return [], [f"cannot check parents in other configs: {exc}"]
    try:
        findings = parent_findings(config, other_documents(store, config))
    finally:
        store.close()
    where = {f: ("objectives", f.index, "parent") for f in findings}
    errors = [
        ConfigProblem(str(config.path), config.line_of(at), dotted(at), f.note) for f, at in where.items() if f.error
    ]
    return errors, [f"objectives.{f.objective}.parent: {f.note}" for f in findings if not f.error]
