"""Issuing API tokens (`merit token create`): the token, its hash stored, and an audit entry.

The token rules themselves (roles, grants, hashing, authentication) are `service.auth`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.auth import create_token
from service.tokens.models import ApiToken


def issue_token(
    session: Session, at: datetime, *, role: str, name: str, regions: Sequence[str], rep_id: str | None
) -> tuple[str, ApiToken]:
    """Create the token and audit it as done by the command line; commits. Returns (token, row)."""
    token, row = create_token(session, role=role, name=name, regions=regions, rep_id=rep_id)
    session.add(
        AuditEntry(
            at=at,
            actor="merit token create",
            role="cli",
            action="token.create",
            target=f"token:{row.id}",
            after_sha256=row.token_sha256,
            detail=json.dumps(
                {"name": row.name, "role": row.role, "regions": sorted(regions), "rep_id": rep_id},
                ensure_ascii=False,
                sort_keys=True,
            ),
        )
    )
    session.commit()
    return token, row
