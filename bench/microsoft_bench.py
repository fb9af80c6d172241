"""A sync against the four Microsoft sources of issue 23 at once, signed in through Entra ID, with network
latency, next to its lower bound computed in the same run.

    .venv/bin/python bench/microsoft_bench.py [--latency 0.05]

The emulators of the identity platform (HTTPS), Azure DevOps, Microsoft Graph (Excel), Power BI and
Dataverse, all on one test CA and each answering ``latency`` seconds late. A real config, written to a temp
folder and loaded: an azure_devops connection on Entra keys with one metric, the sum of story points over
5,000 work items; an Excel workbook named by its sharing URL with 40 single cells on 4 tabs (40 metrics); a
Power BI dataset with 10 DAX metrics; a Dataverse environment with 10 aggregates. The real fetch runs
(compile_plan + fetch). Printed: per API the requests sent (each emulator's log) against the minimum worked
out by hand, its wall time and its lower bound; the whole fetch against the lower bound (the slowest API's);
the ratio; the peak RSS; every value against the one seeded, worked out by hand here.

The lower bound of an API: Entra's two round trips (the OpenID configuration, then the token) before its
first call, then its chain of requests, a stage starting when the one before it has answered (Azure DevOps:
the WIQL, then 25 batches of 200 ids; Excel: the share's resolution, then 2 batches of 20 ranges; Power BI
and Dataverse: one stage of 10), with at most ``max_concurrency`` in flight and starts as early as the
declared quota windows allow. ``okrsync_floor_s`` is the same model with okrsync's own order (a metric's
batches one after another) and its pacer's arrival margin. A benchmark, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fetching import timed_fetch, write_config
from okrsync.connectors.azure_devops import AzureDevopsSource
from okrsync.connectors.dataverse import DataverseSource
from okrsync.connectors.excel_online.source import ExcelOnlineSource
from okrsync.connectors.power_bi import PowerBiSource
from okrsync.sdk.retry import ARRIVAL_MARGIN
from okrsync.testing.emulator import TestCertificates
from tests import vendor_spec
from tests.emulators.azure_devops import AzureDevopsEmulator
from tests.emulators.dataverse import DataverseEmulator
from tests.emulators.entra import App, EntraEmulator
from tests.emulators.excel_online import ExcelOnlineEmulator, Workbook
from tests.emulators.power_bi import PowerBiEmulator
from tests.helpers import oslo

AS_OF = oslo(2026, 11, 16)
TENANT, APP, SECRET = "contoso-tenant", "okrsync-bench", "benchEntraSecret~0123456789"
POINTS = "Microsoft.VSTS.Scheduling.StoryPoints"
ALL = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"
SHARE = "https://contoso.sharepoint.com/:x:/s/okr/EaBcD123?e=Xy9"
TABS = ("Sales", "Support", "Q4 plan", "Ops")
WS, DS = "f089354e-8366-4e18-aea3-4cb4a3a50b48", "cfafbeb1-8037-4d0c-896e-a46fb27ff229"
ENV_URL = "https://acme.crm4.dynamics.com"
SOURCES = {
    "azure_devops": AzureDevopsSource,
    "excel_online": ExcelOnlineSource,
    "power_bi": PowerBiSource,
    "dataverse": DataverseSource,
}
# the fewest requests that answer every metric, worked out by hand: the WIQL, then 5,000 ids / 200 a batch;
# one share resolution, then 40 ranges / 20 a $batch; one executeQueries per DAX; one $apply per aggregate
MINIMUM = {"azure_devops": 1 + 25, "excel_online": 1 + 2, "power_bi": 10, "dataverse": 10}
ENTRA_MINIMUM = {"openid_configuration": 4, "token": 4}  # one msal app per connection: one of each
# each API's chain: stages of independent requests, a stage waiting for the one before it
STAGES = {"azure_devops": [1, 25], "excel_online": [1, 2], "power_bi": [10], "dataverse": [10]}
# as okrsync sends them: one metric's 25 batches one after another, the 2 $batches one after another
OKRSYNC_STAGES = {"azure_devops": [1] * 26, "excel_online": [1, 1, 1], "power_bi": [10], "dataverse": [10]}


def bound(stages: list[int], limits, latency: float, concurrency: int, margin: float = 0.0) -> float:
    """The earliest the last answer of ``stages`` can arrive after Entra's two round trips: each request starts
    once its stage may begin, a slot of ``concurrency`` is free and every quota window allows it."""
    starts: list[float] = []
    ready = 2 * latency  # the OpenID configuration, then the token
    for size in stages:
        stage: list[float] = []
        for i in range(size):
            start = ready if i < concurrency else max(ready, stage[i - concurrency] + latency)
            for n, window in limits:
                if len(starts) >= n:
                    start = max(start, starts[-n] + window + margin)
            starts.append(start)
            stage.append(start)
        ready = stage[-1] + latency
    return ready


def emulators(folder: Path, latency: float) -> dict:
    """The identity platform and the four APIs over HTTPS on one test CA, each accepting its issued tokens."""
    certificates = TestCertificates.make(folder / "tls")
    os.environ["SSL_CERT_FILE"] = str(certificates.ca_file)  # what msal (through okrsync) and httpx trust
    os.environ["BENCH_ENTRA_SECRET"] = SECRET
    made = {
        "entra": EntraEmulator(TENANT),
        "azure_devops": AzureDevopsEmulator("acme", "Web", "no-pat"),
        "excel_online": ExcelOnlineEmulator(),
        "power_bi": PowerBiEmulator(),
        "dataverse": DataverseEmulator(ENV_URL),
    }
    made["entra"].add_app(App(APP, secret=SECRET))
    for name, emulator in made.items():
        emulator.latency = latency
        emulator.start(tls=certificates)
        if name != "entra":
            emulator.bearers = made["entra"].issued.access
    seed(made)
    return made


def seed(e: dict) -> None:
    for i in range(1, 5001):  # points 1, 2, 3, 4, 5, 1, 2 ...; every 10th item has none
        e["azure_devops"].add("User Story", "Active", **({POINTS.replace(".", "__"): i % 5 or 5} if i % 10 else {}))
    sheets = {tab: {f"C{row}": 10 * t + row for row in range(1, 11)} for t, tab in enumerate(TABS)}
    e["excel_online"].add("b!drive-1", "01ITEMXLSX", Workbook("kpis.xlsx", sheets), url=SHARE)
    e["power_bi"].add(DS, WS, **{f"Measure {k}": 100 * k + 0.5 for k in range(10)})
    rows = [{"statecode": i % 3, "actualvalue": 10.0 * i} for i in range(1, 101)]
    e["dataverse"].table("opportunities", "opportunity", rows)


def config(e: dict, folder: Path) -> Path:
    keys = {
        "tenant_id": TENANT,
        "client_id": APP,
        "client_secret": "${BENCH_ENTRA_SECRET}",
        "authority": e["entra"].url,
    }
    connections = {
        "azure_devops": {"type": "azure_devops", "organization": "acme", "project": "Web"},
        "excel_online": {"type": "excel_online"},
        "power_bi": {"type": "power_bi"},
        "dataverse": {"type": "dataverse", "url": ENV_URL},
    }
    for name, conn in connections.items():
        conn |= {**keys, "endpoint": e[name].url}
    metrics = {"points": {"connection": "azure_devops", "wiql": ALL, "aggregate": "sum", "field": POINTS}}
    for t, tab in enumerate(TABS):
        for row in range(1, 11):
            metrics[f"x{t}_{row}"] = {"connection": "excel_online", "workbook": SHARE, "range": f"'{tab}'!C{row}"}
    for k in range(10):
        dax = f'EVALUATE ROW("v", [Measure {k}])'
        metrics[f"pbi{k}"] = {"connection": "power_bi", "dataset": DS, "workspace": WS, "dax": dax}
    for k in range(10):
        how = {"aggregate": "sum", "field": "actualvalue"} if k % 2 == 0 else {}  # odd k: a count
        filtered = {"entity_set": "opportunities", "filter": f"actualvalue ge {100 * k}", **how}
        metrics[f"dv{k}"] = {"connection": "dataverse", **filtered}
    return write_config(folder, "microsoft", connections, metrics)


def expected() -> dict[str, float]:
    """Every value, by hand from the seeds."""
    # story points: 1,000 runs of 1..5 make 15,000; the 500 items without points (i % 10 == 0) are those whose
    # i % 5 is 0, worth 5 each: 15,000 - 2,500
    values = {"points": 12_500.0}
    values |= {f"x{t}_{row}": float(10 * t + row) for t in range(4) for row in range(1, 11)}  # tab t, row r
    values |= {f"pbi{k}": 100 * k + 0.5 for k in range(10)}
    for k in range(10):  # rows i = 1..100 with actualvalue 10 i; "ge 100 k" keeps i >= 10 k
        if k % 2 == 0:  # 10 x (1 + ... + 100) - 10 x (1 + ... + (10 k - 1))
            values[f"dv{k}"] = 10 * (5050 - (10 * k - 1) * 10 * k // 2)
        else:  # i from 10 k to 100
            values[f"dv{k}"] = 101.0 - 10 * k
    return values


def rows(e: dict, events: dict[str, list[float]], started: float, latency: float) -> dict:
    apis = {}
    for api, source in SOURCES.items():
        log = e[api].log
        limits, concurrency = source.limits, source.max_concurrency
        apis[api] = {
            "requests": len(log),
            "minimum": MINIMUM[api],
            "first_request_at_s": round(min(r.at for r in log) - started, 3) if log else None,
            "wall_s": round(events[api][-1] - events[api][0], 3),
            "bound_s": round(bound(STAGES[api], limits, latency, concurrency), 3),
            "okrsync_floor_s": round(bound(OKRSYNC_STAGES[api], limits, latency, concurrency, ARRIVAL_MARGIN), 3),
            "limits": ", ".join(f"{n} per {w:g} s" for n, w in limits),
            "max_concurrency": concurrency,
        }
    entra = e["entra"]
    tokens = entra.requests("POST", r"/oauth2/v2.0/token$")
    apis["entra"] = {
        "openid_configuration": len(entra.requests("GET", r"/openid-configuration$")),
        "token": len(tokens),
        "other": len(entra.log) - len(tokens) - len(entra.requests("GET", r"/openid-configuration$")),
        "minimum": ENTRA_MINIMUM,
        "scopes": sorted(r.form()["scope"][0] for r in tokens),
        "last_answer_at_s": round(max(r.at for r in entra.log) + latency - started, 3),
    }
    return apis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    args = parser.parse_args()
    vendor_spec.install()  # every request checked against Microsoft's descriptions, as in the tests
    with tempfile.TemporaryDirectory() as tmp:
        e = emulators(Path(tmp), args.latency)
        try:
            fetched, events, started, wall = timed_fetch(config(e, Path(tmp)), AS_OF)
        finally:
            for emulator in e.values():
                emulator.stop()
    apis = rows(e, events, started, args.latency)
    want = expected()
    got = {m: getattr(v, "value", getattr(v, "message", v)) for m, v in fetched.items()}
    right = sum(1 for m, v in want.items() if got.get(m) == v)
    lower = max(row["bound_s"] for api, row in apis.items() if api in SOURCES)
    report = {
        "metrics": len(want),
        "latency_s": args.latency,
        "apis": apis,
        "fetch_wall_s": round(wall, 3),
        "lower_bound_s": lower,
        "ratio_to_bound": round(wall / lower, 2),
        "okrsync_floor_s": max(row["okrsync_floor_s"] for api, row in apis.items() if api in SOURCES),
        "spec_problems": vendor_spec.PROBLEMS[:5],
        "wrong_values": {m: (got.get(m), v) for m, v in want.items() if got.get(m) != v},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=1))
    print(f"values right: {right}/{len(want)}")


if __name__ == "__main__":
    main()
