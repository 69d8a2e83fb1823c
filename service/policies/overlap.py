"""Two versions of one policy must never both be in force for a month.

The CLI already refuses a policy folder whose versions overlap (`engine.policy`), but the service
stored them, and every later run for a month in both ranges then failed to choose a version. So a
version whose effective months overlap another stored version's is refused, naming both.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import PolicyVersion


def span(effective_from: str, effective_to: str | None) -> str:
    return f"{effective_from}..{effective_to}" if effective_to else f"from {effective_from}"


def overlapping(
    db: Session, policy_id: str, version: str, effective_from: str, effective_to: str | None
) -> tuple[str, str] | None:
    """(version, its span) of another stored version of `policy_id` in force in any month of
    `effective_from..effective_to` (None: open-ended), or None. On PostgreSQL it first takes a
    per-policy lock for the rest of the transaction, so two such versions cannot be stored at once
    (SQLite serialises every writer anyway)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(func.hashtext("merit-policy:" + policy_id))))
    rows = db.execute(
        select(PolicyVersion.version, PolicyVersion.effective_from, PolicyVersion.effective_to).where(
            PolicyVersion.policy_id == policy_id, PolicyVersion.version != version
        )
    ).all()
    end = effective_to or "9999-12"
    for other, other_from, other_to in sorted(rows):
        if other_from is None:
            continue
        if max(effective_from, other_from) <= min(end, other_to or "9999-12"):
            return other, span(other_from, other_to)
    return None
