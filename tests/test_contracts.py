"""Every built-in source keeps the connector contract (okrsync.testing.contract) against its
emulator: one line per connector, the same suite a third-party connector runs."""

import sqlite3

import pytest

from okrsync.testing.contract import ContractCase, source_contract
from tests.emulators.azure_devops import AzureDevopsEmulator
from tests.emulators.crm import HubspotEmulator, JsonApiEmulator, PipedriveEmulator, SalesforceEmulator
from tests.emulators.jira import JiraEmulator
from tests.emulators.sheets import SheetsEmulator, Spreadsheet
from tests.helpers import SA_EMAIL, SECRET, service_account_file, write_csv

pytestmark = pytest.mark.usefixtures("no_token_backoff")  # the Sheets faults hit its token endpoint too
WRONG = "canary-wrong-secret-2"
FAST = {"rate_limit": 1000}


def csv_case(_, tmp_path) -> ContractCase:
    write_csv(tmp_path / "data" / "kpi.csv", "date,signups\n2026-11-14,10\n2026-11-15,20\n2026-11-17,99\n")
    return ContractCase(
        connection={"type": "csv", "root": "data"},
        metrics={
            "latest": {"path": "kpi.csv", "column": "signups", "date_column": "date"},
            "total": {"path": "kpi.csv", "column": "signups", "date_column": "date", "aggregate": "sum"},
        },
        expected={"latest": 20.0, "total": 30.0},
        broken={"path": "kpi.csv", "column": "nope"},
    )


def sql_case(_, tmp_path) -> ContractCase:
    db = sqlite3.connect(tmp_path / "dwh.db")
    db.executescript("create table users (seen date); insert into users values ('2026-10-02'), ('2026-09-01');")
    db.commit()
    db.close()
    return ContractCase(
        connection={"type": "sql", "url": "${DWH_URL}"},
        metrics={"active": {"query": "select count(*) from users where seen >= :cycle_start"}},
        expected={"active": 1.0},
        env={"DWH_URL": "sqlite:///dwh.db"},
        broken={"query": "select * from nowhere"},
        rejected_env={"DWH_URL": f"postgresql+psycopg://okr:{SECRET}@127.0.0.1:1/dwh?connect_timeout=2"},
    )


def hubspot_emulator():
    hub = HubspotEmulator(SECRET)
    hub.objects["deals"] = [{"id": str(i), "properties": {"dealstage": "closedwon", "amount": "100"}} for i in range(3)]
    return hub


def hubspot_case(hub, _) -> ContractCase:
    return ContractCase(
        connection={"type": "hubspot", "token": "${HS_TOKEN}", "endpoint": hub.url, **FAST},
        metrics={
            "won": {"object": "deals", "filters": [{"property": "dealstage", "value": "closedwon"}]},
            "amount": {"object": "deals", "aggregate": "sum", "property": "amount"},
        },
        expected={"won": 3.0, "amount": 300.0},
        env={"HS_TOKEN": SECRET},
        broken={"object": "widgets"},
        rejected_env={"HS_TOKEN": WRONG},
    )


def salesforce_emulator():
    sf = SalesforceEmulator("3MVG9contract", SECRET)
    sf.soql["SELECT COUNT() FROM Opportunity WHERE IsClosed = false"] = {"totalSize": 37, "records": []}
    return sf


def salesforce_case(sf, _) -> ContractCase:
    return ContractCase(
        connection={
            "type": "salesforce",
            "instance_url": "https://acme.my.salesforce.com",
            "endpoint": sf.url,
            "client_id": "3MVG9contract",
            "client_secret": "${SF_SECRET}",
            **FAST,
        },
        metrics={"open": {"soql": "SELECT COUNT() FROM Opportunity WHERE IsClosed = false"}},
        expected={"open": 37.0},
        env={"SF_SECRET": SECRET},
        broken={"soql": "SELECT COUNT() FROM NoSuchObject"},
        rejected_env={"SF_SECRET": WRONG},
    )


def pipedrive_emulator():
    pd = PipedriveEmulator(SECRET)
    pd.deals = [{"status": "won", "value_eur": 1000, "filter_ids": [], "pipeline_id": 1, "user_id": 5}]
    return pd


def pipedrive_case(pd, _) -> ContractCase:
    return ContractCase(
        connection={
            "type": "pipedrive",
            "url": "https://acme.pipedrive.com",
            "endpoint": pd.url,
            "token": "${PD_TOKEN}",
            **FAST,
        },
        metrics={"won": {"status": "won"}, "won_value": {"status": "won", "aggregate": "sum"}},
        expected={"won": 1.0, "won_value": 1000.0},
        env={"PD_TOKEN": SECRET},
        broken={"status": "won", "filter_id": 404, "aggregate": "avg"},  # no deals match: no average
        rejected_env={"PD_TOKEN": WRONG},
    )


