"""Fact imports as use cases: HR uploads what sales ops exported (CSV, XLSX or JSON); the engine validates it.

The raw bytes are stored with their sha256 so a run can always be re-evaluated from exactly the
file it used; an import is never changed (a correction is a new import). A bad file is refused
with every problem the engine found and nothing is stored; the row count is capped while
parsing (422). A large CSV is checked in passes over ranges of reps (`service.facts.check`), so
its rows are never all held at once.

A missing import is 404 when its id is in the path (`GET /fact-imports/{id}`) and 422 naming the
field when a request body refers to it (`import_for`): the body is what is wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, func, select
from sqlalchemy.orm import Session, object_session

from engine.facts import ReadOptions
from engine.problems import MeritInputError, Problem
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.facts.check import check_facts
from service.facts.models import FactImport


def import_dict(row: FactImport) -> dict[str, Any]:
    """An import as HR reads it (the bytes are not included)."""
    return {
        "id": row.id,
        "filename": row.filename,
        "sha256": row.sha256,
        "size": row.size,
        "rows": row.row_count,
        "periods": row.periods,
        "columns": row.columns,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        **({"kind": row.kind} if row.kind else {}),  # facts when absent
        **({"credited_from": row.credited_from} if row.credited_from else {}),
    }


def store_import(
    db: Session,
    who: Principal,
    at: datetime,
    data: bytes,
    filename: str,
    content_type: str | None,
    max_rows: int,
    options: ReadOptions | None = None,
) -> dict[str, Any]:
    """Parse, check and store an upload with an audit entry; commits. Refuses (422) with every problem."""
    release(db)  # parsing a large file takes a while: hold no database lock meanwhile
    given = options or ReadOptions()
    capped = replace(given, limits=replace(given.limits, data_rows=max_rows))  # stop reading at the cap
    try:
        facts = check_facts(data, filename, capped)
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
    sha = hashlib.sha256(data).hexdigest()
    row = FactImport(
        filename=filename[:300],
        content_type=content_type,
        sha256=sha,
        size=len(data),
        row_count=facts.rows,
        periods=facts.periods,
        columns=facts.columns,
        regions=facts.regions,
        rep_ids=facts.rep_ids,
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
        rows=facts.rows,
        **_options_detail(options),
    )
    commit(db)
    return {**import_dict(row), "notes": list(facts.notes)} if facts.notes else import_dict(row)


def _options_detail(options: ReadOptions | None) -> dict[str, Any]:
    """The read options, kept in the import's audit entry: the stored bytes alone do not say them."""
    if options is None or options.plain:
        return {}
    return {"read_options": options.as_dict()}


PIECE = 64 * 1024 * 1024  # bytes of a stored file read at a time


def import_bytes(row: FactImport) -> bytes:
    """The import's bytes; a large file is read in 64 MiB pieces: PostgreSQL writes a bytea value
    out as hex text, twice its size, and cannot write one over 1 GiB (a 512 MiB file) at all."""
    db = object_session(row)
    if db is None or row.size <= PIECE or "data" in row.__dict__:
        return row.data
    pieces: list[bytes] = []
    while True:
        start = len(pieces) * PIECE + 1  # substr counts from 1, in bytes for a blob or bytea
        piece = db.scalar(
            select(func.substr(FactImport.data, start, PIECE, type_=LargeBinary)).where(FactImport.id == row.id)
        )
        pieces.append(bytes(piece or b""))
        if len(pieces[-1]) < PIECE:
            return b"".join(pieces)


def list_imports(db: Session) -> dict[str, Any]:
    """Every import, oldest first."""
    rows = db.scalars(select(FactImport).order_by(FactImport.id)).all()
    return {"fact_imports": [import_dict(r) for r in rows]}


def read_import(db: Session, import_id: int) -> FactImport:
    """The import whose id is in the path: 404 when there is none."""
    row = db.get(FactImport, import_id)
    if row is None:
        raise ApiError(404, "fact-import-not-found", f"there is no fact import {import_id}")
    return row


def import_for(db: Session, import_id: int, field: str = "fact_import_id") -> FactImport:
    """The import a request body's `field` names: 422 naming the field when there is none."""
    row = db.get(FactImport, import_id)
    if row is None:
        msg = f"there is no fact import {import_id}"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, field, msg)])
    if row.kind in ("deals", "payments", "targets"):  # read as facts they would be nonsense
        msg = f"fact import {import_id} is a {row.kind} file: use it in a deal set (deal/payment/target_import_id)"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, field, msg)])
    return row
