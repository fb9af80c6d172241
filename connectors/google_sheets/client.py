"""The Sheets client of one connection: gspread's plain HTTPClient behind okrsync's guard.

gspread's BackOffHTTPClient never gives up on a persistent 429, so requests go through the plain
HTTPClient, redirected to ``endpoint`` when one is set, paced at 1 request per second per
connection (Sheets allows 60 reads per minute per user) and retried by the guard's bounded policy.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import google.auth
import google.auth.exceptions
import gspread
import requests
from google.oauth2 import service_account
from gspread.exceptions import APIError

from okrsync.config.env import resolve_env
from okrsync.connectors.google_sheets import GoogleSheetsConnection
from okrsync.errors import SourceError, TransientError
from okrsync.sdk.guard import Guard
from okrsync.sdk.retry import RETRYABLE_STATUS, RetryPolicy, per_second, retry_after_seconds

API_ROOT = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
# "Read requests … Per minute per user per project 60" (writes likewise; https://developers.google.com/
# sheets/api/limits): a window of 60 a minute, so 25 spreadsheets are read in one burst. rate_limit overrides.
SHEETS_LIMITS = [(60, 60.0)]
_ID_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_CELL = re.compile(r"^([A-Z]+)(\d+)$")


def spreadsheet_id(text: str) -> str:
    """The ID from an ID or a browser URL (with or without #gid=...)."""
    if m := _ID_IN_URL.search(text):
        return m.group(1)
    if _ID.match(text.strip()):
        return text.strip()
    raise ValueError(f"{text!r} is neither a spreadsheet ID nor a docs.google.com/spreadsheets URL")


def col_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def range_origin(a1: str) -> tuple[str, int, int]:
    """('Sheet!'-prefix, row, col) of the top-left cell of a range the API returned."""
    sheet, _, cells = a1.rpartition("!")
    first = cells.split(":")[0]
    m = _CELL.match(first)
    return (sheet + "!" if sheet else ""), (int(m.group(2)) if m else 1), (col_index(m.group(1)) if m else 1)


def stay_behind_endpoint(creds: google.auth.credentials.Credentials) -> None:
    """Credentials used with ``endpoint:`` (a proxy or an emulator) talk to nothing else.

    google-auth 2.6x looks up a credential's regional access boundary at iamcredentials.googleapis.com
    in a background thread after each token refresh; behind an ``endpoint:`` that lookup would leave the
    network the user chose, so it is switched off on this credential — a key file's or application
    default credentials alike (google-auth has no setting for it)."""
    if hasattr(creds, "_is_regional_access_boundary_lookup_required"):
        creds._is_regional_access_boundary_lookup_required = lambda: False


def classify_gspread(exc: BaseException) -> TransientError | None:
    """gspread and google-auth failures that can heal: 429/5xx answers and network errors."""
    if isinstance(exc, APIError) and exc.response.status_code in RETRYABLE_STATUS:
        status = exc.response.status_code
        after = retry_after_seconds(exc.response.headers.get("Retry-After"))
        return TransientError(f"HTTP {status}", after, maybe_delivered=status >= 500, throttled=status == 429)
    if isinstance(exc, requests.ConnectionError | requests.Timeout | google.auth.exceptions.TransportError):
        return TransientError(type(exc).__name__, maybe_delivered=True)
    return None


class SheetsHTTPClient(gspread.HTTPClient):
    """gspread's HTTP client, redirected to ``endpoint``, and guarded (paced, bounded retries)."""

    def __init__(self, credentials, endpoint: str | None, guard: Guard, timeout: float = 30.0):
        super().__init__(credentials)
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.guard = guard
        self.set_timeout((min(10.0, timeout), timeout))  # (connect, read) seconds

    def request(self, method, endpoint, params=None, data=None, json=None, files=None, headers=None):
        if self.endpoint and endpoint.startswith(API_ROOT):
            endpoint = self.endpoint + endpoint[len(API_ROOT) :]
        sent = dict(params=params, data=data, json=json, files=files, headers=headers, timeout=self.timeout)
        return self.guard.call(lambda: _answer(self._send(method, endpoint, sent)))

    def _send(self, method: str, endpoint: str, sent: dict):
        try:
            return self.session.request(method=method, url=endpoint, **sent)
        except requests.RequestException:
            raise
        except (TypeError, KeyError, ValueError) as exc:  # google-auth reading a token answer that is not OAuth's
            raise google.auth.exceptions.RefreshError(
                f"the token endpoint answered something that is not an OAuth token response ({type(exc).__name__})"
            ) from None


def _answer(response):
    """gspread's own check of an answer, except that an error body not in Google's shape (a proxy's
    ``{"error": "..."}``, on which gspread's APIError raises TypeError) is still an APIError with its
    status, so it is classified and retried like any other."""
    if response.ok:
        return response
    try:
        error = APIError(response)
    except (TypeError, KeyError, AttributeError):
        error = ForeignAPIError(response)
    raise error


class ForeignAPIError(APIError):
    def __init__(self, response):
        body = {"code": response.status_code, "message": response.text[:200], "status": "not a Google error body"}
        Exception.__init__(self, body)
        self.response, self.error, self.code = response, body, response.status_code


# "Sheets API has per-minute quotas, and they're refilled every minute … If this happens, you should use
# an exponential backoff algorithm. After 1 minute, you can execute requests again."
# (https://developers.google.com/sheets/api/limits, read 2026-11-22). Without a Retry-After, the backoff
# doubles from 2 s up to 64 s (Google's truncated exponential backoff), so seven waits add up to at least
# 95 s: past the refill, and still inside the connection's deadline.
SHEETS_RETRY = RetryPolicy(attempts=8, total_seconds=180.0, base_delay=2.0, max_delay=64.0)


def open_client(name: str, settings: GoogleSheetsConnection, base_dir: Path) -> tuple[SheetsHTTPClient, str | None]:
    """A client for one connection, and the service account's email (for 'share with ...' hints)."""
    try:
        if settings.credentials_file:
            raw = resolve_env(settings.credentials_file, f"connections.{name}.credentials_file")
            path = (base_dir / raw).resolve()
            if not path.exists():
                raise SourceError(f"credentials_file not found: {path}", connection=name)
            creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)
            email = creds.service_account_email
        else:
            creds, _ = google.auth.default(scopes=SCOPES)
            email = getattr(creds, "service_account_email", None)
        if settings.endpoint:
            stay_behind_endpoint(creds)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        raise SourceError(
            f"GOOGLE_APPLICATION_CREDENTIALS ({named}) is not a usable key: {exc}"
            if named
            else "no credentials_file and no application default credentials: set credentials_file to a "
            "service-account JSON or GOOGLE_APPLICATION_CREDENTIALS",
            connection=name,
        ) from None
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise SourceError(f"credentials_file is not a service-account key: {exc}", connection=name) from None
    except OSError as exc:  # unreadable (permissions), a folder, ...
        raise SourceError(
            f"cannot read credentials_file: {exc.strerror or type(exc).__name__}", connection=name
        ) from None
    guard = Guard(classify_gspread, limits=per_second(settings.rate_limit) or SHEETS_LIMITS, policy=SHEETS_RETRY)
    return SheetsHTTPClient(creds, settings.endpoint, guard, settings.timeout), email


