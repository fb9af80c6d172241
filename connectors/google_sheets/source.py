"""Google Sheets source: every metric on one spreadsheet is read with one spreadsheets.get request.

That request names every range and a field mask for the locale, the tabs and each cell's formatted value.
A metric names ``spreadsheet`` (an ID or a browser URL) and ``range`` in A1 notation: one cell, or a
range with ``aggregate`` (sum, avg, min, max, count, latest = last non-empty cell). Cells are read
as people see them (formattedValue) and parsed in the spreadsheet's locale. A range on a tab that does
not exist fails only its own metrics: one metadata request finds the missing tabs, and the other ranges
are read again in one request.
"""

from __future__ import annotations

from collections.abc import Sequence

import google.auth.exceptions
import google.auth.transport.requests
from gspread.exceptions import APIError

from okrsync.connectors.google_sheets import GoogleSheetsConnection, GoogleSheetsMetric
from okrsync.connectors.google_sheets.client import (
    GRID_FIELDS,
    METADATA_FIELDS,
    SheetsHTTPClient,
    col_letters,
    explain,
    missing_tabs,
    number_symbols,
    open_client,
    range_origin,
    spreadsheet_id,
    value_ranges,
)
from okrsync.errors import TransientError
from okrsync.okr.aggregate import aggregate
from okrsync.okr.numbers import parse_number
from okrsync.sdk.connector import FetchResult, MetricQuery, Observation, Source


class GoogleSheetsSource(Source[GoogleSheetsConnection, GoogleSheetsMetric]):
    def check(self) -> str:
        """Ask the token endpoint for an access token: proves the key is valid and the endpoint reachable.

        Access to each spreadsheet is checked by the metric previews that follow.
        """
        client, email = open_client(self.name, self.settings, self.base_dir)
        try:
            client.auth.refresh(google.auth.transport.requests.Request())  # the session's credentials; a plain session
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
        sheets = list(by_sheet.items())
        if not sheets:
            return out
        # the first spreadsheet is read alone: it obtains the access token that the others then share;
        # the rest are read several at a time (threads), paced by the connection's one quota window
        out.update(self._read_spreadsheet(client, email, *sheets[0]))
        for found in self.concurrently(lambda pair: self._read_spreadsheet(client, email, *pair), sheets[1:]):
            out.update(found)
        return out

    def _read_spreadsheet(
        self, client: SheetsHTTPClient, email: str | None, sid: str, items: list[MetricQuery]
    ) -> FetchResult:
        """One request per spreadsheet whatever the number of metrics: spreadsheets.get with every range
        and a field mask for the locale, the tabs and the formatted values. Sheets refuses the whole
        request when one range names a missing tab; then the metadata says which (one more request)
        and the others are read again."""
        out: FetchResult = {}
        wanted = list(dict.fromkeys(q.fill(q.params.range) for q in items))
        try:
            try:
                grid = client.fetch_sheet_metadata(sid, params={"fields": GRID_FIELDS, "ranges": wanted})
            except APIError as exc:
                if exc.response.status_code != 400:
                    raise
                meta = client.fetch_sheet_metadata(sid, params={"fields": METADATA_FIELDS})
                out, wanted = missing_tabs(meta, items, self.error)
                if not out:  # every tab exists: the refusal is about something else, and it is the answer
                    raise
                grid = (
                    client.fetch_sheet_metadata(sid, params={"fields": GRID_FIELDS, "ranges": wanted})
                    if wanted
                    else meta
                )
            symbols = number_symbols(grid)
        except (APIError, TransientError, google.auth.exceptions.GoogleAuthError) as exc:
            return {q.metric_id: self.error(explain(exc, sid, email), q) for q in items}
        except ValueError as exc:  # a 200 whose body is not JSON, or a locale whose numbers cannot be read
            message = str(exc) if "locale" in str(exc) else "Google Sheets answered with a body that is not JSON"
            return {q.metric_id: self.error(message, q) for q in items}
        by_range = value_ranges(grid, wanted)
        for q in items:
            if q.metric_id not in out:
                try:
                    out[q.metric_id] = Observation(_value(q, by_range[q.fill(q.params.range)], symbols))
                except ValueError as exc:
                    out[q.metric_id] = self.error(str(exc), q)
        return out


def _value(q: MetricQuery, value_range: dict, symbols: tuple[str, str]) -> float:
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
        return _number(a1, text, symbols)
    if how is None:
        raise ValueError(
            f"range {q.params.range} holds several cells: add aggregate (sum, avg, min, max, count, latest)"
        )
    if how == "count":
        return float(len(filled))
    if not filled:
        raise ValueError(f"range {value_range.get('range', q.params.range)} is empty")
    if how == "latest":
        return _number(*filled[-1], symbols)
    return aggregate([_number(a1, text, symbols) for a1, text in filled], how)


def _number(a1: str, text: object, symbols: tuple[str, str]) -> float:
    decimal, group = symbols
    try:
        return parse_number(text, decimal=decimal, group=group)
    except ValueError:
        raise ValueError(
            f"cell {a1} holds {str(text)[:40]!r}, which is not a number in this spreadsheet's locale "
            f"(decimal {decimal!r}, grouping {group!r})"
        ) from None
