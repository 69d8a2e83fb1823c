"""Replay and shadow routes (hr): `GET /runs/{id}/replay`, `GET /runs/{id}/shadow`, setting a shadow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from service.api.deps import DB, HR, now
from service.api.inputs import Id
from service.replay import service, shadows

router = APIRouter(tags=["replay"])


@router.get("/runs/{run_id}/replay")
def replay(run_id: Id, _: HR, db: DB) -> dict[str, Any]:
    """Evaluate the run again from its stored policy text and facts bytes: identical, or what differs."""
    return service.replay(db, run_id)


@router.get("/runs/{run_id}/shadow")
def shadow(run_id: Id, _: HR, db: DB) -> dict[str, Any]:
    """The run beside the draft version that shadowed it: per rep differences and the cost delta."""
    return shadows.compare(db, run_id)


@router.post("/policies/{policy_id}/versions/{version}/shadow")
def set_shadow(policy_id: str, version: str, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Let a draft version shadow the policy: every new run also evaluates it (never paid)."""
    return shadows.set_shadow(db, who, now(request), policy_id, version)


@router.delete("/policies/{policy_id}/shadow", status_code=204)
def clear_shadow(policy_id: str, request: Request, who: HR, db: DB) -> Response:
    """Stop shadowing the policy."""
    shadows.clear_shadow(db, who, now(request), policy_id)
    return Response(status_code=204)
