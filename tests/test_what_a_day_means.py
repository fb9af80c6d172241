"""What the numbers mean (docs/okr-semantics.md, "What a day means"): a run as of D reads as of the end of D, for values
and expected alike; aggregates over dated rows read the cycle's window; the store keeps one value per
metric per synced day, and deleting a day or accepting a held value touches that day only. Every
figure is worked out by hand in the comments; each test failed before the rule was built."""

from datetime import date

import pytest
import sqlalchemy as sa

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.helpers import oslo, write_csv

CYCLE = "2026-Q4"  # Oct 1 .. Dec 31 2026, Europe/Oslo: 92 days


def kr(doc, kr_id: str) -> dict:
    return next(k for o in doc.to_dict()["objectives"] for k in o["key_results"] if k["id"] == kr_id)


def deploys(tmp_path, write_config, window: str | None = None, kr_dates: str = ""):
    """A deploy log that also holds September's rows (and one after the as-of day)."""
    write_csv(
        tmp_path / "data" / "deploys.csv",
        """
        date,n
        2026-09-10,300
        2026-09-30,17
        2026-10-01,1
        2026-10-15,40
        2026-11-02,59
        2026-11-30,1000
    """,
    )
    extra = f", window: {window}" if window else ""
    return load_config(
        write_config(f"""
        connections: {{files: {{type: csv, root: data}}}}
        metrics:
          deploys: {{connection: files, path: deploys.csv, column: n, date_column: date, aggregate: sum{extra}}}
        objectives:
          - id: ship
            title: Ship
            key_results: [{{id: deploys, metric: deploys, start: 0, target: 600{kr_dates}}}]
    """)
    )


def test_a_sum_counts_only_the_cycles_rows(tmp_path, write_config):
    config = deploys(tmp_path, write_config)
    doc = sync(config, end_of_day(date(2026, 11, 10), config.cycle), now=oslo(2026, 11, 10, 12), dry_run=True).document
    # Oct 1 + Oct 15 + Nov 2 = 1 + 40 + 59 = 100; September's 300 + 17 are last quarter's, Nov 30 is later
    assert kr(doc, "deploys")["value"] == 100


def test_window_all_keeps_every_row_up_to_the_day(tmp_path, write_config):
    config = deploys(tmp_path, write_config, window="all")
    doc = sync(config, end_of_day(date(2026, 11, 10), config.cycle), now=oslo(2026, 11, 10, 12), dry_run=True).document
    assert kr(doc, "deploys")["value"] == 300 + 17 + 1 + 40 + 59  # 417: a running total


def test_window_kr_reads_the_krs_own_dates(tmp_path, write_config):
    dates = ", start_date: 2026-10-10, due: 2026-11-01"
    config = deploys(tmp_path, write_config, window="kr", kr_dates=dates)
    doc = sync(config, end_of_day(date(2026, 11, 10), config.cycle), now=oslo(2026, 11, 10, 12), dry_run=True).document
    assert kr(doc, "deploys")["value"] == 40  # only Oct 15 lies in Oct 10 .. Nov 1


def test_window_kr_needs_krs_that_agree_on_their_dates(tmp_path, write_config):
    from okrsync.errors import ConfigError

    write_csv(tmp_path / "data" / "deploys.csv", "date,n\n2026-10-01,1\n")
    path = write_config("""
        connections: {files: {type: csv, root: data}}
        metrics:
          deploys: {connection: files, path: deploys.csv, column: n, date_column: date, aggregate: sum, window: kr}
        objectives:
          - id: ship
            title: Ship
            key_results:
              - {id: early, metric: deploys, target: 10, due: 2026-11-01}
              - {id: late, metric: deploys, target: 20}
    """)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "window: kr" in str(caught.value) and "deploys" in str(caught.value)


def test_as_of_a_day_is_the_end_of_that_day_for_values_and_expected(tmp_path, write_config):
    config = deploys(tmp_path, write_config)
    doc = sync(config, end_of_day(date(2026, 10, 1), config.cycle), now=oslo(2026, 10, 2, 9), dry_run=True).document
    deploys_kr = kr(doc, "deploys")
    assert deploys_kr["value"] == 1  # the row dated Oct 1 counts on Oct 1
    # at 24:00 of Oct 1 one of the cycle's 92 days has passed: expected 1/92 = 0.01087 (not 0)
    assert deploys_kr["expected"] == pytest.approx(1 / 92, abs=1e-6)
    # progress 1/600 = 0.0017; gap 0.0109 - 0.0017 = 0.0092 <= 0.10: on track (docs/okr-semantics.md, worked example)
    assert deploys_kr["progress"] == pytest.approx(1 / 600, abs=1e-6) and deploys_kr["status"] == "on_track"
    assert doc.to_dict()["as_of"].startswith("2026-10-01T23:59:59")


