"""Salesforce: one number from a SOQL query through the REST query endpoint.

Connection: ``instance_url`` and either an access ``token`` or a connected app's ``client_id`` +
``client_secret`` for the OAuth 2.0 client-credentials flow (POST /services/oauth2/token on the
instance's My Domain), so nightly runs do not depend on a person's session; ``api_version``
(default v62.0); ``endpoint`` replaces the instance URL. Metric: ``soql``, e.g. ``SELECT
SUM(Amount) total FROM Opportunity WHERE IsWon = true AND CloseDate >= {cycle.start}``: the first
numeric field of the first record is the value (an aggregate alias); ``SELECT COUNT() FROM ...``
gives ``totalSize``.
"""

from __future__ import annotations

import re
from typing import Literal

import httpx
from pydantic import field_validator

from okrsync.sdk import (
    ApiClient,
    ApiSource,
    Connector,
    Credentials,
    HttpError,
    MetricParams,
    MetricQuery,
    RemoteConnection,
    SourceError,
    WebUrl,
    parse_number,
    per_second,
    secret,
    source_error,
)


class SalesforceConnection(RemoteConnection):
    type: Literal["salesforce"]
    instance_url: WebUrl
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_version: str = "v62.0"


class SalesforceMetric(MetricParams):
    soql: str

    @field_validator("soql")
    @classmethod
    def _one_number(cls, soql: str) -> str:
        return one_number_soql(soql)


# A metric is one number. A SOQL that selects plain fields returns records (up to 2,000 a page, the rest
# behind nextRecordsUrl — https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
# resources_query.htm, read 2026-11-22): summing a first page would be silently wrong, so it is refused
# when the config loads. One number comes from SELECT COUNT() or from aggregate functions without GROUP BY.
_AGGREGATE = re.compile(r"^(COUNT|COUNT_DISTINCT|SUM|AVG|MIN|MAX)\s*\(", re.I)


def one_number_soql(soql: str) -> str:
    m = re.match(r"(?is)^\s*SELECT\s+(.*?)\s+FROM\s", soql)
    if not m:
        raise ValueError("expected SELECT … FROM …")
    if re.search(r"(?i)\bGROUP\s+BY\b", soql):
        raise ValueError("GROUP BY returns one row per group; a metric is one number (filter with WHERE instead)")
    fields = [f.strip() for f in _split_top_level(m.group(1))]
    if not all(_AGGREGATE.match(f) for f in fields):
        plain = next(f for f in fields if not _AGGREGATE.match(f))
        raise ValueError(
            f"selecting {plain!r} returns records, not one number: use SELECT COUNT() FROM … or an "
            "aggregate such as SELECT SUM(Amount) total FROM …"
        )
    return soql


def _split_top_level(text: str) -> list[str]:
    """Split a SELECT list on the commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


class SalesforceSource(ApiSource[SalesforceConnection, SalesforceMetric]):
    api_root_from = ("instance_url",)  # the org's My Domain
    # Salesforce sets no per-second limit, only a daily allocation of API requests per org
    # (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/
    # salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm): no pacing unless rate_limit
    limits = ()
    token_hint = "the access token of connection {name!r}"
    vendor = "Salesforce"

    def credentials(self) -> Credentials:
        """A ready ``token``, or one from the OAuth 2.0 client-credentials flow of a connected app."""
        s = self.settings
        if s.token:
            token = secret(s.token, f"connections.{self.name}.token")
        elif not (s.client_id and s.client_secret):
            raise SourceError("give token, or client_id and client_secret of a connected app", connection=self.name)
        else:
            token = self._login(s.client_id, s.client_secret)
        return Credentials(headers={"Authorization": f"Bearer {token}"})

    def _login(self, client_id: str, client_secret: str) -> str:
        """POST /services/oauth2/token on the instance with grant_type client_credentials."""
        form = {
            "grant_type": "client_credentials",
            "client_id": secret(client_id, f"connections.{self.name}.client_id"),
            "client_secret": secret(client_secret, f"connections.{self.name}.client_secret"),
        }
        login = ApiClient(
            self.root(),
            limits=per_second(self.settings.rate_limit),
            token_hint="client_id and client_secret of the connected app",
        )
        try:
            data = login.json("POST", "/services/oauth2/token", data=form)
        except HttpError as exc:
            raise source_error(exc, metric=None, connection=self.name) from None
        finally:
            login.close()
        return secret(data["access_token"], "access token")

    def allocation(self, response: httpx.Response) -> str | None:
        return allocation_spent(response)

    def check_paths(self) -> list[str]:
        """The version's resource list: any user with API access may read it, unlike /limits, which needs
        "View Setup and Configuration" (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
        api_rest/resources_discoveryresource.htm, read 2026-11-22)."""
        return [f"/services/data/{self.settings.api_version}/"]

    def describe_check(self, answer: object) -> str:
        return f"token accepted (API {self.settings.api_version})"

    def read(self, client: ApiClient, q: MetricQuery) -> float:
        data = client.json(
            "GET", f"/services/data/{self.settings.api_version}/query", params={"q": q.fill(q.params.soql)}
        )
        return _number(data)


API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def allocation_spent(response: httpx.Response) -> str | None:
    """Whether the org's API allocation is used up. Salesforce counts API requests per org over 24 hours
    and reports the count on every REST answer as ``Sforce-Limit-Info: api-usage=USED/MAX``; past the
    allocation it answers 403 ``REQUEST_LIMIT_EXCEEDED`` (https://developer.salesforce.com/docs/atlas.en-us.
    api_rest.meta/api_rest/headers_api_usage.htm and .../errorcodes.htm, read 2026-11-30). The org's other
    integrations share that allocation, so okrsync stops at it instead of spending the rest of it on errors."""
    usage = API_USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
    over = response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text
    if over or (usage and int(usage[1]) >= int(usage[2])):
        shown = f" (api-usage={usage[1]}/{usage[2]})" if usage else ""
        return (
            f"the org's daily Salesforce API allocation is used up{shown}: okrsync sent no more requests; "
            "wait for the 24-hour window to free up or ask the Salesforce admin to raise the allocation"
        )
    return None


def _number(data: dict) -> float:
    records = data.get("records") or []
    if not records:
        return float(data.get("totalSize", 0))  # SELECT COUNT() FROM ...
    fields = {k: v for k, v in records[0].items() if k != "attributes"}
    for value in fields.values():
        if value is not None and not isinstance(value, dict | list):
            try:
                return parse_number(value)
            except ValueError:
                continue
    if all(v is None for v in fields.values()):
        return 0.0  # SUM() over no rows
    raise ValueError(
        f"the query returned no number (fields: {', '.join(fields)}); use an aggregate such as "
        "SUM(Amount) total, or SELECT COUNT()"
    )


connector = Connector(
    "salesforce",
    connection=SalesforceConnection,
    metric=SalesforceMetric,
    source=SalesforceSource,
    description="Salesforce (SOQL)",
)