def http_case(api, _) -> ContractCase:
    return ContractCase(
        connection={
            "type": "http",
            "base_url": f"{api.url}/api",
            "headers": {"Authorization": "Bearer ${API_TOKEN}"},
            **FAST,
        },
        metrics={"mrr": {"path": "/metrics/mrr", "select": "data.current.value"}},
        expected={"mrr": 152300.5},
        env={"API_TOKEN": SECRET},
        broken={"path": "/metrics/mrr", "select": "data.nothing"},
        rejected_env={"API_TOKEN": WRONG},
    )


def jira_emulator():
    jira = JiraEmulator("Cloud", token=SECRET)
    for i in range(1, 4):
        jira.add_issue(f"APP-{i}", done=i == 1)
    jira.jql["project = APP"] = ["APP-1", "APP-2", "APP-3"]
    return jira


def jira_case(jira, _) -> ContractCase:
    return ContractCase(
        connection={
            "type": "jira",
            "url": "https://acme.atlassian.net",
            "endpoint": jira.url,
            "email": "bot@acme.example",
            "token": "${JIRA_TOKEN}",
            **FAST,
        },
        metrics={"issues": {"jql": "project = APP"}, "done": {"jql": "project = APP", "aggregate": "percent_done"}},
        expected={"issues": 3.0, "done": 100 / 3},
        env={"JIRA_TOKEN": SECRET},
        broken={"jql": "project = APP AND nonsense ~"},
        rejected_env={"JIRA_TOKEN": WRONG},
    )


SID = "1ContractSheet0123456789"


def sheets_emulator():
    sheets = SheetsEmulator()
    sheets.spreadsheets[SID] = Spreadsheet({"Survey": {"B2": "82.5", "B3": "7"}}, shared_with={SA_EMAIL})
    return sheets


def sheets_case(sheets, tmp_path) -> ContractCase:
    service_account_file(tmp_path, f"{sheets.url}/token")
    return ContractCase(
        connection={"type": "google_sheets", "credentials_file": "sa.json", "endpoint": sheets.url, **FAST},
        metrics={"csat": {"spreadsheet": SID, "range": "Survey!B2"}, "nps": {"spreadsheet": SID, "range": "Survey!B3"}},
        expected={"csat": 82.5, "nps": 7.0},
        broken={"spreadsheet": SID, "range": "Missing!A1"},
    )


def azure_devops_emulator():
    ado = AzureDevopsEmulator("acme", "Web", SECRET)
    for state, points in [("Closed", 3), ("Active", 5), ("New", None)]:
        ado.add("Bug", state, **({} if points is None else {"Microsoft__VSTS__Scheduling__StoryPoints": points}))
    return ado


def azure_devops_case(ado, _) -> ContractCase:
    bugs = "SELECT [System.Id] FROM WorkItems WHERE [System.WorkItemType] = 'Bug'"
    return ContractCase(
        connection={"type": "azure_devops", "organization": "acme", "project": "Web", "token": "${ADO_PAT}"}
        | {"endpoint": ado.url, **FAST},
        metrics={
            "bugs": {"wiql": bugs},
            "points": {"wiql": bugs, "aggregate": "sum", "field": "Microsoft.VSTS.Scheduling.StoryPoints"},
            "done": {"wiql": bugs, "aggregate": "percent_done"},
        },
        expected={"bugs": 3.0, "points": 8.0, "done": 100 / 3},  # 3 + 5 (New has none); 1 of 3 Closed
        env={"ADO_PAT": SECRET},
        broken={"wiql": "SELECT FROM nowhere"},
        rejected_env={"ADO_PAT": WRONG},
    )


TestCsvContract = source_contract("csv", csv_case, credentials=False)
TestSqlContract = source_contract("sql", sql_case)
TestHubspotContract = source_contract("hubspot", hubspot_case, emulator=hubspot_emulator)
TestSalesforceContract = source_contract("salesforce", salesforce_case, emulator=salesforce_emulator)
TestPipedriveContract = source_contract("pipedrive", pipedrive_case, emulator=pipedrive_emulator)
TestHttpContract = source_contract("http", http_case, emulator=lambda: JsonApiEmulator(SECRET))
TestJiraContract = source_contract("jira", jira_case, emulator=jira_emulator)
TestAzureDevopsContract = source_contract("azure_devops", azure_devops_case, emulator=azure_devops_emulator)
TestGoogleSheetsContract = source_contract(
    "google_sheets",
    sheets_case,
    emulator=sheets_emulator,
    credentials=False,  # a key file, covered in its tests
)
