"""Closing a period made of months (a quarter) once every month of it is finalized.

A month run pays the month's own components (commission, bonus, monthly awards). A quarter's own
components (rank prizes, quarterly group awards: every payout line whose period is the quarter)
can only be decided once the quarter is over. `POST /runs` for a quarter whose months were paid by
month runs is therefore the quarter's *close*: it evaluates the quarter from exactly the facts the
finalized month runs were evaluated with (each month's rows from its run's import, combined), and
stores as payout lines only the lines of the quarter itself. The months' lines stay where they
were paid; the close checks that evaluating the quarter gives the same month lines as those paid
(else nothing is stored: a 409 naming the difference), so nothing is paid twice or differently.
Nothing here is specific to quarters: a period is closable when it is made of several months
(`engine.periods.months_of`), so a year-end period named by a policy closes the same way.

A close goes through the same publish / objection / finalize workflow as any run. A period is
closed at most once (`period_closes` primary key, also under concurrency).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.facts import FactSet
from engine.periods import Month, Period, months_of, parse_period
from engine.problems import MeritInputError, Problem
from service.api.errors import ApiError
from service.auth import Principal
from service.db.session import release
from service.engine_gate import EvaluatedRun, Policy, evaluate_run, load_facts, money_text
from service.engine_gate import Rep as EvaluatedRep
from service.facts.service import import_for
from service.periods import corrected
from service.periods.models import PeriodClose
from service.periods.state import month_state
from service.runs.models import PeriodClaim, Run
from service.runs.service import (
    FactsSnapshot,
    add_run,
    check_period,
    choose_policy,
    get_run,
    record_created,
    snapshot,
)
from service.runs.states import RunState

LineKey = tuple[str, str, str, str]  # rep_id, period, component, amount


def closes_instead(db: Session, period: str) -> bool:
    """Whether `POST /runs` for `period` is a close: a period of several months one of which a
    run of another period (a month run) already holds, or that was closed already. Otherwise it is
    an ordinary run that pays the months and the period together (its months are then held by it
    once published; asking again with the same inputs gives that run back, as for any run)."""
    per = parse_period(check_period(period))
    if isinstance(per, Month):
        return False
    if db.get(PeriodClose, str(per)) is not None:
        return True
    months = [str(m) for m in months_of(per)]
    by_others = db.scalar(
        select(func.count())
        .select_from(PeriodClaim)
        .join(Run, Run.id == PeriodClaim.run_id)
        .where(PeriodClaim.month.in_(months), Run.period != str(per))
    )
    return bool(by_others)


def asks_to_close(db: Session, period: str, facts_given: bool) -> bool:
    """Whether `POST /runs` is a close: as `closes_instead` says, or a period of several months asked
    for without facts (only a close reads its months' facts): then 409 names the months not yet
    finalized rather than a 422 asking for facts (found by a new-user walk)."""
    if closes_instead(db, period):
        return True
    return not facts_given and not isinstance(parse_period(check_period(period)), Month)


def is_close(db: Session, run_id: int) -> bool:
    """Whether the run is a period's close (it pays only the period's own lines)."""
    return db.scalar(select(PeriodClose.period).where(PeriodClose.run_id == run_id)) is not None


def _refuse_closed(db: Session, period: str) -> None:
    close = db.get(PeriodClose, period)
    if close is not None:
        raise ApiError(
            409,
            "period-already-closed",
            f"{period} was already closed by run {close.run_id}; a period is closed once",
            run_id=close.run_id,
        )


def month_runs(db: Session, per: Period) -> list[Run]:
    """The finalized month run of each month (409 naming each month that is not finalized)."""
    runs: list[Run] = []
    missing: list[dict[str, Any]] = []
    for month in months_of(per):
        claim = db.get(PeriodClaim, str(month))
        run = db.get(Run, claim.run_id, populate_existing=True) if claim is not None else None
        if run is not None and run.period == str(per):
            raise ApiError(
                409,
                "period-already-published",
                f"run {run.id} pays {per} whole (its months and its own lines); there is nothing left to close",
                run_id=run.id,
            )
        if run is None or run.period != str(month) or run.status != RunState.FINALIZED:
            missing.append(month_state(db, month))
        else:
            runs.append(run)
    if missing:
        said = ", ".join(
            f"{m['period']} ({m['state']}"
            + (f" until {m['objection_deadline']}" if m["state"] == "published" else "")
            + ")"
            for m in missing
        )
        raise ApiError(
            409,
            "months-not-finalized",
            f"{per} can be closed once all its months are finalized; not yet: {said}",
            missing=[m["period"] for m in missing],
            months=missing,
        )
    return runs


def _same_policy(runs: list[Run], policy: Policy, per: Period) -> None:
    other = [
        f"{r.period} (run {r.id}: {r.policy_id} {r.policy_version})" for r in runs if r.policy_sha256 != policy.sha256
    ]
    if other:
        raise ApiError(
            409,
            "close-policy-differs",
            f"{per} would be closed with {policy.id} {policy.version}, but its months were paid under "
            f"another version: {', '.join(other)}; close it with the months' version",
        )


def _refuse_open_adjustments(db: Session, per: Period) -> None:
    """409 while a month has an open adjustment: the close would read facts about to change."""
    waiting = corrected.open_adjustments(db, [str(m) for m in months_of(per)])
    if waiting:
        said = ", ".join(f"{p} (run {i})" for p, i in waiting)
        msg = f"{said} of {per} is being corrected (an adjustment not finalized yet); finalize it, then close {per}"
        raise ApiError(409, "adjustment-open", msg, runs=[i for _, i in waiting])


def combined_facts(sources: list[tuple[FactsSnapshot, list[str]]], policy: Policy) -> FactSet:
    """Each month's rows from the import its run read, as one FactSet with one hash."""
    sets = []
    try:
        for snap, months in sources:
            facts = load_facts(snap.data, snap.filename, policy.numeric_columns, options=snap.options)
            sets.append((facts, months))
    except MeritInputError as err:  # stored imports were read before: only a changed reader gets here
        raise ApiError(422, "evaluation-refused", "the months' facts cannot be read again", err.problems) from err
    rows = tuple(r for facts, months in sets for r in facts.rows if str(r.period) in months)
    columns: list[str] = []
    for facts, _ in sets:
        columns += [c for c in facts.columns if c not in columns]
    key = "merit-close\n" + "\n".join(f"{facts.sha256}:{','.join(months)}" for facts, months in sets)
    label = "finalized months (" + ", ".join(f"import {s.id}: {','.join(m)}" for s, m in sources) + ")"
    return FactSet(label, rows, tuple(columns), hashlib.sha256(key.encode()).hexdigest())


