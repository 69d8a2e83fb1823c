"""Ending a request's transaction: `commit` once at the end, `release` before slow engine work.

Use cases (`service/<noun>/service.py`) call these, so they live beside the sessions, not in the
HTTP plumbing (`service.api.deps` gives each request its session).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from service.api.errors import ApiError
from service.db import is_busy


def commit(db: Session, conflict_detail: str = "the change conflicts with a concurrent one") -> None:
    """Commit the request's transaction; a constraint race becomes a 409, not a 500."""
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise ApiError(409, "conflict", conflict_detail) from exc
    except OperationalError as exc:  # e.g. PostgreSQL serialization/deadlock, SQLite busy
        db.rollback()
        if is_busy(exc):
            raise  # 503 with Retry-After (errors.install)
        raise ApiError(409, "conflict", "the database refused the change; retry the request") from exc


def release(db: Session) -> None:
    """End the request's read transaction before slow engine work (acceptance runs, evaluations).

    On SQLite a transaction holds the database's write lock, on PostgreSQL a connection and row
    locks; neither should be held for seconds. The request's writes still happen in one later
    transaction, which re-checks every precondition (conditional updates, constraints).
    """
    db.rollback()
