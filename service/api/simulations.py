"""What-if simulations over HTTP: simulations, sweeps, their charts, and named scenarios.

A simulation compares a stored baseline policy version with a scenario (another stored version
and/or parameter edits such as `commission.tiers[advanced].rate=0.018`, and/or quota changes such
as `region=East:+5%`) on the facts of a fact import, or on the imports the finalized runs of the
period were evaluated with. The scenario is built by `service.simargs.build_scenario` and the
numbers come from `engine.simulation` - the same functions `merit simulate` / `merit sweep` call.

A simulation only *reads* policies, fact imports and runs; what it writes is its own row in
`simulations` (the response document as text, returned byte for byte by GET) and an audit entry.

Who: hr on everything; a manager on the reps of their regions only - every rep is simulated (a
TOP 3 or a promotion rank is company-wide) and the result reports their regions' reps, a quota change
naming another region (or a rep of one) is refused with 403, and they read only simulations and
scenarios scoped to regions they manage. payroll and rep: 403.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.edits import apply_edits
from engine.facts import FactSet
from engine.numbers import number_text
from engine.periods import months_of, parse_period
from engine.problems import MeritInputError, Problem
from engine.quota import parse_quota, parse_target_plan
from engine.simulation import simulate
from engine.sweep import sweep
from service.api import audit
from service.api.deps import DB, Id, commit, now, release, require
from service.api.engine_gate import ENGINE_LOCK, Policy, load_facts
from service.api.errors import ApiError
from service.api.inputs import Input
from service.api.policies import get_version, load_policy, versions_of
from service.api.runs import FactsSnapshot, check_period, choose_policy, snapshot
from service.auth import Principal
from service.db.models import FactImport, PolicyVersion, Run, Scenario, Simulation
from service.simargs import build_scenario, fact_columns, plan_targets, sweep_values
from service.simulations.access import simulable_imports, unpublished_months

router = APIRouter(tags=["simulations"])

Simulator = Annotated[Principal, Depends(require("hr", "manager"))]
JSON_MEDIA = "application/json"
_CHART_LOCK = threading.Lock()  # matplotlib's pyplot state is not thread-safe
_CHART_MEDIA = {"svg": "image/svg+xml", "png": "image/png"}
MAX_CHANGES = 200  # parameter edits or quota changes in one scenario


# ------------------------------------------------------------------------------ requests
class _Body(Input):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BaselineRef(_Body):
    policy_id: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, description="default: the version in force for the period")


class TargetPlanRequest(_Body):
    team_target: StrictStr = Field(description='the team\'s target for the period, e.g. "5000000"')
    split_by: Literal["region", "product_line"] = "region"
    shares: StrictStr | None = Field(
        default=None, description="e.g. East:40%,South:30%,North:30% (default: by last period's actuals)"
    )


class ScenarioChanges(_Body):
    version: str | None = Field(default=None, description="another stored version of the same policy")
    set_: list[str] = Field(
        default_factory=list,
        alias="set",
        max_length=MAX_CHANGES,
        description="e.g. commission.tiers[advanced].rate=0.018",
    )
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES, description="e.g. region=East:+5%")
    targets: TargetPlanRequest | None = Field(
        default=None, description="plan the scenario's targets top-down from a team target (hr only)"
    )


class FactsChoice(_Body):
    fact_import_id: Id | None = Field(default=None, description="simulate on this fact import")
    from_finalized_runs: bool = Field(
        default=False, description="simulate on the imports of the period's finalized, not superseded runs"
    )


class SimulationRequest(FactsChoice):
    baseline: BaselineRef
    period: str = Field(description="a month (2026-08) or a quarter (2026-Q3)")
    scenario: ScenarioChanges = Field(default_factory=ScenarioChanges)


class SweepRequest(FactsChoice):
    baseline: BaselineRef
    period: str
    param: str = Field(min_length=1, description="e.g. commission.tiers[advanced].rate")
    values: list[StrictStr | StrictInt | StrictFloat] | None = Field(default=None, description='e.g. ["0.015", "0.02"]')
    range: str | None = Field(default=None, description="start:stop:step, e.g. 0.015:0.020:0.001")
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES, description="applied at every point")


class ScenarioRequest(_Body):
    name: str = Field(min_length=1, max_length=200)
    baseline: BaselineRef
    period: str | None = None
    scenario_version: str | None = None
    set_: list[str] = Field(default_factory=list, alias="set", max_length=MAX_CHANGES)
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES)
    targets: TargetPlanRequest | None = Field(default=None, description="a top-down target plan (hr only)")
    fact_import_id: Id | None = None
    from_finalized_runs: bool = False


class ScenarioRunRequest(_Body):
    period: str | None = None
    fact_import_id: Id | None = None
    from_finalized_runs: bool | None = None


# --------------------------------------------------------------------------- helpers
_Row = TypeVar("_Row", Simulation, Scenario)


def _renamed(problems: Sequence[Problem]) -> list[Problem]:
    """Problems as an API client reads them: `set ...`, `quota ...`, `values`, not CLI flags."""
    return [
        Problem(p.source[2:] if p.source.startswith("--") else p.source, p.line, p.column, p.field, p.message)
        for p in problems
    ]


def _invalid_scenario(err: MeritInputError) -> ApiError:
    problems = _renamed(err.problems)
    return ApiError(
        422, "invalid-scenario", f"the scenario has {len(problems)} problem(s); nothing was simulated", problems
    )


def _request_problem(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid-request", message, [Problem("request", None, None, field, message)])


def _scope_of(who: Principal) -> list[str] | None:
    """The regions a caller's simulations are restricted to (None: every region)."""
    return None if who.role == "hr" else sorted(who.regions)


