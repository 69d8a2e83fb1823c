"""What-if routes: simulations, sweeps, their charts, and named scenarios (hr and managers)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from service.api.deps import DB, now, require
from service.api.inputs import Id
from service.auth import Principal
from service.jobs.service import simulation_rows
from service.jobs.views import ACCEPTED, deferred
from service.simulations import records, scenarios, stored
from service.simulations.models import (
    OptionsOut,
    ParametersOut,
    ScenarioOut,
    ScenarioRequest,
    ScenarioRunRequest,
    ScenariosOut,
    SimulationRequest,
    SimulationsOut,
    SweepRequest,
)
from service.simulations.records import Stored

router = APIRouter(tags=["simulations"])

Simulator = Annotated[Principal, Depends(require("hr", "manager"))]
JSON_MEDIA = "application/json"
_CHART_MEDIA = {"svg": "image/svg+xml", "png": "image/png"}


def _created(stored: Stored) -> Response:
    """201 with the stored document, byte for byte, and where to read it again."""
    return Response(
        stored.text.encode("utf-8"),
        status_code=201,
        media_type=JSON_MEDIA,
        headers={"Location": f"/simulations/{stored.id}"},
    )


@router.get("/simulations/options", response_model=OptionsOut)
def options(who: Simulator, db: DB) -> dict[str, Any]:
    """What a simulation can be run on: policies and versions, fact imports, finalized runs."""
    return stored.options(db, who)


@router.get("/simulations/parameters", response_model=ParametersOut)
def parameters(
    _: Simulator,
    db: DB,
    policy_id: Annotated[str, Query(min_length=1)],
    version: str | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """The editable numbers of a policy version (tier rates and thresholds, bonuses, award amounts...)."""
    return stored.parameters(db, policy_id, version, period)


@router.post("/simulations", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}, **ACCEPTED})
def create_simulation(body: SimulationRequest, request: Request, who: Simulator, db: DB) -> Response:
    """Simulate a scenario against the baseline; 201 with `id` and the engine's result under `result`
    (202 with a job over MERIT_ASYNC_REP_MONTHS: baseline and scenario count twice)."""
    rows = lambda: 2 * simulation_rows(db, body.fact_import_id, body.from_finalized_runs, body.period)  # noqa: E731
    job = deferred(request, who, db, "simulation", body, rows)
    if job is not None:
        return job
    return _created(stored.create_simulation(db, who, now(request), body))


@router.post("/simulations/sweeps", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}, **ACCEPTED})
def create_sweep(body: SweepRequest, request: Request, who: Simulator, db: DB) -> Response:
    """The cost curve of one parameter; the chart is at /simulations/{id}/chart.svg (or .png)
    (202 with a job over MERIT_ASYNC_REP_MONTHS: the baseline and every point count)."""
    points = stored.sweep_points(body)
    rows = lambda: (points + 1) * simulation_rows(db, body.fact_import_id, body.from_finalized_runs, body.period)  # noqa: E731
    job = deferred(request, who, db, "sweep", body, rows)
    if job is not None:
        return job
    return _created(stored.create_sweep(db, who, now(request), body))


@router.get("/simulations", response_model=SimulationsOut)
def list_simulations(
    who: Simulator,
    db: DB,
    kind: Literal["simulation", "sweep"] | None = None,
    period: str | None = None,
    scenario_id: Id | None = None,
) -> dict[str, Any]:
    """Stored simulations and sweeps the caller may read, oldest first (results not included)."""
    return records.list_simulations(db, who, kind, period, scenario_id)


@router.get("/simulations/{simulation_id}", responses={200: {"content": {JSON_MEDIA: {}}}})
def read_simulation(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """The stored document, byte for byte as POST returned it."""
    row = records.readable(db, who, simulation_id)
    return Response(row.result_json.encode("utf-8"), media_type=JSON_MEDIA, headers={"ETag": f'"{row.result_sha256}"'})


def _chart(db: Session, who: Principal, simulation_id: int, fmt: str) -> Response:
    image = records.chart(db, who, simulation_id, fmt)
    return Response(image, media_type=_CHART_MEDIA[fmt], headers={"Cache-Control": "private, max-age=3600"})


@router.get("/simulations/{simulation_id}/chart.svg", responses={200: {"content": {"image/svg+xml": {}}}})
def chart_svg(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """A sweep's cost curve as SVG (payout and share of sales, reps per tier)."""
    return _chart(db, who, simulation_id, "svg")


@router.get("/simulations/{simulation_id}/chart.png", responses={200: {"content": {"image/png": {}}}})
def chart_png(simulation_id: Id, who: Simulator, db: DB) -> Response:
    """The same chart as PNG."""
    return _chart(db, who, simulation_id, "png")


@router.post("/scenarios", status_code=201, response_model=ScenarioOut)
def create_scenario(body: ScenarioRequest, request: Request, who: Simulator, db: DB) -> dict[str, Any]:
    """Save a named scenario; its edits are checked against the baseline (schema + linter) now."""
    return scenarios.create_scenario(db, who, now(request), body)


@router.get("/scenarios", response_model=ScenariosOut)
def list_scenarios(who: Simulator, db: DB) -> dict[str, Any]:
    return scenarios.list_scenarios(db, who)


@router.get("/scenarios/{scenario_id}", response_model=ScenarioOut)
def read_scenario(scenario_id: Id, who: Simulator, db: DB) -> dict[str, Any]:
    return scenarios.scenario_dict(scenarios.readable_scenario(db, who, scenario_id))


@router.post("/scenarios/{scenario_id}/run", status_code=201, responses={201: {"content": {JSON_MEDIA: {}}}})
def run_scenario(
    scenario_id: Id, request: Request, who: Simulator, db: DB, body: ScenarioRunRequest | None = None
) -> Response:
    """Simulate a saved scenario; the body may override its period and facts. Without any facts
    choice (here or saved), the period's finalized runs are used."""
    return _created(scenarios.run_scenario(db, who, now(request), scenario_id, body))
