"""Named what-if scenarios: save one (checked against its baseline now), list, read, run.

A scenario is a baseline and the changes to try - no figures, no results; running it is a
simulation like any other (`service.simulations.stored.simulate_prepared`), linked to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.edits import apply_edits
from engine.problems import MeritInputError, Problem
from engine.quota import parse_quota, parse_target_plan
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit
from service.engine_gate import Policy
from service.facts.service import import_for
from service.policies.service import versions_of
from service.runs.service import check_period, choose_policy
from service.simulations.access import check_plan_role, check_quota_scope, may_read, scope_of
from service.simulations.models import Scenario, ScenarioRequest, ScenarioRunRequest, TargetPlanRequest
from service.simulations.records import Stored, scoped_row
from service.simulations.sources import invalid_scenario, policy_version, prepare, request_problem
from service.simulations.stored import simulate_prepared


def scenario_dict(row: Scenario) -> dict[str, Any]:
    """A saved scenario as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "baseline": {"policy_id": row.policy_id, "version": row.version},
        "period": row.period,
        "scenario_version": row.scenario_version,
        "set": row.edits,
        "quota": row.quotas,
        "targets": row.target_plan,
        "fact_import_id": row.fact_import_id,
        "from_finalized_runs": row.from_finalized_runs,
        "scope": {"regions": row.scope_regions},
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


def create_scenario(db: Session, who: Principal, at: datetime, body: ScenarioRequest) -> dict[str, Any]:
    """Save a named scenario; its edits are checked against the baseline (schema + linter) now."""
    check_quota_scope(who, body.quota, None)
    check_plan_role(who, body.targets)
    if not body.name.strip():
        raise request_problem("name", "a scenario needs a name")
    period = check_period(body.period) if body.period else None
    if body.fact_import_id is not None and body.from_finalized_runs:
        raise request_problem("fact_import_id", "give either fact_import_id or from_finalized_runs: true")
    if body.fact_import_id is not None:
        import_for(db, body.fact_import_id)
    if not versions_of(db, body.baseline.policy_id):
        raise ApiError(404, "policy-not-found", f"there is no policy {body.baseline.policy_id!r}")
    base: Policy | None = None
    if body.baseline.version is not None:
        base = policy_version(db, body.baseline.policy_id, body.baseline.version)
    elif period is not None:
        base = choose_policy(db, body.baseline.policy_id, None, period)
    if body.scenario_version is not None:
        base = policy_version(db, body.baseline.policy_id, body.scenario_version)
    problems: list[Problem] = []
    if base is not None and body.set_:
        try:
            apply_edits(base, body.set_, "set")
        except MeritInputError as err:
            problems += err.problems
    for text in body.quota:
        try:
            parse_quota(text, "quota")
        except MeritInputError as err:
            problems += err.problems
    if body.targets is not None:
        try:
            parse_target_plan(body.targets.team_target, body.targets.shares, prefix="")
        except MeritInputError as err:
            problems += err.problems
    if problems:
        raise invalid_scenario(MeritInputError(problems))
    scope = scope_of(who)
    row = Scenario(
        name=body.name.strip(),
        policy_id=body.baseline.policy_id,
        version=body.baseline.version,
        scenario_version=body.scenario_version,
        period=period,
        edits=list(body.set_),
        quotas=list(body.quota),
        target_plan=None if body.targets is None else body.targets.model_dump(),
        fact_import_id=body.fact_import_id,
        from_finalized_runs=body.from_finalized_runs,
        scope_regions=scope,
        created_at=at,
        created_by=who.name,
        token_id=who.token_id,
    )
    db.add(row)
    db.flush()
    audit.record(db, who, at, "scenario.create", f"scenario:{row.id}", name=row.name, scope=scope)
    commit(db)
    return scenario_dict(row)


def list_scenarios(db: Session, who: Principal) -> dict[str, Any]:
    """The saved scenarios `who` may read, oldest first."""
    rows = db.scalars(select(Scenario).order_by(Scenario.id)).all()
    return {"scenarios": [scenario_dict(r) for r in rows if may_read(who, r.scope_regions)]}


def readable_scenario(db: Session, who: Principal, scenario_id: int) -> Scenario:
    """The scenario (404 when there is none, 403 outside the caller's regions)."""
    return scoped_row(db, who, Scenario, scenario_id, "scenario")


def run_scenario(
    db: Session, who: Principal, at: datetime, scenario_id: int, body: ScenarioRunRequest | None
) -> Stored:
    """Simulate a saved scenario; the body may override its period and facts. Without any facts
    choice (here or saved), the period's finalized runs are used."""
    sc = readable_scenario(db, who, scenario_id)
    over = body or ScenarioRunRequest()
    period = over.period or sc.period
    if period is None:
        raise request_problem("period", f"scenario {sc.id} has no period; give one")
    if over.fact_import_id is not None or over.from_finalized_runs is not None:
        import_id, finalized = over.fact_import_id, bool(over.from_finalized_runs)
    elif sc.fact_import_id is not None or sc.from_finalized_runs:
        import_id, finalized = sc.fact_import_id, sc.from_finalized_runs
    else:
        import_id, finalized = None, True
    sets, quotas = list(sc.edits), list(sc.quotas)
    check_quota_scope(who, quotas, None)
    prep = prepare(
        db,
        sc.policy_id,
        sc.version,
        period,
        sc.scenario_version,
        import_id,
        finalized,
        who,
    )
    targets = None if sc.target_plan is None else TargetPlanRequest(**sc.target_plan)
    return simulate_prepared(db, who, at, prep, sets, quotas, scenario_id=sc.id, targets=targets)
