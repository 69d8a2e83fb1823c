"""Fact imports: HR uploads what sales ops exported (CSV, XLSX or JSON); the engine validates it.

The raw bytes are stored with their sha256 so a run can always be re-evaluated from exactly the
file it used; an import is never changed (a correction is a new import). A bad file is refused
with every problem the engine found and nothing is stored. Size is capped while the upload is
read (413), after the token was checked, and the row count after parsing (422), so one upload
cannot exhaust the server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from engine.factheader import parse_column_map
from engine.facts import ReadOptions
from engine.problems import MeritInputError, Problem
from service.api import audit
from service.api.deps import DB, HR, Id, commit, release, settings
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


_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file itself
_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV/TXT, XLSX, ODS or JSON"},
                        "sheet": {"type": "string", "description": "the sheet, when several visible sheets hold data"},
                        "columns": {"type": "string", "description": "YAML 'columns: {业绩: actual}' header names"},
                        "drop_totals": {"type": "boolean", "description": "leave totals rows out (with a note)"},
                    },
                }
            }
        },
    }
}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "upload-too-large", f"a fact file may be at most {limit} bytes", limit=limit)


def _bad_request(message: str) -> ApiError:
    return ApiError(422, "invalid-request", message, [Problem("request", None, None, "file", message)])


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def _receive_file(request: Request, limit: int) -> tuple[bytes, str, str | None, ReadOptions]:
    """The multipart field `file`, read after authentication and never past the size limit.

    The form is parsed here rather than by FastAPI (an `UploadFile` parameter), because FastAPI
    parses a form before any dependency runs: an anonymous client could make the server spool
    an unbounded chunked upload to disk before hearing 401.
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise _bad_request("send the fact file as multipart/form-data in the field 'file'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise _too_large(limit)

    async def limited() -> AsyncGenerator[bytes, None]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit + _MULTIPART_SLACK:
                raise _too_large(limit)
            yield chunk

    parser = MultiPartParser(request.headers, limited(), max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise _bad_request(f"the multipart body cannot be read: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _bad_request("the multipart field 'file' (a file) is missing")
        data = await _read_limited(upload, limit)
        return data, upload.filename or "upload", upload.content_type, _read_options(form)
    finally:
        await form.close()


def _read_options(form: Any) -> ReadOptions:
    """The form fields `sheet`, `columns` (the YAML of a column map) and `drop_totals`."""

    def text(name: str) -> str | None:
        value = form.get(name)
        if value is None or isinstance(value, UploadFile):
            return None if value is None else "\0"  # a file where text belongs: refused below
        return str(value)

    sheet, columns, drop = text("sheet"), text("columns"), (text("drop_totals") or "").strip().lower()
    for name, value in (("sheet", sheet), ("columns", columns)):
        if value is not None and ("\0" in value or len(value) > (200 if name == "sheet" else 64 * 1024)):
            raise _bad_request(f"the form field {name!r} must be short text")
    if drop not in ("", "true", "false", "1", "0", "yes", "no"):
        raise _bad_request("the form field 'drop_totals' must be true or false")
    try:
        mapping = parse_column_map(columns.encode(), "columns") if columns else {}
    except MeritInputError as err:
        raise ApiError(422, "invalid-request", "the column map cannot be used", err.problems) from err
    return ReadOptions(sheet=sheet or None, columns=mapping, drop_totals=drop in ("true", "1", "yes"))


@router.post("/fact-imports", status_code=201, openapi_extra=_UPLOAD_SCHEMA)
async def create_import(request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Upload a fact file in the multipart field `file`."""
    cfg = settings(request)
    data, filename, content_type, options = await _receive_file(request, cfg.max_upload_bytes)
    return await run_in_threadpool(_store, db, who, cfg.clock(), data, filename, content_type, cfg.max_rows, options)


def _store(
    db: Session,
    who: Principal,
    at: datetime,
    data: bytes,
    filename: str,
    content_type: str | None,
    max_rows: int,
    options: ReadOptions | None = None,
) -> dict[str, Any]:
    release(db)  # parsing a large file takes a while: hold no database lock meanwhile
    given = options or ReadOptions()
    capped = replace(given, limits=replace(given.limits, data_rows=max_rows))  # stop reading at the cap
    try:
        facts = load_facts(data, filename, options=capped)
    except MeritInputError as err:
        if err.kind == "too-many-rows":
            raise ApiError(
                422,
                "too-many-rows",
                f"{filename} has more than {max_rows} rows; at most {max_rows} are accepted; nothing was stored",
                err.problems,
                limit=max_rows,
            ) from err
        raise ApiError(
            422,
            "invalid-facts",
            f"{filename} has {err.total} problem(s); nothing was stored"
            + (f" (the first {len(err.problems)} are listed)" if err.omitted else ""),
            err.problems,
            omitted=dict(err.omitted),
        ) from err
    if len(facts.rows) > max_rows:
        first_over = facts.rows[max_rows]
        message = f"{len(facts.rows)} rows; an import may have at most {max_rows} (split the file)"
        raise ApiError(
            422,
            "too-many-rows",
            f"{filename} has {len(facts.rows)} rows; at most {max_rows} are accepted; nothing was stored",
            [Problem(filename, first_over.row, None, "", message)],
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
        read_options=None if options is None or options.plain else options.as_dict(),
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
        **_options_detail(options),
    )
    commit(db)
    return {**import_dict(row), "notes": list(facts.notes)} if facts.notes else import_dict(row)


def _options_detail(options: ReadOptions | None) -> dict[str, Any]:
    """The read options, kept in the import's audit entry: the stored bytes alone do not say them."""
    if options is None or options.plain:
        return {}
    return {"read_options": options.as_dict()}


@router.get("/fact-imports")
def list_imports(_: HR, db: DB) -> dict[str, Any]:
    rows = db.scalars(select(FactImport).order_by(FactImport.id)).all()
    return {"fact_imports": [import_dict(r) for r in rows]}


@router.get("/fact-imports/{import_id}")
def get_import(import_id: Id, _: HR, db: DB) -> dict[str, Any]:
    row = db.get(FactImport, import_id)
    if row is None:
        raise ApiError(404, "fact-import-not-found", f"there is no fact import {import_id}")
    return import_dict(row)
