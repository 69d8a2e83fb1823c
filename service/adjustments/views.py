"""Adjustment routes: create an adjustment run (hr), list them, read a rep's clawback balance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.adjustments import ledger, service
from service.adjustments.service import AdjustmentRequest
from service.api.deps import DB, HR, Anyone, now

router = APIRouter(tags=["adjustments"])


@router.post("/adjustments", status_code=201)
def create_adjustment(body: AdjustmentRequest, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Re-evaluate a finalized period with corrected facts or policy: a draft adjustment run of deltas."""
    return service.create_adjustment(db, who, now(request), body)


@router.get("/adjustments")
def list_adjustments(_: HR, db: DB, period: str | None = None) -> dict[str, Any]:
    return service.list_adjustments(db, period)


@router.get("/reps/{rep_id}/balance")
def balance(rep_id: str, who: Anyone, db: DB) -> dict[str, Any]:
    """What the rep owes from clawbacks, and each movement (hr, payroll, the rep themself)."""
    return ledger.balance(db, who, rep_id)
