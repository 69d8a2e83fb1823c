"""Fact imports: HR uploads what sales ops exported (CSV, XLSX or JSON); the engine validates it.

The raw bytes are stored with their sha256 so a run can always be re-evaluated from exactly the
file it used; an import is never changed (a correction is a new import). A bad file is refused
with every problem the engine found and nothing is stored. Size is capped before parsing (413)
and the row count after (413), so one upload cannot exhaust the server.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from engine.problems import MeritInputError
from service.api import audit
from service.api.deps import DB, HR, commit, release, settings
from service.api.engine_gate import load_facts
from service.api.errors import ApiError
from service.auth import Principal
from service.db.models import FactImport

router = APIRouter(tags=["fact imports"])
_CHUNK = 1 << 16


def import_dict(row: FactImport) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "sha256": row.sha256,
        "size": row.size,
        "rows": row.row_count,
        "periods": json.loads(row.periods),
        "columns": json.loads(row.columns),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "upload-too-large", f"a fact file may be at most {limit} bytes", limit=limit)
        parts.append(chunk)
    return b"".join(parts)


@router.post("/fact-imports", status_code=201)
async def create_import(
    request: Request,
    file: UploadFile,
    who: HR,
    db: DB,
) -> dict[str, Any]:
    """Upload a fact file in the multipart field `file`."""
    cfg = settings(request)
    data = await _read_limited(file, cfg.max_upload_bytes)
    filename = file.filename or "upload"
    return await run_in_threadpool(_store, db, who, cfg.clock(), data, filename, file.content_type, cfg.max_rows)


def _store(
    db: Session,
    who: Principal,
    at: datetime,
    data: bytes,
    filename: str,
    content_type: str | None,
    max_rows: int,
) -> dict[str, Any]:
    release(db)  # parsing a large file takes a while: hold no database lock meanwhile
    try:
        facts = load_facts(data, filename)
    except MeritInputError as err:
        raise ApiError(
            422,
            "invalid-facts",
            f"{filename} has {len(err.problems)} problem(s); nothing was stored",
            err.problems,
        ) from err
    if len(facts.rows) > max_rows:
        raise ApiError(
            413,
            "too-many-rows",
            f"{filename} has {len(facts.rows)} rows; at most {max_rows} are accepted",
            limit=max_rows,
        )
    sha = hashlib.sha256(data).hexdigest()
    row = FactImport(
        filename=filename[:300],
        content_type=content_type,
        sha256=sha,
        size=len(data),
        row_count=len(facts.rows),
        periods=json.dumps(sorted(facts.periods)),
        columns=json.dumps(list(facts.columns), ensure_ascii=False),
        data=data,
        created_at=at,
        created_by=who.name,
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        who,
        at,
        "facts.import",
        f"fact-import:{row.id}",
        after=sha,
        filename=filename,
        rows=len(facts.rows),
    )
    commit(db)
    return import_dict(row)


@router.get("/fact-imports")
def list_imports(_: HR, db: DB) -> dict[str, Any]:
    rows = db.scalars(select(FactImport).order_by(FactImport.id)).all()
    return {"fact_imports": [import_dict(r) for r in rows]}


@router.get("/fact-imports/{import_id}")
def get_import(import_id: int, _: HR, db: DB) -> dict[str, Any]:
    row = db.get(FactImport, import_id)
    if row is None:
        raise ApiError(404, "fact-import-not-found", f"there is no fact import {import_id}")
    return import_dict(row)
