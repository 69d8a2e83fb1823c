"""`GET /payroll/lines`: the payroll feed over HTTP (payroll only; the use case is `service.payroll.service`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from service.api.deps import DB, Payroll, settings
from service.payroll import service
from service.payroll.service import XLSX_MEDIA_TYPE

router = APIRouter(tags=["payroll"])


@router.get(
    "/payroll/lines", responses={200: {"content": {"text/csv": {}, "application/json": {}, XLSX_MEDIA_TYPE: {}}}}
)
def lines(
    _: Payroll,
    db: DB,
    request: Request,
    period: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    format: Literal["json", "csv", "xlsx"] | None = None,
    pay_period: Annotated[
        str | None,
        Query(
            max_length=20,
            description="a month (2026-09): only what its payroll pays - that month's lines, the lines of the "
            "quarter it ends, and adjustment lines whose pay_period it is",
        ),
    ] = None,
) -> Any:
    """One line per rep per component (commission, bonus, each award) for a month or a quarter, or
    paid in a month's payroll (`pay_period`).

    JSON by default; CSV (UTF-8 with a BOM, for Excel) or XLSX with `?format=` or an Accept header."""
    kind = format or service.accepted(request.headers.get("accept", ""))
    body, headers = service.lines(db, settings(request).full_pages, period, cursor, limit, kind, pay_period)
    return Response(body, media_type=headers["Content-Type"], headers=headers)
