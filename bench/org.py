"""The benchmark organisation: emulators of six APIs with latency, and a config of 2,000 KRs over them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from okrsync.testing import Emulator, Request, route
from tests.emulators.crm import HubspotEmulator, PipedriveEmulator, SalesforceEmulator
from tests.emulators.jira import JiraEmulator
from tests.emulators.sheets import SheetsEmulator, Spreadsheet

SECRET = "bench-secret-token-0001"
SA_EMAIL = "bench@acme-okrs.iam.gserviceaccount.com"
SHEETS, CELLS, JQLS, SEARCHES, SOQLS, SUMMARIES, PATHS = 25, 8, 100, 40, 40, 20, 100
KRS_PER_METRIC = 4
# the fewest requests that can answer every metric, per API (tokens aside)
MINIMUM = {
    "google_sheets": SHEETS,
    "jira": JQLS,
    "hubspot": SEARCHES,
    "salesforce": SOQLS,
    "pipedrive": SUMMARIES,
    "http": PATHS,
}
# each API's published quota windows (as okrsync's defaults cite them); the JSON API has none
LIMITS = {
    "google_sheets": [(60, 60.0)],
    "jira": [(10, 1.0)],
    "hubspot": [(5, 1.0), (100, 10.0)],
    "salesforce": [],
    "pipedrive": [(20, 2.0)],
    "http": [],
}


def emulated_connections(emulators: dict[str, Emulator], key_file: str) -> dict[str, dict]:
    """The connections to the Sheets, Jira and HubSpot emulators given (by those names), as a config writes them:
    the vendors' own URLs, each sent to its emulator by ``endpoint``, the token from ``BENCH_TOKEN``."""
    known = {
        "google_sheets": {"type": "google_sheets", "credentials_file": key_file},
        "jira": {
            "type": "jira",
            "url": "https://acme.atlassian.net",
            "email": "bot@acme.example",
            "token": "${BENCH_TOKEN}",
        },
        "hubspot": {"type": "hubspot", "token": "${BENCH_TOKEN}"},
    }
    return {name: {**known[name], "endpoint": emulator.url} for name, emulator in emulators.items()}


class MetricsApi(Emulator):
    """An internal JSON API: one number per path."""

    @route("GET", r"/api/metrics/(\w+)")
    def metric(self, req: Request, name: str):
        return {"value": int(name.removeprefix("m"))}


