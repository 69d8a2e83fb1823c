"""A quarter and its corrected months: what a close reads, and when a closed quarter needs re-closing.

A month corrected after payment (an adjustment run, finalized) pays what its latest evaluation
says; its *latest facts* are the facts of its latest finalized adjustment, else its month run's.
A quarter closes on those (not on the months' first figures), and compares its evaluation of the
months with everything paid for them (payout and adjustment lines summed per rep and component).

Closes and adjustments of one quarter exclude each other while open: a close is refused while an
adjustment of one of its months is open (it would read facts about to change), a month adjustment
while its quarter's close is open (the close is being approved on the month's current facts). Both
write phases take the quarter's lock (PostgreSQL: a transaction advisory lock on the quarter;
SQLite serialises every writer), so of a close and an adjustment racing exactly one wins.

A month corrected after its quarter was closed changes what the quarter's own lines (rank prizes,
quarterly awards) would be: the quarter *needs re-closing*, which `POST /adjustments` for the
quarter without facts does (an adjustment of the quarter's own lines, from each month's latest
facts). `reclose_state` says when that is due, for the month adjustment's answer and the period state.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.periods import Month, months_of, parse_period
from service.adjustments.models import Adjustment
from service.engine_gate import money_text
from service.periods.models import PeriodClose
from service.runs.models import Run, RunLine
from service.runs.states import RunState

LineKey = tuple[str, str, str, str]  # rep_id, period, component, amount
OPEN = (RunState.DRAFT, RunState.PUBLISHED)
RECOVERY = "clawback"  # recovery lines are cash movements, not what a period pays


def quarter_of(month: Month) -> str:
    return f"{month.year}-Q{(month.month - 1) // 3 + 1}"


def lock_quarter(db: Session, quarter: str) -> None:
    """Serialise the write phases of closes and adjustments of one quarter (SQLite: every writer is)."""
    if db.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"merit-quarter:{quarter}".encode()).digest()[:7], "big")
        db.execute(select(func.pg_advisory_xact_lock(key)))


def facts_runs(db: Session, month_runs: list[Run], before: datetime | None = None) -> list[Run]:
    """Per month, the run whose facts say what the month pays now (or paid at `before`): its latest
    finalized adjustment, else its month run (the runs' order kept)."""
    out = []
    for run in month_runs:
        stmt = (
            select(Run)
            .join(Adjustment, Adjustment.run_id == Run.id)
            .where(Adjustment.period == run.period, Run.status == RunState.FINALIZED)
            .order_by(Run.finalized_at.desc(), Run.id.desc())
        )
        if before is not None:
            stmt = stmt.where(Run.finalized_at <= before)
        latest = db.scalars(stmt).first()
        out.append(latest or run)
    return out


def open_adjustments(db: Session, periods: list[str]) -> list[tuple[str, int]]:
    """(period, run id) of each adjustment of these periods still draft or published."""
    rows = db.execute(
        select(Adjustment.period, Run.id)
        .join(Run, Run.id == Adjustment.run_id)
        .where(Adjustment.period.in_(periods), Run.status.in_(OPEN))
        .order_by(Run.id)
    ).all()
    return [(p, i) for p, i in rows]


def paid_sums(db: Session, periods: list[str]) -> set[LineKey]:
    """What was paid per (rep, period, component), payout and adjustment lines summed; zeros left out."""
    rows = db.execute(
        select(RunLine.rep_id, RunLine.period, RunLine.component, RunLine.amount)
        .join(Run, Run.id == RunLine.run_id)
        .where(Run.status == RunState.FINALIZED, RunLine.period.in_(periods), RunLine.component != RECOVERY)
    ).all()
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for rep, period, component, amount in rows:
        sums[(rep, period, component)] += Decimal(amount)
    return {(*k, money_text(v)) for k, v in sums.items() if v != 0}


def open_close(db: Session, month: str) -> int | None:
    """The run id of the month's quarter close while it is draft or published, else None."""
    close = db.get(PeriodClose, quarter_of(parse_period(month)))  # type: ignore[arg-type]
    if close is None:
        return None
    run = db.get(Run, close.run_id)
    return run.id if run is not None and run.status in OPEN else None


def reclose_state(db: Session, quarter: str) -> dict[str, Any] | None:
    """None unless the quarter was closed; else whether a month was corrected after the close (or
    after the quarter's last re-close) and the request that re-closes it."""
    close = db.get(PeriodClose, quarter)
    close_run = db.get(Run, close.run_id) if close is not None else None
    if close_run is None or close_run.status != RunState.FINALIZED:
        return None
    months = [str(m) for m in months_of(parse_period(quarter))]
    last_quarter = db.scalar(
        select(func.max(Run.finalized_at))
        .join(Adjustment, Adjustment.run_id == Run.id)
        .where(Adjustment.period == quarter, Run.status == RunState.FINALIZED)
    )
    since = max(t for t in (close_run.finalized_at, last_quarter) if t is not None)
    corrected = db.scalars(
        select(Adjustment.period)
        .join(Run, Run.id == Adjustment.run_id)
        .where(Adjustment.period.in_(months), Run.status == RunState.FINALIZED, Run.finalized_at > since)
        .distinct()
    ).all()
    waiting = open_adjustments(db, months)
    return {
        "needed": bool(corrected),
        "months_corrected_since": sorted(corrected),
        "months_with_open_adjustments": sorted({p for p, _ in waiting}),
        # only when due: sent while nothing was corrected it is a 409 nothing-to-adjust
        "request": (
            {"policy_id": close_run.policy_id, "period": quarter, "reason": "re-close after corrected months"}
            if corrected
            else None
        ),
    }


def reclose_pairs(db: Session, run: Run) -> list[tuple[str, int]] | None:
    """For a re-close (an adjustment of a closed quarter): (month, facts run id) as it read them;
    None for any other run."""
    adj = db.get(Adjustment, run.id)
    if adj is None or not adj.month_runs:
        return None
    return [(month, run_id) for month, run_id in adj.month_runs]