def _may_read(who: Principal, scope_json: str | None) -> bool:
    if who.role == "hr":
        return True
    return scope_json is not None and set(json.loads(scope_json)) <= who.regions


def _get_import(db: Session, import_id: int) -> FactImport:
    row = db.get(FactImport, import_id)
    if row is None:
        raise ApiError(404, "fact-import-not-found", f"there is no fact import {import_id}")
    return row


def _policy_version(db: Session, policy_id: str, version: str) -> Policy:
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


def _facts_source(
    db: Session, period: str, fact_import_id: int | None, from_finalized_runs: bool, who: Principal | None = None
) -> FactsSource:
    if (fact_import_id is not None) == bool(from_finalized_runs):
        raise _request_problem("fact_import_id", "give either fact_import_id or from_finalized_runs: true")
    if fact_import_id is not None:
        imp = _get_import(db, fact_import_id)
        if who is not None and (hidden := unpublished_months(db, who, imp.id, period)):
            raise ApiError(403, "forbidden", f"no published run shows fact import {imp.id} for {', '.join(hidden)}")
        return FactsSource("fact-import", [(snapshot(imp), None)], [])
    wanted = [str(m) for m in months_of(parse_period(period))]
    holder: dict[str, Run] = {}
    runs = db.scalars(
        select(Run).where(Run.status == "finalized", Run.superseded_by_id.is_(None)).order_by(Run.id)
    ).all()
    for run in runs:  # the newest finalized run covering a month wins (publication allows only one)
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
        (snapshot(_get_import(db, i)), tuple(ms)) for i, ms in sorted(by_import.items())
    ]
    return FactsSource("finalized-runs", imports, sorted({holder[m].id for m in wanted}))


