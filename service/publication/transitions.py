"""The run state machine applied: moving a run between `RunState`s under a row lock, with its audit entry.

Each transition locks the run row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers
with BEGIN IMMEDIATE) and then changes the status with an UPDATE conditional on the status it
read, so concurrent publishes or finalizes leave exactly one outcome and the loser gets 409.
A month can be held by one published/finalized run only (`period_claims` primary key), so two
runs for the same month can never both reach payroll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.periods import months_of, parse_period
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.policies.models import PolicyVersion
from service.runs.models import PeriodClaim, Run
from service.runs.service import run_document
from service.runs.states import TRANSITIONS, Transition


def _not_in_state(run: Run, step: Transition) -> ApiError:
    reason = f"run {run.id} is {run.status}; only a {step.source} run can be {step.done}"
    if run.superseded_by_id is not None:
        reason += f" (it was superseded by run {run.superseded_by_id})"
    return ApiError(409, "illegal-transition", reason, run_status=run.status)


def require(run: Run, action: str) -> Transition:
    """The transition `action` of `run` (409 when the run is not in the state it starts from)."""
    step = TRANSITIONS[action]
    if run.status != step.source:
        raise _not_in_state(run, step)
    return step


def _set_status(db: Session, run: Run, step: Transition, **values: Any) -> None:
    result = db.execute(
        update(Run)
        .where(Run.id == run.id, Run.status == step.source)
        .values(status=step.target, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise ApiError(409, "illegal-transition", f"run {run.id} changed concurrently; reload it")
    db.refresh(run)


def transition(
    db: Session,
    who: Principal,
    at: datetime,
    run: Run,
    action: str,
    noted: dict[str, Any],
    **values: Any,
) -> None:
    """Take `run` through `action` (409 if another request moved it first) and audit the change."""
    before = audit.state_hash(run_document(run))
    _set_status(db, run, TRANSITIONS[action], **values)
    audit.record(
        db, who, at, f"run.{action}", f"run:{run.id}", before=before, after=audit.state_hash(run_document(run)), **noted
    )


def claim_months(db: Session, run: Run) -> None:
    """Hold the run's months in `period_claims` (409 when another run holds one of them)."""
    months = [str(m) for m in months_of(parse_period(run.period))]
    taken = db.scalars(select(PeriodClaim).where(PeriodClaim.month.in_(months))).all()
    if taken:
        owners = ", ".join(sorted(f"{c.month} by run {c.run_id}" for c in taken))
        raise ApiError(
            409,
            "period-already-published",
            f"already published: {owners}; correct a published run through an accepted objection instead",
        )
    for m in months:
        db.add(PeriodClaim(month=m, run_id=run.id))
    try:
        db.flush()
    except IntegrityError as exc:  # a concurrent publish of another run for the same month won
        db.rollback()
        raise ApiError(409, "period-already-published", f"a run for {run.period} was published concurrently") from exc


def lock_policy_version(db: Session, run: Run) -> None:
    """Freeze the policy version the run used (409 when it was edited after the evaluation)."""
    result = db.execute(
        update(PolicyVersion)
        .where(
            PolicyVersion.policy_id == run.policy_id,
            PolicyVersion.version == run.policy_version,
            PolicyVersion.sha256 == run.policy_sha256,
        )
        .values(locked=True)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise ApiError(
            409,
            "policy-changed",
            f"{run.policy_id} {run.policy_version} was edited after run {run.id} "
            "was evaluated; evaluate again before publishing",
        )


_FINALIZE_LOCK_KEY = 0x4D455249_54464E4C  # "MERITFNL": a PostgreSQL advisory lock key


def one_finalize_at_a_time(db: Session) -> None:
    """Serialise finalizations (SQLite already serialises every writer).

    The payroll feed is ordered by finalization time; if two finalizations could commit in the
    opposite order of their times, a client paging with a cursor taken between the two commits
    would never see the earlier-timed run's lines.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(_FINALIZE_LOCK_KEY)))
