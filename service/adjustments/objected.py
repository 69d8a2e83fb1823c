"""An objection to an adjustment run accepted with corrected facts (issue 12).

Like an objection to any run: the adjustment's exact policy version is evaluated again on the
corrected facts, and a corrected adjustment run is published in the adjustment's place (the
adjustment is superseded). Its lines are again the deltas against everything already paid for the
period (the adjustment being corrected paid nothing yet: it was not finalized), and it gets an
`adjustments` row of its own (the next sequence number of the period) that corrects the same
original run, with the reason saying which objection corrected it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.adjustments.models import Adjustment
from service.adjustments.service import as_adjustment_run, covered_periods, delta_lines, next_seq, paid_lines
from service.engine_gate import EvaluatedRun
from service.runs.models import Run


def is_adjustment(db: Session, run_id: int) -> bool:
    return db.get(Adjustment, run_id) is not None


def as_adjustment(db: Session, run: Run, evaluated: EvaluatedRun) -> EvaluatedRun:
    """The corrected evaluation of an adjustment run's period as deltas against what was paid
    (read inside the writing transaction: only finalized runs count as paid)."""
    return as_adjustment_run(evaluated, delta_lines(paid_lines(db, covered_periods(run.period)), evaluated.lines))


def record_correction(db: Session, old_run_id: int, new_run_id: int, objection_id: int, note: str) -> None:
    """The corrected adjustment's row: what the superseded one corrected, and why it was corrected."""
    old = db.get(Adjustment, old_run_id)
    assert old is not None
    db.add(
        Adjustment(
            run_id=new_run_id,
            period=old.period,
            seq=next_seq(db, old.period),
            original_run_id=old.original_run_id,
            original_policy_sha256=old.original_policy_sha256,
            original_facts_sha256=old.original_facts_sha256,
            pay_period=old.pay_period,
            reason=f"{old.reason} [corrected by objection {objection_id} to run {old_run_id}: {note}]",
            requested_by=old.requested_by,
        )
    )
    db.flush()
