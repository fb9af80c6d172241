"""Google Sheets: read KPI cells (source) and write a status table back (output), through gspread.

Connection: ``credentials_file`` (a service-account JSON; google-auth signs a JWT and asks the
``token_uri`` written in that file for an access token) or, without it, application default
credentials; ``endpoint`` replaces https://sheets.googleapis.com (a proxy or an emulator).

Source: every metric on one spreadsheet is read with ONE values:batchGet, however many there
are. A metric names ``spreadsheet`` (an ID or a browser URL) and ``range`` in A1 notation: one
cell, or a range with ``aggregate`` (sum, avg, min, max, count, latest = last non-empty cell).
Cells are read as people see them (FORMATTED_VALUE) and parsed like every other text value.

Output ``google_sheets``: a status table on ``worksheet`` (the tab is created if missing) plus
each KR's ``sheet_cell``, in one values:batchUpdate per spreadsheet (and one clear when the table
shrank). Nothing is sent when the table is unchanged since the last confirmed write (ledger).

Requests go through gspread's plain HTTPClient (its BackOffHTTPClient never gives up on a
persistent 429), paced at 1 request per second per connection (Sheets allows 60 per minute
per user) and retried by okrsync's bounded policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
import gspread
import requests
from google.oauth2 import service_account
from gspread.exceptions import APIError

from okrsync.aggregate import aggregate
from okrsync.config import GoogleSheetsConnection, GoogleSheetsMetric, GoogleSheetsOutput, resolve_env
from okrsync.connector import FetchResult, MetricQuery, Observation, Sink, SinkContext, Source
from okrsync.document import iter_krs
from okrsync.errors import SinkError, SourceError
from okrsync.numbers import parse_number
from okrsync.retry import RETRYABLE_STATUS, Pacer, Retryable, RetryPolicy, retry_after_seconds
from okrsync.store import fingerprint

API_ROOT = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
REQUESTS_PER_SECOND = 1.0  # 60 per minute per user
_ID_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_CELL = re.compile(r"^([A-Z]+)(\d+)$")
STATUS_HEADER = [
    "Objective",
    "Key result",
    "Owner",
    "Start",
    "Current",
    "Target",
    "Progress",
    "Expected",
    "Status",
    "Forecast",
    "Last updated",
    "Stale / error",
]


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


class EndpointCredentials(service_account.Credentials):
    """Service-account credentials used with ``endpoint:`` (a proxy or an emulator).

    google-auth 2.6x looks up each service account's regional access boundary at
    iamcredentials.googleapis.com after a token refresh; behind an ``endpoint:`` that lookup
    would leave the network the user chose, so it is skipped (google-auth has no switch for it).
    """

    def _is_regional_access_boundary_lookup_required(self) -> bool:
        return False


class SheetsHTTPClient(gspread.HTTPClient):
    """gspread's HTTP client, redirected to ``endpoint``, paced, and retried with a bounded policy."""

    def __init__(self, credentials, endpoint: str | None, pacer: Pacer, policy: RetryPolicy):
        super().__init__(credentials)
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.pacer, self.policy = pacer, policy
        self.set_timeout((10, 60))

    def request(self, method, endpoint, *args, **kwargs):
        if self.endpoint and endpoint.startswith(API_ROOT):
            endpoint = self.endpoint + endpoint[len(API_ROOT) :]

        def once():
            self.pacer.acquire()
            try:
                return super(SheetsHTTPClient, self).request(method, endpoint, *args, **kwargs)
            except APIError as exc:
                status = exc.response.status_code
                if status in RETRYABLE_STATUS:
                    raise Retryable(
                        f"HTTP {status}", retry_after_seconds(exc.response.headers.get("Retry-After")), exc
                    ) from exc
                raise
            except (requests.ConnectionError, requests.Timeout, google.auth.exceptions.TransportError) as exc:
                raise Retryable(type(exc).__name__, None, exc) from exc

        return self.policy.call(once)


def open_client(name: str, settings: GoogleSheetsConnection, base_dir: Path) -> tuple[SheetsHTTPClient, str | None]:
    """A client for one connection, and the service account's email (for 'share with ...' hints)."""
    try:
        if settings.credentials_file:
            raw = resolve_env(settings.credentials_file, f"connections.{name}.credentials_file")
            path = (base_dir / raw).resolve()
            if not path.exists():
                raise SourceError(f"credentials_file not found: {path}", connection=name)
            kind = EndpointCredentials if settings.endpoint else service_account.Credentials
            creds = kind.from_service_account_file(str(path), scopes=SCOPES)
            email = creds.service_account_email
        else:
            creds, _ = google.auth.default(scopes=SCOPES)
            email = getattr(creds, "service_account_email", None)
    except google.auth.exceptions.DefaultCredentialsError:
        raise SourceError(
            "no credentials_file and no application default credentials: set credentials_file to a "
            "service-account JSON or GOOGLE_APPLICATION_CREDENTIALS",
            connection=name,
        ) from None
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise SourceError(f"credentials_file is not a service-account key: {exc}", connection=name) from None
    rate = settings.rate_limit or REQUESTS_PER_SECOND
    return SheetsHTTPClient(creds, settings.endpoint, Pacer(rate, burst=1), RetryPolicy()), email


