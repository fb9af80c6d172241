"""Google Sheets source: every metric on one spreadsheet is read with ONE values:batchGet.

A metric names ``spreadsheet`` (an ID or a browser URL) and ``range`` in A1 notation: one cell, or a
range with ``aggregate`` (sum, avg, min, max, count, latest = last non-empty cell). Cells are read
as people see them (FORMATTED_VALUE) and parsed like every other text value. A range that does not
exist fails only its own metrics: it is dropped and the others are read again in one request.
"""

from __future__ import annotations

from collections.abc import Sequence

import google.auth.exceptions
import google.auth.transport.requests
from gspread.exceptions import APIError

from connectors.google_sheets import GoogleSheetsConnection, GoogleSheetsMetric
from connectors.google_sheets.client import (
    SheetsHTTPClient,
    col_letters,
    explain,
    key_file_problems,
    open_client,
    range_origin,
    spreadsheet_id,
    unparsable_range,
)
from okrsync.aggregate import aggregate
from okrsync.connector import FetchResult, MetricQuery, Observation, Source
from okrsync.errors import TransientError
from okrsync.numbers import parse_number


class GoogleSheetsSource(Source[GoogleSheetsConnection, GoogleSheetsMetric]):
    def preflight(self) -> list[tuple[str, str]]:
        """The key file is there, readable, and a service-account key (without contacting Google)."""
        return key_file_problems(self.settings.credentials_file, self.base_dir)

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
                bad = unparsable_range(exc, ranges)
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
            except (TransientError, google.auth.exceptions.GoogleAuthError) as exc:
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
