"""The status document's types: dates and moments in Python, the same ISO text in its JSON as ever; and a
result carried from evaluation to its document entry and its store row by field name, not copied by hand."""

import json
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime

import pytest

from okrsync.config.model import Config
from okrsync.okr.results import (
    Evaluation,
    Forecast,
    KpiResult,
    KrResult,
    MetricError,
    ObjectiveResult,
    Override,
    Status,
)
from okrsync.okr.status import KpiStatus, KrStatus, ObjectiveStatus, StatusDocument, build_document
from okrsync.present.formats import human_time
from okrsync.store import tables as t
from okrsync.store.history import _kpi_row, _kr_row, _objective_row

AS_OF = datetime(2026, 11, 21, 23, 59, 59, 999999, tzinfo=UTC)
SEEN = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)


def config(timezone: str = "UTC") -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "cycle": {"name": "Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": timezone},
            "metrics": {"mrr": {"formula": "1", "unit": "EUR"}},
            "objectives": [
                {
                    "id": "o",
                    "title": "O",
                    "owner": "ceo",
                    "key_results": [
                        {
                            "id": "k",
                            "title": "MRR up",
                            "metric": "mrr",
                            "start": 0,
                            "target": 100,
                            "start_date": "2026-10-15",
                            "phases": [{"date": "2026-11-15", "target": 40}],
                        }
                    ],
                }
            ],
            "kpis": [{"id": "p", "metric": "mrr", "healthy": {"min": 1}}],
        }
    )


def kr_result(**changes) -> KrResult:
    values = dict(
        id="k",
        objective_id="o",
        metric="mrr",
        kind="increase",
        title=None,
        weight=2.0,
        value=61.23456789,
        start=0.0,
        target=100.0,
        min=None,
        max=None,
        progress=0.6123456789,
        progress_raw=0.6123456789,
        expected=0.55,
        status=Status.ON_TRACK,
        stale=True,
        stale_reason="old",
        error="boom",
        observed_at=SEEN,
        due=date(2026, 12, 15),
        forecast=Forecast(90.1234567, 0.901234567, low=80.0, high=99.0, probability=0.3, sd=5.0, center=90.0),
        override=Override(61.0, "by hand", sticky=True),
        judged_against=0.385,
        suspect_reason="jumped",
    )
    return KrResult(**values | changes)


def objective_result(*krs: KrResult) -> ObjectiveResult:
    return ObjectiveResult("o", "O", "ceo", "committed", None, 0.61, 0.55, Status.ON_TRACK, krs or (kr_result(),))


# values the document keeps as they are (six digits), the title the config gives
KR_SIX_DIGITS = kr_result(
    title="MRR up", value=61.5, progress=0.615, progress_raw=0.615, forecast=Forecast(90.5, 0.905, 80.0, 99.0, 0.3)
)
KPI = KpiResult("p", "mrr", None, 61.0, True, 0.2500001, 1.0, None, observed_at=SEEN)
EVALUATION = Evaluation("Q4", AS_OF, (objective_result(),), (KPI,), (MetricError("x", "files", "gone"),))

