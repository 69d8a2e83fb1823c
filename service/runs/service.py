"""Evaluation runs as use cases: evaluate a policy version against a fact import for a period, read results.

A run stores the policy hash, the facts hash and the engine's results (canonical JSON bytes, CSV,
per-rep totals and payout lines), so a run is reproducible and its results never change. The
same (policy hash, facts hash, period) is evaluated once: a repeated or racing request gets the
existing run back - the unique constraint decides the race. Visibility: hr and payroll see
every rep; a manager sees the reps of their regions and a rep their own line, and only once the
run is published.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.facts import ReadOptions
from engine.periods import parse_period
from engine.problems import MeritInputError, Problem
from engine.results import CreditNotes
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.deals.service import credited_import
from service.engine_gate import EvaluatedRun, Policy, PolicyLibrary, evaluate_run, load_facts, money_text
from service.facts.models import FactImport
from service.facts.service import import_bytes, import_for
from service.policies.service import get_version, load_policy, versions_of
from service.replay.shadow import evaluate_shadow, shadow_policy, store_shadow
from service.runs.bulk import store_lines
from service.runs.models import Run, RunRep, RunRequest
from service.runs.states import RunState


def iso_utc(value: datetime | None) -> str | None:
    """A stored time as the API writes it (UTC, ISO 8601), None stays None."""
    return None if value is None else value.astimezone(UTC).isoformat()


def run_document(run: Run) -> dict[str, Any]:
    """The run as HR and payroll see it; its canonical hash is what the audit log records."""
    return {
        "id": run.id,
        "policy": {"id": run.policy_id, "version": run.policy_version, "sha256": run.policy_sha256},
        "period": run.period,
        "fact_import_id": run.fact_import_id,
        "facts_sha256": run.facts_sha256,
        "results_sha256": run.results_sha256,
        "status": run.status,
        "created_at": iso_utc(run.created_at),
        "created_by": run.created_by,
        "published_at": iso_utc(run.published_at),
        "published_by": run.published_by,
        "objection_days": run.objection_days,
        "objection_deadline": iso_utc(run.objection_deadline),
        "finalized_at": iso_utc(run.finalized_at),
        "finalized_by": run.finalized_by,
        "supersedes": run.supersedes_id,
        "superseded_by": run.superseded_by_id,
        "totals": {"reps": run.rep_count, "payout": run.total_payout},
    }


def run_dict(run: Run, who: Principal) -> dict[str, Any]:
    """The run as `who` may see it: team-wide totals only for hr and payroll."""
    body = run_document(run)
    if not who.sees_everyone:
        del body["totals"]
    return body


def get_run(db: Session, run_id: int, *, lock: bool = False) -> Run:
    """The run, optionally row-locked (SELECT ... FOR UPDATE) for a state transition."""
    stmt = select(Run).where(Run.id == run_id)
    if lock:
        # populate_existing: a row already in the identity map must show the state committed
        # by whoever held the lock before us.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    run = db.scalars(stmt).first()
    if run is None:
        raise ApiError(404, "run-not-found", f"there is no run {run_id}")
    return run


def check_period(period: str) -> str:
    """The period in its canonical spelling; 422 naming `period` when it is not one."""
    try:
        return str(parse_period(period))
    except ValueError as exc:
        raise ApiError(422, "invalid-request", str(exc), [Problem("request", None, None, "period", str(exc))]) from exc


def choose_policy(db: Session, policy_id: str, version: str | None, period: str) -> Policy:
    """The requested version, or the one in force for the period (the engine's PolicyLibrary decides)."""
    if version is not None:
        return load_policy(db, get_version(db, policy_id, version).sha256)
    rows = versions_of(db, policy_id)
    if not rows:
        raise ApiError(404, "policy-not-found", f"there is no policy {policy_id!r}")
    try:
        return PolicyLibrary([load_policy(db, r.sha256) for r in rows]).for_period(period)
    except MeritInputError as err:
        raise ApiError(
            422, "no-policy-for-period", f"no single version of {policy_id} applies to {period}", err.problems
        ) from err


@dataclass(frozen=True)
class FactsSnapshot:
    """A fact import's content read inside the transaction, usable after it is released."""

    id: int
    sha256: str
    filename: str
    data: bytes
    options: ReadOptions = field(default_factory=ReadOptions)


def snapshot(imp: FactImport) -> FactsSnapshot:
    """The import's bytes and read options, detached from the session."""
    return FactsSnapshot(imp.id, imp.sha256, imp.filename, import_bytes(imp), ReadOptions.from_dict(imp.read_options))


def evaluate_import(
    policy: Policy, imp: FactsSnapshot, period: str, credits: CreditNotes | None = None
) -> EvaluatedRun:
    """Load the import's bytes with the policy's extra columns and evaluate (no database access)."""
    try:
        facts = load_facts(imp.data, imp.filename, policy.numeric_columns, options=imp.options)
        return evaluate_run(policy, facts, period, credits)
    except MeritInputError as err:
        raise ApiError(
            422,
            "evaluation-refused",
            f"policy {policy.id} {policy.version} cannot evaluate fact import {imp.id} for {period}",
            err.problems,
        ) from err


def find_run(db: Session, policy_sha: str, facts_sha: str, period: str) -> Run | None:
    """The run of exactly these inputs, if one was evaluated."""
    return db.scalars(
        select(Run).where(Run.policy_sha256 == policy_sha, Run.facts_sha256 == facts_sha, Run.period == period)
    ).first()


def add_run(
    db: Session,
    who: Principal,
    request_time: datetime,
    policy: Policy,
    imp: FactsSnapshot,
    period: str,
    ev: EvaluatedRun,
    status: RunState = RunState.DRAFT,
) -> Run:
    """Insert a run with its per-rep rows and payout lines (flushes, does not commit)."""
    run = Run(
        policy_id=policy.id,
        policy_version=policy.version,
        policy_sha256=policy.sha256,
        fact_import_id=imp.id,
        facts_sha256=imp.sha256,
        period=period,
        status=status,
        rep_count=len(ev.reps),
        total_payout=money_text(ev.total_payout),
        results_json=ev.results_json,
        results_sha256=hashlib.sha256(ev.results_json).hexdigest(),
        results_csv=ev.results_csv,
        objection_days=policy.objection_days,
        created_at=request_time,
        created_by=who.name,
    )
    db.add(run)
    db.flush()
    store_lines(db, run.id, ev)
    db.flush()
    return run


def deal_set(body: RunRequest) -> tuple[int, int, int] | None:
    """The request's deal set, or None when it names a fact import; 422 unless it names exactly one."""
    ids = (body.deal_import_id, body.payment_import_id, body.target_import_id)
    given = [i is not None for i in ids]
    if body.fact_import_id is not None and not any(given):
        return None
    if body.fact_import_id is None and all(given):
        return ids  # type: ignore[return-value]
    msg = "give fact_import_id, or deal_import_id, payment_import_id and target_import_id (a deal set)"
    raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])


