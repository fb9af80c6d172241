"""The HTML report: the status document as a page a lead would rather look at than read.

One self-contained file (inline CSS, SVG and one small script, ``templates/report.js``, that shows a chart's
figures on hover; no request beyond the page, which its content security policy enforces: it runs that
script alone, by its hash), rendered by Jinja2 from ``templates/report.html.j2`` with autoescaping: every
title, owner, unit and note is user text.
Objectives in their alignment tree, each KR with its progress bar, its badges (status; stale, held back,
overridden values and manual KRs each marked in words and in their own colour, never by colour alone) and a
chart (okrsync.present.charts); KPIs with their history over the healthy band. The page is headed by the
team's name (the document's ``title``, else its namespace) and says its times in the cycle's zone by name.
An objective with aligned children lists each with its share of the objective's progress
(:func:`breakdown`, the roll-up rule of okrsync.okr.rollup); a KR whose status and chance of reaching its
target read differently gets one line saying why (:func:`why_status_and_chance_differ`). The same document
renders the same bytes: nothing here reads the clock or the machine's time zone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

from okrsync.config.model import BOUND_KINDS, StatusThresholds
from okrsync.okr.alignment import split_ref
from okrsync.okr.rollup import ASPIRATIONAL_FACTOR, likely_status
from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument, StatusRulesDoc
from okrsync.present.charts import kpi_chart, kr_chart, shared_axes
from okrsync.present.checkin import confidence_text, owner_question
from okrsync.present.checkin_text import leading_lines, leading_metrics, source_name
from okrsync.present.formats import (
    LABEL,
    fmt_chance,
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
ROUNDING = 0.05  # points: what the figures may differ by from the document's six-digit rounding, shown to 0.1


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
        points=points,
        fmt_value=fmt_value,
        fmt_trend=fmt_trend,
        forecast_text=forecast_text,
        label=label,
        range_text=range_text,
        target_text=target_text,
        kpi_pill_class=kpi_pill_class,
        kpi_label=kpi_label,
        is_manual=is_manual,
        team_name=team_name,
        local_time=local_time,
        source_name=source_name,
    )
    return env.get_template(name)


@dataclass(frozen=True)
class Script:
    """The page's one script and the content security policy's source for it ('sha256-…')."""

    text: str
    hash: str


@cache
def page_script() -> Script:
    """templates/report.js as the page embeds it: constant text (nothing of the document is in it), which can
    never close its element early."""
    from markupsafe import Markup

    text = resources.files("okrsync.present").joinpath("templates", "report.js").read_text(encoding="utf-8")
    if "</" in text:
        raise ValueError("report.js must not contain '</': it would end the page's <script> element")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Script(Markup(text), f"sha256-{digest}")


def kpi_pill_class(k: KpiStatus) -> str:
    """The status class a KPI's pill is coloured by: healthy shows as on track, unhealthy as off track."""
    return "no_data" if k.healthy is None else ("on_track" if k.healthy else "off_track")


def kpi_label(k: KpiStatus) -> str:
    return "no data" if k.healthy is None else ("healthy" if k.healthy else "unhealthy")


def is_manual(kr: KrStatus) -> bool:
    """A manual KR (no metric: its owner sets its value); documents stored before manual KRs read as False."""
    return kr.manual


def team_name(doc: StatusDocument) -> str:
    """The team's name: the document's ``title`` (the config's ``title:``), else its namespace."""
    return doc.title or doc.namespace


def local_time(moment: datetime, doc: StatusDocument) -> str:
    """A moment in the cycle's zone, '2026-11-21 05:19' (the page names the zone once), or a date at midnight
    and at the end of a day (``--as-of D``). A document without a zone (before 2026-11-30): its UTC offset."""
    if not doc.timezone:
        return human_time(moment)
    local = moment.astimezone(ZoneInfo(doc.timezone))
    if local.time() in (time.min, time.max):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def points(x: float | None) -> str:
    """Percentage points to one decimal: 22.5, 16.7."""
    return "–" if x is None else f"{x:.1f}"


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


# --------------------------------------------------------------------------- aligned children's shares


@dataclass(frozen=True)
class Child:
    """An aligned child objective as its parent's card lists it."""

    ref: str  # its id in this document, or "namespace/objective id"
    title: str
    team: str | None  # its namespace, when it lives in another config
    href: str | None  # its card: on this page, or on its team's page of the site
    weight: float | None = None  # None: its figures are not known here
    progress: float | None = None
    levels_only: bool = False
    text: str = ""  # its share of the parent's progress, in words


@dataclass(frozen=True)
class Breakdown:
    """What an objective's progress is made of, in percentage points: its KRs', and each aligned child's."""

    children: list[Child]
    kr_points: float | None  # None: a child's figures are not known here, so no share is
    total: float | None
    note: str | None = None


