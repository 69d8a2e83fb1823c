"""Publication routes: publish and finalize (hr), object (reps, managers), read and resolve objections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.api.deps import DB, HR, NotPayroll, Objector, now, settings
from service.api.inputs import Id
from service.publication import service
from service.publication.models import (
    ObjectionOut,
    ObjectionRequest,
    ObjectionsOut,
    ResolvedOut,
    ResolveRequest,
)
from service.runs.models import RunOut

router = APIRouter(tags=["publication"])


@router.post("/runs/{run_id}/publish", response_model=RunOut, response_model_exclude_unset=True)
def publish(run_id: Id, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Publish a draft: results become visible to managers and reps; the objection period starts."""
    return service.publish(db, who, now(request), run_id)


@router.post("/runs/{run_id}/finalize", response_model=RunOut, response_model_exclude_unset=True)
def finalize(run_id: Id, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Finalize after the objection deadline with no open objection: the run's lines go to payroll."""
    cfg = settings(request)
    return service.finalize(db, who, cfg.clock, run_id, separate_duties=cfg.separate_duties)


@router.post("/runs/{run_id}/objections", status_code=201, response_model=ObjectionOut)
def object_to(
    run_id: Id,
    body: ObjectionRequest,
    request: Request,
    who: Objector,
    db: DB,
) -> dict[str, Any]:
    """A rep objects to their own line, or a manager for a rep in their region, while the window is open."""
    return service.object_to(db, who, now(request), run_id, body.rep_id, body.reason)


@router.get("/runs/{run_id}/objections", response_model=ObjectionsOut)
def list_objections(run_id: Id, who: NotPayroll, db: DB) -> dict[str, Any]:
    return service.list_objections(db, who, run_id)


@router.get("/objections/{objection_id}", response_model=ObjectionOut)
def read_objection(
    objection_id: Id,
    who: NotPayroll,
    db: DB,
) -> dict[str, Any]:
    return service.read_objection(db, who, objection_id)


@router.post("/objections/{objection_id}/resolve", response_model=ResolvedOut, response_model_exclude_unset=True)
def resolve(
    objection_id: Id,
    body: ResolveRequest,
    request: Request,
    who: HR,
    db: DB,
) -> dict[str, Any]:
    """Accept or reject; accepted with corrected facts re-evaluates and supersedes the run.

    The evaluation runs between two transactions (it can take seconds); the writing transaction
    locks the run and re-checks everything, and the evaluation is reused only if the objection is
    still about the same run.
    """
    return service.resolve(db, who, now(request), objection_id, body.decision, body.note, body.fact_import_id)
