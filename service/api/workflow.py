"""Publication workflow (公示 -> 异议期 -> 发放): publish, objections, resolution, finalization.

    draft --publish--> published --finalize (deadline passed, no open objection)--> finalized
                           |
                           +--objection accepted with corrected facts--> superseded
                                 (a new run, evaluated by the engine, is published in its place)

Each transition locks the run row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers
with BEGIN IMMEDIATE) and then changes the status with an UPDATE conditional on the status it
read, so concurrent publishes or finalizes leave exactly one outcome and the loser gets 409.
A month can be held by one published/finalized run only (`period_claims` primary key), so two
runs for the same month can never both reach payroll. The clock is the app's injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.periods import months_of, parse_period
from engine.problems import Problem
from service.api import audit
from service.api.deps import DB, HR, Id, NotPayroll, Objector, commit, now, release
from service.api.engine_gate import EvaluatedRun, Policy
from service.api.errors import ApiError
from service.api.inputs import Input
from service.api.policies import load_policy
from service.api.runs import (
    FactsSnapshot,
    add_run,
    evaluate_import,
    find_run,
    get_import_for,
    get_run,
    iso_utc,
    run_dict,
    run_document,
    snapshot,
)
from service.auth import Principal
from service.db.models import Objection, PeriodClaim, PolicyVersion, Run, RunRep
from service.payroll.feed import feed_time
from service.runs.states import TRANSITIONS, RunState, Transition

router = APIRouter(tags=["publication"])


class ObjectionRequest(Input):
    rep_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=4000)


class ResolveRequest(Input):
    decision: Literal["accepted", "rejected"]
    note: str = Field(default="", max_length=4000)
    fact_import_id: Id | None = None


def objection_dict(o: Objection) -> dict[str, Any]:
    return {
        "id": o.id,
        "run_id": o.run_id,
        "original_run_id": o.original_run_id,
        "rep_id": o.rep_id,
        "reason": o.reason,
        "status": o.status,
        "raised_by": o.raised_by,
        "raised_role": o.raised_role,
        "created_at": iso_utc(o.created_at),
        "resolved_at": iso_utc(o.resolved_at),
        "resolved_by": o.resolved_by,
        "note": o.note,
        "fact_import_id": o.fact_import_id,
        "new_run_id": o.new_run_id,
    }


def _not_in_state(run: Run, step: Transition) -> ApiError:
    reason = f"run {run.id} is {run.status}; only a {step.source} run can be {step.done}"
    if run.superseded_by_id is not None:
        reason += f" (it was superseded by run {run.superseded_by_id})"
    return ApiError(409, "illegal-transition", reason, run_status=run.status)


def _require(run: Run, action: str) -> Transition:
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


def _transition(
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


def _claim_months(db: Session, run: Run) -> None:
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


def _lock_policy_version(db: Session, run: Run) -> None:
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


@router.post("/runs/{run_id}/publish")
def publish(run_id: Id, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Publish a draft: results become visible to managers and reps; the objection period starts."""
    at = now(request)
    run = get_run(db, run_id, lock=True)
    _require(run, "publish")
    _lock_policy_version(db, run)
    _claim_months(db, run)
    deadline = at + timedelta(days=run.objection_days)
    noted = {"results_sha256": run.results_sha256, "objection_deadline": iso_utc(deadline)}
    _transition(db, who, at, run, "publish", noted, published_at=at, objection_deadline=deadline)
    commit(db)
    return run_dict(run, who)


_FINALIZE_LOCK_KEY = 0x4D455249_54464E4C  # "MERITFNL": a PostgreSQL advisory lock key


def _one_finalize_at_a_time(db: Session) -> None:
    """Serialise finalizations (SQLite already serialises every writer).

    The payroll feed is ordered by finalization time; if two finalizations could commit in the
    opposite order of their times, a client paging with a cursor taken between the two commits
    would never see the earlier-timed run's lines.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(_FINALIZE_LOCK_KEY)))


@router.post("/runs/{run_id}/finalize")
def finalize(run_id: Id, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Finalize after the objection deadline with no open objection: the run's lines go to payroll."""
    _one_finalize_at_a_time(db)
    at = now(request)  # read under that lock: finalizations commit in the order of their times
    run = get_run(db, run_id, lock=True)
    _require(run, "finalize")
    assert run.objection_deadline is not None
    if at < run.objection_deadline:
        raise ApiError(
            409,
            "objection-period-open",
            f"the objection period of run {run.id} ends at {run.objection_deadline.isoformat()}",
            objection_deadline=run.objection_deadline.isoformat(),
        )
    open_ids = db.scalars(select(Objection.id).where(Objection.run_id == run.id, Objection.status == "open")).all()
    if open_ids:
        raise ApiError(
            409,
            "open-objections",
            f"run {run.id} has open objections: {', '.join(map(str, open_ids))}",
            objections=list(open_ids),
        )
    noted = {"results_sha256": run.results_sha256}
    finalized_at = feed_time(db, at)  # strictly after every earlier finalization: the feed only grows
    _transition(db, who, at, run, "finalize", noted, finalized_at=finalized_at)
    commit(db)
    return run_dict(run, who)