def breakdown(
    o: ObjectiveStatus,
    doc: StatusDocument,
    site: Mapping[str, StatusDocument],
    pages: Mapping[str, str],
) -> Breakdown:
    """Each aligned child's share of ``o``'s progress, by the roll-up rule (docs/okr-semantics.md, "Roll-up"):
    progress = Σ weight x progress / Σ weight over the moving members with data (increase, decrease and
    milestone KRs, children not made of levels only); a child adds 100 x weight x progress / Σ weight points.
    Levels stay out of the mean (a child of levels only caps ``o`` at at risk while one breaks), unless ``o``
    has no moving member: then each level adds its weight's share while it holds (a child: all its levels)."""
    children = [_child(ref, o, doc, site, pages) for ref in o.children]
    if any(c.weight is None for c in children):
        missing = ", ".join(c.ref for c in children if c.weight is None)
        return Breakdown(children, None, None, f"The share of {missing} shows in okrsync report --all (every team).")
    krs = [(kr.weight, kr.progress, kr.kind in BOUND_KINDS) for kr in o.key_results if kr.progress is not None]
    kids = [(c.weight or 0.0, c.progress, c.levels_only) for c in children if c.progress is not None]
    moving = [m for m in krs + kids if not m[2]]
    counted = moving or [m for m in krs + kids if m[2]]
    whole = sum(w for w, _, _ in counted)
    share = _share_of_moving if moving else _share_of_levels
    shown = [share(c, whole) for c in children]
    kr_points = sum(share_points(w, p, level, whole, bool(moving)) for w, p, level in krs)
    total = kr_points + sum(share_points(w, p, lv, whole, bool(moving)) for w, p, lv in kids)
    note = None
    if o.progress is not None and abs(total - 100 * o.progress) > ROUNDING:
        note = (
            f"These shares add up to {points(total)} points, not {points(100 * o.progress)}: an aligned team has "
            "synced since this objective rolled it in, and its newest figures are shown."
        )
    return Breakdown(shown, kr_points, total, note)


def share_points(weight: float, progress: float | None, level: bool, whole: float, moving: bool) -> float:
    """The points a member adds to its objective's progress (0 for a level while moving members count)."""
    if progress is None or not whole or (moving and level):
        return 0.0
    return 100 * weight * (progress if moving else float(progress >= 1)) / whole


def _share_of_moving(c: Child, whole: float) -> Child:
    if c.progress is None:
        return _with(c, "no data yet: not counted")
    if c.levels_only:
        holds = "all its levels hold" if c.progress >= 1 else "a level is broken: it caps this objective at at risk"
        return _with(c, f"keeps levels only, which stay out of the progress; {holds}")
    weight, adds = c.weight or 0.0, share_points(c.weight or 0.0, c.progress, False, whole, True)
    return _with(
        c,
        f"{pct(c.progress)} done, weight {fmt_value(weight)} of {fmt_value(whole)}: "
        f"adds {points(adds)} points ({points(100 * weight / whole)} if done)",
    )


def _share_of_levels(c: Child, whole: float) -> Child:
    if c.progress is None:
        return _with(c, "no data yet: not counted")
    weight, adds = c.weight or 0.0, share_points(c.weight or 0.0, c.progress, True, whole, False)
    holds = "its levels all hold" if c.progress >= 1 else "not all its levels hold"
    return _with(c, f"{holds}, weight {fmt_value(weight)} of {fmt_value(whole)}: adds {points(adds)} points")


def _with(c: Child, text: str) -> Child:
    return Child(c.ref, c.title, c.team, c.href, c.weight, c.progress, c.levels_only, text)


def _child(
    ref: str, o: ObjectiveStatus, doc: StatusDocument, site: Mapping[str, StatusDocument], pages: Mapping[str, str]
) -> Child:
    """A child of ``o`` by its ref: an objective of this document, or of another team (the figures ``o``
    rolled in when the document carries them, else that team's latest run in the site)."""
    namespace, oid = split_ref(ref)
    if namespace is None:
        local = next((x for x in doc.objectives if x.id == ref), None)
        if local is None:
            return Child(ref, ref, None, None)
        return Child(ref, local.title, None, f"#objective-{ref}", local.weight, local.progress, local.levels_only)
    other = site.get(namespace)
    found = next((x for x in other.objectives if x.id == oid), None) if other else None
    href = f"{pages[namespace]}#objective-{oid}" if namespace in pages and found else None
    rolled = next((a for a in getattr(o, "aligned", None) or [] if a.ref == ref), None)  # documents after issue 25
    if rolled is not None:
        title = getattr(rolled, "title", None) or (found.title if found else oid)
        return Child(ref, title, namespace, href, rolled.weight, rolled.progress, rolled.levels_only)
    if found is None:
        return Child(ref, oid, namespace, None)
    return Child(ref, found.title, namespace, href, found.weight, found.progress, found.levels_only)


# --------------------------------------------------------------------------- status beside chance


