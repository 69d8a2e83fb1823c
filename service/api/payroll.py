"""`GET /payroll/lines`: the payroll feed over HTTP (the feed itself is `service.payroll.feed`).

Every page, the last and an empty one included, carries the cursor after its last line: a poller
keeps the last cursor it was given and asks again later, receiving only what was finalized since.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from engine.periods import Month, months_of, parse_period
from engine.problems import Problem
from service.api.csvsafe import write_rows
from service.api.deps import DB, Payroll
from service.api.errors import ApiError
from service.payroll.feed import FIELDS, CursorInvalid, decode_cursor, encode_cursor, page

router = APIRouter(tags=["payroll"])
NUMBER_FIELDS = frozenset({"run_id", "amount"})
JSON = "application/json"


def _periods(period: str) -> list[str]:
    try:
        p = parse_period(period)
    except ValueError as exc:
        raise ApiError(422, "invalid-request", str(exc), [Problem("request", None, None, "period", str(exc))]) from exc
    if isinstance(p, Month):
        return [str(p)]
    return [str(p), *(str(m) for m in months_of(p))]


@router.get("/payroll/lines", responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def lines(
    _: Payroll,
    db: DB,
    period: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """One line per rep per component (commission, bonus, each award) for a month or a quarter."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except CursorInvalid as exc:
        raise ApiError(422, "invalid-request", str(exc), [Problem("request", None, None, "cursor", str(exc))]) from exc
    found = page(db, _periods(period) if period else None, after, limit)
    next_cursor = encode_cursor(found.next)
    if format == "csv":
        text = write_rows(FIELDS, ([item[f] for f in FIELDS] for item in found.lines), NUMBER_FIELDS)
        headers = {
            "Content-Disposition": 'attachment; filename="payroll-lines.csv"',
            "Merit-Next-Cursor": next_cursor,
            "Merit-More": "true" if found.more else "false",
        }
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)
    # serialised here: FastAPI's generic encoder took longer than the query for a 500-line page
    doc = {"lines": found.lines, "next_cursor": next_cursor, "more": found.more}
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), media_type=JSON)
