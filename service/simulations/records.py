"""Stored simulations and sweeps: writing one (its response document as text, byte for byte),
listing, reading back, and drawing a sweep's chart.

A simulation only *reads* policies, fact imports and runs; what it writes is its own row in
`simulations` and an audit entry. A manager reads only simulations scoped to regions they manage.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.facts import FactSet
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.policies.service import load_policy
from service.runs.service import check_period
from service.simulations.access import may_read, scope_of
from service.simulations.models import Scenario, Simulation
from service.simulations.sources import Prepared

_CHART_LOCK = threading.Lock()  # matplotlib's pyplot state is not thread-safe
_Row = TypeVar("_Row", Simulation, Scenario)


@dataclass(frozen=True)
class Stored:
    """A stored simulation: its id and the response document exactly as stored."""

    id: int
    text: str


def sorted_keys(value: Any) -> Any:
    """`value` with every mapping's keys in sorted order, nested ones too (a listing shows a
    summary's keys sorted, as it always has)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def store(
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
) -> Stored:
    """Insert the simulation with its response document (as text) and an audit entry; commit."""
    scope = scope_of(who)
    row = Simulation(
        kind=kind,
        scenario_id=scenario_id,
        policy_id=prep.baseline.id,
        policy_version=prep.baseline.version,
        policy_sha256=prep.baseline.sha256,
        period=prep.period,
        facts_sha256=facts.sha256,
        fact_import_ids=prep.source.import_ids,
        summary=sorted_keys(summary),
        scope_regions=scope,
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
    return Stored(row.id, text)


def _summary(row: Simulation) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "period": row.period,
        "policy": {"id": row.policy_id, "version": row.policy_version, "sha256": row.policy_sha256},
        "scenario_id": row.scenario_id,
        "fact_import_ids": row.fact_import_ids,
        "scope": {"regions": row.scope_regions},
        "summary": row.summary,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


def list_simulations(
    db: Session, who: Principal, kind: str | None, period: str | None, scenario_id: int | None
) -> dict[str, Any]:
    """Stored simulations and sweeps the caller may read, oldest first (results not included)."""
    stmt = select(Simulation).order_by(Simulation.id)
    if kind:
        stmt = stmt.where(Simulation.kind == kind)
    if period:
        stmt = stmt.where(Simulation.period == check_period(period))
    if scenario_id is not None:
        stmt = stmt.where(Simulation.scenario_id == scenario_id)
    rows = [r for r in db.scalars(stmt).all() if may_read(who, r.scope_regions)]
    return {"simulations": [_summary(r) for r in rows]}


def scoped_row(db: Session, who: Principal, model: type[_Row], key: int, noun: str) -> _Row:
    """The simulation or scenario `key`: 404 when there is none, 403 outside the caller's regions."""
    row = db.get(model, key)
    if row is None:
        raise ApiError(404, f"{noun}-not-found", f"there is no {noun} {key}")
    if not may_read(who, row.scope_regions):
        raise ApiError(403, "forbidden", f"{noun} {key} covers regions you do not manage")
    return row


def readable(db: Session, who: Principal, simulation_id: int) -> Simulation:
    """The simulation (404 when there is none, 403 outside the caller's regions)."""
    return scoped_row(db, who, Simulation, simulation_id, "simulation")


def chart(db: Session, who: Principal, simulation_id: int, fmt: str) -> bytes:
    """A sweep's cost curve drawn as `fmt` (svg or png); 404 for a single scenario."""
    row = readable(db, who, simulation_id)
    if row.kind != "sweep":
        raise ApiError(
            404, "chart-not-available", f"simulation {simulation_id} is a single scenario; only sweeps have a chart"
        )
    result = json.loads(row.result_json)["result"]
    baseline = load_policy(db, result["baseline"]["sha256"])  # the chart's labels and current value
    release(db)
    from service.charts import sweep_chart  # matplotlib loads on first use, not at start-up

    with _CHART_LOCK:
        return sweep_chart(result, fmt, baseline)