def record_created(
    db: Session, who: Principal, at: datetime, run: Run, policy: Policy, facts_sha256: str, **extra: Any
) -> None:
    """The audit entry of a new run: its document's hash, its inputs' and results' hashes, its payout."""
    audit.record(
        db,
        who,
        at,
        "run.create",
        f"run:{run.id}",
        after=audit.state_hash(run_document(run)),
        policy_sha256=policy.sha256,
        facts_sha256=facts_sha256,
        results_sha256=run.results_sha256,
        period=run.period,
        total_payout=run.total_payout,
        **extra,
    )


def create_run(
    db: Session,
    who: Principal,
    at: datetime,
    policy_id: str,
    version: str | None,
    period: str,
    import_id: int | None,
    deals: tuple[int, int, int] | None = None,
) -> tuple[Run, bool]:
    """Evaluate and store a draft run: (the run, True), or (the run that already has these inputs, False).
    With `deals`, the facts are credited from that deal set first and stored as an import."""
    period = check_period(period)
    given = import_for(db, import_id) if import_id is not None else None  # a body naming none: 422 first
    policy = choose_policy(db, policy_id, version, period)
    credits = None
    if deals is not None:
        imp, credited = credited_import(db, who, at, policy, deals)
        credits = credited.explain
        commit(db)  # the credited facts are an import of their own, whatever the evaluation says
    else:
        assert given is not None
        imp = given
    existing = find_run(db, policy.sha256, imp.sha256, period)
    if existing is not None:
        return existing, False
    facts = snapshot(imp)
    shadow = shadow_policy(db, policy)  # a draft version evaluated beside the run, never paid
    release(db)  # evaluation can take seconds: hold no database lock meanwhile
    ev = evaluate_import(policy, facts, period, credits)
    shadowed = evaluate_shadow(shadow, facts.data, facts.filename, facts.options, period)
    try:
        existing = find_run(db, policy.sha256, facts.sha256, period)
        if existing is not None:  # evaluated by a concurrent request meanwhile
            return existing, False
        run = add_run(db, who, at, policy, facts, period, ev)
        store_shadow(db, run.id, shadowed)
        record_created(db, who, at, run, policy, facts.sha256)
        db.commit()
    except IntegrityError:
        # Another request evaluated the same inputs first; its run is the one outcome.
        db.rollback()
        existing = find_run(db, policy.sha256, facts.sha256, period)
        if existing is None:
            raise
        return existing, False
    return run, True


def list_runs(
    db: Session, who: Principal, period: str | None, status: str | None, policy_id: str | None
) -> dict[str, Any]:
    """The runs matching the filters, oldest first, as `who` may see them."""
    stmt = select(Run).order_by(Run.id)
    if period:
        stmt = stmt.where(Run.period == check_period(period))
    if status:
        stmt = stmt.where(Run.status == status)
    if policy_id:
        stmt = stmt.where(Run.policy_id == policy_id)
    return {"runs": [run_dict(r, who) for r in db.scalars(stmt).all()]}


def visible_reps(db: Session, run: Run, who: Principal) -> set[str] | None:
    """None when the caller sees every rep, else the rep ids they may see (403 on unpublished runs)."""
    if who.sees_everyone:
        return None
    if run.status == RunState.DRAFT:
        raise ApiError(403, "forbidden", f"run {run.id} is a draft; managers and reps see results once published")
    stmt = select(RunRep.rep_id, RunRep.region).where(RunRep.run_id == run.id)
    if who.role == "rep":
        stmt = stmt.where(RunRep.rep_id == who.rep_id)
    return {rep_id for rep_id, region in db.execute(stmt) if who.may_see(rep_id, region)}