def _load(source: FactsSource, policies: Sequence[Policy]) -> FactSet:
    """The facts of the source as one FactSet (no database access; call after `release`)."""
    columns = fact_columns(*policies)
    sets: list[tuple[FactSet, tuple[str, ...] | None]] = []
    try:
        for snap, months in source.imports:
            sets.append((load_facts(snap.data, snap.filename, columns, options=snap.options), months))
    except MeritInputError as err:
        raise ApiError(
            422, "simulation-refused", "the facts cannot be simulated with this policy", _renamed(err.problems)
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


def _check_quota_scope(who: Principal, quotas: Sequence[str], facts: FactSet | None) -> None:
    """403 when a manager's quota change names a region they do not manage, or a rep of one."""
    if who.role == "hr":
        return
    rep_regions: dict[str, set[str | None]] = defaultdict(set)
    if facts is not None:
        for row in facts.rows:
            rep_regions[row.rep_id].add(row.region)
    for text in quotas:
        try:
            change = parse_quota(text, "quota")
        except MeritInputError:
            continue  # a malformed change is reported with every other scenario problem (422)
        if change.field == "region":
            outside = sorted(v for v in change.values if v not in who.regions)
        elif change.field == "rep_id":
            outside = sorted(
                v for v in change.values if any(g is None or g not in who.regions for g in rep_regions.get(v, ()))
            )
        else:
            continue  # all / product_line: applied to the manager's own reps only
        if outside:
            raise ApiError(
                403,
                "forbidden",
                f"quota change {text!r} names {', '.join(outside)}, outside your regions"
                f" ({', '.join(sorted(who.regions))})",
            )


def _check_facts_scope(facts: FactSet, who: Principal) -> None:
    """A manager needs facts of their regions. They are simulated with every rep (a TOP 3 is
    company-wide) and the engine reports only their regions' reps (`regions=`)."""
    if who.role == "hr":
        return
    if not any(r.region is not None and r.region in who.regions for r in facts.rows):
        raise _request_problem("facts", f"the facts have no rows for your regions ({', '.join(sorted(who.regions))})")


@dataclass
class Prepared:
    """Everything a simulation needs, read inside the request's transaction."""

    period: str
    baseline: Policy
    scenario_base: Policy | None
    source: FactsSource


def _prepare(
    db: Session,
    baseline: BaselineRef,
    period: str,
    scenario_version: str | None,
    fact_import_id: int | None,
    from_finalized_runs: bool,
    who: Principal | None = None,
) -> Prepared:
    per = check_period(period)
    base = choose_policy(db, baseline.policy_id, baseline.version, per)
    other = _policy_version(db, baseline.policy_id, scenario_version) if scenario_version else None
    source = _facts_source(db, per, fact_import_id, from_finalized_runs, who)
    return Prepared(per, base, other, source)


def _store(
    db: Session,
    who: Principal,
    at: datetime,
    kind: str,
    prep: Prepared,
    facts: FactSet,
    request_doc: dict[str, Any],
    result: dict[str, Any],
    summary: dict[str, Any],
    scenario_id: int | None = None,
) -> Response:
    """Insert the simulation with its response document (as text) and an audit entry; commit."""
    scope = _scope_of(who)
    row = Simulation(
        kind=kind,
        scenario_id=scenario_id,
        policy_id=prep.baseline.id,
        policy_version=prep.baseline.version,
        policy_sha256=prep.baseline.sha256,
        period=prep.period,
        facts_sha256=facts.sha256,
        fact_import_ids=json.dumps(prep.source.import_ids),
        summary=json.dumps(summary, ensure_ascii=False, sort_keys=True),
        scope_regions=None if scope is None else json.dumps(scope, ensure_ascii=False),
        result_json="",
        result_sha256="",
        created_at=at,
        created_by=who.name,
        token_id=who.token_id,
    )
    db.add(row)
    db.flush()
    doc = {
        "id": row.id,
        "kind": kind,
        "created_at": at.isoformat(),
        "created_by": who.name,
        "scenario_id": scenario_id,
        "scope": {"regions": scope},
        "facts": {
            "source": prep.source.kind,
            "fact_import_ids": prep.source.import_ids,
            "run_ids": prep.source.run_ids,
            "sha256": facts.sha256,
            "rows": len(facts.rows),
        },
        "request": request_doc,
        "result": result,
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    row.result_json = text
    row.result_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    audit.record(
        db,
        who,
        at,
        f"{kind}.create",
        f"simulation:{row.id}",
        before=prep.baseline.sha256,
        after=row.result_sha256,
        period=prep.period,
        fact_import_ids=prep.source.import_ids,
        scope=scope,
    )
    commit(db)
    return Response(
        text.encode("utf-8"), status_code=201, media_type=JSON_MEDIA, headers={"Location": f"/simulations/{row.id}"}
    )


def _check_plan_role(who: Principal, targets: TargetPlanRequest | None) -> None:
    if targets is not None and who.role != "hr":
        raise ApiError(403, "forbidden", "a team target plan sets every region's targets: hr only")


def _simulate(
    db: Session,
    who: Principal,
    at: datetime,
    prep: Prepared,
    sets: list[str],
    quotas: list[str],
    scenario_id: int | None = None,
    targets: TargetPlanRequest | None = None,
) -> Response:
    """Scope, build the scenario, simulate (engine lock held, database released), store."""
    _check_plan_role(who, targets)
    release(db)  # loading and simulating may take seconds: hold no database lock meanwhile
    facts = _load(prep.source, [p for p in (prep.baseline, prep.scenario_base) if p is not None])
    _check_quota_scope(who, quotas, facts)
    _check_facts_scope(facts, who)
    plan = None
    with ENGINE_LOCK:
        try:
            if targets is not None:
                plan = plan_targets(
                    facts, prep.period, targets.team_target, targets.split_by, targets.shares, prefix=""
                )
            scenario, scenario_facts = build_scenario(
                prep.baseline,
                facts if plan is None else plan.facts,
                prep.period,
                sets,
                quotas,
                prep.scenario_base,
                set_source="set",
                quota_source="quota",
            )
        except MeritInputError as err:
            raise _invalid_scenario(err) from err
        try:
            result = simulate(
                prep.baseline,
                scenario,
                facts,
                prep.period,
                scenario_facts,
                edits=sets,
                quotas=quotas,
                regions=_scope_of(who),
            )
            data = result.as_dict()
            if plan is not None:
                data["target_plan"] = plan.as_dict()
        except MeritInputError as err:
            raise ApiError(
                422, "simulation-refused", f"cannot simulate {prep.period} on these facts", _renamed(err.problems)
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
    return _store(db, who, at, "simulation", prep, facts, request_doc, data, summary, scenario_id)


# --------------------------------------------------------------------- what to choose
def _parameters(data: Any) -> list[dict[str, str]]:
    """The numbers a scenario can edit, as `engine.edits` paths (for the UI's form)."""
    out: list[dict[str, str]] = []

    def number(value: Any) -> str | None:
        """The value's exact text when it is a number (policies keep numbers as text), else None."""
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            return None
        try:
            exact = Decimal(str(value))
        except ArithmeticError:
            return None
        return value if isinstance(value, str) else format(exact, "f")

    def add(group: str, item: dict[str, Any], path: str, name: str) -> None:
        for key, value in item.items():
            if key in ("id", "light", "label", "metric", "period", "kind", "group_by", "rank_by", "ties", "order"):
                continue
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if (text := number(v)) is not None:
                        out.append(
                            {
                                "group": group,
                                "path": f"{path}.{key}[{i}]",
                                "label": f"{name}: {key} #{i + 1}",
                                "value": text,
                            }
                        )
            elif (text := number(value)) is not None:
                out.append({"group": group, "path": f"{path}.{key}", "label": f"{name}: {key}", "value": text})

    warning = data.get("warning") or {}
    for band in warning.get("bands") or []:
        add("lights", band, f"warning.bands[{band['light']}]", f"{band['light']} {band.get('label', '')}".strip())
    commission = data.get("commission") or {}
    if (cap := number(commission.get("cap"))) is not None:
        out.append({"group": "commission", "path": "commission.cap", "label": "commission cap", "value": cap})
    for tier in commission.get("tiers") or []:
        add("commission", tier, f"commission.tiers[{tier['id']}]", f"{tier.get('label', '')} ({tier['id']})")
    for award in data.get("awards") or []:
        add("awards", award, f"awards[{award['id']}]", f"{award.get('label', '')} ({award['id']})")
    return out


@router.get("/simulations/options")
def options(who: Simulator, db: DB) -> dict[str, Any]:
    """What a simulation can be run on: policies and versions, fact imports, finalized runs."""
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in db.scalars(select(PolicyVersion).order_by(PolicyVersion.policy_id, PolicyVersion.version)).all():
        versions[v.policy_id].append(
            {"version": v.version, "effective_from": v.effective_from, "effective_to": v.effective_to}
        )
    imports = simulable_imports(db, who)
    finalized = db.scalars(
        select(Run).where(Run.status == "finalized", Run.superseded_by_id.is_(None)).order_by(Run.id)
    ).all()
    return {
        "policies": [{"policy_id": p, "versions": vs} for p, vs in versions.items()],
        "fact_imports": [
            {
                "id": i.id,
                "filename": i.filename,
                "rows": i.row_count,
                "periods": json.loads(i.periods),
                "created_at": i.created_at.isoformat(),
            }
            for i in imports
        ],
        "finalized_runs": [
            {"id": r.id, "period": r.period, "policy_id": r.policy_id, "policy_version": r.policy_version}
            for r in finalized
        ],
        "scope": {"role": who.role, "regions": _scope_of(who)},
    }


@router.get("/simulations/parameters")
def parameters(
    _: Simulator,
    db: DB,
    policy_id: Annotated[str, Query(min_length=1)],
    version: str | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """The editable numbers of a policy version (tier rates and thresholds, bonuses, award amounts...)."""
    if version is not None:
        policy = _policy_version(db, policy_id, version)
    elif period is not None:
        policy = choose_policy(db, policy_id, None, check_period(period))
    else:
        raise _request_problem("version", "give a version, or a period to use the version in force")
    return {
        "policy": {**policy.ref, "title": policy.title, "currency": policy.currency},
        "parameters": _parameters(policy.data),
    }


# ------------------------------------------------------------------------ simulations
@router.post("/simulations", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}})
def create_simulation(body: SimulationRequest, request: Request, who: Simulator, db: DB) -> Response:
    """Simulate a scenario against the baseline; 201 with `id` and the engine's result under `result`."""
    at = now(request)
    _check_quota_scope(who, body.scenario.quota, None)
    prep = _prepare(
        db,
        body.baseline,
        body.period,
        body.scenario.version,
        body.fact_import_id,
        body.from_finalized_runs,
        who,
    )
    return _simulate(
        db, who, at, prep, list(body.scenario.set_), list(body.scenario.quota), targets=body.scenario.targets
    )


@router.post("/simulations/sweeps", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}})
def create_sweep(body: SweepRequest, request: Request, who: Simulator, db: DB) -> Response:
    """The cost curve of one parameter; the chart is at /simulations/{id}/chart.svg (or .png)."""
    at = now(request)
    _check_quota_scope(who, body.quota, None)
    try:
        listed = None if body.values is None else [number_text(v) for v in body.values]
        values = sweep_values(listed, body.range, prefix="")
    except MeritInputError as err:
        raise _invalid_scenario(err) from err
    prep = _prepare(db, body.baseline, body.period, None, body.fact_import_id, body.from_finalized_runs, who)
    release(db)
    facts = _load(prep.source, [prep.baseline])
    _check_quota_scope(who, body.quota, facts)
    _check_facts_scope(facts, who)
    with ENGINE_LOCK:
        try:
            _, scenario_facts = build_scenario(prep.baseline, facts, prep.period, (), body.quota, quota_source="quota")
            result = sweep(
                prep.baseline, body.param, values, facts, prep.period, scenario_facts, regions=_scope_of(who)
            )
            data = result.as_dict()
        except MeritInputError as err:
            raise _invalid_scenario(err) from err
    request_doc = {
        "baseline": {"policy_id": prep.baseline.id, "version": prep.baseline.version},
        "period": prep.period,
        "param": body.param,
        "values": [format(v, "f") for v in values],
        "quota": body.quota,
    }
    summary = {"parameter": body.param, "points": len(data["points"]), "baseline_payout": data["baseline"]["payout"]}
    return _store(db, who, at, "sweep", prep, facts, request_doc, data, summary)


