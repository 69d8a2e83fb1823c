"""The clawback ledger: settling a finalized run against reps' balances, and reading balances.

Called inside finalization (serialised: one finalization at a time), so a balance read here is
the balance every earlier finalization left. When a run is finalized, per rep:

* its cash in the run is the sum of its lines (recovery lines excluded);
* an adjustment run's negative cash (the rep was paid more than the latest evaluation owes) is
  *owed*: it goes to the rep's balance instead of being deducted at once;
* a positive cash first repays an open balance: at most `max_share_of_payout` of the cash, that
  product rounded once with the paying run's policy `rounding` (quantum and mode), never more than
  the balance. The deduction is a recovery line (component `clawback`) in the run's own payout.

All money is `Decimal`; the balance is a sum of cent amounts and never rounds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from service.adjustments.feedinfo import RECOVERY
from service.adjustments.models import Adjustment, BalanceEntry
from service.api.errors import ApiError
from service.auth import Principal
from service.db.guard import checked
from service.engine_gate import money_text
from service.policies.service import load_policy
from service.runs.bulk import line_id
from service.runs.models import Run, RunLine, RunRep
from service.runs.service import iso_utc
from service.runs.states import RunState

RECOVERY_LABEL = "回款冲减 clawback recovery"


def balance_of(db: Session, rep_id: str) -> Decimal:
    """What the rep still owes: owed minus recovered, over finalized runs."""
    amounts = db.scalars(select(BalanceEntry.amount).where(BalanceEntry.rep_id == rep_id)).all()
    return sum((Decimal(a) for a in amounts), Decimal(0))


def _balances(db: Session, run_id: int) -> dict[str, Decimal]:
    """The open balance of every rep of the run with one (one query, not one per rep: a run may
    have a million reps, and few of them ever owe anything)."""
    reps = select(RunRep.rep_id).where(RunRep.run_id == run_id)
    rows = db.execute(select(BalanceEntry.rep_id, BalanceEntry.amount).where(BalanceEntry.rep_id.in_(reps))).all()
    out: dict[str, Decimal] = defaultdict(Decimal)
    for rep_id, amount in rows:
        out[rep_id] += Decimal(amount)
    return out


def settle(db: Session, who: Principal, at: datetime, run: Run) -> None:
    """Book a run being finalized against the reps' balances (flushes, does not commit)."""
    adjustment = db.get(Adjustment, run.id)
    if adjustment is not None:
        adjustment.approved_by = who.name
    cash: dict[str, Decimal] = defaultdict(Decimal)
    rows = db.execute(
        select(RunLine.rep_id, RunLine.amount).where(RunLine.run_id == run.id, RunLine.component != RECOVERY)
    ).all()
    for rep_id, amount in rows:
        cash[rep_id] += Decimal(amount)
    entries: list[dict[str, Any]] = []
    recoveries: list[dict[str, Any]] = []
    policy = None
    balances = _balances(db, run.id)
    for rep_id in sorted(cash):
        net = cash[rep_id]
        if net < 0 and adjustment is not None:
            entries.append(_entry(rep_id, run.id, "owed", -net, at))
            continue
        if net <= 0:
            continue
        owed = balances.get(rep_id, Decimal(0))
        if owed <= 0:
            continue
        policy = policy or load_policy(db, run.policy_sha256)
        take = min(owed, policy.money(net * policy.clawback.max_share))
        if take <= 0:
            continue
        entries.append(_entry(rep_id, run.id, "recovered", -take, at))
        rep = db.get(RunRep, (run.id, rep_id))
        recoveries.append(
            {
                "line_id": line_id(run.id, rep_id, run.period, RECOVERY),
                "run_id": run.id,
                "rep_id": rep_id,
                "name": rep.name if rep else None,
                "region": rep.region if rep else None,
                "period": run.period,
                "component": RECOVERY,
                "label": f"{RECOVERY_LABEL}: {money_text(owed)} owed, {money_text(owed - take)} left",
                "amount": money_text(-take),
            }
        )
    if entries:
        db.execute(insert(BalanceEntry), checked(BalanceEntry, entries))
    if recoveries:
        db.execute(insert(RunLine), checked(RunLine, recoveries))
    db.flush()


def _entry(rep_id: str, run_id: int, kind: str, amount: Decimal, at: datetime) -> dict[str, Any]:
    return {"rep_id": rep_id, "run_id": run_id, "kind": kind, "amount": money_text(amount), "created_at": at}


def balance(db: Session, who: Principal, rep_id: str) -> dict[str, Any]:
    """A rep's clawback balance with its movements (hr, payroll and the rep themself)."""
    if not (who.sees_everyone or (who.role == "rep" and who.rep_id == rep_id)):
        raise ApiError(403, "forbidden", f"only HR, payroll and rep {rep_id!r} themself see this balance")
    rows = db.execute(
        select(BalanceEntry, Run.period)
        .join(Run, Run.id == BalanceEntry.run_id)
        .where(BalanceEntry.rep_id == rep_id)
        .order_by(BalanceEntry.id)
    ).all()
    total = sum((Decimal(e.amount) for e, _ in rows), Decimal(0))
    return {
        "rep_id": rep_id,
        "balance": money_text(total),
        "entries": [
            {
                "run_id": e.run_id,
                "period": period,
                "kind": e.kind,
                "amount": e.amount,
                "at": iso_utc(e.created_at),
            }
            for e, period in rows
        ],
    }


def count_open(db: Session, period: str) -> int:
    """Adjustments of `period` not yet finalized (draft or published): at most one at a time."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(Adjustment)
            .join(Run, Run.id == Adjustment.run_id)
            .where(Adjustment.period == period, Run.status.in_([RunState.DRAFT, RunState.PUBLISHED]))
        )
        or 0
    )
