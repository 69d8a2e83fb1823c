"""Adjusting a quarter (any period of several months): when it applies, and the re-close.

A quarter whose months were paid by month runs is paid its own lines by its close. Before the
close is final it is not adjusted (409): it is closed, or corrected through its objections. Once
final, `POST /adjustments` for the quarter without facts *re-closes* it: the quarter is evaluated
from each month's latest facts (a corrected month's latest finalized adjustment) exactly as a close
reads them, and the adjustment pays the difference on the quarter's own lines (rank prizes,
quarterly awards); the months' lines must already equal what was paid for them (their own
adjustments pay those). A month adjustment is refused while its quarter's close is open, and
answers, when its quarter is closed, that the quarter needs re-closing once it is finalized.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.facts import FactSet
from engine.periods import Month, months_of, parse_period
from engine.problems import MeritInputError, Problem
from engine.results import PayoutLine
from service.api.errors import ApiError
from service.engine_gate import EvaluatedRun, Policy, evaluate_run
from service.facts.service import import_for
from service.periods import corrected
from service.periods.models import PeriodClose
from service.periods.service import closes_instead, combined_facts, month_runs
from service.runs.models import Run
from service.runs.service import FactsSnapshot, snapshot
from service.runs.states import RunState


def guard_quarter(db: Session, period: str) -> str | None:
    """The lock key of the adjustment's quarter (its own, or its month's), after refusing what
    cannot be adjusted now: a month while its quarter's close is open, a quarter not closed yet or
    whose close is not final. None for a quarter paid whole by one run (an ordinary adjustment)."""
    per = parse_period(period)
    if isinstance(per, Month):
        close_id = corrected.open_close(db, period)
        if close_id is not None:
            quarter = corrected.quarter_of(per)
            raise ApiError(
                409,
                "close-open",
                f"{quarter} is being closed by run {close_id} on {period}'s current facts; finalize the close "
                f"first, then adjust {period} and re-close {quarter}",
                run_id=close_id,
            )
        return corrected.quarter_of(per)
    close = db.get(PeriodClose, period)
    if close is None:
        if closes_instead(db, period):
            raise ApiError(
                409,
                "period-not-closed",
                f"{period}'s months were paid by month runs and {period} is not closed yet: close it "
                "(POST /runs for the period) - it reads each month's latest facts, corrections included",
            )
        return period
    run = db.get(Run, close.run_id)
    if run is None or run.status != RunState.FINALIZED:
        raise ApiError(
            409,
            "period-not-finalized",
            f"the close of {period} (run {close.run_id}) is not finalized; correct it through its objections",
            run_id=close.run_id,
        )
    return period


def is_reclose(db: Session, period: str, fact_import_id: int | None) -> bool:
    """Whether the adjustment re-closes a closed period (422 when it names facts: the months' are read)."""
    if db.get(PeriodClose, period) is None:
        return False
    if fact_import_id is not None:
        msg = (
            f"{period} was closed from its months' facts; correct a month (POST /adjustments for the month), "
            f"then re-close {period} without fact_import_id"
        )
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, "fact_import_id", msg)])
    return True


def reclose_inputs(
    db: Session, period: str
) -> tuple[list[tuple[FactsSnapshot, list[str]]], FactsSnapshot, list[list[Any]]]:
    """Each month's latest facts (imports and their months), the snapshot a run of them stores,
    and the (month, facts run) pairs the re-close records."""
    runs = corrected.facts_runs(db, month_runs(db, parse_period(period)))
    by_import: dict[int, list[str]] = {}
    for r in runs:
        by_import.setdefault(r.fact_import_id, []).append(r.period)
    sources = [(snapshot(import_for(db, i)), months) for i, months in sorted(by_import.items())]
    last = sources[-1][0]
    return sources, FactsSnapshot(last.id, "", last.filename, b"", last.options), [[r.period, r.id] for r in runs]


def evaluate_reclose(
    policy: Policy, sources: list[tuple[FactsSnapshot, list[str]]], stored: FactsSnapshot, period: str
) -> tuple[EvaluatedRun, FactsSnapshot]:
    """The quarter evaluated from the months' latest facts (no database access), and what the run stores."""
    facts: FactSet = combined_facts(sources, policy)
    try:
        ev = evaluate_run(policy, facts, period)
    except MeritInputError as err:
        raise ApiError(
            422, "evaluation-refused", f"{policy.id} {policy.version} cannot re-close {period}", err.problems
        ) from err
    return ev, FactsSnapshot(stored.id, facts.sha256, stored.filename, b"", stored.options)


def own_lines(period: str, deltas: list[PayoutLine]) -> list[PayoutLine]:
    """A re-close's deltas: the quarter's own lines; 409 when a month's lines differ from what was paid."""
    months = {str(m) for m in months_of(parse_period(period))}
    stray = [d for d in deltas if str(d.period) in months]
    if stray:
        said = ", ".join(sorted({f"{d.period}" for d in stray}))
        raise ApiError(
            409,
            "close-conflict",
            f"re-closing {period}: {said} would pay other month lines than were paid; adjust the month first",
        )
    return [d for d in deltas if str(d.period) == period]


def reclose_hint(db: Session, period: str) -> dict[str, Any] | None:
    """For a month adjustment whose quarter is closed: the quarter's re-close, due once it is finalized."""
    per = parse_period(period)
    if not isinstance(per, Month):
        return None
    quarter = corrected.quarter_of(per)
    state = corrected.reclose_state(db, quarter)
    if state is None:
        return None
    return {
        "period": quarter,
        "why": f"{quarter} was closed on {period}'s earlier facts; its own lines (rank prizes, quarterly awards) "
        f"may change: once this adjustment is finalized, re-close {quarter} with POST /adjustments",
        "request": state["request"],
    }
