"""A sync against the sources of issue 24 at once (GitLab, Zendesk, Asana, Trello, monday.com, Smartsheet, and
local Excel files), with network latency, next to its lower bound computed in the same run.

    .venv/bin/python bench/sources_bench.py [--latency 0.05]

Each API's emulator (tests/emulators/, every request checked against the vendor's excerpt as in the tests)
answers ``latency`` seconds late. A real config, written to a temp folder and loaded, with 26 metrics:

- GitLab: 4 issue counts of a project of 300 issues, and the merge requests merged this cycle (40 MRs);
- Zendesk: 4 ticket searches over 300 tickets, and CSAT over 250 ratings (3 pages of 100);
- Asana: the tasks completed this cycle in a project of 250 tasks (3 pages of 100: 80 open, 150 done);
- Trello: the open cards of 5 lists of 20;
- monday.com: the "Done" items of a board of 1,200 (1 page), and a numbers column's sum (3 pages of 500);
- Smartsheet: 3 cells, and a column's sum over 2,500 rows (the columns, then 3 pages of 1,000);
- Excel: 20 cells and a dated column of 92 rows in one local workbook (no network).

The real fetch runs (compile_plan + fetch). Printed: per API the requests sent (each emulator's log) against
the fewest worked out by hand, its wall time and its lower bound; the whole fetch against the lower bound
(the slowest API's, as connections are fetched at once); the ratio; the peak RSS; every value against the one
seeded, worked out by hand here.

The lower bound of an API: its requests form chains (pages one after another); with at most
``max_concurrency`` in flight, no schedule ends before ``latency x max(longest chain, ceil(requests /
max_concurrency))``. The declared quota windows do not bind at these sizes (each API's requests stay under its
burst). A benchmark, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook

from bench.fetching import timed_fetch, write_config
from okrsync.registry import registry
from tests import vendor_spec
from tests.emulators.asana import AsanaEmulator
from tests.emulators.gitlab import GitlabEmulator
from tests.emulators.monday import MondayEmulator
from tests.emulators.smartsheet import SmartsheetEmulator
from tests.emulators.trello import TrelloEmulator
from tests.emulators.zendesk import ZendeskEmulator
from tests.helpers import oslo

AS_OF = oslo(2026, 11, 16)
SECRET = "bench-token-0123456789"
APIS = ("gitlab", "zendesk", "asana", "trello", "monday", "smartsheet")
# chains of requests each API's metrics need at the least, worked out by hand: GitLab 5 counts of one request
# (x-total or issues_statistics; the merged MRs are one page of 100); Zendesk 4 counts and 3 rating pages;
# Asana 230 tasks listed (80 open, 150 done since) in 3 pages; Trello one request a list; monday one page of
# 400 and 3 pages of 1,200; Smartsheet 3 cells, then the columns and 3 pages of rows
CHAINS = {
    "gitlab": [1, 1, 1, 1, 1],
    "zendesk": [1, 1, 1, 1, 3],
    "asana": [3],
    "trello": [1, 1, 1, 1, 1],
    "monday": [1, 3],
    "smartsheet": [1, 1, 1, 4],
}


def lower_bound(chains: list[int], latency: float, concurrency: int) -> float:
    return latency * max(max(chains), math.ceil(sum(chains) / concurrency))


def emulators(latency: float) -> dict:
    made = {
        "gitlab": GitlabEmulator(SECRET),
        "zendesk": ZendeskEmulator("ops@acme.example", SECRET),
        "asana": AsanaEmulator(SECRET),
        "trello": TrelloEmulator("bench-key-0123456789", SECRET),
        "monday": MondayEmulator(SECRET),
        "smartsheet": SmartsheetEmulator(SECRET),
    }
    for emulator in made.values():
        emulator.latency = latency
        emulator.start()
    return made


def day(n: int) -> str:
    """The n-th day from 2026-10-01 (n = 0), as YYYY-MM-DD."""
    return (date(2026, 10, 1) + timedelta(days=n)).isoformat()


def seed_gitlab(gl: GitlabEmulator) -> None:
    for i in range(1, 301):  # open when i is even; P1 when i % 3 == 0; bug when i % 5 == 0
        labels = [name for name, every in (("P1", 3), ("bug", 5)) if i % every == 0]
        gl.add("issues", "acme/web", state="opened" if i % 2 == 0 else "closed", labels=labels, created=day(i % 40))
    for i in range(40):  # 25 merged in the cycle, 10 in September, 5 still open
        merged = day(i) + "T12:00:00Z" if i < 25 else f"2026-09-{i - 14:02d}T12:00:00Z" if i < 35 else None
        gl.add(
            "merge_requests", "acme/web", state="merged" if merged else "opened", created="2026-09-01", merged=merged
        )


def seed_zendesk(zd: ZendeskEmulator) -> None:
    for i in range(1, 301):  # solved when i % 3 == 0 (on day i % 45), high when i % 4 == 0, vip when i % 10 == 0
        solved = day(i % 45) if i % 3 == 0 else None
        zd.ticket(
            status="solved" if solved else "open",
            priority="high" if i % 4 == 0 else "normal",
            tags=("vip",) if i % 10 == 0 else (),
            created="2026-09-20",
            solved=solved,
        )
    for i in range(250):  # 200 good and 50 bad, on days 0..39 of the cycle
        zd.rating("bad" if i % 5 == 0 else "good", f"{day(i % 40)}T10:00:00Z")


def seed_asana(asana: AsanaEmulator) -> str:
    project = asana.add_project("Launch")
    for i in range(250):  # 150 done in the cycle, 20 done in September, 80 open
        done = f"{day(i % 40)}T09:00:00.000Z" if i < 150 else "2026-09-15T09:00:00.000Z" if i < 170 else None
        asana.add_task(project, completed_at=done)
    return project


def seed_trello(trello: TrelloEmulator) -> list[str]:
    board = trello.add_board("Delivery")
    lists = [trello.add_list(board, name) for name in ("Backlog", "Next", "Doing", "Review", "Done")]
    for list_id in lists:
        for _ in range(20):
            trello.add_card(list_id)
    return lists


def seed_monday(monday: MondayEmulator) -> None:
    status = {
        "id": "status",
        "title": "Status",
        "type": "status",
        "labels": {0: "Working on it", 1: "Done", 2: "Stuck"},
    }
    monday.add_board(4001, "Roadmap", [status, {"id": "numbers_3", "title": "Points", "type": "numbers"}])
    for i in range(1, 1201):  # Done when i % 3 == 1; points i
        monday.add_item(4001, f"Item {i}", status=i % 3, numbers_3=i)


def seed_smartsheet(ss: SmartsheetEmulator) -> None:
    ss.add_sheet(7001, "Revenue", [("Name", "TEXT_NUMBER"), ("Revenue", "TEXT_NUMBER")])
    for i in range(1, 2501):
        ss.add_row(7001, Name=f"Deal {i}", Revenue=i)


def workbook(folder: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "KPIs"
    for row in range(1, 21):
        sheet[f"B{row}"] = 10 * row + 0.5
    daily = book.create_sheet("Daily")
    daily.append(["date", "signups"])
    for n in range(92):  # Oct 1 .. Dec 31, signups n + 1
        daily.append([day(n), n + 1])
    book.save(folder / "kpis.xlsx")


def metrics(seeded: dict) -> dict:
    project, lists = seeded["asana"], seeded["trello"]
    m: dict[str, dict] = {
        "gl_open": {"connection": "gitlab", "project": "acme/web", "issues": {"state": "opened"}},
        "gl_p1": {"connection": "gitlab", "project": "acme/web", "issues": {"labels": "P1"}},
        "gl_open_p1": {"connection": "gitlab", "project": "acme/web", "issues": {"state": "opened", "labels": "P1"}},
        "gl_bugs": {"connection": "gitlab", "project": "acme/web", "issues": {"labels": "bug"}},
        "gl_merged": {
            "connection": "gitlab",
            "project": "acme/web",
            "merge_requests": {"state": "merged", "merged_after": "{cycle.start}"},
        },
        "zd_solved": {"connection": "zendesk", "search": "type:ticket status:solved"},
        "zd_high": {"connection": "zendesk", "search": "type:ticket priority:high"},
        "zd_vip": {"connection": "zendesk", "search": "type:ticket tags:vip"},
        "zd_solved_cycle": {"connection": "zendesk", "search": "type:ticket status:solved solved>={cycle.start}"},
        "zd_csat": {"connection": "zendesk", "satisfaction": {"score": "good"}},
        "asana_done": {"connection": "asana", "project": project},
        "monday_done": {"connection": "monday", "board": 4001, "where": {"column": "status", "any_of": ["Done"]}},
        "monday_points": {"connection": "monday", "board": 4001, "aggregate": "sum", "column": "numbers_3"},
        "ss_revenue": {"connection": "smartsheet", "sheet": 7001, "column": "Revenue", "aggregate": "sum"},
        "signups": {"connection": "books", "path": "kpis.xlsx", "sheet": "Daily", "column": "signups"},
    }
    m |= {f"trello_{k}": {"connection": "trello", "list": list_id} for k, list_id in enumerate(lists)}
    m |= {
        f"ss_row{r}": {"connection": "smartsheet", "sheet": 7001, "column": "Revenue", "row": r} for r in (1, 10, 100)
    }
    m |= {
        f"xl_b{r}": {"connection": "books", "path": "kpis.xlsx", "sheet": "KPIs", "range": f"B{r}"}
        for r in range(1, 21)
    }
    m["signups"] |= {"date_column": "date", "aggregate": "sum"}
    return m


def config(e: dict, seeded: dict, folder: Path) -> Path:
    connections = {
        "gitlab": {"type": "gitlab", "token": SECRET},
        "zendesk": {"type": "zendesk", "subdomain": "acme", "email": "ops@acme.example", "token": SECRET},
        "asana": {"type": "asana", "token": SECRET},
        "trello": {"type": "trello", "key": "bench-key-0123456789", "token": SECRET},
        "monday": {"type": "monday", "token": SECRET},
        "smartsheet": {"type": "smartsheet", "token": SECRET},
    }
    for name, conn in connections.items():
        conn["endpoint"] = e[name].url
    connections["books"] = {"type": "excel", "root": "."}
    wanted = metrics(seeded)
    return write_config(folder, "sources", connections, wanted)


def expected() -> dict[str, float]:
    """Every value, by hand from the seeds (as of 2026-11-16, day 46 of the cycle)."""
    values = {
        "gl_open": 150.0,  # even i of 1..300
        "gl_p1": 100.0,  # multiples of 3
        "gl_open_p1": 50.0,  # multiples of 6
        "gl_bugs": 60.0,  # multiples of 5
        "gl_merged": 25.0,  # merged Oct 1 .. Oct 25
        "zd_solved": 100.0,  # multiples of 3
        "zd_high": 75.0,  # multiples of 4
        "zd_vip": 30.0,  # multiples of 10
        "zd_solved_cycle": 100.0,  # all solved on days 0..44 of the cycle
        "zd_csat": 80.0,  # 200 good / (200 + 50)
        "asana_done": 150.0,  # completed Oct 1 .. Nov 9; not the 20 in September, not the 80 open
        "monday_done": 400.0,  # i % 3 == 1 for i in 1..1200
        "monday_points": 720_600.0,  # 1 + ... + 1200
        "ss_revenue": 3_126_250.0,  # 1 + ... + 2500
        "signups": 1128.0,  # the rows of Oct 1 .. Nov 16 (days 0..46) hold 1..47: 47 x 48 / 2
    }
    values |= {f"trello_{k}": 20.0 for k in range(5)}
    values |= {f"ss_row{r}": float(r) for r in (1, 10, 100)}
    values |= {f"xl_b{r}": 10 * r + 0.5 for r in range(1, 21)}
    return values


def rows(e: dict, events: dict[str, list[float]], latency: float) -> dict:
    apis = {}
    for api in APIS:
        source = registry().get(api).source
        concurrency = getattr(source, "max_concurrency", None) or 4
        apis[api] = {
            "requests": len(e[api].log),
            "minimum": sum(CHAINS[api]),
            "wall_s": round(events[api][-1] - events[api][0], 3),
            "bound_s": round(lower_bound(CHAINS[api], latency, concurrency), 3),
            "max_concurrency": concurrency,
        }
    apis["excel"] = {"requests": 0, "wall_s": round(events["books"][-1] - events["books"][0], 3), "bound_s": 0.0}
    return apis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    args = parser.parse_args()
    vendor_spec.install()  # every request checked against the vendors' excerpts, as in the tests
    e = emulators(args.latency)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed_gitlab(e["gitlab"])
        seed_zendesk(e["zendesk"])
        seed_monday(e["monday"])
        seed_smartsheet(e["smartsheet"])
        seeded = {"asana": seed_asana(e["asana"]), "trello": seed_trello(e["trello"])}
        workbook(folder)
        try:
            fetched, events, _, wall = timed_fetch(config(e, seeded, folder), AS_OF)
        finally:
            for emulator in e.values():
                emulator.stop()
    apis = rows(e, events, args.latency)
    want = expected()
    got = {m: getattr(v, "value", getattr(v, "message", v)) for m, v in fetched.items()}
    lower = max(row["bound_s"] for row in apis.values())
    report = {
        "metrics": len(want),
        "latency_s": args.latency,
        "apis": apis,
        "fetch_wall_s": round(wall, 3),
        "lower_bound_s": lower,
        "ratio_to_bound": round(wall / lower, 2),
        "spec_problems": vendor_spec.PROBLEMS[:5],
        "wrong_values": {m: (got.get(m), v) for m, v in want.items() if got.get(m) != v},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=1))
    print(f"values right: {sum(1 for m, v in want.items() if got.get(m) == v)}/{len(want)}")


if __name__ == "__main__":
    main()