def explain(exc: BaseException, spreadsheet: str, email: str | None) -> str:
    """Plain language for what the Sheets API (or the token endpoint) said."""
    if isinstance(exc, Retryable):
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


class GoogleSheetsSource(Source):
    type_name = "google_sheets"
    connection_model = GoogleSheetsConnection
    metric_model = GoogleSheetsMetric

    def check(self) -> str:
        """Ask the token endpoint for an access token: proves the key is valid and the endpoint reachable.

        Access to each spreadsheet is checked by the metric previews that follow.
        """
        client, email = open_client(self.name, self.settings, self.base_dir)
        try:
            client.session.credentials.refresh(google.auth.transport.requests.Request())  # a plain session
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self.error(explain(exc, "", email)) from None
        return f"access token issued for {email or 'application default credentials'}"

    def fetch(self, queries: Sequence[MetricQuery]) -> FetchResult:
        client, email = open_client(self.name, self.settings, self.base_dir)
        out: FetchResult = {}
        by_sheet: dict[str, list[MetricQuery]] = {}
        for q in queries:
            try:
                by_sheet.setdefault(spreadsheet_id(q.params.spreadsheet), []).append(q)
            except ValueError as exc:
                out[q.metric_id] = self.error(str(exc), q)
        for sid, items in by_sheet.items():
            out.update(self._read_spreadsheet(client, email, sid, items))
        return out

    def _read_spreadsheet(
        self, client: SheetsHTTPClient, email: str | None, sid: str, items: list[MetricQuery]
    ) -> FetchResult:
        out: FetchResult = {}
        ranges = list(dict.fromkeys(q.fill(q.params.range) for q in items))
        while ranges:
            try:
                response = client.values_batch_get(sid, ranges, params={"valueRenderOption": "FORMATTED_VALUE"})
            except APIError as exc:
                bad = _unparsable_range(exc, ranges)
                if bad is None:
                    return {q.metric_id: self.error(explain(exc, sid, email), q) for q in items}
                for q in items:
                    if q.fill(q.params.range) == bad:
                        out[q.metric_id] = self.error(
                            f"range {bad!r} does not exist in spreadsheet {sid} "
                            "(check the tab name and the A1 notation)",
                            q,
                        )
                ranges.remove(bad)  # read the others: one more request, not one per metric
                continue
            except (Retryable, google.auth.exceptions.GoogleAuthError) as exc:
                return {q.metric_id: self.error(explain(exc, sid, email), q) for q in items}
            except ValueError:  # a 200 whose body is not JSON (a proxy's page, a truncated answer)
                return {
                    q.metric_id: self.error("Google Sheets answered with a body that is not JSON", q) for q in items
                }
            by_range = dict(zip(ranges, response.get("valueRanges", []), strict=False))
            for q in items:
                if q.metric_id not in out:
                    try:
                        out[q.metric_id] = Observation(_value(q, by_range[q.fill(q.params.range)]))
                    except ValueError as exc:
                        out[q.metric_id] = self.error(str(exc), q)
            break
        return out


def _unparsable_range(exc: APIError, ranges: list[str]) -> str | None:
    message = str(exc.error.get("message", ""))
    if exc.response.status_code == 400 and message.startswith("Unable to parse range: "):
        named = message.removeprefix("Unable to parse range: ").strip()
        return named if named in ranges else next((r for r in ranges if r.strip() == named), ranges[0])
    return None


def _value(q: MetricQuery, value_range: dict) -> float:
    prefix, top, left = range_origin(value_range.get("range", q.params.range))
    cells = [
        (f"{prefix}{col_letters(left + j)}{top + i}", text)
        for i, row in enumerate(value_range.get("values", []))
        for j, text in enumerate(row)
    ]
    filled = [(a1, text) for a1, text in cells if str(text).strip() != ""]
    single = ":" not in q.params.range.rpartition("!")[2]
    how = q.aggregate
    if single and how is None:
        if not filled:
            raise ValueError(f"cell {value_range.get('range', q.params.range)} is empty")
        a1, text = filled[0]
        return _number(a1, text)
    if how is None:
        raise ValueError(
            f"range {q.params.range} holds several cells: add aggregate (sum, avg, min, max, count, latest)"
        )
    if how == "count":
        return float(len(filled))
    if not filled:
        raise ValueError(f"range {value_range.get('range', q.params.range)} is empty")
    if how == "latest":
        return _number(*filled[-1])
    return aggregate([_number(a1, text) for a1, text in filled], how)