KR_JSON = {
    "id": "k",
    "title": "MRR up",
    "metric": "mrr",
    "manual": False,  # added by issue 25 (a key result without a metric); keys are only ever added
    "kind": "increase",
    "owner": "ceo",
    "unit": "EUR",
    "value": 61.234568,
    "start": 0.0,
    "target": 100.0,
    "min": None,
    "max": None,
    "weight": 2.0,
    "due": "2026-12-15",
    "progress": 0.612346,
    "progress_raw": 0.612346,
    "expected": 0.55,
    "judged_against": 0.385,
    "status": "on_track",
    "stale": True,
    "stale_reason": "old",
    "error": "boom",
    "observed_at": "2026-11-20T08:30:15.123456+00:00",
    "forecast": {"value": 90.123457, "progress": 0.901235, "low": 80.0, "high": 99.0, "probability": 0.3},
    "override": {"value": 61.0, "sticky": True, "note": "by hand", "set_at": None},
    "jira_issue": None,
    "sheet_cell": None,
    "suspect": True,
    "suspect_reason": "jumped",
    "start_date": "2026-10-15",
    "phases": [{"date": "2026-11-15", "target": 40.0}],
    "owner_note": None,  # added by issue 25 with the owners' notes
    "owner_confidence": None,
    "confidence_disagrees": False,
}
DOCUMENT_JSON = {
    "version": 1,
    "cycle": "Q4",
    "cycle_start": "2026-10-01",
    "cycle_end": "2026-12-31",
    "namespace": "default",
    "title": None,  # added by issue 25: the team's name (config title:)
    "as_of": "2026-11-21T23:59:59.999999+00:00",  # isoformat: not pydantic's "Z"
    "timezone": "UTC",
    "objectives": [
        {
            "id": "o",
            "title": "O",
            "owner": "ceo",
            "kind": "committed",
            "parent": None,
            "children": [],
            "progress": 0.61,
            "expected": 0.55,
            "judged_against": None,
            "status": "on_track",
            "key_results": [KR_JSON],
            "weight": 1.0,
            "parent_note": None,
            "levels_only": False,
        }
    ],
    "kpis": [
        {
            "id": "p",
            "title": "p",
            "metric": "mrr",
            "unit": "EUR",
            "value": 61.0,
            "healthy": True,
            "trend": 0.25,
            "min": 1.0,
            "max": None,
            "stale": False,
            "stale_reason": None,
            "error": None,
            "observed_at": "2026-11-20T08:30:15.123456+00:00",
            "suspect": False,
            "suspect_reason": None,
            "leads": [],  # added by issue 25: key results it leads
        }
    ],
    "errors": [{"metric": "x", "connection": "files", "message": "gone"}],
    "status_rules": {"use_forecast": False, "likely": 0.7, "unlikely": 0.3},  # added by issue 25
}


def test_the_json_of_a_document_is_its_iso_text_written_out_by_hand():
    doc = build_document(EVALUATION, config())
    assert json.dumps(doc.to_dict()) == json.dumps(DOCUMENT_JSON)  # the keys in their order too
    assert (doc.as_of, doc.day, doc.cycle_start, doc.cycle_end) == (
        AS_OF,
        date(2026, 11, 21),
        date(2026, 10, 1),
        date(2026, 12, 31),
    )
    kr = doc.kr("k")
    assert kr is not None and (kr.due, kr.start_date, kr.observed_at) == (date(2026, 12, 15), date(2026, 10, 15), SEEN)
    assert [(p.date, p.target) for p in kr.phases] == [(date(2026, 11, 15), 40.0)]


def test_a_document_loads_back_from_its_json_equal_and_alike():
    doc = build_document(EVALUATION, config("Europe/Oslo"))
    stored = json.loads(json.dumps(doc.to_dict()))
    assert stored["as_of"] == "2026-11-22T00:59:59.999999+01:00"  # in the cycle's zone
    assert stored["objectives"][0]["key_results"][0]["observed_at"] == "2026-11-20T09:30:15.123456+01:00"
    loaded = StatusDocument.from_dict(stored)
    assert loaded == doc and loaded.to_dict() == doc.to_dict() and loaded.day == doc.day == date(2026, 11, 22)
    fresh, again = doc.kr("k"), loaded.kr("k")
    assert fresh is not None and again is not None and fresh.observed_at is not None and again.observed_at is not None
    # a fresh moment and a loaded one read alike: both in their offset's fixed zone, as fromisoformat reads it
    assert human_time(fresh.observed_at) == human_time(again.observed_at) == "2026-11-20 09:30 UTC+01:00"
    assert StatusDocument.from_dict(build_document(EVALUATION, config()).to_dict()).to_dict() == DOCUMENT_JSON


