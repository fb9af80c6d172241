"""The vendor-description check itself: what it lets through and what it stops. (It runs on every
request the emulators serve in the whole suite: see tests/vendor_spec.py and conftest.)"""

import json

import pytest

from okrsync.testing import Request
from tests.vendor_spec import problems, spec


def request(method: str, path: str, query: dict | None = None, body: object = None) -> Request:
    raw = b"" if body is None else json.dumps(body).encode()
    return Request(method, path, {k: [v] for k, v in (query or {}).items()}, {}, raw, 0.0)


SEARCH = {"filterGroups": [], "limit": 1, "after": "0", "properties": [], "sorts": []}
BATCH_GET = "/v4/spreadsheets/abc/values:batchGet"
LIKE = {**SEARCH, "filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE"}]}]}


@pytest.mark.parametrize(
    ("vendor", "req"),
    [
        ("hubspot", request("POST", "/crm/v3/objects/deals/search", body=SEARCH)),
        ("hubspot", request("GET", "/crm/v3/objects/contacts", {"limit": "1"})),
        (
            "google_sheets",
            request("GET", "/v4/spreadsheets/abc/values:batchGet", {"valueRenderOption": "FORMATTED_VALUE"}),
        ),
        ("google_sheets", request("GET", "/v4/spreadsheets/abc", {"fields": "properties.locale"})),
        ("jira", request("POST", "/rest/api/2/search/approximate-count", body={"jql": "project = APP"})),
    ],
)
def test_conforming_requests_pass(vendor, req):
    assert problems(vendor, req) == []


@pytest.mark.parametrize(
    ("vendor", "req", "says"),
    [
        (
            "hubspot",
            request("POST", "/crm/v3/objects/deals/search", body={"filterGroups": [], "limit": 1}),
            "'after' is a required property",
        ),
        ("hubspot", request("POST", "/crm/v3/objects/deals/search", body=LIKE), "'LIKE' is not one of"),
        ("google_sheets", request("GET", BATCH_GET, {"valueRenderOption": "PRETTY"}), "is not one of"),
        (
            "google_sheets",
            request(
                "POST",
                "/v4/spreadsheets/abc/values:batchUpdate",
                body={"valueInputOption": "USER_ENTERED", "data": [], "mode": "fast"},
            ),
            "Additional properties are not allowed",
        ),
        ("jira", request("GET", "/rest/api/2/issue/APP-1/comment", {"limit": "5"}), "'limit' is not declared"),
        ("jira", request("DELETE", "/rest/api/2/issue/APP-1"), "is not an operation"),
        ("pipedrive", request("GET", "/api/v1/deals/summary", {"api_token": "x"}), "'api_token' is not declared"),
    ],
)
def test_what_the_description_does_not_allow_is_caught(vendor, req, says):
    found = problems(vendor, req)
    assert found and says in " ".join(found), found


def test_every_excerpt_names_its_origin_and_date():
    for vendor in ("hubspot", "google_sheets", "jira", "pipedrive"):
        described = spec(vendor)
        assert described["source"] and described["read"] == "2026-11-22" and described["operations"]