def explain(exc: BaseException, spreadsheet: str, email: str | None) -> str:
    """Plain language for what the Sheets API (or the token endpoint) said."""
    if isinstance(exc, TransientError):
        return f"Google Sheets kept failing ({exc}) after retries; try again later"
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return f"could not get an access token with the service account: {exc.args[0] if exc.args else exc}"
    if isinstance(exc, google.auth.exceptions.TransportError):
        return "cannot reach the token endpoint (token_uri in the key file)"
    if isinstance(exc, APIError):
        status, message = exc.response.status_code, str(exc.error.get("message", ""))[:200]
        if status == 403:
            who = email or "the service account"
            return f"no access to spreadsheet {spreadsheet}: share it with {who} (Viewer to read, Editor to write)"
        if status == 404:
            return f"spreadsheet {spreadsheet} not found: check the ID or URL"
        if status == 401:
            return "the credentials were rejected (401): check the service-account key"
        if exc.code == -1:
            return f"Google Sheets answered HTTP {status} with a body that is not JSON"
        return f"Google Sheets answered HTTP {status}: {message}"
    return f"{type(exc).__name__}: {exc}"


# One metadata read per spreadsheet: its locale (FORMATTED_VALUE follows it — "Formatted values are
# computed based on the spreadsheet's locale", https://developers.google.com/workspace/sheets/api/
# reference/rest/v4/ValueRenderOption, read 2026-11-22) and its tabs (a range on a missing tab is then
# known from the metadata, not from an error message's wording).
METADATA_FIELDS = "properties.locale,sheets.properties.title"
# the same and the cells of the requested ranges, in one spreadsheets.get ("Specify a field mask listing
# your desired fields using the fields URL parameter … use the ranges URL parameter"; the sheets.v4
# discovery document, method spreadsheets.get): one request per spreadsheet, reading locale, tabs and cells
GRID_FIELDS = "properties.locale,sheets(properties.title,data(startRow,startColumn,rowData.values.formattedValue))"


