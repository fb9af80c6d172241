"""Jira: KPIs from JQL (source) and progress fields and comments back on issues (output).

Connection: ``url`` + ``email`` + API ``token`` is Jira Cloud (basic auth); ``url`` + ``token``
without email is a Data Center personal access token (bearer). Cloud or Data Center decides the
endpoints (Cloud has no legacy /search any more): an ``*.atlassian.net`` url with an email is Cloud
without asking; any other is read from serverInfo, and so is an atlassian.net name whose first Cloud
endpoint answers 404 or 410 (see client.JiraClient.by_deployment). After a 401 no other request is sent.

Metric: ``jql`` (may use {cycle.start} {cycle.end} {as_of}) and ``aggregate``:
- ``count`` (default): Cloud's approximate-count endpoint; Data Center's legacy search with
  maxResults=0 and its ``total``. One request per distinct JQL, however many metrics share it.
- ``sum`` / ``avg`` of ``field`` (an id such as customfield_10016, or a name such as
  "Story Points"; raw units, e.g. timespent in seconds), paging through search/jql with
  nextPageToken on Cloud (startAt on Data Center), refusing a repeated page token.
- ``percent_done``: 100 x count(JQL AND statusCategory = Done) / count(JQL).

Output ``jira``: for KRs naming ``jira_issue``, writes the KR's progress (0..100) to
``progress_field`` when the value differs from the issue's (read first, written with
notifyUsers=false), and adds a comment on the configured triggers. Each comment carries a marker;
before posting, and after any failed POST, the issue's comments are checked for it, so a re-run,
a retry or a crash between the POST and its answer never leaves two comments. jira's own
ResilientSession retries (which re-send POSTs) are switched off; okrsync's bounded policy
retries reads and idempotent writes only. Read only, every publish: the comments people wrote on those
issues since the previous check-in are handed back as notes (okrsync's own, with their marker, are not).
"""

from __future__ import annotations

from typing import Literal

from okrsync.present.triggers import Trigger
from okrsync.sdk.connector import Connector, MetricParams, OutputSettings, RemoteConnection, WebUrl


class JiraConnection(RemoteConnection):
    type: Literal["jira"]
    url: WebUrl
    email: str | None = None
    token: str


class JiraMetric(MetricParams):
    jql: str
    field: str | None = None


class JiraOutput(OutputSettings):
    type: Literal["jira"]
    connection: str
    progress_field: str | None = None
    comment_on: list[Trigger] = ["status_change"]


connector = Connector(
    "jira",
    connection=JiraConnection,
    metric=JiraMetric,
    source="okrsync.connectors.jira.source:JiraSource",
    output=JiraOutput,
    sink="okrsync.connectors.jira.sink:JiraSink",
    description="Jira Cloud and Data Center (the jira package)",
)