def test_the_last_day_of_the_cycle_expects_everything(tmp_path, write_config):
    config = deploys(tmp_path, write_config)
    doc = sync(config, end_of_day(date(2026, 12, 31), config.cycle), now=oslo(2027, 1, 2), dry_run=True).document
    # 24:00 of Dec 31 is the cycle's end: expected 92/92 = 1, and the forecast is the value itself
    deploys_kr = kr(doc, "deploys")
    assert deploys_kr["expected"] == pytest.approx(1.0, abs=1e-6)
    assert deploys_kr["value"] == 1100  # every Q4 row: 1 + 40 + 59 + 1000


def test_sql_gets_the_day_and_its_instants_in_the_cycles_zone(tmp_path, write_config, pg_url):
    """A timestamptz column compared with :as_of_end counts up to midnight New York time, not UTC."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE flights (departed timestamptz)")
        # 2026-10-01 22:30 New York is 2026-10-02 02:30 UTC: on Oct 1 in New York, on Oct 2 in UTC
        conn.exec_driver_sql(
            "INSERT INTO flights VALUES ('2026-10-01 09:00-04'), ('2026-10-01 22:30-04'), ('2026-10-02 00:30-04')"
        )
    engine.dispose()
    path = write_config(
        f"""
        version: 1
        cycle: {{name: {CYCLE}, start: 2026-10-01, end: 2026-12-31, timezone: America/New_York}}
        store: sqlite:///store.db
        connections: {{db: {{type: sql, url: "{pg_url}"}}}}
        metrics:
          flights:
            connection: db
            query: >-
              SELECT count(*) FROM flights WHERE departed >= :cycle_start_start AND departed < :as_of_end
                AND departed::date <= :cycle_end
        kpis: [{{id: flights, metric: flights, healthy: {{min: 0}}}}]
    """,
        header=False,
    )
    config = load_config(path)
    doc = sync(config, end_of_day(date(2026, 10, 1), config.cycle), now=oslo(2026, 10, 3), dry_run=True).document
    assert doc.to_dict()["kpis"][0]["value"] == 2  # 09:00 and 22:30 on Oct 1 in New York; not 00:30 Oct 2


def csat(tmp_path, write_config, rows: str, expect: str = ""):
    write_csv(tmp_path / "data" / "csat.csv", "date,score\n" + rows)
    return load_config(
        write_config(f"""
        connections: {{files: {{type: csv, root: data}}}}
        metrics:
          csat: {{connection: files, path: csat.csv, column: score, date_column: date{expect}}}
        objectives:
          - id: happy
            title: Happy
            key_results: [{{id: csat, metric: csat, kind: at_least, target: 85}}]
    """)
    )


def test_deleting_a_day_keeps_the_value_another_day_stored(tmp_path, write_config):
    # the newest csat row is dated Nov 27; the runs of Nov 30 and Dec 2 both read it
    config = csat(tmp_path, write_config, "2026-11-20,84\n2026-11-27,86.5\n")
    store = Store(config.store_url())
    for day in (date(2026, 11, 30), date(2026, 12, 2)):
        sync(config, end_of_day(day, config.cycle), now=oslo(2026, 12, 2, 12), store=store)
    assert store.delete_run(config.namespace, CYCLE, date(2026, 12, 2)) is not None
    history = store.load_history(config.namespace, CYCLE, date(2026, 12, 31), ["csat"])["csat"]
    assert [p.value for p in history] == [86.5]  # Nov 30's own value, dated Nov 27 at the source
    assert history[0].observed_at.astimezone(config.cycle.tz).date() == date(2026, 11, 27)
    with store._tx() as conn:
        days = conn.execute(sa.text("SELECT day FROM metric_values")).scalars().all()
    assert [str(d)[:10] for d in days] == ["2026-11-30"]
    store.close()


def test_an_accepted_value_is_the_held_days_only(tmp_path, write_config):
    config = csat(tmp_path, write_config, "2026-11-05,80\n2026-11-10,155\n", expect=", expect: {max: 100}")
    store = Store(config.store_url())
    sync(config, end_of_day(date(2026, 11, 10), config.cycle), now=oslo(2026, 11, 10, 12), store=store)
    assert [h.value for h in store.held(config.namespace, CYCLE)] == [155]
    store.accept_held(config.namespace, CYCLE, "csat", oslo(2026, 11, 10, 13))
    write_csv(tmp_path / "data" / "csat.csv", "date,score\n2026-11-05,80\n")  # the bad row is deleted at the source
    later = sync(config, end_of_day(date(2026, 11, 11), config.cycle), now=oslo(2026, 11, 11, 12), store=store)
    assert kr(later.document, "csat")["value"] == 80  # what the source says now, not the accepted 155
    history = store.load_history(config.namespace, CYCLE, date(2026, 11, 10), ["csat"])["csat"]
    assert [p.value for p in history] == [155]  # Nov 10 keeps what was accepted for it
    store.close()


def test_one_value_per_metric_per_synced_day(tmp_path, write_config):
    config = csat(tmp_path, write_config, "2026-11-20,84\n")
    store = Store(config.store_url())
    for hour in (8, 12, 18):  # three runs of one day: one value, the newest
        sync(config, end_of_day(date(2026, 11, 25), config.cycle), now=oslo(2026, 11, 25, hour), store=store)
    write_csv(tmp_path / "data" / "csat.csv", "date,score\n2026-11-20,84\n2026-11-25,90\n")
    sync(config, end_of_day(date(2026, 11, 25), config.cycle), now=oslo(2026, 11, 25, 20), store=store)
    assert store.count_rows()["metric_values"] == 1
    history = store.load_history(config.namespace, CYCLE, date(2026, 11, 25), ["csat"])["csat"]
    assert [p.value for p in history] == [90]
    store.close()


def test_a_dry_run_writes_no_store_file_schema_or_lock(tmp_path, write_config):
    config = csat(tmp_path, write_config, "2026-11-20,84\n")
    result = sync(config, end_of_day(date(2026, 11, 25), config.cycle), now=oslo(2026, 11, 25, 12), dry_run=True)
    assert kr(result.document, "csat")["value"] == 84
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "okrsync.yaml"]  # no store.db, -wal, .lock


def test_a_dry_run_leaves_an_existing_store_byte_for_byte(tmp_path, write_config):
    config = csat(tmp_path, write_config, "2026-11-20,84\n")
    sync(config, end_of_day(date(2026, 11, 24), config.cycle), now=oslo(2026, 11, 24, 12))
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    write_csv(tmp_path / "data" / "csat.csv", "date,score\n2026-11-20,84\n2026-11-25,91\n")
    result = sync(config, end_of_day(date(2026, 11, 25), config.cycle), now=oslo(2026, 11, 25, 12), dry_run=True)
    assert kr(result.document, "csat")["value"] == 91
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == files


def test_status_all_as_of_shows_every_namespace_as_it_stood(tmp_path, write_config):
    import json

    from tests.helpers import okrsync

    write_csv(tmp_path / "data" / "csat.csv", "date,score\n2026-11-05,80\n")
    body = """
        namespace: {ns}
        connections: {{files: {{type: csv, root: data}}}}
        metrics: {{csat: {{connection: files, path: csat.csv, column: score, date_column: date}}}}
        objectives: [{{id: happy, title: Happy, key_results: [{{id: csat, metric: csat, kind: at_least, target: 85}}]}}]
    """
    a = load_config(write_config(body.format(ns="a"), name="a.yaml"))
    b = load_config(write_config(body.format(ns="b"), name="b.yaml"))
    for config, day in ((a, date(2026, 11, 10)), (b, date(2026, 11, 15)), (a, date(2026, 11, 20))):
        sync(config, end_of_day(day, config.cycle), now=oslo(2026, 11, 21), publish_past=True)
    config = str(tmp_path / "a.yaml")
    then = json.loads(okrsync("-c", config, "status", "--all", "-f", "json", "--as-of", "2026-11-16").stdout)
    assert {ns: doc["as_of"][:10] for ns, doc in then.items()} == {"a": "2026-11-10", "b": "2026-11-15"}
    early = json.loads(okrsync("-c", config, "status", "--all", "-f", "json", "--as-of", "2026-11-12").stdout)
    assert {ns: doc["as_of"][:10] for ns, doc in early.items()} == {"a": "2026-11-10"}  # b had no run yet
    now = json.loads(okrsync("-c", config, "status", "--all", "-f", "json").stdout)
    assert {ns: doc["as_of"][:10] for ns, doc in now.items()} == {"a": "2026-11-20", "b": "2026-11-15"}
    table = okrsync("-c", config, "status", "--all", "--as-of", "2026-11-01")
    assert table.returncode == 1 and "on or before 2026-11-01" in table.stderr


@pytest.mark.parametrize(
    ("moment_utc", "day", "day_end"),
    [
        ("2026-10-01T21:30:00+00:00", "2026-10-01", "2026-10-02T00:00:00+02:00"),
        ("2026-10-01T22:30:00+00:00", "2026-10-02", "2026-10-03T00:00:00+02:00"),
    ],
)
def test_every_source_text_gets_the_cycle_local_day(moment_utc, day, day_end):
    """{as_of} in a JQL, SOQL, HubSpot filter, API path, Sheets range or csv `where` (all through
    MetricQuery.fill) is the day in the cycle's zone: 22:30 UTC on Oct 1 is 00:30 on Oct 2 in Oslo."""
    from datetime import datetime

    from okrsync.config.load import parse_config
    from okrsync.sdk.connector import MetricQuery

    config = parse_config("""\
version: 1
cycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}
metrics: {m: {formula: "1"}}
kpis: [{id: k, metric: m, healthy: {min: 0}}]
""")
    metric = config.metrics["m"]
    q = MetricQuery("m", metric, config.params.get("m"), datetime.fromisoformat(moment_utc), config.cycle)
    assert q.fill("created <= '{as_of}' AND created >= '{cycle.start}'") == (
        f"created <= '{day}' AND created >= '2026-10-01'"
    )
    binds = q.bind_parameters()
    assert (binds["as_of"].isoformat(), binds["as_of_end"].isoformat()) == (day, day_end)
    assert binds["cycle_start_start"].isoformat() == "2026-10-01T00:00:00+02:00"
    assert binds["cycle_end_end"].isoformat() == "2027-01-01T00:00:00+01:00"  # winter time by then