def chance_reading(chance: float, doc: StatusDocument) -> str:
    """The status a chance reads as, by the thresholds ``use_forecast`` judges with: on track from likely
    (0.7) up, at risk from unlikely (0.3), else off track."""
    rules = doc.status_rules or StatusRulesDoc()  # a document stored before issue 25: the defaults applied
    return str(likely_status(chance, StatusThresholds(likely=rules.likely, unlikely=rules.unlikely)))


def why_status_and_chance_differ(kr: KrStatus, o: ObjectiveStatus, doc: StatusDocument) -> str | None:
    """One line when a KR's status and its chance of reaching the target read differently (done reads as on
    track), saying why; None when they agree or there is no chance (levels, milestones, < 3 weeks)."""
    chance = kr.forecast.probability if kr.forecast else None
    if chance is None or kr.status == "no_data":
        return None
    status = "on_track" if kr.status == "done" else str(kr.status)
    if chance_reading(chance, doc) == status:
        return None
    chance_text, status_text = fmt_chance(chance), label(kr.status).capitalize()
    if kr.status == "done":
        return (
            f"The target was reached, and a reached key result stays done; the chance ({chance_text}) is that of "
            "still being at the target on the due date at the pace of recent weeks."
        )
    if o.kind == "aspirational":
        if (doc.status_rules or StatusRulesDoc()).use_forecast:
            return (
                f"{status_text} for an aspirational objective, judged by the chance of getting 70% of the way to "
                f"the target; {chance_text} is the chance of reaching the whole target."
            )
        return (
            f"{status_text} for an aspirational objective, where 70% of the target counts as success "
            f"({pct(kr.progress)} done, {pct(kr.judged)} expected by today, {ASPIRATIONAL_FACTOR:g} × "
            f"{pct(kr.expected)}); {chance_text} is the chance of reaching the whole target at the pace of recent "
            "weeks."
        )
    return (
        f"{status_text} by the calendar ({pct(kr.progress)} done, {pct(kr.judged)} expected by today); the chance "
        f"({chance_text}) carries the pace of recent weeks to the due date, and the status does not use it "
        "(status: use_forecast is off)."
    )


# --------------------------------------------------------------------------- pages


def by_day(series: list, doc: StatusDocument) -> dict[date, float]:
    """A chart's ``[[iso time, value], ...]`` as synced day -> value, days in the cycle's zone."""
    zone = ZoneInfo(doc.timezone) if doc.timezone else UTC  # a document from before zones were kept: UTC
    return {_local_day(at, zone): float(value) for at, value in series}


@lru_cache(maxsize=4096)
def _local_day(iso: str, zone: tzinfo) -> date:
    """An ISO moment's day in ``zone``; cached: a run stores every value at one moment."""
    return datetime.fromisoformat(iso).astimezone(zone).date()


def owners_confidence(doc: StatusDocument) -> dict[str, str]:
    """Each KR's latest confidence given in a note, as it reads ('8/10 (on track)'), or, when it disagrees with
    the data, the question for the meeting ('owner: on track · data: at risk, 12% likely'; docs/checkin.md)."""
    shown = {}
    for o, kr in doc.key_results():
        if kr.owner_confidence is not None:
            shown[kr.id] = owner_question(kr, o, doc) or confidence_text(kr.owner_confidence)
    return shown


def render_html(
    doc: StatusDocument,
    history: dict | None = None,
    back: str | None = None,
    site: Mapping[str, StatusDocument] | None = None,
    pages: Mapping[str, str] | None = None,
) -> str:
    """The page; ``history`` (metric -> [[iso time, value], ...]) draws the charts; ``back`` links to an index;
    ``site`` (namespace -> document) and ``pages`` (namespace -> file name) are the other teams of
    ``okrsync report --all``, for the shares of children in other configs and links to their cards."""
    history = history or {}
    krs = [kr for _, kr in doc.key_results()]
    kr_charts = {kr.id: kr_chart(kr, history.get(kr.metric, []) if kr.metric else [], doc) for kr in krs}
    kpi_charts = {k.id: kpi_chart(k, history.get(k.metric, []), doc) for k in doc.kpis}
    flags = dict(
        stale=sum(kr.stale for kr in krs),
        suspect=sum(kr.suspect for kr in krs),
        overridden=sum(kr.override is not None for kr in krs),
    )
    return _template("report.html.j2").render(
        doc=doc,
        back=back,
        script=page_script(),
        axes=shared_axes([*kr_charts.values(), *kpi_charts.values()]),
        counts=status_counts(krs).items(),
        flags=flags,
        objectives=objective_tree(doc),
        kr_charts=kr_charts,
        kpi_charts=kpi_charts,
        breakdowns={o.id: breakdown(o, doc, site or {}, pages or {}) for o in doc.objectives if o.children},
        why={kr.id: text for o, kr in doc.key_results() if (text := why_status_and_chance_differ(kr, o, doc))},
        leading=leading_lines(doc, {m: by_day(history[m], doc) for m in leading_metrics(doc) if m in history}),
        confidence=owners_confidence(doc),
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