@router.post("/runs/{run_id}/objections", status_code=201)
def object_to(
    run_id: Id,
    body: ObjectionRequest,
    request: Request,
    who: Objector,
    db: DB,
) -> dict[str, Any]:
    """A rep objects to their own line, or a manager for a rep in their region, while the window is open."""
    at = now(request)
    run = get_run(db, run_id, lock=True)  # serialises with finalize: no objection slips past it
    rep = db.get(RunRep, (run.id, body.rep_id))
    if not who.may_see(body.rep_id, rep.region if rep else None):
        raise ApiError(403, "forbidden", f"{who.name} may not object for rep {body.rep_id!r}")
    if rep is None:
        msg = f"rep {body.rep_id!r} is not in run {run.id}"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "rep_id", msg)])
    _require(run, "object")
    assert run.objection_deadline is not None
    if at >= run.objection_deadline:
        raise ApiError(
            409,
            "objection-period-closed",
            f"the objection period of run {run.id} ended at {run.objection_deadline.isoformat()}",
        )
    obj = Objection(
        run_id=run.id,
        original_run_id=run.id,
        rep_id=body.rep_id,
        reason=body.reason,
        status="open",
        raised_by=who.name,
        raised_role=who.role,
        created_at=at,
    )
    db.add(obj)
    db.flush()
    audit.record(
        db,
        who,
        at,
        "objection.create",
        f"objection:{obj.id}",
        after=audit.state_hash(objection_dict(obj)),
        run_id=run.id,
        rep_id=body.rep_id,
    )
    commit(db)
    return objection_dict(obj)


@router.get("/runs/{run_id}/objections")
def list_objections(run_id: Id, who: NotPayroll, db: DB) -> dict[str, Any]:
    run = get_run(db, run_id)
    rows = db.scalars(select(Objection).where(Objection.run_id == run.id).order_by(Objection.id)).all()
    regions = {r.rep_id: r.region for r in db.scalars(select(RunRep).where(RunRep.run_id == run.id)).all()}
    return {"objections": [objection_dict(o) for o in rows if who.may_see(o.rep_id, regions.get(o.rep_id))]}


@router.get("/objections/{objection_id}")
def read_objection(
    objection_id: Id,
    who: NotPayroll,
    db: DB,
) -> dict[str, Any]:
    obj = db.get(Objection, objection_id)
    if obj is None:
        raise ApiError(404, "objection-not-found", f"there is no objection {objection_id}")
    rep = db.get(RunRep, (obj.original_run_id, obj.rep_id))
    if not who.may_see(obj.rep_id, rep.region if rep else None):
        raise ApiError(403, "forbidden", f"objection {objection_id} is about a rep outside your scope")
    return objection_dict(obj)


@router.post("/objections/{objection_id}/resolve")
def resolve(
    objection_id: Id,
    body: ResolveRequest,
    request: Request,
    who: HR,
    db: DB,
) -> dict[str, Any]:
    """Accept or reject; accepted with corrected facts re-evaluates and supersedes the run.

    The evaluation runs between two transactions (it can take seconds); the writing transaction
    locks the run and re-checks everything, and the evaluation is reused only if the objection is
    still about the same run.
    """
    at = now(request)
    if body.decision == "rejected" and body.fact_import_id is not None:
        msg = "a rejected objection takes no corrected facts"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])
    obj, run = _resolvable(db, objection_id, lock=False)
    correction: _Correction | None = None
    if body.decision == "accepted" and body.fact_import_id is not None:
        correction = _evaluate_correction(db, run, body.fact_import_id)
    obj, run = _resolvable(db, objection_id, lock=True)
    if correction is not None and correction.run_id != run.id:
        raise ApiError(409, "conflict", f"run {correction.run_id} changed while evaluating; retry the request")
    before = audit.state_hash(objection_dict(obj))
    new_run = _supersede(db, who, at, run, correction, obj.id) if correction else None
    obj.status = body.decision
    obj.note = body.note
    obj.resolved_at = at
    obj.resolved_by = who.name
    obj.fact_import_id = body.fact_import_id
    obj.new_run_id = new_run.id if new_run else None
    audit.record(
        db,
        who,
        at,
        f"objection.{body.decision}",
        f"objection:{obj.id}",
        before=before,
        after=audit.state_hash(objection_dict(obj)),
        run_id=run.id,
        new_run_id=new_run.id if new_run else None,
        fact_import_id=body.fact_import_id,
    )
    commit(db)
    return {"objection": objection_dict(obj), "new_run": run_dict(new_run, who) if new_run else None}


