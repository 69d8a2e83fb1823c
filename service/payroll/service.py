"""The payroll feed's use case over HTTP parameters: a period filter, a cursor, a page as bytes.

The feed itself (keyset pages, cursors, strictly increasing finalization times) is
`service.payroll.feed`. Every page, the last and an empty one included, carries the cursor after
its last line: a poller keeps the last cursor it was given and asks again later, receiving only
what was finalized since.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from engine.periods import Month, months_of, parse_month, parse_period
from engine.problems import Problem
from service.api.csvsafe import write_rows
from service.api.errors import ApiError
from service.payroll.feed import FIELDS, CursorInvalid, FullPages, Page, decode_cursor, encode_cursor, feed_runs, page
from service.periods.state import period_state

NUMBER_FIELDS = frozenset({"run_id", "amount"})
JSON = "application/json"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _periods(period: str) -> list[str]:
    try:
        p = parse_period(period)
    except ValueError as exc:
        raise ApiError(422, "invalid-request", str(exc), [Problem("request", None, None, "period", str(exc))]) from exc
    if isinstance(p, Month):
        return [str(p)]
    return [str(p), *(str(m) for m in months_of(p))]


def _pay_period(text: str) -> str:
    try:
        return str(parse_month(text))
    except ValueError as exc:
        message = f"pay_period: {exc} (the month whose payroll pays the lines)"
        raise ApiError(
            422, "invalid-request", message, [Problem("request", None, None, "pay_period", message)]
        ) from exc


def lines(
    db: Session,
    full_pages: FullPages,
    period: str | None,
    cursor: str | None,
    limit: int,
    format: str,
    pay_period: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """One page of payout lines as (body, headers); full pages come from `full_pages` once cached.
    `period` keeps the lines of a month or quarter, `pay_period` those paid in a month's payroll."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except CursorInvalid as exc:
        raise ApiError(422, "invalid-request", str(exc), [Problem("request", None, None, "cursor", str(exc))]) from exc
    periods = _periods(period) if period else None
    pays = _pay_period(pay_period) if pay_period is not None else None
    key = (tuple(periods or ()), pays, after, limit, format)
    cached = full_pages.get(key)  # a full page with lines after it: it can never change
    if cached is None:
        runs = feed_runs(db, after)
        current = (*key, tuple(run[0] for run in runs))  # a page read from these runs is fixed too
        cached = full_pages.get(current)
        if cached is None:
            found = page(db, periods, after, limit, pays, runs)
            cached = _encoded(found, format, period)
            full_pages.put(key if found.more else current, *cached, weight=0 if found.more else 64 * len(runs))
    if period is None:
        return cached
    return _with_state(cached, period_state(db, parse_period(period)), format)


def _with_state(page: tuple[bytes, dict[str, str]], state: dict[str, Any], format: str) -> tuple[bytes, dict[str, str]]:
    """The page with the period's state (read now: a cached page's lines never change, the state may).

    JSON: a `period_state` member after the page's own (the lines, cursor and `more` unchanged);
    CSV: `Merit-Period-State` (the state word) and `Merit-Period-Final` headers."""
    body, headers = page
    if format == "csv":
        return body, {**headers, "Merit-Period-State": state["state"], "Merit-Period-Final": _flag(state["final"])}
    tail = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body[:-1] + b',"period_state":' + tail + b"}", headers


def _flag(value: bool) -> str:
    return "true" if value else "false"


def accepted(accept: str) -> str:
    """The format an Accept header asks for (a query's `format` wins); JSON unless CSV or XLSX is named."""
    if XLSX_MEDIA_TYPE in accept:
        return "xlsx"
    return "csv" if "text/csv" in accept else "json"


def _encoded(found: Page, format: str, period: str | None) -> tuple[bytes, dict[str, str]]:
    """The page as the response body and its headers."""
    next_cursor = encode_cursor(found.next)
    paging = {"Merit-Next-Cursor": next_cursor, "Merit-More": "true" if found.more else "false"}
    if format == "xlsx":
        from service.xlsxexport import payroll_workbook

        headers = {
            "Content-Type": XLSX_MEDIA_TYPE,
            "Content-Disposition": 'attachment; filename="payroll-lines.xlsx"',
            **paging,
        }
        return payroll_workbook(found.lines, period), headers
    if format == "csv":  # with a BOM: zh-CN Excel reads a CSV as UTF-8 (the names) only with one
        text = write_rows(FIELDS, ([item[f] for f in FIELDS] for item in found.lines), NUMBER_FIELDS)
        headers = {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="payroll-lines.csv"',
            **paging,
        }
        return ("\ufeff" + text).encode("utf-8"), headers
    # serialised here: FastAPI's generic encoder took longer than the query for a 500-line page
    doc = {"lines": found.lines, "next_cursor": next_cursor, "more": found.more}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), {"Content-Type": JSON}
