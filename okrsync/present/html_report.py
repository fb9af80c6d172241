"""The HTML report: the status document as a page a lead would rather look at than read.

One self-contained file (inline CSS and SVG, no script, no request beyond the page), rendered by Jinja2
from ``templates/report.html.j2`` with autoescaping: every title, owner, unit and note is user text.
Objectives in their alignment tree, each KR with its progress bar, its badges (status; stale, held back
and manual values each marked in words and in their own colour, never by colour alone) and a chart
(okrsync.present.charts); KPIs with their history over the healthy band. The same document renders the same
bytes: nothing here reads the clock or the machine's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument
from okrsync.present.charts import Chart, kpi_chart, kr_chart
from okrsync.present.formats import (
    LABEL,
    fmt_trend,
    fmt_value,
    forecast_text,
    human_time,
    label,
    pct,
    range_text,
    target_text,
)

ORDER = list(LABEL)


@cache
def _template(name: str):
    import jinja2  # only a report needs it: `okrsync --help` stays fast

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("okrsync.present", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.globals.update(
        pct=pct,
        fmt_value=fmt_value,
        fmt_trend=fmt_trend,
        forecast_text=forecast_text,
        human_time=human_time,
        label=label,
        range_text=range_text,
        target_text=target_text,
        kpi_pill_class=kpi_pill_class,
        kpi_label=kpi_label,
    )
    return env.get_template(name)


def kpi_pill_class(k: KpiStatus) -> str:
    """The status class a KPI's pill is coloured by: healthy shows as on track, unhealthy as off track."""
    return "no_data" if k.healthy is None else ("on_track" if k.healthy else "off_track")


def kpi_label(k: KpiStatus) -> str:
    return "no data" if k.healthy is None else ("healthy" if k.healthy else "unhealthy")


def status_counts(krs: list[KrStatus]) -> dict[str, int]:
    """How many KRs have each status, in the order done, on track, at risk, off track, no data."""
    return {s: n for s in ORDER if (n := sum(kr.status == s for kr in krs))}


def objective_tree(doc: StatusDocument) -> list[tuple[ObjectiveStatus, int]]:
    """Objectives depth-first under their parents in this document, each with its depth."""
    by_id = {o.id: o for o in doc.objectives}
    ordered: list[tuple[ObjectiveStatus, int]] = []

    def add(o: ObjectiveStatus, depth: int, seen: frozenset) -> None:
        ordered.append((o, depth))
        for cid in o.children:
            if cid in by_id and cid not in seen:
                add(by_id[cid], depth + 1, seen | {cid})

    for o in doc.objectives:
        if not o.parent or o.parent not in by_id:
            add(o, 0, frozenset({o.id}))
    return ordered


def render_html(doc: StatusDocument, history: dict | None = None, back: str | None = None) -> str:
    """The page; ``history`` (metric -> [[iso time, value], ...]) draws the charts; ``back`` links to an index."""
    history = history or {}
    krs = [kr for _, kr in doc.key_results()]
    kr_charts: dict[str, Chart] = {}
    for n, kr in enumerate(krs):
        kr_charts[kr.id] = kr_chart(kr, history.get(kr.metric, []), doc)
        kr_charts[kr.id].key = f"c{n}"
    kpi_charts: dict[str, Chart] = {}
    for n, k in enumerate(doc.kpis):
        kpi_charts[k.id] = kpi_chart(k, history.get(k.metric, []), doc)
        kpi_charts[k.id].key = f"k{n}"
    flags = dict(
        stale=sum(kr.stale for kr in krs),
        suspect=sum(kr.suspect for kr in krs),
        overridden=sum(kr.override is not None for kr in krs),
    )
    return _template("report.html.j2").render(
        doc=doc,
        back=back,
        counts=status_counts(krs).items(),
        flags=flags,
        objectives=objective_tree(doc),
        kr_charts=kr_charts,
        kpi_charts=kpi_charts,
    )


def render_index(docs: Mapping[str, StatusDocument], pages: Mapping[str, str]) -> str:
    """The index of ``okrsync report --all``: each team (namespace) with its counts, and the company tree."""
    from okrsync.okr.alignment import company_order

    teams = []
    for ns in sorted(docs):
        krs = [kr for _, kr in docs[ns].key_results()]
        teams.append(
            dict(
                ns=ns,
                doc=docs[ns],
                page=pages[ns],
                counts=status_counts(krs),
                stale=sum(kr.stale for kr in krs),
                suspect=sum(kr.suspect for kr in krs),
            )
        )
    cycles = sorted({d.cycle for d in docs.values()})
    return _template("index.html.j2").render(
        teams=teams, tree=company_order(docs), pages=pages, cycle=", ".join(cycles)
    )