def _resolvable(db: Session, objection_id: int, *, lock: bool) -> tuple[Objection, Run]:
    """The open objection and its published run (locked for the writing phase), or the 4xx why not."""
    obj = db.get(Objection, objection_id, populate_existing=True)
    if obj is None:
        raise ApiError(404, "objection-not-found", f"there is no objection {objection_id}")
    run = get_run(db, obj.run_id, lock=lock)
    if lock:
        db.refresh(obj)  # re-read after the lock: it may have been resolved or moved meanwhile
        if obj.run_id != run.id:
            run = get_run(db, obj.run_id, lock=True)
    if obj.status != "open":
        raise ApiError(409, "objection-resolved", f"objection {obj.id} was already {obj.status}")
    _require(run, "supersede")
    return obj, run


@dataclass(frozen=True)
class _Correction:
    run_id: int
    policy: Policy
    facts: FactsSnapshot
    evaluated: EvaluatedRun


def _evaluate_correction(db: Session, run: Run, import_id: int) -> _Correction:
    """Evaluate the run's exact policy version on the corrected facts, outside any transaction."""
    imp = get_import_for(db, import_id)
    if imp.sha256 == run.facts_sha256:
        msg = f"fact import {imp.id} has the same content as run {run.id}'s facts"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])
    if find_run(db, run.policy_sha256, imp.sha256, run.period) is not None:
        raise ApiError(
            409,
            "run-exists",
            f"a run of {run.policy_version} on fact import {imp.id} for {run.period} "
            "already exists; use a fresh import for the correction",
        )
    policy = load_policy(db, run.policy_sha256)
    facts, run_id, period = snapshot(imp), run.id, run.period
    release(db)
    return _Correction(run_id, policy, facts, evaluate_import(policy, facts, period))


def _supersede(db: Session, who: Principal, at: datetime, run: Run, fix: _Correction, resolving: int) -> Run:
    """Publish the corrected run in the old one's place (the old run's row is locked)."""
    deadline = at + timedelta(days=run.objection_days)
    new = add_run(db, who, at, fix.policy, fix.facts, run.period, fix.evaluated, status=RunState.PUBLISHED)
    new.published_at, new.objection_deadline, new.supersedes_id = at, deadline, run.id
    db.flush()
    audit.record(
        db,
        who,
        at,
        "run.create",
        f"run:{new.id}",
        after=audit.state_hash(run_document(new)),
        policy_sha256=fix.policy.sha256,
        facts_sha256=fix.facts.sha256,
        results_sha256=new.results_sha256,
        period=run.period,
        total_payout=new.total_payout,
        supersedes=run.id,
        objection=resolving,
        objection_deadline=iso_utc(deadline),
    )
    noted = {"new_run_id": new.id, "fact_import_id": fix.facts.id}
    _transition(db, who, at, run, "supersede", noted, superseded_by_id=new.id)
    db.execute(
        update(PeriodClaim)
        .where(PeriodClaim.run_id == run.id)
        .values(run_id=new.id)
        .execution_options(synchronize_session=False)
    )
    # Other objections still open follow the figures they are about, to the new run.
    moving = db.scalars(
        select(Objection)
        .where(Objection.run_id == run.id, Objection.status == "open", Objection.id != resolving)
        .order_by(Objection.id)
    ).all()
    for other in moving:
        moved_from = audit.state_hash(objection_dict(other))
        other.run_id = new.id
        audit.record(
            db,
            who,
            at,
            "objection.move",
            f"objection:{other.id}",
            before=moved_from,
            after=audit.state_hash(objection_dict(other)),
            run_id=run.id,
            new_run_id=new.id,
        )
    db.flush()
    return new


def open_objection_count(db: Session, run_id: int) -> int:
    return (
        db.scalar(
            select(func.count()).select_from(Objection).where(Objection.run_id == run_id, Objection.status == "open")
        )
        or 0
    )
