"""Publication use cases (公示 -> 异议期 -> 发放): publish, objections, resolution, finalization.

    draft --publish--> published --finalize (deadline passed, no open objection)--> finalized
                           |
                           +--objection accepted with corrected facts--> superseded
                                 (a new run, evaluated by the engine, is published in its place)

The states and moves are `service.runs.states`; how a move is made safe under concurrency is
`service.publication.transitions`. The clock is the caller's (the app's injectable clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.problems import Problem
from service.adjustments import ledger, objected
from service.adjustments.models import Adjustment
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.engine_gate import EvaluatedRun, Policy
from service.facts.service import import_for
from service.payroll.feed import feed_time
from service.periods.service import is_close
from service.policies.service import load_policy
from service.publication.models import Objection
from service.publication.transitions import (
    claim_months,
    lock_policy_version,
    one_finalize_at_a_time,
    require,
    transition,
)
from service.runs.models import PeriodClaim, Run, RunRep
from service.runs.service import (
    FactsSnapshot,
    add_run,
    evaluate_import,
    find_run,
    get_run,
    iso_utc,
    run_dict,
    run_document,
    snapshot,
)


def objection_dict(o: Objection) -> dict[str, Any]:
    """An objection as the API shows it; its canonical hash is what the audit log records."""
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


def publish(db: Session, who: Principal, at: datetime, run_id: int) -> dict[str, Any]:
    """Publish a draft: results become visible to managers and reps; the objection period starts."""
    run = get_run(db, run_id, lock=True)
    require(run, "publish")
    lock_policy_version(db, run)
    if not is_close(db, run.id) and db.get(Adjustment, run.id) is None:  # both pay no month of their own
        claim_months(db, run)
    deadline = at + timedelta(days=run.objection_days)
    noted = {"results_sha256": run.results_sha256, "objection_deadline": iso_utc(deadline)}
    transition(db, who, at, run, "publish", noted, published_at=at, published_by=who.name, objection_deadline=deadline)
    commit(db)
    return run_dict(run, who)


def finalize(
    db: Session, who: Principal, clock: Callable[[], datetime], run_id: int, *, separate_duties: bool = False
) -> dict[str, Any]:
    """Finalize after the objection deadline with no open objection: the run's lines go to payroll.

    With `separate_duties` (the service setting `MERIT_SEPARATE_DUTIES`) the person finalizing must
    be neither the one who created the run nor the one who published it (403)."""
    one_finalize_at_a_time(db)
    at = clock()  # read under that lock: finalizations commit in the order of their times
    run = get_run(db, run_id, lock=True)
    require(run, "finalize")
    if separate_duties:
        refuse_same_person(run, who)
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
    ledger.settle(db, who, at, run)  # clawbacks owed and recovered, in the same transaction
    transition(db, who, at, run, "finalize", noted, finalized_at=finalized_at, finalized_by=who.name)
    commit(db)
    return run_dict(run, who)


def refuse_same_person(run: Run, who: Principal) -> None:
    """403 when `who` created or published the run (separation of duties)."""
    roles = [word for word, name in (("created", run.created_by), ("published", run.published_by)) if name == who.name]
    if roles:
        raise ApiError(
            403,
            "separation-of-duties",
            f"{who.name} {' and '.join(roles)} run {run.id}; another HR user must finalize it "
            "(the service separates duties: MERIT_SEPARATE_DUTIES)",
            created_by=run.created_by,
            published_by=run.published_by,
        )


def object_to(db: Session, who: Principal, at: datetime, run_id: int, rep_id: str, reason: str) -> dict[str, Any]:
    """A rep objects to their own line, or a manager for a rep in their region, while the window is open."""
    run = get_run(db, run_id, lock=True)  # serialises with finalize: no objection slips past it
    rep = db.get(RunRep, (run.id, rep_id))
    if not who.may_see(rep_id, rep.region if rep else None):
        raise ApiError(403, "forbidden", f"{who.name} may not object for rep {rep_id!r}")
    if rep is None:
        msg = f"rep {rep_id!r} is not in run {run.id}"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "rep_id", msg)])
    require(run, "object")
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
        rep_id=rep_id,
        reason=reason,
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
        rep_id=rep_id,
    )
    commit(db)
    return objection_dict(obj)


def list_objections(db: Session, who: Principal, run_id: int) -> dict[str, Any]:
    """The run's objections `who` may see, oldest first."""
    run = get_run(db, run_id)
    rows = db.scalars(select(Objection).where(Objection.run_id == run.id).order_by(Objection.id)).all()
    regions = {r.rep_id: r.region for r in db.scalars(select(RunRep).where(RunRep.run_id == run.id)).all()}
    return {"objections": [objection_dict(o) for o in rows if who.may_see(o.rep_id, regions.get(o.rep_id))]}


