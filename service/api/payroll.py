"""The payroll feed: payout lines of finalized, not superseded runs - nothing unfinished, ever.

Lines were computed by the engine when the run was evaluated and never change, and a finalized run
never changes status again, so the feed only grows, at its end: pages are ordered by when their run
was finalized, and an opaque cursor names the last line returned. Fetching twice gives the same
lines; a walk with cursors never skips or repeats one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import ColumnElement, and_, or_, select

from engine.periods import Month, months_of, parse_period
from engine.problems import Problem
from service.api.csvsafe import write_rows
from service.api.deps import DB, MAX_ID, Payroll
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
NUMBER_FIELDS = frozenset({"run_id", "amount"})


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last line's (run finalization time, run id, line row id)."""

    finalized_at: datetime
    run_id: int
    row_id: int


def encode_cursor(at: Position) -> str:
    text = json.dumps([at.finalized_at.astimezone(UTC).isoformat(), at.run_id, at.row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        when, run_id, row_id = raw
        finalized_at = datetime.fromisoformat(when)
        if finalized_at.tzinfo is None or not all(type(i) is int and 0 <= i <= MAX_ID for i in (run_id, row_id)):
            raise ValueError(raw)  # ids the database cannot hold would overflow its driver
        return Position(finalized_at, run_id, row_id)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        msg = "the cursor is not one this server issued"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "cursor", msg)]) from exc


def _after(at: Position) -> ColumnElement[bool]:
    """Lines strictly after `at` in feed order (finalization time, run, line)."""
    return or_(
        Run.finalized_at > at.finalized_at,
        and_(Run.finalized_at == at.finalized_at, Run.id > at.run_id),
        and_(Run.finalized_at == at.finalized_at, Run.id == at.run_id, RunLine.id > at.row_id),
    )


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
    # Feed order is the order runs were finalized in, then the engine's line order: a run finalized
    # while a client is paging lands after everything already final, so a walk never skips or
    # repeats a line, and a client can keep its last cursor to fetch only what was finalized since.
    stmt = (
        select(RunLine, Run)
        .join(Run, Run.id == RunLine.run_id)
        .where(Run.status == "finalized", Run.superseded_by_id.is_(None))
        .order_by(Run.finalized_at, Run.id, RunLine.id)
        .limit(limit + 1)
    )
    if period:
        stmt = stmt.where(RunLine.period.in_(_periods(period)))
    if cursor:
        stmt = stmt.where(_after(decode_cursor(cursor)))
    rows = db.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last_line, last_run = rows[-1]
        assert last_run.finalized_at is not None  # finalized runs only
        next_cursor = encode_cursor(Position(last_run.finalized_at, last_run.id, last_line.id))
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
        text = write_rows(FIELDS, ([item[f] for f in FIELDS] for item in items), NUMBER_FIELDS)
        headers = {"Content-Disposition": 'attachment; filename="payroll-lines.csv"'}
        if next_cursor:
            headers["Merit-Next-Cursor"] = next_cursor
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)
    return {"lines": items, "next_cursor": next_cursor}
