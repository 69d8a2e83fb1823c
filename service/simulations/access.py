"""Which facts a manager may simulate on: only figures they could already read as results.

A draft run's results are HR's until published (`GET /runs/{id}/results` is 403 for a manager),
yet a simulation on that run's fact import returned the same per-rep totals. So a manager
simulates a month only on a fact import some published (or since finalized or superseded) run
evaluated for that month, or on the finalized runs; HR simulates on anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.periods import months_of, parse_period
from service.auth import Principal
from service.db.models import FactImport, Run
from service.runs.states import SHOWN


def sees_unpublished(who: Principal) -> bool:
    return who.role == "hr"


def published_months(db: Session, import_id: int) -> set[str]:
    """The months whose results some published run evaluated on this import showed."""
    periods = db.scalars(select(Run.period).where(Run.fact_import_id == import_id, Run.status.in_(SHOWN))).all()
    return {str(m) for p in periods for m in months_of(parse_period(p))}


def unpublished_months(db: Session, who: Principal, import_id: int, period: str) -> list[str]:
    """The months of `period` whose figures in this import `who` may not see (empty: may simulate)."""
    if sees_unpublished(who):
        return []
    shown = published_months(db, import_id)
    return [str(m) for m in months_of(parse_period(period)) if str(m) not in shown]


def simulable_imports(db: Session, who: Principal) -> Sequence[FactImport]:
    """The fact imports `who` may simulate on (for a manager: those a published run used)."""
    stmt = select(FactImport).order_by(FactImport.id)
    if not sees_unpublished(who):
        used = select(Run.fact_import_id).where(Run.status.in_(SHOWN))
        stmt = stmt.where(FactImport.id.in_(used))
    return db.scalars(stmt).all()
