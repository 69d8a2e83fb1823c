"""Who may simulate on what: a manager's facts, regions and quota changes; hr on everything.

Which facts a manager may simulate on: only figures they could already read as results.

A draft run's results are HR's until published (`GET /runs/{id}/results` is 403 for a manager),
yet a simulation on that run's fact import returned the same per-rep totals. So a manager
simulates a month only on a fact import some published (or since finalized or superseded) run
evaluated for that month, or on the finalized runs; HR simulates on anything. A manager's quota
change may name only their own regions (or reps of them), a target plan is hr's, and simulations
and scenarios are read back only by callers managing every region they cover.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.facts import FactSet
from engine.periods import months_of, parse_period
from engine.problems import MeritInputError, Problem
from engine.quota import parse_quota
from service.api.errors import ApiError
from service.auth import Principal
from service.facts.models import FactImport
from service.runs.models import Run
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


def scope_of(who: Principal) -> list[str] | None:
    """The regions a caller's simulations are restricted to (None: every region)."""
    return None if who.role == "hr" else sorted(who.regions)


def may_read(who: Principal, scope_json: str | None) -> bool:
    """Whether `who` may read a simulation or scenario stored with this scope."""
    if who.role == "hr":
        return True
    return scope_json is not None and set(json.loads(scope_json)) <= who.regions


def check_quota_scope(who: Principal, quotas: Sequence[str], facts: FactSet | None) -> None:
    """403 when a manager's quota change names a region they do not manage, or a rep of one."""
    if who.role == "hr":
        return
    rep_regions: dict[str, set[str | None]] = defaultdict(set)
    if facts is not None:
        for row in facts.rows:
            rep_regions[row.rep_id].add(row.region)
    for text in quotas:
        try:
            change = parse_quota(text, "quota")
        except MeritInputError:
            continue  # a malformed change is reported with every other scenario problem (422)
        if change.field == "region":
            outside = sorted(v for v in change.values if v not in who.regions)
        elif change.field == "rep_id":
            outside = sorted(
                v for v in change.values if any(g is None or g not in who.regions for g in rep_regions.get(v, ()))
            )
        else:
            continue  # all / product_line: applied to the manager's own reps only
        if outside:
            raise ApiError(
                403,
                "forbidden",
                f"quota change {text!r} names {', '.join(outside)}, outside your regions"
                f" ({', '.join(sorted(who.regions))})",
            )


def check_facts_scope(facts: FactSet, who: Principal) -> None:
    """A manager needs facts of their regions. They are simulated with every rep (a TOP 3 is
    company-wide) and the engine reports only their regions' reps (`regions=`)."""
    if who.role == "hr":
        return
    if not any(r.region is not None and r.region in who.regions for r in facts.rows):
        msg = f"the facts have no rows for your regions ({', '.join(sorted(who.regions))})"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "facts", msg)])


def check_plan_role(who: Principal, targets: object | None) -> None:
    """403 unless hr: a team target plan sets every region's targets."""
    if targets is not None and who.role != "hr":
        raise ApiError(403, "forbidden", "a team target plan sets every region's targets: hr only")
