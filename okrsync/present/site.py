"""`okrsync report --all -o DIR`: a page per team and an index with the company tree.

Pure: the teams' latest documents and histories in, file names and contents out (the CLI reads the
store and writes the files). Each team's page is the HTML report of its latest stored run, headed by the
team's name, with a link back to the index; an objective's aligned children in other teams are listed on its
card with their shares of its progress and linked to their cards on those teams' pages. The index lists each
team with its status counts and draws the company tree, the objectives aligned across configs under their
parents (okrsync.okr.alignment.company_order), each linked to its card on its team's page. Page names come
from namespaces, made safe for any file system: a namespace is user text and never becomes a path of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from zoneinfo import ZoneInfo

from okrsync.okr.results import Point
from okrsync.okr.status import StatusDocument
from okrsync.present.charts import chart_points
from okrsync.present.html_report import render_html, render_index

INDEX = "index.html"


def page_names(namespaces: list[str]) -> dict[str, str]:
    """namespace -> a file name of letters, digits, '-' and '_' only, unique, never the index."""
    names: dict[str, str] = {}
    taken = {INDEX}
    for ns in sorted(namespaces, key=lambda ns: (_stem(ns) != ns, ns)):  # a safe namespace keeps its own name
        stem = _stem(ns)
        name, n = f"{stem}.html", 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}.html"
        taken.add(name.lower())
        names[ns] = name
    return names


def _stem(namespace: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", namespace).strip("-")[:60] or "team"


def local_points(history: Mapping[str, list[Point]], doc: StatusDocument) -> dict[str, list]:
    """Stored points as the charts read them, in the cycle's zone (older documents: their as_of's offset)."""
    zone = ZoneInfo(doc.timezone) if doc.timezone else doc.as_of.tzinfo or UTC
    return chart_points(history, zone)


def build_site(docs: Mapping[str, StatusDocument], histories: Mapping[str, dict]) -> dict[str, str]:
    """File name -> content: each team's page, and the index."""
    names = page_names(list(docs))
    pages = {
        names[ns]: render_html(doc, histories.get(ns, {}), back=INDEX, site=docs, pages=names)
        for ns, doc in docs.items()
    }
    pages[INDEX] = render_index(docs, names)
    return pages
