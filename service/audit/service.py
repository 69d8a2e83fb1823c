"""Writing and reading the append-only audit log.

Every write use case calls `record` inside its own transaction, so an audit entry exists exactly
when the change it describes was committed. The table refuses UPDATE and DELETE (triggers).

`before_sha256`/`after_sha256` identify the target's content before and after the write (None
where it did not exist): a policy version's YAML (its ETag), a fact file's bytes, and for runs and
objections the sha256 of their JSON document as HR reads it (`state_hash`: UTF-8, sorted keys, no
spaces). So an entry's `before` is the previous entry's `after` for the same target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.auth import Principal


def state_hash(document: Mapping[str, Any]) -> str:
    """sha256 of a JSON document in canonical form (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(
    db: Session,
    who: Principal,
    at: datetime,
    action: str,
    target: str,
    *,
    before: str | None = None,
    after: str | None = None,
    **detail: Any,
) -> None:
    """Add the entry for a write `who` made at `at` (committed with the write, or not at all)."""
    db.add(
        AuditEntry(
            at=at,
            actor=who.name,
            role=who.role,
            token_id=who.token_id,
            action=action,
            target=target,
            before_sha256=before,
            after_sha256=after,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as `GET /audit` lists it."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "token_id": entry.token_id,
        "action": entry.action,
        "target": entry.target,
        "before_sha256": entry.before_sha256,
        "after_sha256": entry.after_sha256,
        "detail": json.loads(entry.detail),
    }


def read_page(db: Session, cursor: int | None, limit: int, action: str | None) -> dict[str, Any]:
    """Up to `limit` entries after the entry id `cursor`, oldest first, and the next cursor."""
    stmt = select(AuditEntry).order_by(AuditEntry.id).limit(limit + 1)
    if cursor is not None:
        stmt = stmt.where(AuditEntry.id > cursor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    rows = list(db.scalars(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return {"entries": [as_dict(r) for r in rows], "next_cursor": rows[-1].id if more and rows else None}