def read_objection(db: Session, who: Principal, objection_id: int) -> dict[str, Any]:
    """One objection (404 when there is none, 403 about a rep outside the caller's scope)."""
    obj = db.get(Objection, objection_id)
    if obj is None:
        raise ApiError(404, "objection-not-found", f"there is no objection {objection_id}")
    rep = db.get(RunRep, (obj.original_run_id, obj.rep_id))
    if not who.may_see(obj.rep_id, rep.region if rep else None):
        raise ApiError(403, "forbidden", f"objection {objection_id} is about a rep outside your scope")
    return objection_dict(obj)


def resolve(
    db: Session,
    who: Principal,
    at: datetime,
    objection_id: int,
    decision: Literal["accepted", "rejected"],
    note: str,
    fact_import_id: int | None,
) -> dict[str, Any]:
    """Accept or reject; accepted with corrected facts re-evaluates and supersedes the run.

    The evaluation runs between two transactions (it can take seconds); the writing transaction
    locks the run and re-checks everything, and the evaluation is reused only if the objection is
    still about the same run.
    """
    if decision == "rejected" and fact_import_id is not None:
        msg = "a rejected objection takes no corrected facts"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])
    obj, run = _resolvable(db, objection_id, lock=False)
    if fact_import_id is not None and is_close(db, run.id):
        msg = (
            f"run {run.id} closes {run.period} from its finalized months' facts; corrected facts go to "
            "the months (an adjustment), not to the close"
        )
        raise ApiError(409, "close-takes-no-facts", msg)
    correction: _Correction | None = None
    if decision == "accepted" and fact_import_id is not None:
        correction = _evaluate_correction(db, run, fact_import_id)
    obj, run = _resolvable(db, objection_id, lock=True)
    if correction is not None and correction.run_id != run.id:
        raise ApiError(409, "conflict", f"run {correction.run_id} changed while evaluating; retry the request")
    before = audit.state_hash(objection_dict(obj))
    new_run = _supersede(db, who, at, run, correction, obj.id, note) if correction else None
    obj.status = decision
    obj.note = note
    obj.resolved_at = at
    obj.resolved_by = who.name
    obj.fact_import_id = fact_import_id
    obj.new_run_id = new_run.id if new_run else None
    audit.record(
        db,
        who,
        at,
        f"objection.{decision}",
        f"objection:{obj.id}",
        before=before,
        after=audit.state_hash(objection_dict(obj)),
        run_id=run.id,
        new_run_id=new_run.id if new_run else None,
        fact_import_id=fact_import_id,
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
    require(run, "supersede")
    return obj, run


@dataclass(frozen=True)
class _Correction:
    run_id: int
    policy: Policy
    facts: FactsSnapshot
    evaluated: EvaluatedRun


def _evaluate_correction(db: Session, run: Run, import_id: int) -> _Correction:
    """Evaluate the run's exact policy version on the corrected facts, outside any transaction."""
    imp = import_for(db, import_id)
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


def _supersede(db: Session, who: Principal, at: datetime, run: Run, fix: _Correction, resolving: int, note: str) -> Run:
    """Publish the corrected run in the old one's place (the old run's row is locked); an
    adjustment's correction is an adjustment again (`service.adjustments.objected`)."""
    deadline = at + timedelta(days=run.objection_days)
    adjusting = objected.is_adjustment(db, run.id)
    evaluated = objected.as_adjustment(db, run, fix.evaluated) if adjusting else fix.evaluated
    new = add_run(db, who, at, fix.policy, fix.facts, run.period, evaluated)
    new.supersedes_id = run.id
    db.flush()
    if adjusting:
        objected.record_correction(db, run.id, new.id, resolving, note)
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
    # accepting the objection publishes the corrected run: audited as any publish (who, when, which
    # run it supersedes), so the log shows who made these figures visible
    published = {"results_sha256": new.results_sha256, "objection_deadline": iso_utc(deadline), "supersedes": run.id}
    values = {"published_at": at, "published_by": who.name, "objection_deadline": deadline}
    transition(db, who, at, new, "publish", published, **values)
    noted = {"new_run_id": new.id, "fact_import_id": fix.facts.id}
    transition(db, who, at, run, "supersede", noted, superseded_by_id=new.id)
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
    """How many objections to the run are still open."""
    return (
        db.scalar(
            select(func.count()).select_from(Objection).where(Objection.run_id == run_id, Objection.status == "open")
        )
        or 0
    )