class Organisation:
    def __init__(self, root: Path, latency: float):
        self.root, self.latency = root, latency
        self.emulators: dict[str, Emulator] = {}
        self.config_path = root / "org.yaml"

    def __enter__(self) -> Organisation:
        self.emulators = {
            "google_sheets": self._sheets(),
            "jira": self._jira(),
            "hubspot": self._hubspot(),
            "salesforce": self._salesforce(),
            "pipedrive": self._pipedrive(),
            "http": MetricsApi(),
        }
        for emulator in self.emulators.values():
            emulator.latency = self.latency
            emulator.start()
        os.environ.update(BENCH_TOKEN=SECRET)
        self.config_path.write_text(json.dumps(self._config(), indent=1))
        return self

    def __exit__(self, *exc) -> None:
        for emulator in self.emulators.values():
            emulator.stop()

    def requests(self) -> dict[str, int]:
        """Requests each API received, token requests left out."""
        return {api: sum(1 for r in e.log if not r.path.endswith("/token")) for api, e in self.emulators.items()}

    def reset_logs(self) -> None:
        for emulator in self.emulators.values():
            emulator.log.clear()

    # -- the emulators --------------------------------------------------------------------------

    def _sheets(self) -> SheetsEmulator:
        sheets = SheetsEmulator()
        for s in range(SHEETS):
            cells = {f"B{row + 2}": str(10 * s + row) for row in range(CELLS)}
            sheets.spreadsheets[f"{s}BenchSpreadsheetId00000000"] = Spreadsheet({"KPIs": cells}, {SA_EMAIL})
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._key = {
            "type": "service_account",
            "project_id": "bench",
            "private_key_id": "k",
            "private_key": pem,
            "client_email": SA_EMAIL,
            "client_id": "1",
            "token_uri": "",
        }
        return sheets

    def _jira(self) -> JiraEmulator:
        jira = JiraEmulator("Cloud", token=SECRET)
        for i in range(5):
            jira.add_issue(f"APP-{i}")
        for q in range(JQLS):
            jira.jql[f"project = APP AND labels = l{q}"] = [f"APP-{i}" for i in range(q % 5)]
        return jira

    def _hubspot(self) -> HubspotEmulator:
        hub = HubspotEmulator(SECRET)
        hub.objects["deals"] = [{"id": str(i), "properties": {"amount": str(i)}} for i in range(50)]
        return hub

    def _salesforce(self) -> SalesforceEmulator:
        sf = SalesforceEmulator("bench-client", SECRET)
        for q in range(SOQLS):
            sf.soql[f"SELECT COUNT() FROM Opportunity WHERE Amount > {q}"] = {"totalSize": q, "records": []}
        return sf

    def _pipedrive(self) -> PipedriveEmulator:
        pd = PipedriveEmulator(SECRET)
        pd.deals = [
            {"status": "won", "value_eur": 100, "filter_ids": [], "pipeline_id": 1, "user_id": u}
            for u in range(SUMMARIES)
        ]
        return pd

    # -- the config ----------------------------------------------------------------------------

    def _config(self) -> dict:
        e = self.emulators
        self._key["token_uri"] = f"{e['google_sheets'].url}/token"
        (self.root / "sa.json").write_text(json.dumps(self._key))
        connections = {
            **emulated_connections({k: e[k] for k in ("google_sheets", "jira", "hubspot")}, "sa.json"),
            "salesforce": {
                "type": "salesforce",
                "instance_url": "https://acme.my.salesforce.com",
                "endpoint": e["salesforce"].url,
                "client_id": "bench-client",
                "client_secret": "${BENCH_TOKEN}",
            },
            "pipedrive": {
                "type": "pipedrive",
                "url": "https://acme.pipedrive.com",
                "endpoint": e["pipedrive"].url,
                "token": "${BENCH_TOKEN}",
            },
            "http": {"type": "http", "base_url": f"{e['http'].url}/api"},
        }
        metrics = {
            **{
                f"s{s}_{c}": {
                    "connection": "google_sheets",
                    "spreadsheet": f"{s}BenchSpreadsheetId00000000",
                    "range": f"KPIs!B{c + 2}",
                }
                for s in range(SHEETS)
                for c in range(CELLS)
            },
            **{f"j{q}": {"connection": "jira", "jql": f"project = APP AND labels = l{q}"} for q in range(JQLS)},
            **{
                f"h{q}": {
                    "connection": "hubspot",
                    "object": "deals",
                    "filters": [{"property": "amount", "operator": "GT", "value": str(q)}],
                }
                for q in range(SEARCHES)
            },
            **{
                f"f{q}": {"connection": "salesforce", "soql": f"SELECT COUNT() FROM Opportunity WHERE Amount > {q}"}
                for q in range(SOQLS)
            },
            **{f"p{u}": {"connection": "pipedrive", "status": "won", "user_id": u} for u in range(SUMMARIES)},
            **{f"a{q}": {"connection": "http", "path": f"/metrics/m{q}", "select": "value"} for q in range(PATHS)},
        }
        objectives = [
            {
                "id": f"o{i}",
                "title": f"Objective {i}",
                "key_results": [
                    {"id": f"{m}_k{k}", "metric": m, "kind": "at_least", "target": 1} for k in range(KRS_PER_METRIC)
                ],
            }
            for i, m in enumerate(metrics)
        ]
        cycle = {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31", "timezone": "Europe/Oslo"}
        return {
            "version": 1,
            "cycle": cycle,
            "store": f"sqlite:///{self.root / 'store.db'}",
            "connections": connections,
            "metrics": metrics,
            "objectives": objectives,
        }
