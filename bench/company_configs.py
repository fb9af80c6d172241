"""The company of bench/company.py: N team configs and a company config over local sources and three emulators.

Each team has ``krs`` key results, four per metric (as bench/org.py): its first five metrics come from the
emulators (two cells of the team's own spreadsheet, two Jira counts, one HubSpot search), the rest two thirds
from a CSV file of its own (a column each, a row per day) and one third from a shared SQLite database through
the ``sql`` source. So each team's network share is small and fixed: per team one Sheets token and read,
two Jira counts (an atlassian.net site: no serverInfo), one HubSpot search, each with the emulators'
latency. Every team's first objective aligns to an objective of the company config (``parent:
company/<id>``), the way configs sharing a store align (docs/okr-semantics.md, "Across configs").

    .venv/bin/python -m bench.company_configs DIR [--teams 3] [--krs 20] [--store URL]

writes such a company into DIR to read or `okrsync validate` (the emulators' endpoints in it are dead once it
returns: bench/company.py starts them for its run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.org import emulated_connections
from okrsync.testing import Emulator
from tests.emulators.crm import HubspotEmulator
from tests.emulators.jira import JiraEmulator
from tests.emulators.sheets import SheetsEmulator, Spreadsheet

SECRET = "company-bench-token-0001"
SA_EMAIL = "bench@acme-okrs.iam.gserviceaccount.com"
CYCLE = {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"}
COMPANY = "company"
COMPANY_OBJECTIVES = ("grow", "delight", "scale", "profit")
KRS_PER_METRIC, KRS_PER_OBJECTIVE = 4, 20
REMOTE = 5  # metrics per team from the emulators: 2 Sheets cells, 2 Jira counts, 1 HubSpot search
JQLS = ("project = APP AND labels = open", "project = APP AND labels = done")
DAYS = 92  # the cycle's days: the local data covers all of them


def team_name(index: int) -> str:
    return f"team-{index:03d}"


class Emulators:
    """Sheets, Jira and HubSpot on loopback, each answering after ``latency`` seconds (a network's round trip)."""

    def __init__(self, teams: int, latency: float) -> None:
        self.teams, self.latency = teams, latency
        self.apis: dict[str, Emulator] = {}

    def __enter__(self) -> Emulators:
        sheets = SheetsEmulator()
        for t in range(self.teams):
            cells = {"B2": str(40 + t % 50), "B3": str(60 + t % 30)}
            sheets.spreadsheets[spreadsheet_id(t)] = Spreadsheet({"KPIs": cells}, {SA_EMAIL})
        jira = JiraEmulator("Cloud", token=SECRET)
        for i in range(6):
            jira.add_issue(f"APP-{i}")
        jira.jql[JQLS[0]] = ["APP-0", "APP-1"]
        jira.jql[JQLS[1]] = ["APP-2", "APP-3", "APP-4"]
        hubspot = HubspotEmulator(SECRET)
        hubspot.objects["deals"] = [{"id": str(i), "properties": {"amount": str(i)}} for i in range(50)]
        self.apis = {"google_sheets": sheets, "jira": jira, "hubspot": hubspot}
        for emulator in self.apis.values():
            emulator.latency = self.latency
            emulator.start()
        os.environ["BENCH_TOKEN"] = SECRET  # the configs say ${BENCH_TOKEN}; workers inherit it
        return self

    def __exit__(self, *exc) -> None:
        for emulator in self.apis.values():
            emulator.stop()

    def requests(self) -> dict[str, int]:
        """Requests each API received so far, token requests included."""
        return {api: len(e.log) for api, e in self.apis.items()}

    def connections(self, key_file: str) -> dict:
        apis = emulated_connections(self.apis, key_file)
        return {
            "files": {"type": "csv", "root": "data/"},
            "warehouse": {"type": "sql", "url": "sqlite:///data/warehouse.db"},
            "sheets": apis.pop("google_sheets"),
            **apis,
        }


def spreadsheet_id(team: int) -> str:
    return f"{team:03d}CompanyBenchSpreadsheet0000"


def write_company(config_dir: Path, emulators: Emulators, teams: int, krs: int, store_url: str) -> list[Path]:
    """The data, the service account's key file, a config per team and the company's; returns the configs."""
    data = config_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    local = max(0, -(-krs // KRS_PER_METRIC) - REMOTE)
    csv_columns, sql_metrics = local - local // 3, local // 3
    write_key(config_dir / "sa.json", emulators.apis["google_sheets"].url)
    write_warehouse(data / "warehouse.db", teams, sql_metrics)
    connections = emulators.connections("sa.json")
    paths = []
    for t in range(teams):
        write_csv(data / f"{team_name(t)}.csv", csv_columns, t)
        config = team_config(t, krs, csv_columns, sql_metrics, connections, store_url)
        paths.append(write_json(config_dir / f"{team_name(t)}.yaml", config))
    write_csv(data / f"{COMPANY}.csv", len(COMPANY_OBJECTIVES), teams)
    paths.append(write_json(config_dir / f"{COMPANY}.yaml", company_config(connections, store_url)))
    return paths


def write_json(path: Path, config: dict) -> Path:
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def write_key(path: Path, sheets_url: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {"type": "service_account", "project_id": "bench", "private_key_id": "k", "private_key": pem}
    path.write_text(
        json.dumps(account | {"client_email": SA_EMAIL, "client_id": "1", "token_uri": f"{sheets_url}/token"})
    )


def write_csv(path: Path, columns: int, seed: int) -> None:
    """A row per day of the cycle; column c grows by (c + seed) % 7 + 1 a day."""
    start = dt.date.fromisoformat(CYCLE["start"])
    header = ",".join(["date", *(f"c{c}" for c in range(columns))])
    rows = [
        ",".join([(start + dt.timedelta(days=d)).isoformat(), *(str(d * ((c + seed) % 7 + 1)) for c in range(columns))])
        for d in range(DAYS)
    ]
    path.write_text("\n".join([header, *rows]) + "\n")


def write_warehouse(path: Path, teams: int, metrics: int) -> None:
    """facts(team, metric, day, value): one row per team, metric and day of the cycle, value 1."""
    start = dt.date.fromisoformat(CYCLE["start"])
    days = [(start + dt.timedelta(days=d)).isoformat() for d in range(DAYS)]
    with sqlite3.connect(path) as db:
        db.execute("create table facts (team integer, metric integer, day text, value integer)")
        rows = ((t, m, day, 1) for t in range(teams) for m in range(metrics) for day in days)
        db.executemany("insert into facts values (?, ?, ?, ?)", rows)
        db.execute("create index facts_by_team on facts (team, metric, day)")
    db.close()


def team_metrics(team: int, csv_columns: int, sql_metrics: int) -> dict[str, dict]:
    """The team's metrics in order: the five remote ones, then its CSV columns, then its SQL counts."""
    cells = {f"cell{r}": {"connection": "sheets", "spreadsheet": spreadsheet_id(team), "range": f"KPIs!B{r + 2}"}
             for r in range(2)}  # fmt: skip
    jira = {f"jira{q}": {"connection": "jira", "jql": jql} for q, jql in enumerate(JQLS)}
    deals = {"property": "amount", "operator": "GT", "value": str(team % 40)}
    hubspot = {"deals": {"connection": "hubspot", "object": "deals", "filters": [deals]}}
    name = team_name(team)
    csv = {f"c{c}": {"connection": "files", "path": f"{name}.csv", "column": f"c{c}", "date_column": "date"}
           for c in range(csv_columns)}  # fmt: skip
    query = "select sum(value) from facts where team = {t} and metric = {m} and day <= :as_of"
    sql = {f"q{m}": {"connection": "warehouse", "query": query.format(t=team, m=m)} for m in range(sql_metrics)}
    return cells | jira | hubspot | csv | sql


def key_results(metrics: dict[str, dict], krs: int) -> list[dict]:
    """``krs`` key results, four per metric, with targets from a quarter's growth: some ahead, some behind."""
    out = []
    for i, metric in enumerate(list(metrics) * KRS_PER_METRIC):
        if len(out) == krs:
            break
        k = i // len(metrics)
        if metric.startswith(("cell", "jira", "deals")):
            out.append({"id": f"{metric}-k{k}", "metric": metric, "kind": "at_least", "target": 2 + k})
        else:
            out.append({"id": f"{metric}-k{k}", "metric": metric, "start": 0, "target": 60 + 40 * k})
    return out


def team_config(team: int, krs: int, csv_columns: int, sql_metrics: int, connections: dict, store: str) -> dict:
    metrics = team_metrics(team, csv_columns, sql_metrics)
    results = key_results(metrics, krs)
    objectives = [
        {
            "id": f"o{o}",
            "title": f"Objective {o} of team {team}",
            "key_results": results[start : start + KRS_PER_OBJECTIVE],
        }
        for o, start in enumerate(range(0, len(results), KRS_PER_OBJECTIVE))
    ]
    objectives[0]["parent"] = f"{COMPANY}/{COMPANY_OBJECTIVES[team % len(COMPANY_OBJECTIVES)]}"
    used = {kr["metric"] for kr in results}
    return {
        "version": 1,
        "namespace": team_name(team),
        "title": f"Team {team}",
        "cycle": CYCLE,
        "store": store,
        "connections": {
            name: c for name, c in connections.items() if any(metrics[m]["connection"] == name for m in used)
        },
        "metrics": {name: m for name, m in metrics.items() if name in used},
        "objectives": objectives,
        "schedule": {"cron": "0 2 * * *"},
    }


def company_config(connections: dict, store: str) -> dict:
    """The company's objectives (the teams' first objectives align to them), a KR each from its own CSV."""
    metrics = {
        f"c{c}": {"connection": "files", "path": f"{COMPANY}.csv", "column": f"c{c}", "date_column": "date"}
        for c in range(len(COMPANY_OBJECTIVES))
    }
    objectives = [
        {
            "id": o,
            "title": f"Company: {o}",
            "key_results": [{"id": f"{o}-kr", "metric": f"c{c}", "start": 0, "target": 300}],
        }
        for c, o in enumerate(COMPANY_OBJECTIVES)
    ]
    return {
        "version": 1,
        "namespace": COMPANY,
        "title": "Acme",
        "cycle": CYCLE,
        "store": store,
        "connections": {"files": connections["files"]},
        "metrics": metrics,
        "objectives": objectives,
        "schedule": {"cron": "0 2 * * *"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write bench/company.py's configs into a directory.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--teams", type=int, default=3)
    parser.add_argument("--krs", type=int, default=20)
    parser.add_argument("--store", default="sqlite:///okrsync.db", help="the store every config shares")
    args = parser.parse_args(argv)
    with Emulators(args.teams, 0.0) as emulators:
        paths = write_company(args.directory, emulators, args.teams, args.krs, args.store)
    print(f"{len(paths)} configs in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
