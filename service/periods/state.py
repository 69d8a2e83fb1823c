"""Where a period stands, as payroll needs to read it: nothing evaluated, a draft, published until
its objection deadline, finalized (a month), closed (a quarter's own lines final).

Without this an empty page of payroll lines says nothing: it looks the same when nothing was
finalized yet and when the period was finalized and nobody earned anything. A period's state is
read from the runs that hold it: a month from its `period_claims` row (the one published or
finalized run paying it, a month run or a whole-quarter run), a quarter's own lines from its close
(`period_closes`) or from a whole-quarter run holding its months. `final` says whether everything
the period pays is final, so "final and no lines" is "nothing earned".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.periods import Month, Period, months_of
from service.periods.models import PeriodClose
from service.runs.models import PeriodClaim, Run, RunLine
from service.runs.service import iso_utc
from service.runs.states import RunState

NOT_EVALUATED = "not-evaluated"
DRAFT = "draft"
PUBLISHED = "published"
FINALIZED = "finalized"  # a month: its lines are in the payroll feed
CLOSED = "closed"  # a quarter: its own lines (rank prizes, quarterly awards) are in the feed


def _run_state(run: Run, final_word: str) -> dict[str, Any]:
    """A run's part of a state document: its id, its period, and the times payroll waits on."""
    state = final_word if run.status == RunState.FINALIZED else str(run.status)
    return {
        "state": state,
        "run_id": run.id,
        "run_period": run.period,
        "objection_deadline": iso_utc(run.objection_deadline),  # "published until T"
        "finalized_at": iso_utc(run.finalized_at),
    }


_RUN_KEYS = ("run_id", "run_period", "objection_deadline", "finalized_at")


def _unheld(db: Session, period: str) -> dict[str, Any]:
    """A period no published run holds: draft runs of it (ids), or not evaluated at all."""
    drafts = db.scalars(select(Run.id).where(Run.period == period, Run.status == RunState.DRAFT).order_by(Run.id)).all()
    return {"state": DRAFT if drafts else NOT_EVALUATED, **dict.fromkeys(_RUN_KEYS)}


def month_state(db: Session, month: Month) -> dict[str, Any]:
    """A month's state from the run holding it (a month run or a whole-quarter run)."""
    claim = db.get(PeriodClaim, str(month))
    run = db.get(Run, claim.run_id) if claim is not None else None
    body = _run_state(run, FINALIZED) if run is not None else _unheld(db, str(month))
    return {"period": str(month), "kind": "month", **body, "final": body["state"] == FINALIZED}


def own_state(db: Session, period: Period) -> dict[str, Any]:
    """The state of what a period of months pays itself (a quarter's rank prizes and awards)."""
    close = db.get(PeriodClose, str(period))
    if close is not None:
        run = db.get(Run, close.run_id)
        assert run is not None
        return {**_run_state(run, CLOSED), "closed_from": [run_id for _, run_id in close.month_runs]}
    holders = [db.get(Run, c.run_id) for m in months_of(period) if (c := db.get(PeriodClaim, str(m))) is not None]
    whole = next((r for r in holders if r is not None and r.period == str(period)), None)
    if whole is not None:  # one run paid the months and the quarter
        return {**_run_state(whole, CLOSED), "closed_from": []}
    if holders:  # month runs pay its months: only a close can pay its own lines, and there is none yet
        return {"state": NOT_EVALUATED, **dict.fromkeys(_RUN_KEYS), "closed_from": []}
    return {**_unheld(db, str(period)), "closed_from": []}


def period_state(db: Session, period: Period) -> dict[str, Any]:
    """The state document of a month, or of a quarter with each of its months and its own lines."""
    if isinstance(period, Month):
        return month_state(db, period)
    months = [month_state(db, m) for m in months_of(period)]
    own = own_state(db, period)
    return {
        "period": str(period),
        "kind": "quarter",
        **own,
        "final": own["state"] == CLOSED and all(m["final"] for m in months),
        "months": months,
    }


def with_final_lines(db: Session, doc: dict[str, Any]) -> dict[str, Any]:
    """The state document with, per period key, how many final lines it has and what they pay
    (a finalized period with 0 lines is one where nobody earned anything)."""
    rows = db.execute(
        select(RunLine.amount)
        .join(Run, Run.id == RunLine.run_id)
        .where(Run.status == RunState.FINALIZED, Run.superseded_by_id.is_(None), RunLine.period == doc["period"])
    ).all()
    out = {**doc, "final_lines": len(rows), "final_payout": f"{sum((Decimal(a) for (a,) in rows), Decimal('0')):.2f}"}
    if "months" in doc:
        out["months"] = [with_final_lines(db, m) for m in doc["months"]]
    return out