def _own_part(ev: EvaluatedRun, period: str) -> EvaluatedRun:
    """The evaluation with only the period's own payout lines; per-rep totals of those lines."""
    own = [ln for ln in ev.lines if ln.period == period]
    per_rep: dict[str, Decimal] = defaultdict(Decimal)
    for ln in own:
        per_rep[ln.rep_id] += ln.amount
    reps = [EvaluatedRep(r.rep_id, r.name, r.region, per_rep.get(r.rep_id, Decimal("0.00"))) for r in ev.reps]
    return replace(ev, lines=own, reps=reps, total_payout=sum((ln.amount for ln in own), Decimal("0.00")))


def _conflict(evaluated: set[LineKey], paid: set[LineKey]) -> ApiError:
    differ = sorted(evaluated ^ paid)[:10]
    return ApiError(
        409,
        "close-conflict",
        "evaluating the quarter gives month lines other than those paid; nothing was closed",
        differences=[list(d) for d in differ],
    )


def close(
    db: Session, who: Principal, at: datetime, policy_id: str, version: str | None, period: str, import_id: int | None
) -> Run:
    """Evaluate `period` from its finalized months' facts and store a draft run of its own lines."""
    per = parse_period(check_period(period))
    _refuse_closed(db, str(per))
    runs = corrected.facts_runs(db, month_runs(db, per))  # each month's latest facts (corrections too)
    policy = choose_policy(db, policy_id, version, str(per))
    _same_policy(runs, policy, per)
    by_import: dict[int, list[str]] = defaultdict(list)
    for r in runs:
        by_import[r.fact_import_id].append(r.period)
    if import_id is not None and import_id not in by_import:
        msg = (
            f"closing {per} reads the facts its finalized months were evaluated with "
            f"(fact imports {', '.join(map(str, sorted(by_import)))}); leave fact_import_id out"
        )
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])
    sources = [(snapshot(import_for(db, i)), months) for i, months in sorted(by_import.items())]
    _refuse_open_adjustments(db, per)
    paid = corrected.paid_sums(db, [str(m) for m in months_of(per)])
    month_run_ids = [(r.period, r.id) for r in runs]
    release(db)  # reading and evaluating take a while: hold no database lock meanwhile
    facts = combined_facts(sources, policy)
    try:
        ev = evaluate_run(policy, facts, str(per))
    except MeritInputError as err:
        refused = f"{policy.id} {policy.version} cannot close {per}"
        raise ApiError(422, "evaluation-refused", refused, err.problems) from err
    evaluated = {
        (ln.rep_id, ln.period, ln.component, money_text(ln.amount))
        for ln in ev.lines
        if ln.period != str(per) and ln.amount != 0
    }
    if evaluated != paid:
        raise _conflict(evaluated, paid)
    own = _own_part(ev, str(per))
    # the writing transaction: everything read before is read again under it
    corrected.lock_quarter(db, str(per))
    _refuse_closed(db, str(per))
    if [(r.period, r.id) for r in corrected.facts_runs(db, month_runs(db, per))] != month_run_ids:
        raise ApiError(409, "conflict", f"the months of {per} changed while closing; retry the request")
    _refuse_open_adjustments(db, per)
    last = sources[-1][0]
    stored = FactsSnapshot(last.id, facts.sha256, last.filename, b"", last.options)
    try:
        run = add_run(db, who, at, policy, stored, str(per), own)
        db.add(PeriodClose(period=str(per), run_id=run.id, month_runs=[list(p) for p in month_run_ids], created_at=at))
        record_created(db, who, at, run, policy, facts.sha256, closes=str(per), month_runs=month_run_ids)
        db.commit()
    except IntegrityError as exc:  # a concurrent close of the same period committed first
        db.rollback()
        winner = db.get(PeriodClose, str(per))
        raise ApiError(
            409,
            "period-already-closed",
            f"{per} was closed concurrently" + (f" by run {winner.run_id}" if winner else ""),
            run_id=winner.run_id if winner else None,
        ) from exc
    return get_run(db, run.id)


