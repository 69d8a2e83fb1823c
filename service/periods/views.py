"""`GET /payroll/periods/{period}`: where a month or a quarter stands (payroll and hr)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from engine.periods import Month, months_of, parse_period
from service.adjustments.late import late_credits
from service.api.deps import DB, require
from service.auth import Principal
from service.periods.corrected import reclose_state
from service.periods.state import period_state, with_final_lines
from service.runs.service import check_period

router = APIRouter(tags=["payroll"])
PayrollOrHR = Annotated[Principal, Depends(require("payroll", "hr"))]


@router.get("/payroll/periods/{period}")
def read_period(period: str, _: PayrollOrHR, db: DB) -> dict[str, Any]:
    """The period's state: not-evaluated, draft, published (until its objection deadline),
    finalized (a month) or closed (a quarter's own lines); a quarter lists each month's too.
    `final` with `final_lines: 0` is a period in which nobody earned anything. `late_credits`: payments
    imported after a month was paid that credit it late, each with its adjustment run, or `pending`
    (`late_credit_pending: true`) with the `POST /adjustments` body that makes it. A closed quarter's
    `reclose` says whether a month was corrected since the close (`needed`) and the request re-closing it."""
    per = parse_period(check_period(period))
    doc = with_final_lines(db, period_state(db, per))
    late = late_credits(db, sorted({str(per), *(str(m) for m in months_of(per))}))
    doc = {**doc, "late_credits": late, "late_credit_pending": any(x["state"] == "pending" for x in late)}
    if not isinstance(per, Month):  # a closed quarter whose months were corrected since: re-close it
        doc["reclose"] = reclose_state(db, str(per))
    return doc