def value_ranges(grid: Mapping[str, Any], ranges: list[str]) -> dict[str, dict]:
    """spreadsheets.get grid data as values:batchGet's ValueRanges ({"range", "values"}) per requested range.
    Each tab's data blocks come in the order its ranges were asked for; a range without a tab is the first tab's."""
    sheets = grid.get("sheets") or []
    first = ((sheets[0].get("properties") or {}).get("title")) if sheets else None
    blocks = {(s.get("properties") or {}).get("title"): list(s.get("data") or []) for s in sheets}
    out = {}
    for a1 in ranges:
        title = tab_of(a1) or first
        data = blocks.get(title) or [{}]
        block = data.pop(0) if data else {}
        row, col = block.get("startRow", 0), block.get("startColumn", 0)
        values = [
            [cell.get("formattedValue", "") for cell in r.get("values") or []] for r in block.get("rowData") or []
        ]
        tab = title if re.fullmatch(r"\w+", title or "") else quote_sheet(title or "")
        out[a1] = {"range": f"{tab}!{col_letters(col + 1)}{row + 1}", "values": values}
    return out


def number_symbols(meta: Mapping[str, Any]) -> tuple[str, str]:
    """(decimal, group) symbols of the spreadsheet's locale, from CLDR (Babel). ValueError for a locale
    Babel does not know: reading numbers with a guessed locale could be silently wrong."""
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_decimal_symbol, get_group_symbol

    name = (meta.get("properties") or {}).get("locale") or "en_US"
    try:
        locale = Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        raise ValueError(
            f"the spreadsheet's locale {name!r} is unknown here: its numbers cannot be read safely"
        ) from None
    return get_decimal_symbol(locale), get_group_symbol(locale)


def sheet_titles(meta: Mapping[str, Any]) -> set[str]:
    titles = ((s.get("properties") or {}).get("title") for s in meta.get("sheets") or [])
    return {title for title in titles if isinstance(title, str)}


def tab_of(a1: str) -> str | None:
    """The tab a range names (a quoted title unquoted, '' doubled inside), None for a range without one."""
    sheet, bang, _ = a1.rpartition("!")
    if not bang:
        return None
    return sheet[1:-1].replace("''", "'") if sheet.startswith("'") and sheet.endswith("'") else sheet


def missing_tabs(meta: Mapping[str, Any], items: list, error) -> tuple[dict, list[str]]:
    """Errors for the metrics whose range names a tab the spreadsheet does not have, and the ranges to read."""
    tabs = sorted(sheet_titles(meta))
    out, wanted = {}, []
    for q in items:
        a1 = q.fill(q.params.range)
        tab = tab_of(a1)
        if tab is not None and tab not in tabs:
            out[q.metric_id] = error(f"tab {tab!r} does not exist in this spreadsheet (tabs: {', '.join(tabs)})", q)
        elif a1 not in wanted:
            wanted.append(a1)
    return out, wanted