def _number(a1: str, text: object) -> float:
    try:
        return parse_number(text)
    except ValueError:
        raise ValueError(f"cell {a1} holds {text!r}, which is not a number") from None


# --------------------------------------------------------------------------- output


def status_rows(doc: dict) -> list[list[str]]:
    rows = [STATUS_HEADER]
    for o, kr in iter_krs(doc):
        note = kr["stale_reason"] if kr["stale"] else (kr["error"] or "")
        rows.append(
            [
                o["title"],
                kr["title"],
                kr["owner"] or "",
                _cell(kr["start"]),
                _cell(kr["value"]),
                _cell(kr["target"] if kr["kind"] != "between" else f"{kr['min']}–{kr['max']}"),
                _pct(kr["progress"]),
                _pct(kr["expected"]),
                kr["status"].replace("_", " "),
                _cell(kr["forecast"]["value"] if kr["forecast"] else None),
                datetime.fromisoformat(kr["observed_at"]).strftime("%Y-%m-%d %H:%M") if kr["observed_at"] else "",
                note,
            ]
        )
    return rows


def _cell(x: object) -> str:
    if x is None:
        return ""
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.0f}%"


class GoogleSheetsSink(Sink):
    type_name = "google_sheets"
    settings: GoogleSheetsOutput

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        connection = ctx.config.connections.get(s.connection)
        if not isinstance(connection, GoogleSheetsConnection):
            raise SinkError(f"connection {s.connection!r} is not a google_sheets connection")
        sid = spreadsheet_id(s.spreadsheet)
        rows = status_rows(ctx.document)
        tab = quote_sheet(s.worksheet)
        data = [{"range": f"{tab}!A1:{col_letters(len(STATUS_HEADER))}{len(rows)}", "values": rows}]
        for _, kr in iter_krs(ctx.document):
            if kr.get("sheet_cell"):
                cell = kr["sheet_cell"] if "!" in kr["sheet_cell"] else f"{tab}!{kr['sheet_cell']}"
                data.append({"range": cell, "values": [[_pct(kr["progress"])]]})
        target = f"{sid}/{s.worksheet}"
        fp = fingerprint(data)
        last = ctx.ledger.last_confirmed_entry(self.key, target)
        if last and last[0] == fp:
            ctx.planned.append(f"google_sheets: {s.worksheet} unchanged")
            return
        if ctx.dry_run:
            ctx.planned.append(f"google_sheets: would write {len(rows) - 1} rows to {s.worksheet}")
            return
        client, email = open_client(s.connection, connection, self.base_dir)
        now = ctx.now or datetime.fromisoformat(ctx.document["as_of"])
        ctx.ledger.mark(self.key, target, fp, "planned", now)
        previous_rows = json.loads(last[1] or "{}").get("rows", 0) if last else 0
        try:
            if last is None:  # first write to this tab: make sure it exists (an existing tab is fine)
                self._add_tab(client, sid, s.worksheet)
            elif previous_rows > len(rows):
                end = f"{col_letters(len(STATUS_HEADER))}{previous_rows}"
                self._clear(client, sid, [f"{tab}!A{len(rows) + 1}:{end}"])
            try:
                client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": data})
            except APIError as exc:  # the tab was deleted since the last write
                if last is None or _unparsable_range(exc, [d["range"] for d in data]) is None:
                    raise
                self._add_tab(client, sid, s.worksheet)
                client.values_batch_update(sid, {"valueInputOption": "USER_ENTERED", "data": data})
        except (APIError, Retryable, google.auth.exceptions.GoogleAuthError) as exc:
            ctx.ledger.mark(self.key, target, fp, "failed", now)
            raise SinkError(explain(exc, sid, email)) from None
        ctx.ledger.mark(self.key, target, fp, "confirmed", now, detail=json.dumps({"rows": len(rows)}))
        ctx.planned.append(f"google_sheets: wrote {len(rows) - 1} rows to {s.worksheet}")

    @staticmethod
    def _add_tab(client: SheetsHTTPClient, sid: str, title: str) -> None:
        try:
            client.batch_update(sid, {"requests": [{"addSheet": {"properties": {"title": title}}}]})
        except APIError as exc:
            if "already exists" not in str(exc.error.get("message", "")):
                raise

    @staticmethod
    def _clear(client: SheetsHTTPClient, sid: str, ranges: list[str]) -> None:
        try:
            client.values_batch_clear(sid, body={"ranges": ranges})
        except APIError as exc:
            if _unparsable_range(exc, ranges) is None:  # a missing tab has nothing to clear
                raise
