"""Where a simulation's policies and facts come from: stored versions, a fact import, or the
imports the period's finalized runs were evaluated with (merged month by month, with one hash).

Read inside the request's transaction (`prepare`); the facts are parsed after it is released
(`load`), since parsing a large file takes a while.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.facts import FactSet
from engine.periods import months_of, parse_period
from engine.problems import MeritInputError, Problem
from service.adjustments.models import Adjustment
from service.api.errors import ApiError
from service.auth import Principal
from service.engine_gate import Policy, load_facts
from service.facts.service import import_for
from service.periods.models import PeriodClose
from service.policies.service import get_version, load_policy
from service.runs.models import Run
from service.runs.service import FactsSnapshot, check_period, choose_policy, snapshot
from service.runs.states import RunState
from service.simulations.access import unpublished_months
from service.simulations.scenario import fact_columns


def renamed(problems: Sequence[Problem]) -> list[Problem]:
    """Problems as an API client reads them: `set ...`, `quota ...`, `values`, not CLI flags."""
    return [
        Problem(p.source[2:] if p.source.startswith("--") else p.source, p.line, p.column, p.field, p.message)
        for p in problems
    ]


def invalid_scenario(err: MeritInputError) -> ApiError:
    """The 422 for a scenario's problems (every one of them, named as the API names fields)."""
    problems = renamed(err.problems)
    return ApiError(
        422, "invalid-scenario", f"the scenario has {len(problems)} problem(s); nothing was simulated", problems
    )


def request_problem(field: str, message: str) -> ApiError:
    """The 422 for one wrong field of the request."""
    return ApiError(422, "invalid-request", message, [Problem("request", None, None, field, message)])


def policy_version(db: Session, policy_id: str, version: str) -> Policy:
    """A stored version of the policy (404 when there is none)."""
    return load_policy(db, get_version(db, policy_id, version).sha256)


@dataclass(frozen=True)
class FactsSource:
    """Where a simulation's facts come from: imports (read in the transaction), months taken from each."""

    kind: Literal["fact-import", "finalized-runs"]
    imports: list[tuple[FactsSnapshot, tuple[str, ...] | None]]  # None: every row of the import
    run_ids: list[int]

    @property
    def import_ids(self) -> list[int]:
        return [snap.id for snap, _ in self.imports]


def facts_source(
    db: Session, period: str, fact_import_id: int | None, from_finalized_runs: bool, who: Principal | None = None
) -> FactsSource:
    """The imports (and the months of each) a simulation of `period` reads its facts from."""
    if (fact_import_id is not None) == bool(from_finalized_runs):
        raise request_problem("fact_import_id", "give either fact_import_id or from_finalized_runs: true")
    if fact_import_id is not None:
        imp = import_for(db, fact_import_id)
        if who is not None and (hidden := unpublished_months(db, who, imp.id, period)):
            raise ApiError(403, "forbidden", f"no published run shows fact import {imp.id} for {', '.join(hidden)}")
        return FactsSource("fact-import", [(snapshot(imp), None)], [])
    wanted = [str(m) for m in months_of(parse_period(period))]
    holder: dict[str, Run] = {}
    closes = select(PeriodClose.run_id)  # a close read its months' runs' facts: those runs say which
    runs = db.scalars(
        select(Run)
        .where(Run.status == RunState.FINALIZED, Run.superseded_by_id.is_(None), Run.id.not_in(closes))
        .order_by(Run.id)
    ).all()
    # A quarter's re-close (an adjustment recording the month runs it read) reads each month's latest
    # facts from those runs, which are in `runs` themselves; its own fact_import_id is not the months'.
    ids = [run.id for run in runs]
    reclosed = {a.run_id for a in db.scalars(select(Adjustment).where(Adjustment.run_id.in_(ids))) if a.month_runs}
    for run in runs:  # the newest finalized run covering a month wins (publication allows only one)
        if run.id in reclosed:
            continue
        for covered in months_of(parse_period(run.period)):
            if str(covered) in wanted:
                holder[str(covered)] = run
    missing = [m for m in wanted if m not in holder]
    if missing:
        raise ApiError(
            422,
            "no-finalized-run",
            f"no finalized run covers {', '.join(missing)}; simulate on a fact_import_id instead",
            [Problem("request", None, None, "from_finalized_runs", f"no finalized run for {m}") for m in missing],
        )
    by_import: dict[int, list[str]] = defaultdict(list)
    for m in wanted:
        by_import[holder[m].fact_import_id].append(m)
    imports: list[tuple[FactsSnapshot, tuple[str, ...] | None]] = [
        (snapshot(import_for(db, i)), tuple(ms)) for i, ms in sorted(by_import.items())
    ]
    return FactsSource("finalized-runs", imports, sorted({holder[m].id for m in wanted}))


def load(source: FactsSource, policies: Sequence[Policy]) -> FactSet:
    """The facts of the source as one FactSet (no database access; call after `release`)."""
    columns = fact_columns(*policies)
    sets: list[tuple[FactSet, tuple[str, ...] | None]] = []
    try:
        for snap, months in source.imports:
            sets.append((load_facts(snap.data, snap.filename, columns, options=snap.options), months))
    except MeritInputError as err:
        raise ApiError(
            422, "simulation-refused", "the facts cannot be simulated with this policy", renamed(err.problems)
        ) from err
    if len(sets) == 1 and sets[0][1] is None:
        return sets[0][0]
    rows = [r for fs, months in sets for r in fs.rows if months is None or str(r.period) in months]
    cols: list[str] = []
    for fs, _ in sets:
        cols += [c for c in fs.columns if c not in cols]
    key = "\n".join(f"{fs.sha256}:{','.join(months or ())}" for fs, months in sets)
    label = "finalized runs (" + ", ".join(f"import {s.id}: {','.join(m or ())}" for s, m in source.imports) + ")"
    return FactSet(label, tuple(rows), tuple(cols), hashlib.sha256(key.encode()).hexdigest())


@dataclass
class Prepared:
    """Everything a simulation needs, read inside the request's transaction."""

    period: str
    baseline: Policy
    scenario_base: Policy | None
    source: FactsSource


def prepare(
    db: Session,
    policy_id: str,
    version: str | None,
    period: str,
    scenario_version: str | None,
    fact_import_id: int | None,
    from_finalized_runs: bool,
    who: Principal | None = None,
) -> Prepared:
    """The period, the baseline (the version given, or the one in force), the scenario's other
    version and the facts source, all read in the request's transaction."""
    per = check_period(period)
    base = choose_policy(db, policy_id, version, per)
    other = policy_version(db, policy_id, scenario_version) if scenario_version else None
    source = facts_source(db, per, fact_import_id, from_finalized_runs, who)
    return Prepared(per, base, other, source)