def _summary(row: Simulation) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "period": row.period,
        "policy": {"id": row.policy_id, "version": row.policy_version, "sha256": row.policy_sha256},
        "scenario_id": row.scenario_id,
        "fact_import_ids": json.loads(row.fact_import_ids),
        "scope": {"regions": None if row.scope_regions is None else json.loads(row.scope_regions)},
        "summary": json.loads(row.summary),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


@router.get("/simulations")
def list_simulations(
    who: Simulator,
    db: DB,
    kind: Literal["simulation", "sweep"] | None = None,
    period: str | None = None,
    scenario_id: Id | None = None,
) -> dict[str, Any]:
    """Stored simulations and sweeps the caller may read, oldest first (results not included)."""
    stmt = select(Simulation).order_by(Simulation.id)
    if kind:
        stmt = stmt.where(Simulation.kind == kind)
    if period:
        stmt = stmt.where(Simulation.period == check_period(period))
    if scenario_id is not None:
        stmt = stmt.where(Simulation.scenario_id == scenario_id)
    rows = [r for r in db.scalars(stmt).all() if _may_read(who, r.scope_regions)]
    return {"simulations": [_summary(r) for r in rows]}


def _scoped_row(db: Session, who: Principal, model: type[_Row], key: int, noun: str) -> _Row:
    """The simulation or scenario `key`: 404 when there is none, 403 outside the caller's regions."""
    row = db.get(model, key)
    if row is None:
        raise ApiError(404, f"{noun}-not-found", f"there is no {noun} {key}")
    if not _may_read(who, row.scope_regions):
        raise ApiError(403, "forbidden", f"{noun} {key} covers regions you do not manage")
    return row


