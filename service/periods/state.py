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

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.periods import Month, Period, months_of
from service.periods.corrected import reclose_state
from service.periods.models import PeriodClose
from service.runs.models import PeriodClaim, Run, RunLine
from service.runs.service import iso_utc
from service.runs.states import RunState

NOT_EVALUATED = "not-evaluated"
DRAFT = "draft"
PUBLISHED = "published"
FINALIZED = "finalized"  # a month: its lines are in the payroll feed
CLOSED = "closed"  # a quarter: its own lines (rank prizes, quarterly awards) are in the feed


class RunHead(Protocol):
    """What a state document says of a run: a `Run`, or a row of just these columns (`_holders`)."""

    id: int
    period: str
    status: RunState
    objection_deadline: datetime | None
    finalized_at: datetime | None


def _run_state(run: RunHead, final_word: str) -> dict[str, Any]:
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


def _unheld(state: str) -> dict[str, Any]:
    return {"state": state, **dict.fromkeys(_RUN_KEYS)}


_HOLDERS = (  # built once: the payroll feed asks with every page
    select(PeriodClaim.month, Run.id, Run.period, Run.status, Run.objection_deadline, Run.finalized_at)
    .join(Run, Run.id == PeriodClaim.run_id)
    .where(PeriodClaim.month.in_(bindparam("months", expanding=True)))
)


def _holders(db: Session, months: list[str]) -> dict[str, RunHead]:
    """The run holding each month that a published or finalized run holds (one query of the few
    columns a state document names: the payroll feed reads it with every page)."""
    rows = db.connection().execute(_HOLDERS, {"months": months}).all()
    return {row.month: row for row in rows}


def _drafted(db: Session, periods: list[str]) -> set[str]:
    """Which of `periods` have a draft run (one query; asked only for periods nobody holds)."""
    if not periods:
        return set()
    found = db.scalars(select(Run.period).where(Run.period.in_(periods), Run.status == RunState.DRAFT).distinct())
    return set(found.all())


def _month_doc(month: str, run: RunHead | None, drafted: set[str]) -> dict[str, Any]:
    body = _run_state(run, FINALIZED) if run is not None else _unheld(DRAFT if month in drafted else NOT_EVALUATED)
    return {"period": month, "kind": "month", **body, "final": body["state"] == FINALIZED}


def month_state(db: Session, month: Month) -> dict[str, Any]:
    """A month's state from the run holding it (a month run or a whole-quarter run), else its drafts."""
    run = _holders(db, [str(month)]).get(str(month))
    return _month_doc(str(month), run, set() if run is not None else _drafted(db, [str(month)]))


def period_state(db: Session, period: Period) -> dict[str, Any]:
    """The state document of a month, or of a quarter with each of its months and its own lines
    (its close's state; `closed` once the close, or a run that paid the quarter whole, is final)."""
    if isinstance(period, Month):
        return month_state(db, period)
    key, months = str(period), [str(m) for m in months_of(period)]
    held = _holders(db, months)
    close = db.get(PeriodClose, key)
    close_run = db.get(Run, close.run_id) if close is not None else None
    whole = next((r for r in held.values() if r.period == key), None)
    unheld = [m for m in months if m not in held] + ([] if held or close_run else [key])
    drafted = _drafted(db, unheld)
    if close is not None and close_run is not None:
        own = {**_run_state(close_run, CLOSED), "closed_from": [run_id for _, run_id in close.month_runs]}
    elif whole is not None:  # one run paid the months and the quarter
        own = {**_run_state(whole, CLOSED), "closed_from": []}
    elif held:  # month runs pay its months: only a close can pay its own lines, and there is none yet
        own = {**_unheld(NOT_EVALUATED), "closed_from": []}
    else:
        own = {**_unheld(DRAFT if key in drafted else NOT_EVALUATED), "closed_from": []}
    docs = [_month_doc(m, held.get(m), drafted) for m in months]
    return {
        "period": key,
        "kind": "quarter",
        **own,
        # a month corrected since the close makes the quarter's own lines due for a re-close: not final
        "final": own["state"] == CLOSED and all(m["final"] for m in docs) and not _reclose_due(db, key),
        "months": docs,
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


def _reclose_due(db: Session, quarter: str) -> bool:
    due = reclose_state(db, quarter)
    return bool(due and due["needed"])
