"""`GET /audit`: the audit log over HTTP (hr only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.api.deps import DB, HR
from service.api.inputs import MAX_ID
from service.audit.models import AuditPage
from service.audit.service import read_page

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage)
def read_audit(
    _: HR,
    db: DB,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID, description="the next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    action: str | None = None,
) -> dict[str, Any]:
    """Every write, oldest first: who, role, what, when, before/after hashes."""
    return read_page(db, cursor, limit, action)
