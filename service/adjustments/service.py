"""Corrections after payment: re-evaluate a finalized period, store the deltas as an adjustment run.

HR names a finalized period and corrected facts (a new import) and/or a corrected policy version.
The engine evaluates the period again; per (rep, line period, component) the adjustment line is
`latest evaluation - everything already paid` (the finalized runs' lines for those periods,
earlier finalized adjustments included; recovery lines excluded). Paid lines are never rewritten,
so once the adjustment is finalized the sum of a rep's lines for a period equals the latest
evaluation. The adjustment is a run like any other: draft -> publish -> objections -> finalize,
and its lines reach payroll only when finalized, in the pay period it names.

One adjustment per period is open (draft or published) at a time; two concurrent attempts both
ask for sequence number n + 1 of the period and the unique key lets exactly one insert it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.periods import Month, months_of, parse_month, parse_period
from engine.problems import Problem
from engine.results import PayoutLine
from service.adjustments import reclose
from service.adjustments.feedinfo import RECOVERY
from service.adjustments.ledger import count_open
from service.adjustments.models import Adjustment, LateCredit
from service.api.errors import ApiError
from service.api.inputs import Id, Input
from service.audit import service as audit
from service.auth import Principal
from service.db.session import release
from service.engine_gate import EvaluatedRun, Policy, money_text
from service.engine_gate import Rep as EvaluatedRep
from service.facts.service import import_for
from service.periods.corrected import lock_quarter
from service.periods.models import PeriodClose
from service.policies.service import get_version, load_policy
from service.runs.models import Run, RunLine
from service.runs.service import add_run, check_period, evaluate_import, find_run, run_document, snapshot
from service.runs.states import RunState

Key = tuple[str, str, str]  # (rep_id, line period, component)


class AdjustmentRequest(Input):
    """POST /adjustments: what to re-evaluate, with what, why, and when it is paid."""

    policy_id: str = Field(min_length=1)
    period: str = Field(description="the finalized period to re-evaluate: a month (2026-07) or a quarter")
    fact_import_id: Id | None = Field(None, description="corrected facts; default: the original run's import")
    version: str | None = Field(None, description="a corrected policy version; default: the original run's")
    reason: str = Field(min_length=1, max_length=2000)
    pay_period: str | None = Field(None, description="the month whose payroll pays it; default: this month")


def covered_periods(period: str) -> list[str]:
    """The line periods a re-evaluation of `period` decides: itself and, for a quarter, its months."""
    p = parse_period(period)
    return sorted({period, *(str(m) for m in months_of(p))})


def paid_lines(db: Session, periods: list[str]) -> dict[Key, RunLine]:
    """What was paid per (rep, period, component): finalized lines summed into one row each."""
    rows = db.scalars(
        select(RunLine)
        .join(Run, Run.id == RunLine.run_id)
        .where(Run.status == RunState.FINALIZED, RunLine.period.in_(periods), RunLine.component != RECOVERY)
        .order_by(RunLine.id)
    ).all()
    paid: dict[Key, RunLine] = {}
    for ln in rows:
        key = (ln.rep_id, ln.period, ln.component)
        if key in paid:
            total = Decimal(paid[key].amount) + Decimal(ln.amount)
            paid[key] = RunLine(
                rep_id=ln.rep_id,
                name=ln.name,
                region=ln.region,
                period=ln.period,
                component=ln.component,
                label=ln.label,
                amount=money_text(total),
            )
        else:
            paid[key] = ln
    return paid


def delta_lines(paid: dict[Key, RunLine], latest: list[PayoutLine]) -> list[PayoutLine]:
    """Latest minus paid per key, zero deltas left out, sorted by (rep, period, component)."""
    now = {(ln.rep_id, str(ln.period), ln.component): ln for ln in latest}
    out: list[PayoutLine] = []
    for key in sorted(set(now) | set(paid)):
        new, old = now.get(key), paid.get(key)
        delta = (new.amount if new else Decimal(0)) - (Decimal(old.amount) if old else Decimal(0))
        if delta != 0:
            name = new.name if new else old.name if old else None
            label = new.label if new else old.label if old else key[2]
            out.append(PayoutLine(key[0], name, key[1], key[2], label, delta))
    return out


def original_run(db: Session, period: str) -> Run:
    """The latest finalized ordinary (not adjustment) run that paid lines of `period`: a run of the
    period itself, of one of its months (a quarter), or of its quarter (a month paid by a quarter
    run). 409 when there is none: an unfinalized period is corrected through its objections."""
    p = parse_period(period)
    related = {period, *(str(m) for m in months_of(p))}
    not_original = select(Adjustment.run_id)
    if isinstance(p, Month):  # a month paid by a quarter run paying it whole; a close pays no month
        related.add(f"{p.year}-Q{(p.month - 1) // 3 + 1}")
        not_original = not_original.union(select(PeriodClose.run_id))  # type: ignore[assignment]
    run = db.scalars(
        select(Run)
        .where(Run.period.in_(related), Run.status == RunState.FINALIZED, Run.id.not_in(not_original))
        .order_by(Run.finalized_at.desc(), Run.id.desc())
    ).first()
    if run is None:
        raise ApiError(
            409,
            "period-not-finalized",
            f"no run for {period} is finalized; correct it through its objection window instead",
        )
    return run


def _request_problem(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid-request", message, [Problem("request", None, None, field, message)])


def _pay_period(text: str | None, at: datetime) -> str:
    if text is None:
        return str(Month(at.year, at.month))
    try:
        return str(parse_month(text))
    except ValueError as exc:
        raise _request_problem("pay_period", str(exc)) from exc


def _policy(db: Session, req: AdjustmentRequest, original: Run) -> Policy:
    if req.policy_id != original.policy_id:
        raise _request_problem(
            "policy_id", f"{req.period} was paid under policy {original.policy_id}, not {req.policy_id}"
        )
    if req.version is None:
        return load_policy(db, original.policy_sha256)
    return load_policy(db, get_version(db, req.policy_id, req.version).sha256)


def next_seq(db: Session, period: str) -> int:
    return int(db.scalar(select(func.max(Adjustment.seq)).where(Adjustment.period == period)) or 0) + 1


def _refuse_open(db: Session, period: str) -> None:
    if count_open(db, period):
        raise ApiError(
            409,
            "adjustment-open",
            f"an adjustment of {period} is not finalized yet; "
            "finalize it (or let its objections correct it) before adjusting again",
        )


def adjustment_dict(adj: Adjustment) -> dict[str, Any]:
    return {
        "run_id": adj.run_id,
        "period": adj.period,
        "seq": adj.seq,
        "original_run_id": adj.original_run_id,
        "original_policy_sha256": adj.original_policy_sha256,
        "original_facts_sha256": adj.original_facts_sha256,
        "pay_period": adj.pay_period,
        "reason": adj.reason,
        "requested_by": adj.requested_by,
        "approved_by": adj.approved_by,
    }


def create_adjustment(db: Session, who: Principal, at: datetime, req: AdjustmentRequest) -> dict[str, Any]:
    """Evaluate the correction and store it as a draft adjustment run (409 when another is open,
    when a concurrent attempt won, or when the re-evaluation equals what was paid)."""
    period = check_period(req.period)
    original = original_run(db, period)
    pay_period = _pay_period(req.pay_period, at)
    _refuse_open(db, period)
    quarter = reclose.guard_quarter(db, period)
    policy = _policy(db, req, original)
    sources, read_months = None, None
    if reclose.is_reclose(db, period, req.fact_import_id):
        sources, facts, read_months = reclose.reclose_inputs(db, period)
    else:
        facts = snapshot(import_for(db, req.fact_import_id or original.fact_import_id))
    seq = next_seq(db, period)
    release(db)  # evaluation can take seconds: hold no database lock meanwhile
    if sources is None:
        ev = evaluate_import(policy, facts, period)
    else:
        ev, facts = reclose.evaluate_reclose(policy, sources, facts, period)
    try:
        if quarter is not None:
            lock_quarter(db, quarter)  # closes and adjustments of one quarter: one writer at a time
            reclose.guard_quarter(db, period)
        if sources is not None and reclose.reclose_inputs(db, period)[2] != read_months:
            raise ApiError(409, "conflict", f"a month of {period} was corrected while re-closing; retry the request")
        _refuse_open(db, period)
        if next_seq(db, period) != seq:
            raise ApiError(409, "adjustment-conflict", f"{period} was adjusted concurrently; reload and retry")
        existing = find_run(db, policy.sha256, facts.sha256, period)
        if existing is not None and sources is not None:  # a re-close on the facts already closed on
            raise ApiError(409, "nothing-to-adjust", f"run {existing.id} already closed {period} on its months' facts")
        if existing is not None:
            raise ApiError(409, "adjustment-conflict", f"run {existing.id} already evaluated these inputs for {period}")
        deltas = delta_lines(paid_lines(db, covered_periods(period)), ev.lines)
        if sources is not None:
            deltas = reclose.own_lines(period, deltas)
        if not deltas:
            raise ApiError(409, "nothing-to-adjust", f"the re-evaluation of {period} equals what was paid")
        run = add_run(db, who, at, policy, facts, period, as_adjustment_run(ev, deltas))
        adj = Adjustment(
            run_id=run.id,
            period=period,
            seq=seq,
            original_run_id=original.id,
            original_policy_sha256=original.policy_sha256,
            original_facts_sha256=original.facts_sha256,
            pay_period=pay_period,
            reason=req.reason,
            requested_by=who.name,
            month_runs=read_months,
        )
        db.add(adj)
        db.flush()
        link_adjustment(db, period, facts.id, run.id)
        audit.record(
            db,
            who,
            at,
            "adjustment.create",
            f"run:{run.id}",
            after=audit.state_hash(run_document(run)),
            period=period,
            original_run_id=original.id,
            total_delta=run.total_payout,
            reason=req.reason,
        )
        db.commit()
    except IntegrityError as exc:  # a concurrent adjustment of the same period (or inputs) won
        db.rollback()
        raise ApiError(409, "adjustment-conflict", f"{period} was adjusted concurrently; reload and retry") from exc
    out = {"run": run_document(run), "adjustment": adjustment_dict(adj), "lines": _line_dicts(deltas)}
    hint = reclose.reclose_hint(db, period)
    return {**out, "quarter_reclose": hint} if hint is not None else out


def link_adjustment(db: Session, period: str, fact_import_id: int, run_id: int) -> None:
    """A pending late credit of `period` is made by an adjustment that reads its corrected facts."""
    db.execute(
        update(LateCredit)
        .where(
            LateCredit.period == period,
            LateCredit.credited_import_id == fact_import_id,
            LateCredit.adjustment_run_id.is_(None),
        )
        .values(adjustment_run_id=run_id, problem=None)
        .execution_options(synchronize_session=False)
    )


def as_adjustment_run(ev: EvaluatedRun, deltas: list[PayoutLine]) -> EvaluatedRun:
    """The evaluation as stored for an adjustment run: its results, but the deltas as its lines."""
    per_rep: dict[str, Decimal] = defaultdict(Decimal)
    for d in deltas:
        per_rep[d.rep_id] += d.amount
    reps = {r.rep_id: dataclasses.replace(r, total=per_rep.get(r.rep_id, Decimal(0))) for r in ev.reps}
    for d in deltas:  # a rep the corrected facts no longer hold still owes or gets their delta
        reps.setdefault(d.rep_id, EvaluatedRep(d.rep_id, d.name, None, per_rep[d.rep_id]))
    total = sum(per_rep.values(), Decimal(0))
    return dataclasses.replace(ev, lines=deltas, reps=list(reps.values()), total_payout=total)


def _line_dicts(deltas: list[PayoutLine]) -> list[dict[str, str]]:
    return [
        {"rep_id": d.rep_id, "period": str(d.period), "component": d.component, "delta": money_text(d.amount)}
        for d in deltas
    ]


def list_adjustments(db: Session, period: str | None) -> dict[str, Any]:
    """Every adjustment, oldest first, with its run's state."""
    stmt = select(Adjustment, Run.status).join(Run, Run.id == Adjustment.run_id).order_by(Adjustment.run_id)
    if period and period.strip():  # blank means any period, as the documented filter pattern says
        stmt = stmt.where(Adjustment.period == check_period(period))
    return {"adjustments": [{**adjustment_dict(a), "status": str(s)} for a, s in db.execute(stmt).all()]}
