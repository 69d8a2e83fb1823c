"""Fact import routes: upload (multipart), list and read (hr only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.adjustments.follow import follow_import, follow_left
from service.api.deps import DB, HR, settings
from service.api.inputs import Id
from service.deals.service import store_deal_file
from service.facts.models import ImportOut, ImportsOut
from service.facts.service import import_dict, read_import, store_import
from service.facts.service import list_imports as listed
from service.facts.upload import UPLOAD_SCHEMA, receive_file

router = APIRouter(tags=["fact imports"])


@router.post(
    "/fact-imports",
    status_code=201,
    openapi_extra=UPLOAD_SCHEMA,
    response_model=ImportOut,
    response_model_exclude_unset=True,
)
async def create_import(request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Upload a fact file in the multipart field `file` (or, with `kind`, a deals, payments or targets file)."""
    cfg = settings(request)
    data, filename, content_type, options, kind = await receive_file(request, cfg.max_upload_bytes)
    if kind != "facts":  # a deals, payments or targets file (`kind`): runs credit facts from them
        at = cfg.clock()

        def store() -> dict[str, Any]:
            doc = store_deal_file(db, who, at, data, filename, content_type, cfg.max_rows, kind)
            if kind == "payments":  # a payment crediting a paid month late: its adjustment, at once
                db.rollback()  # (the import is committed with its marker) no read transaction held
                follow_left(cfg.sessions, at)  # earlier imports a crash or a failure left unfollowed
                doc["late_credits"] = follow_import(db, who, at, doc["id"])
            return doc

        return await run_in_threadpool(store)
    return await run_in_threadpool(
        store_import, db, who, cfg.clock(), data, filename, content_type, cfg.max_rows, options
    )


@router.get("/fact-imports", response_model=ImportsOut, response_model_exclude_unset=True)
def list_imports(_: HR, db: DB) -> dict[str, Any]:
    return listed(db)


@router.get("/fact-imports/{import_id}", response_model=ImportOut, response_model_exclude_unset=True)
def get_import(import_id: Id, _: HR, db: DB) -> dict[str, Any]:
    return import_dict(read_import(db, import_id))