def test_a_document_built_from_iso_text_holds_dates():
    entry = KrStatus(id="k", title="K", metric="m", kind="increase", due="2026-12-31", expected=0.5, status="done")
    assert entry.due == date(2026, 12, 31) and entry.model_dump(mode="json")["due"] == "2026-12-31"
    with pytest.raises(ValueError, match="timezone"):
        KpiStatus(id="p", title="P", metric="m", observed_at="2026-11-20T08:30:00")  # a moment without its zone


def _carried(entry: object, result: object, name: str) -> bool:
    got, had = getattr(entry, name), getattr(result, name)
    if isinstance(had, tuple):
        return got == list(had)
    if is_dataclass(had):  # a forecast, an override: their shared fields, by name
        return all(getattr(got, f) == getattr(had, f) for f in type(got).model_fields)
    return got == had


@pytest.mark.parametrize(
    ("result", "entry", "convert"),
    [
        (KR_SIX_DIGITS, KrStatus, lambda r, c: KrStatus.from_result(r, c.objectives[0].key_results[0], c)),
        (
            objective_result(),
            ObjectiveStatus,
            lambda r, c: ObjectiveStatus.from_result(r, c, {"k": c.objectives[0].key_results[0]}),
        ),
        (
            KpiResult("p", "mrr", "P", 61.0, True, 0.25, 1.0, 9.0, observed_at=SEEN, suspect_reason="why"),
            KpiStatus,
            KpiStatus.from_result,
        ),
    ],
    ids=["kr", "objective", "kpi"],
)
def test_every_field_a_result_shares_with_its_entry_carries_over(result, entry, convert):
    properties = {name for name in dir(type(result)) if isinstance(getattr(type(result), name), property)}
    shared = ({f.name for f in fields(result)} | properties) & set(entry.model_fields)
    assert len(shared) >= 10 and (shared >= {"suspect"} or entry is ObjectiveStatus)
    made = convert(result, config())
    assert [name for name in sorted(shared - {"key_results"}) if not _carried(made, result, name)] == []


@dataclass(frozen=True)
class KrResultPlus(KrResult):
    confidence: str = "high"


class KrStatusPlus(KrStatus):
    confidence: str | None = None


def test_a_field_added_to_a_result_and_its_entry_needs_no_line_of_conversion():
    base = kr_result()
    result = KrResultPlus(**{f.name: getattr(base, f.name) for f in fields(KrResult)}, confidence="low")
    made = KrStatusPlus.from_result(result, config().objectives[0].key_results[0], config())
    assert made.confidence == "low" and made.model_dump(mode="json")["confidence"] == "low"


def test_a_store_row_takes_each_column_by_name_from_its_result():
    assert _kr_row(kr_result()) == {
        "kr_id": "k",
        "objective_id": "o",
        "metric_id": "mrr",
        "kind": "increase",
        "value": 61.23456789,
        "start": 0.0,
        "target": 100.0,
        "progress": 0.6123456789,
        "progress_raw": 0.6123456789,
        "expected": 0.55,
        "status": "on_track",
        "stale": True,
        "stale_reason": "old",
        "error": "boom",
        "observed_at": SEEN,
        "forecast_value": 90.1234567,
        "forecast_progress": 0.901234567,
        "overridden": True,
    }
    plain = _kr_row(kr_result(observed_at=None, forecast=None, override=None))
    assert (plain["observed_at"], plain["forecast_value"], plain["overridden"]) == (None, None, False)
    assert _objective_row(objective_result()) == {
        "objective_id": "o",
        "progress": 0.61,
        "expected": 0.55,
        "status": "on_track",
    }
    assert _kpi_row(KPI) == {
        "kpi_id": "p",
        "metric_id": "mrr",
        "value": 61.0,
        "healthy": True,
        "trend": 0.2500001,
        "stale": False,
    }
    for row, table in ((_kr_row(kr_result()), t.kr_results), (_kpi_row(KPI), t.kpi_results)):
        assert set(row) == {c.name for c in table.columns} - {"run_id"}  # every column filled, none left NULL