def close_sources(db: Session, run: Run) -> list[tuple[FactsSnapshot, list[str]]] | None:
    """The imports (and their months) a close run, or a re-close, was evaluated from, as they were
    read; None for any other run. A statement or notice of a close evaluates these again (`combined_facts`)."""
    row = db.scalar(select(PeriodClose).where(PeriodClose.run_id == run.id))
    # a re-close (an adjustment of a closed quarter) records the months it read the same way
    pairs = corrected.reclose_pairs(db, run) if row is None else [(m, i) for m, i in row.month_runs]
    if pairs is None:
        return None
    by_import: dict[int, list[str]] = defaultdict(list)
    for month, run_id in pairs:
        month_run = db.get(Run, run_id)
        if month_run is not None:
            by_import[month_run.fact_import_id].append(month)
    return [(snapshot(import_for(db, i)), months) for i, months in sorted(by_import.items())]


def close_document(db: Session, run: Run) -> dict[str, Any] | None:
    """What a close run closes (None for any other run): the period and its month runs."""
    return close_documents(db, [run.id]).get(run.id)


def close_documents(db: Session, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`close_document` of each close run among `run_ids` (one query), by run id."""
    if not run_ids:
        return {}
    rows = db.scalars(select(PeriodClose).where(PeriodClose.run_id.in_(run_ids))).all()
    return {
        row.run_id: {"period": row.period, "month_runs": {month: run_id for month, run_id in row.month_runs}}
        for row in rows
    }
