"""Every built-in output with a remote target keeps the sink contract (okrsync.testing.sink_contract)
against its emulator: one line per connector, the same suite a third-party sink runs. (The report
output writes local files; its own tests cover it.)"""

import tempfile
from pathlib import Path

import pytest

from okrsync.testing.emulator import TestCertificates
from okrsync.testing.sink_contract import SinkCase, sink_contract
from tests.emulators.crm import HookReceiver
from tests.emulators.entra import App, EntraEmulator
from tests.emulators.excel_online import ExcelOnlineEmulator, Workbook
from tests.emulators.jira import JiraEmulator
from tests.emulators.sheets import SheetsEmulator, Spreadsheet
from tests.helpers import SA_EMAIL, SECRET, XL_SECRET, XL_TENANT, service_account_file

pytestmark = pytest.mark.usefixtures("no_token_backoff")  # the Sheets faults hit its token endpoint too
SID = "1SinkContractSheet0123456789"
FAST = {"rate_limit": 1000}


def slack_case(receiver, _) -> SinkCase:
    return SinkCase(
        output={"type": "slack", "webhook_url": "${SLACK_URL}", "on": ["every_run"], **FAST},
        env={"SLACK_URL": f"{receiver.url}/services/T0CANARY/B0CANARY/{SECRET}"},
        at_most_once=True,
    )


def teams_case(receiver, _) -> SinkCase:
    return SinkCase(
        output={"type": "teams", "webhook_url": "${TEAMS_URL}", "on": ["every_run"], **FAST},
        env={"TEAMS_URL": f"{receiver.url}/workflows/{SECRET}"},
        at_most_once=True,
    )


def webhook_case(receiver, _) -> SinkCase:
    return SinkCase(
        output={"type": "webhook", "url": f"{receiver.url}/okr", "secret": "${HOOK_SECRET}"},
        env={"HOOK_SECRET": SECRET},
    )


def jira_emulator():
    jira = JiraEmulator("Cloud", token=SECRET)
    jira.add_issue("APP-100")
    return jira


def jira_case(jira, _) -> SinkCase:
    return SinkCase(
        connection={
            "type": "jira",
            "url": "https://acme.atlassian.net",
            "endpoint": jira.url,
            "email": "bot@acme.example",
            "token": "${JIRA_TOKEN}",
            **FAST,
        },
        output={"type": "jira", "connection": "c", "progress_field": "customfield_10100", "comment_on": ["every_run"]},
        key_result={"jira_issue": "APP-100"},
        env={"JIRA_TOKEN": SECRET},
        writes=(("PUT", "/issue/"), ("POST", "/comment$")),
    )


def sheets_emulator():
    sheets = SheetsEmulator()
    sheets.spreadsheets[SID] = Spreadsheet({"Sheet1": {}}, shared_with={SA_EMAIL})
    return sheets


def sheets_case(sheets, tmp_path) -> SinkCase:
    service_account_file(tmp_path, f"{sheets.url}/token")
    return SinkCase(
        connection={"type": "google_sheets", "credentials_file": "sa.json", "endpoint": sheets.url, **FAST},
        output={"type": "google_sheets", "connection": "c", "spreadsheet": SID},
        writes=(("POST", "^/v4/"),),
    )


class GraphWithSignIn(ExcelOnlineEmulator):
    """Graph's Excel emulator with its own identity platform (HTTPS, test CA) started and stopped beside it:
    the contract's faults reach the workbook, never the sign-in."""

    certificates: TestCertificates | None = None  # one test CA for the module, made on first use

    def start(self, tls: TestCertificates | None = None) -> "GraphWithSignIn":
        if GraphWithSignIn.certificates is None:
            GraphWithSignIn.certificates = TestCertificates.make(Path(tempfile.mkdtemp(prefix="okrsync-tls-")))
        self.entra = EntraEmulator(XL_TENANT).start(tls=GraphWithSignIn.certificates)
        self.entra.add_app(App("app-1", secret=XL_SECRET))
        self.bearers = self.entra.issued.access
        self.add("b!drive-1", "01ITEMXLSX", Workbook("okr.xlsx", {"Sheet1": {}}))
        super().start(tls)
        return self

    def stop(self) -> None:
        super().stop()
        self.entra.stop()


def excel_online_case(graph, _) -> SinkCase:
    connection = {"type": "excel_online", "tenant_id": XL_TENANT, "client_id": "app-1", "client_secret": "${XL}"}
    assert graph.certificates is not None
    return SinkCase(
        connection=connection | {"authority": graph.entra.url, "endpoint": graph.url, **FAST},
        output={"type": "excel_online", "connection": "c", "drive": "b!drive-1", "item": "01ITEMXLSX"},
        env={"XL": XL_SECRET, "SSL_CERT_FILE": str(graph.certificates.ca_file)},
        writes=(("PATCH", "/workbook/"), ("POST", "/workbook/worksheets")),
    )


TestSlackSinkContract = sink_contract("slack", slack_case, emulator=HookReceiver)
TestTeamsSinkContract = sink_contract("teams", teams_case, emulator=HookReceiver)
TestWebhookSinkContract = sink_contract("webhook", webhook_case, emulator=HookReceiver)
TestJiraSinkContract = sink_contract("jira", jira_case, emulator=jira_emulator)
TestGoogleSheetsSinkContract = sink_contract("google_sheets", sheets_case, emulator=sheets_emulator)
TestExcelOnlineSinkContract = sink_contract("excel_online", excel_online_case, emulator=GraphWithSignIn)
