"""Run routes: evaluate (hr), list and read runs, read results (JSON or CSV, scoped to the caller)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from service.api.deps import DB, HR, Anyone, now, settings
from service.api.inputs import Id
from service.jobs.service import import_rows
from service.jobs.views import ACCEPTED, deferred
from service.periods import service as periods
from service.runs import reading, service
from service.runs.models import RunOut, RunRequest, RunsOut
from service.runs.service import deal_set, get_run, run_dict

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201, response_model=RunOut, response_model_exclude_unset=True, responses={**ACCEPTED})
def create_run(
    body: RunRequest,
    request: Request,
    response: Response,
    who: HR,
    db: DB,
) -> Any:
    """Evaluate a fact import, or a deal set (facts credited from deals by the policy's crediting
    block, stored as an import of their own); 201 with the new draft run, or 200 with the run that
    already has these inputs; 202 with a job (Location: /jobs/{id}) over MERIT_ASYNC_REP_MONTHS, on
    `Prefer: respond-async` or with an `Idempotency-Key`.

    A quarter whose months were paid by month runs is closed instead (`service.periods`): 201 with
    the close run (it pays the quarter's own lines only), 409 while a month is not finalized."""
    given = any(i is not None for i in (body.fact_import_id, body.deal_import_id, body.payment_import_id))
    if periods.asks_to_close(db, body.period, given or body.target_import_id is not None):
        run = periods.close(db, who, now(request), body.policy_id, body.version, body.period, body.fact_import_id)
        return {**run_dict(run, who), "closes": periods.close_document(db, run)}
    deals = deal_set(body)  # 422 now, not in a job, when the body names neither or both
    rows = body.fact_import_id if deals is None else deals[2]  # a deal set: its targets' rows
    job = deferred(request, who, db, "run", body, lambda: import_rows(db, rows))
    if job is not None:
        return job
    run, created = service.create_run(
        db, who, now(request), body.policy_id, body.version, body.period, body.fact_import_id, deal_set(body)
    )
    if not created:
        response.status_code = 200
    return run_dict(run, who)


@router.get("/runs", response_model=RunsOut, response_model_exclude_unset=True)
def list_runs(
    who: Anyone,
    db: DB,
    period: str | None = None,
    status: str | None = None,
    policy_id: str | None = None,
) -> dict[str, Any]:
    """The runs matching the filters, oldest first; a close run also says what it `closes`."""
    found = service.list_runs(db, who, period, status, policy_id)
    closes = periods.close_documents(db, [r["id"] for r in found["runs"]])
    return {"runs": [{**r, "closes": closes[r["id"]]} if r["id"] in closes else r for r in found["runs"]]}


@router.get("/runs/{run_id}", response_model=RunOut, response_model_exclude_unset=True)
def read_run(run_id: Id, who: Anyone, db: DB) -> dict[str, Any]:
    """The run as the caller may see it; a quarter's close also says what it `closes` (the period and
    the month runs it was evaluated from)."""
    run = get_run(db, run_id)
    closes = periods.close_document(db, run)
    return run_dict(run, who) if closes is None else {**run_dict(run, who), "closes": closes}


def wants_csv(request: Request, fmt: str | None) -> bool:
    """`?format=` decides; without it, an Accept asking for CSV and not for JSON."""
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get("/runs/{run_id}/results", responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def results(
    who: Anyone,
    db: DB,
    run_id: Id,
    request: Request,
    format: Literal["json", "csv"] | None = None,
) -> Response:
    """The engine's results: JSON (the documented results contract) or CSV, scoped to the caller."""
    found = reading.results(db, settings(request).result_bodies, who, run_id, wants_csv(request, format))
    return Response(found.body, media_type=found.media_type, headers=found.headers)
