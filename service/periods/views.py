"""`GET /payroll/periods/{period}`: where a month or a quarter stands (payroll and hr)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from engine.periods import Month, months_of, parse_period
from service.adjustments.follow import follow_left, unfollowed
from service.adjustments.late import late_credits
from service.api.deps import DB, require, settings
from service.auth import Principal
from service.periods.corrected import reclose_state
from service.periods.state import period_state, with_final_lines
from service.runs.service import check_period

router = APIRouter(tags=["payroll"])
PayrollOrHR = Annotated[Principal, Depends(require("payroll", "hr"))]


@router.get("/payroll/periods/{period}")
def read_period(period: str, _: PayrollOrHR, db: DB, request: Request) -> dict[str, Any]:
    """The period's state: not-evaluated, draft, published (until its objection deadline),
    finalized (a month) or closed (a quarter's own lines); a quarter lists each month's too.
    `final` with `final_lines: 0` is a period in which nobody earned anything. `late_credits`: payments
    imported after a month was paid that credit it late, each with its adjustment run, or `pending`
    (`late_credit_pending: true`) with the `POST /adjustments` body that makes it; payments imports whose
    follow-up failed are followed first, and while one still fails it is listed (`unfollowed_payment_imports`)
    and `late_credit_pending` is true. A closed quarter's
    `reclose` says whether a month was corrected since the close (`needed`) and the request re-closing it."""
    per = parse_period(check_period(period))
    cfg = settings(request)
    follow_left(cfg.sessions, cfg.clock())  # payments a crash or a failure left unfollowed: followed first
    db.rollback()  # the read begins after it (the token was read before, in an older snapshot)
    doc = with_final_lines(db, period_state(db, per))
    late = late_credits(db, sorted({str(per), *(str(m) for m in months_of(per))}))
    left = unfollowed(db)  # still not followed: which months they credit late is not known yet
    pending = bool(left) or any(x["state"] == "pending" for x in late)
    doc = {**doc, "late_credits": late, "late_credit_pending": pending}
    if left:
        doc["unfollowed_payment_imports"] = left
    if not isinstance(per, Month):  # a closed quarter whose months were corrected since: re-close it
        doc["reclose"] = reclose_state(db, str(per))
    return doc
