"""Job routes: GET /jobs/{id}; and `deferred`, which turns a big (or asked-for) POST into a 202.

A POST becomes a job when its estimated rep-months exceed `MERIT_ASYNC_REP_MONTHS` (20,000 by
default), when the client sends `Prefer: respond-async` (RFC 7240), or when it sends an
`Idempotency-Key` (the key names a job: a retry gets the same job back). The answer is
`202 Accepted`, `Location: /jobs/{id}` and the job document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from service.api.deps import DB, Anyone, now, settings
from service.api.errors import ApiError
from service.api.inputs import Id
from service.auth import Principal
from service.jobs import service

router = APIRouter(tags=["jobs"])
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as the IETF draft's examples; bounded


class ProgressOut(BaseModel):
    done: int
    total: int


class JobOut(BaseModel):
    """A background job: state, progress, timings, the link to its result or its problem."""

    id: int
    kind: str
    state: str
    progress: ProgressOut
    rep_months: int
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    result: str | None
    error: dict[str, Any] | None


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "accepted as a background job: poll Location", "model": JobOut}
}


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(job_id: Id, who: Anyone, db: DB) -> dict[str, Any]:
    """A job's state; only its creator (the same token) or hr may read it."""
    return service.job_dict(service.readable_job(db, who, job_id))


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY.fullmatch(key):
        detail = "Idempotency-Key must be 1 to 200 visible ASCII characters"
        problem = {"source": "header", "line": None, "column": None, "field": "Idempotency-Key", "message": detail}
        raise ApiError(422, "invalid-request", detail, [problem])
    return key


def wants_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


def deferred(
    request: Request,
    who: Principal,
    db: Session,
    kind: str,
    body: BaseModel,
    rep_months: Callable[[], int],
) -> Response | None:
    """202 with the job when this POST is to run in the background; None to answer it now."""
    key = idempotency_key(request)
    asked = wants_async(request)
    estimate = rep_months()
    if key is None and not asked and estimate <= settings(request).async_rep_months:
        return None
    job, created = service.submit(db, who, now(request), kind, body.model_dump(mode="json"), key, estimate)
    if created:
        request.app.state.jobs.enqueue(job.id)
    headers = {"Location": f"/jobs/{job.id}"}
    if asked:
        headers["Preference-Applied"] = "respond-async"
    return JSONResponse(service.job_dict(job), status_code=202, headers=headers)
