"""Manual values obey the rules of fetched ones (issue 21, item 3): finite and within ±LIMIT.

`okrsync override KR 1e309 --sticky` used to store an infinity, after which every run failed writing
its status document (exit 3) until someone cleared it; NaN failed with a database error and 1e16 was
taken although no fetch would accept it. Now the command line refuses such a value as a usage error
(exit 2) before anything is stored, the store refuses it too, and migration 0005 repairs a store that
already holds one.
"""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from okrsync.okr.numbers import LIMIT
from okrsync.store import Store
from tests.helpers import cli, migrate_to, oslo, write_csv

pytestmark = pytest.mark.reliability

CONFIG = """\
version: 1
namespace: acme
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}}
store: "{store}"
connections: {{files: {{type: csv, root: .}}}}
metrics: {{signups: {{connection: files, path: signups.csv, column: n}}}}
objectives:
  - id: grow
    title: Grow
    key_results: [{{id: signups, title: Signups, metric: signups, start: 0, target: 100}}]
"""
REFUSED = ["1e309", "-1e309", "inf", "nan", "1e16", "-1.5e15", "1" * 400]


def team(tmp_path, store: str) -> str:
    write_csv(tmp_path / "signups.csv", "n\n40\n")
    path = tmp_path / "okrsync.yaml"
    path.write_text(CONFIG.format(store=store))
    return str(path)


def override_rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("select kr_id, value, ended_at is null, ended_by from overrides order by id"))
        rows = [tuple(r) for r in found]
    engine.dispose()
    return rows


def test_override_refuses_what_a_fetch_would_refuse_and_stores_nothing(tmp_path, figures):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = team(tmp_path, url)
    assert cli(["-c", config, "run", "--as-of", "2026-11-21"])[0] == 0
    for text in REFUSED:
        code, output = cli(["-c", config, "override", "signups", "--sticky", "--", text])
        assert code == 2, output
        assert f"must be a finite number within ±{LIMIT:.0e}" in output and "Traceback" not in output
    stored = override_rows(url)
    figures.append(("manual values", "override 1e309, nan, 1e16, …", {"non-finite overrides: stored": len(stored)}))
    assert stored == []
    code, output = cli(["-c", config, "run", "--as-of", "2026-11-22"])
    assert code == 0, output  # the nightly run is not broken by what was refused
    for edge in (f"{LIMIT:.0f}", f"-{LIMIT:.0e}"):  # the bound itself is a value, as for a fetch
        code, output = cli(["-c", config, "override", "signups", "--", edge])
        assert code == 0, output
    assert [abs(r[1]) for r in override_rows(url)] == [LIMIT, LIMIT]


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, 1e16, 10**400], ids=["inf", "-inf", "nan", "1e16", "10**400"]
)
def test_the_store_refuses_a_non_finite_or_out_of_range_override(store_url, value):
    store = Store(store_url)
    try:
        with pytest.raises(ValueError, match="override of signups"):
            store.add_override("ns", "signups", value, True, None, oslo(2026, 11, 21, 9))
        assert store.active_overrides("ns") == {}
    finally:
        store.close()
    assert override_rows(store_url) == []


def store_at_0004(url: str, rows: list[tuple[str, float, bool]]) -> None:
    """A store migrated to 0004 holding overrides (kr_id, value, active) the way older okrsync wrote them."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        migrate_to(conn, "0004")
        for kr_id, value, active in rows:
            conn.execute(
                sa.text(
                    "insert into overrides (namespace, kr_id, value, sticky, note, created_at, ended_at, ended_by) "
                    "values ('acme', :kr, :v, :sticky, 'typed by hand', :t, :ended, :by)"
                ),
                {
                    "kr": kr_id,
                    "v": value,
                    "sticky": True,
                    "t": "2026-11-20 08:00:00",
                    "ended": None if active else "2026-11-20 09:00:00",
                    "by": None if active else "cleared",
                },
            )
    engine.dispose()


def test_0005_repairs_overrides_stored_before_values_were_checked(store_url, tmp_path):
    """Non-finite rows are deleted; active ones beyond ±1e15 are ended ('out of range'); the rest stay."""
    rows = [
        ("inf", math.inf, True),
        ("-inf", -math.inf, False),
        ("huge", 1e16, True),
        ("was huge", -2e15, False),
        ("fine", 5.0, True),
        ("edge", LIMIT, True),
    ]
    if store_url.startswith("postgresql"):
        rows.append(("nan", math.nan, True))  # SQLite cannot hold NaN: it stores NULL, refused by NOT NULL
    store_at_0004(store_url, rows)
    Store(store_url).close()  # migrates to head
    assert override_rows(store_url) == [
        ("huge", 1e16, False, "out of range"),
        ("was huge", -2e15, False, "cleared"),
        ("fine", 5.0, True, None),
        ("edge", LIMIT, True, None),
    ]
    store = Store(store_url)
    try:
        assert {k: r.value for k, r in store.active_overrides("acme").items()} == {"fine": 5.0, "edge": LIMIT}
    finally:
        store.close()


def test_a_store_with_a_sticky_infinity_syncs_again_after_0005(store_url, tmp_path):
    """The field report: one `override KR 1e309 --sticky` and every nightly run exited 3."""
    store_at_0004(store_url, [("signups", math.inf, True)])
    config = team(tmp_path, store_url)
    code, output = cli(["-c", config, "run", "--as-of", "2026-11-21"])
    assert code == 0, output
    store = Store(store_url)
    try:
        document = store.latest_run("acme", "2026-Q4").document
    finally:
        store.close()
    assert document["objectives"][0]["key_results"][0]["value"] == 40  # the fetched value: the infinity is gone
