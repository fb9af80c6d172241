"""`okrsync report`: write a report of what the store holds, for this config or for every team."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape

from okrsync.cli.app import console, current_config, err_console


def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="a .html .md .json or .csv file; with --all a folder")],
    every: Annotated[bool, typer.Option("--all", help="every team in the store: a page each, an index")] = False,
) -> None:
    """Write the latest stored status as a report, without fetching. With --all: one HTML page per team
    (namespace) sharing this config's store and cycle, and index.html with each team's counts and the
    company tree of objectives aligned across configs."""
    from okrsync.connectors.report import RENDERERS, write_if_changed
    from okrsync.present.site import build_site, local_points
    from okrsync.sync.persist import open_store

    config = current_config()
    if not every and output.suffix.lower() not in RENDERERS:
        raise typer.BadParameter("a report file ends in .html, .md, .json or .csv", param_hint="--output")
    if every and output.suffix:
        raise typer.BadParameter("with --all, --output is a folder (it gets index.html and a page per team)")
    store = open_store(config, access="read")
    try:
        docs = _every_team(store, config) if every else _this_team(store, config)
        histories = {
            ns: local_points(store.load_history(ns, config.cycle.name, doc.day), doc) for ns, doc in docs.items()
        }
    finally:
        store.close()
    if not docs:
        err_console.print(f"No sync has been stored for {config.cycle.name} yet: run `okrsync run` first.")
        raise typer.Exit(1)
    if every:
        files = {output / name: content for name, content in build_site(docs, histories).items()}
    else:
        doc = docs[config.namespace]
        files = {output: RENDERERS[output.suffix.lower()](doc, histories[config.namespace])}
    for path, content in files.items():
        try:
            changed = write_if_changed(path, content)
        except OSError as exc:  # a folder that is a file, no permission, a full disk: say which, no traceback
            err_console.print(f"[red]error:[/] cannot write {escape(str(path))}: {escape(exc.strerror or str(exc))}")
            raise typer.Exit(2) from None
        console.print(f"{'wrote' if changed else 'unchanged'} {escape(str(path))}")


def _every_team(store, config) -> dict:
    """Every namespace's latest document of the cycle, its parent notes checked against the others."""
    from okrsync.okr.alignment import refresh_parent_notes
    from okrsync.okr.status import StatusDocument

    runs = store.latest_runs(config.cycle.name)  # finished runs: each has its document
    stored = {ns: StatusDocument.from_dict(cast(dict, r.document)) for ns, r in runs.items()}
    return {ns: refresh_parent_notes(doc, stored) for ns, doc in stored.items()}


def _this_team(store, config) -> dict:
    """This config's latest document alone (not every team's), its parent notes checked against its parents'."""
    from okrsync.okr.alignment import refresh_parent_notes
    from okrsync.okr.status import StatusDocument
    from okrsync.sync.persist import parent_documents

    run = store.latest_run(config.namespace, config.cycle.name)
    if run is None:
        return {}
    doc = StatusDocument.from_dict(cast(dict, run.document))
    return {config.namespace: refresh_parent_notes(doc, parent_documents(store, doc))}
