"""What the payroll feed says about adjustment and recovery lines (tables only: deps imports the feed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from service.adjustments.models import Adjustment, BalanceEntry

RECOVERY = "clawback"
"""The component of a recovery line (the engine's are `commission`, `bonus` and `award:<id>`)."""


@dataclass(frozen=True)
class FeedDetails:
    """What the payroll feed adds to an adjustment run's lines."""

    adjustment: dict[str, Any]
    owed_reps: frozenset[str]  # reps whose negative net went to their balance, not deducted now


def feed_details(conn: Connection, run_id: int) -> FeedDetails | None:
    """For an adjustment run: the original run, hashes, reason, approver and who owes; else None."""
    a = conn.execute(select(Adjustment).where(Adjustment.run_id == run_id)).first()
    if a is None:
        return None
    owed = conn.scalars(
        select(BalanceEntry.rep_id).where(BalanceEntry.run_id == run_id, BalanceEntry.kind == "owed")
    ).all()
    adjustment = {
        "original_run_id": a.original_run_id,
        "original_policy_sha256": a.original_policy_sha256,
        "original_facts_sha256": a.original_facts_sha256,
        "pay_period": a.pay_period,
        "reason": a.reason,
        "requested_by": a.requested_by,
        "approved_by": a.approved_by,
    }
    return FeedDetails(adjustment, frozenset(owed))
