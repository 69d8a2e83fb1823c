"""What-if use cases over the database: simulate or sweep stored inputs for a caller, keep the result.

A simulation compares a stored baseline policy version with a scenario (another stored version
and/or parameter edits such as `commission.tiers[advanced].rate=0.018`, and/or quota changes such
as `region=East:+5%`) on the facts of a fact import, or on the imports the finalized runs of the
period were evaluated with. The composition is `service.simulations.service.simulate` / `sweep`,
the same functions `merit simulate` / `merit sweep` and HR's scenarios call.

Who: hr on everything; a manager on the reps of their regions only - every rep is simulated (a
TOP 3 or a promotion rank is company-wide) and the result reports their regions' reps, a quota change
naming another region (or a rep of one) is refused with 403, and they read only simulations and
scenarios scoped to regions they manage (`service.simulations.access`). payroll and rep: 403.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.numbers import number_text
from engine.problems import MeritInputError
from service.api.errors import ApiError
from service.auth import Principal
from service.db.session import release
from service.engine_gate import engine_lock
from service.policies.models import PolicyVersion
from service.runs.models import Run
from service.runs.service import check_period, choose_policy
from service.runs.states import RunState
from service.simulations.access import (
    check_facts_scope,
    check_plan_role,
    check_quota_scope,
    scope_of,
    simulable_imports,
)
from service.simulations.models import SimulationRequest, SweepRequest, TargetPlanRequest
from service.simulations.parameters import editable_parameters
from service.simulations.records import Stored, store
from service.simulations.scenario import sweep_values
from service.simulations.service import ScenarioInvalid, Targets, simulate, sweep
from service.simulations.sources import (
    Prepared,
    invalid_scenario,
    load,
    policy_version,
    prepare,
    renamed,
    request_problem,
)


def create_simulation(db: Session, who: Principal, at: datetime, body: SimulationRequest) -> Stored:
    """Simulate a scenario against the baseline and store the result."""
    check_quota_scope(who, body.scenario.quota, None)
    prep = prepare(
        db,
        body.baseline.policy_id,
        body.baseline.version,
        body.period,
        body.scenario.version,
        body.fact_import_id,
        body.from_finalized_runs,
        who,
    )
    return simulate_prepared(
        db, who, at, prep, list(body.scenario.set_), list(body.scenario.quota), targets=body.scenario.targets
    )


def sweep_points(body: SweepRequest) -> int:
    """How many values a sweep evaluates (0 when they are invalid: the sweep itself says why)."""
    try:
        listed = None if body.values is None else [number_text(v) for v in body.values]
        return len(sweep_values(listed, body.range, prefix=""))
    except MeritInputError:
        return 0


def create_sweep(db: Session, who: Principal, at: datetime, body: SweepRequest) -> Stored:
    """The cost curve of one parameter, stored (its chart is drawn from the stored result)."""
    check_quota_scope(who, body.quota, None)
    try:
        listed = None if body.values is None else [number_text(v) for v in body.values]
        values = sweep_values(listed, body.range, prefix="")
    except MeritInputError as err:
        raise invalid_scenario(err) from err
    prep = prepare(
        db,
        body.baseline.policy_id,
        body.baseline.version,
        body.period,
        None,
        body.fact_import_id,
        body.from_finalized_runs,
        who,
    )
    release(db)
    facts = load(prep.source, [prep.baseline])
    check_quota_scope(who, body.quota, facts)
    check_facts_scope(facts, who)
    with engine_lock(prep.period):
        try:
            data = sweep(
                prep.baseline,
                body.param,
                values,
                facts,
                prep.period,
                quotas=body.quota,
                regions=scope_of(who),
                prefix="",
            )
        except MeritInputError as err:
            raise invalid_scenario(err) from err
    request_doc = {
        "baseline": {"policy_id": prep.baseline.id, "version": prep.baseline.version},
        "period": prep.period,
        "param": body.param,
        "values": [format(v, "f") for v in values],
        "quota": body.quota,
    }
    summary = {"parameter": body.param, "points": len(data["points"]), "baseline_payout": data["baseline"]["payout"]}
    return store(db, who, at, "sweep", prep, facts, request_doc, data, summary)


def simulate_prepared(
    db: Session,
    who: Principal,
    at: datetime,
    prep: Prepared,
    sets: list[str],
    quotas: list[str],
    scenario_id: int | None = None,
    targets: TargetPlanRequest | None = None,
) -> Stored:
    """Scope, build the scenario, simulate (engine lock held, database released), store."""
    check_plan_role(who, targets)
    release(db)  # loading and simulating may take seconds: hold no database lock meanwhile
    facts = load(prep.source, [p for p in (prep.baseline, prep.scenario_base) if p is not None])
    check_quota_scope(who, quotas, facts)
    check_facts_scope(facts, who)
    wanted = None if targets is None else Targets(targets.team_target, targets.split_by, targets.shares)
    with engine_lock(prep.period):
        try:
            data = simulate(
                prep.baseline,
                facts,
                prep.period,
                sets=sets,
                quotas=quotas,
                scenario_base=prep.scenario_base,
                targets=wanted,
                regions=scope_of(who),
                prefix="",
            ).as_dict()
        except ScenarioInvalid as err:
            raise invalid_scenario(err) from err
        except MeritInputError as err:
            raise ApiError(
                422, "simulation-refused", f"cannot simulate {prep.period} on these facts", renamed(err.problems)
            ) from err
    request_doc = {
        "baseline": {"policy_id": prep.baseline.id, "version": prep.baseline.version},
        "period": prep.period,
        "scenario": {
            "version": None if prep.scenario_base is None else prep.scenario_base.version,
            "set": sets,
            "quota": quotas,
            **({} if targets is None else {"targets": targets.model_dump()}),
        },
    }
    summary = {"totals": data["totals"], "edits": sets, "quotas": quotas, "reps": data["reps"]}
    return store(db, who, at, "simulation", prep, facts, request_doc, data, summary, scenario_id)


def options(db: Session, who: Principal) -> dict[str, Any]:
    """What a simulation can be run on: policies and versions, fact imports, finalized runs."""
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in db.scalars(select(PolicyVersion).order_by(PolicyVersion.policy_id, PolicyVersion.version)).all():
        versions[v.policy_id].append(
            {"version": v.version, "effective_from": v.effective_from, "effective_to": v.effective_to}
        )
    imports = simulable_imports(db, who)
    finalized = db.scalars(
        select(Run).where(Run.status == RunState.FINALIZED, Run.superseded_by_id.is_(None)).order_by(Run.id)
    ).all()
    return {
        "policies": [{"policy_id": p, "versions": vs} for p, vs in versions.items()],
        "fact_imports": [
            {
                "id": i.id,
                "filename": i.filename,
                "rows": i.row_count,
                "periods": i.periods,
                "created_at": i.created_at.isoformat(),
            }
            for i in imports
        ],
        "finalized_runs": [
            {"id": r.id, "period": r.period, "policy_id": r.policy_id, "policy_version": r.policy_version}
            for r in finalized
        ],
        "scope": {"role": who.role, "regions": scope_of(who)},
    }


def parameters(db: Session, policy_id: str, version: str | None, period: str | None) -> dict[str, Any]:
    """The editable numbers of a policy version (tier rates and thresholds, bonuses, award amounts...)."""
    if version is not None:
        policy = policy_version(db, policy_id, version)
    elif period is not None:
        policy = choose_policy(db, policy_id, None, check_period(period))
    else:
        raise request_problem("version", "give a version, or a period to use the version in force")
    return {
        "policy": {**policy.ref, "title": policy.title, "currency": policy.currency},
        "parameters": editable_parameters(policy.data),
    }
