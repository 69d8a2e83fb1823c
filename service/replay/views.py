"""Replay and shadow routes (hr): `GET /runs/{id}/replay`, `GET /runs/{id}/shadow`, setting a shadow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import DB, HR, Id
from service.replay import service

router = APIRouter(tags=["replay"])


@router.get("/runs/{run_id}/replay")
def replay(run_id: Id, _: HR, db: DB) -> dict[str, Any]:
    """Evaluate the run again from its stored policy text and facts bytes: identical, or what differs."""
    return service.replay(db, run_id)
