"""The payroll feed: payout lines of finalized, not superseded runs - nothing unfinished, ever.

Lines were computed by the engine when the run was evaluated and never change, so paging by the
line's insertion id with an opaque cursor is stable: fetching twice gives the same lines.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from engine.periods import Month, months_of, parse_period
from engine.problems import Problem
from service.api.csvsafe import write_rows
from service.api.deps import DB, Payroll
from service.api.errors import ApiError
from service.db.models import Run, RunLine

router = APIRouter(tags=["payroll"])
FIELDS = (
    "line_id",
    "run_id",
    "policy_id",
    "policy_version",
    "period",
    "rep_id",
    "name",
    "region",
    "component",
    "label",
    "amount",
)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "after":
            raise ValueError(text)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = "the cursor is not one this server issued"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "cursor", msg)]) from exc


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
    stmt = (
        select(RunLine, Run)
        .join(Run, Run.id == RunLine.run_id)
        .where(Run.status == "finalized", Run.superseded_by_id.is_(None))
        .order_by(RunLine.id)
        .limit(limit + 1)
    )
    if period:
        stmt = stmt.where(RunLine.period.in_(_periods(period)))
    if cursor:
        stmt = stmt.where(RunLine.id > decode_cursor(cursor))
    rows = db.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    items = [
        {
            "line_id": ln.line_id,
            "run_id": run.id,
            "policy_id": run.policy_id,
            "policy_version": run.policy_version,
            "period": ln.period,
            "rep_id": ln.rep_id,
            "name": ln.name,
            "region": ln.region,
            "component": ln.component,
            "label": ln.label,
            "amount": ln.amount,
        }
        for ln, run in rows
    ]
    if format == "csv":
        text = write_rows(FIELDS, ([item[f] for f in FIELDS] for item in items))
        headers = {"Content-Disposition": 'attachment; filename="payroll-lines.csv"'}
        if next_cursor:
            headers["Merit-Next-Cursor"] = next_cursor
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)
    return {"lines": items, "next_cursor": next_cursor}