def _readable(db: Session, who: Principal, simulation_id: int) -> Simulation:
    return _scoped_row(db, who, Simulation, simulation_id, "simulation")


@router.get("/simulations/{simulation_id}", responses={200: {"content": {JSON_MEDIA: {}}}})
def read_simulation(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """The stored document, byte for byte as POST returned it."""
    row = _readable(db, who, simulation_id)
    return Response(row.result_json.encode("utf-8"), media_type=JSON_MEDIA, headers={"ETag": f'"{row.result_sha256}"'})


def _chart(db: Session, who: Principal, simulation_id: int, fmt: str) -> Response:
    row = _readable(db, who, simulation_id)
    if row.kind != "sweep":
        raise ApiError(
            404, "chart-not-available", f"simulation {simulation_id} is a single scenario; only sweeps have a chart"
        )
    result = json.loads(row.result_json)["result"]
    baseline = load_policy(db, result["baseline"]["sha256"])  # the chart's labels and current value
    release(db)
    from service.charts import sweep_chart  # matplotlib loads on first use, not at start-up

    with _CHART_LOCK:
        image = sweep_chart(result, fmt, baseline)
    return Response(image, media_type=_CHART_MEDIA[fmt], headers={"Cache-Control": "private, max-age=3600"})


@router.get("/simulations/{simulation_id}/chart.svg", responses={200: {"content": {"image/svg+xml": {}}}})
def chart_svg(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """A sweep's cost curve as SVG (payout and share of sales, reps per tier)."""
    return _chart(db, who, simulation_id, "svg")


@router.get("/simulations/{simulation_id}/chart.png", responses={200: {"content": {"image/png": {}}}})
def chart_png(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """The same chart as PNG."""
    return _chart(db, who, simulation_id, "png")


# -------------------------------------------------------------------------- scenarios
def scenario_dict(row: Scenario) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "baseline": {"policy_id": row.policy_id, "version": row.version},
        "period": row.period,
        "scenario_version": row.scenario_version,
        "set": json.loads(row.edits),
        "quota": json.loads(row.quotas),
        "targets": None if row.target_plan is None else json.loads(row.target_plan),
        "fact_import_id": row.fact_import_id,
        "from_finalized_runs": row.from_finalized_runs,
        "scope": {"regions": None if row.scope_regions is None else json.loads(row.scope_regions)},
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


@router.post("/scenarios", status_code=201)
def create_scenario(body: ScenarioRequest, request: Request, who: Simulator, db: DB) -> dict[str, Any]:
    """Save a named scenario; its edits are checked against the baseline (schema + linter) now."""
    at = now(request)
    _check_quota_scope(who, body.quota, None)
    _check_plan_role(who, body.targets)
    if not body.name.strip():
        raise _request_problem("name", "a scenario needs a name")
    period = check_period(body.period) if body.period else None
    if body.fact_import_id is not None and body.from_finalized_runs:
        raise _request_problem("fact_import_id", "give either fact_import_id or from_finalized_runs: true")
    if body.fact_import_id is not None:
        _get_import(db, body.fact_import_id)
    if not versions_of(db, body.baseline.policy_id):
        raise ApiError(404, "policy-not-found", f"there is no policy {body.baseline.policy_id!r}")
    base: Policy | None = None
    if body.baseline.version is not None:
        base = _policy_version(db, body.baseline.policy_id, body.baseline.version)
    elif period is not None:
        base = choose_policy(db, body.baseline.policy_id, None, period)
    if body.scenario_version is not None:
        base = _policy_version(db, body.baseline.policy_id, body.scenario_version)
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
        raise _invalid_scenario(MeritInputError(problems))
    scope = _scope_of(who)
    row = Scenario(
        name=body.name.strip(),
        policy_id=body.baseline.policy_id,
        version=body.baseline.version,
        scenario_version=body.scenario_version,
        period=period,
        edits=json.dumps(body.set_, ensure_ascii=False),
        quotas=json.dumps(body.quota, ensure_ascii=False),
        target_plan=None if body.targets is None else json.dumps(body.targets.model_dump(), ensure_ascii=False),
        fact_import_id=body.fact_import_id,
        from_finalized_runs=body.from_finalized_runs,
        scope_regions=None if scope is None else json.dumps(scope, ensure_ascii=False),
        created_at=at,
        created_by=who.name,
        token_id=who.token_id,
    )
    db.add(row)
    db.flush()
    audit.record(db, who, at, "scenario.create", f"scenario:{row.id}", name=row.name, scope=scope)
    commit(db)
    return scenario_dict(row)


@router.get("/scenarios")
def list_scenarios(who: Simulator, db: DB) -> dict[str, Any]:
    rows = db.scalars(select(Scenario).order_by(Scenario.id)).all()
    return {"scenarios": [scenario_dict(r) for r in rows if _may_read(who, r.scope_regions)]}


def _readable_scenario(db: Session, who: Principal, scenario_id: int) -> Scenario:
    return _scoped_row(db, who, Scenario, scenario_id, "scenario")


@router.get("/scenarios/{scenario_id}")
def read_scenario(scenario_id: Id, who: Simulator, db: DB) -> dict[str, Any]:
    return scenario_dict(_readable_scenario(db, who, scenario_id))


@router.post("/scenarios/{scenario_id}/run", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}})
def run_scenario(
    scenario_id: Id, request: Request, who: Simulator, db: DB, body: ScenarioRunRequest | None = None
) -> Response:
    """Simulate a saved scenario; the body may override its period and facts. Without any facts
    choice (here or saved), the period's finalized runs are used."""
    at = now(request)
    sc = _readable_scenario(db, who, scenario_id)
    over = body or ScenarioRunRequest()
    period = over.period or sc.period
    if period is None:
        raise _request_problem("period", f"scenario {sc.id} has no period; give one")
    if over.fact_import_id is not None or over.from_finalized_runs is not None:
        import_id, finalized = over.fact_import_id, bool(over.from_finalized_runs)
    elif sc.fact_import_id is not None or sc.from_finalized_runs:
        import_id, finalized = sc.fact_import_id, sc.from_finalized_runs
    else:
        import_id, finalized = None, True
    sets: list[str] = json.loads(sc.edits)
    quotas: list[str] = json.loads(sc.quotas)
    _check_quota_scope(who, quotas, None)
    prep = _prepare(
        db,
        BaselineRef(policy_id=sc.policy_id, version=sc.version),
        period,
        sc.scenario_version,
        import_id,
        finalized,
        who,
    )
    targets = None if sc.target_plan is None else TargetPlanRequest(**json.loads(sc.target_plan))
    return _simulate(db, who, at, prep, sets, quotas, scenario_id=sc.id, targets=targets)
