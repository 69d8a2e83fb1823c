"""API tokens as use cases: issue (`merit token create`, `POST /tokens`), list, revoke; audited.

The token rules themselves (roles, grants, hashing, authentication) are `service.auth`'s; when a
presented token is refused or stamped as used is `service.tokens.usage`'s. The secret is returned
by `issue_token` only: lists and the audit log show the token's id, name, grant and dates.

A manager's region must be one HR has imported (a fact import's rows, or a run's reps): a token
for "Esat" would admit its holder to nothing, silently. A region nobody imported yet is accepted
only when the caller confirms it (`--new-region`, `"new_region": true`). A rep token's rep_id is
checked the same way against the rep ids imports and runs name (`--new-rep`, `"new_rep": true`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.problems import MeritInputError, Problem
from service.audit.models import AuditEntry
from service.auth import check_grant, create_token
from service.db.models import FactImport, RunRep  # all tables: runs.models alone is an import cycle
from service.tokens.models import ApiToken

CLI_ACTOR = ("merit token", "cli")  # the audit log's actor and role for the command line
MAX_EXPIRY_DAYS = 3660  # ten years: beyond that "--expires" is a typo, not a policy
_EXPIRES = re.compile(r"(\d{1,5})([hdw])")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expires(text: str, now: datetime) -> datetime:
    """When a token made `now` with `--expires TEXT` (`90d`, `12h`, `2w`) stops working."""
    match = _EXPIRES.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        msg = f"{text!r} is not a lifetime: write a count and a unit, e.g. 90d (days), 12h (hours), 2w (weeks)"
        raise MeritInputError([Problem("token", None, None, "expires", msg)])
    span = int(match.group(1)) * _UNIT[match.group(2)]
    if span > timedelta(days=MAX_EXPIRY_DAYS):
        msg = f"{text!r} is more than {MAX_EXPIRY_DAYS} days; leave --expires out for a token that does not expire"
        raise MeritInputError([Problem("token", None, None, "expires", msg)])
    return now + span


def known_regions(db: Session) -> set[str]:
    """Every region some fact import's rows name (and, for imports older than that record, their runs')."""
    found: set[str] = set()
    for listed in db.scalars(select(FactImport.regions).where(FactImport.regions.is_not(None))):
        found.update(listed or [])
    found.update(r for r in db.scalars(select(RunRep.region).distinct()) if r)
    return found


def region_problems(db: Session, regions: Sequence[str], new_region: bool, confirm: str) -> list[Problem]:
    """A problem for each region no import names, unless the caller confirmed them (`confirm` says how)."""
    if new_region or not regions:
        return []
    known = known_regions(db)
    shown = ", ".join(sorted(known)) if known else "none yet"
    return [
        Problem(
            "token",
            None,
            None,
            "region",
            f"no fact import has region {region!r} (imported regions: {shown}); check the spelling, "
            f"or confirm a region not imported yet with {confirm}",
        )
        for region in sorted(set(regions))
        if region not in known
    ]


def known_rep_ids(db: Session) -> set[str]:
    """Every rep_id some import's rows name (and, for imports older than that record, their runs')."""
    found: set[str] = set()
    for listed in db.scalars(select(FactImport.rep_ids).where(FactImport.rep_ids.is_not(None))):
        found.update(listed or [])
    found.update(r for r in db.scalars(select(RunRep.rep_id).distinct()) if r)
    return found


def rep_id_problems(db: Session, rep_id: str, new_rep: bool, confirm: str) -> list[Problem]:
    """A problem when no import names `rep_id`, unless the caller confirmed it (`confirm` says how)."""
    if new_rep or rep_id in known_rep_ids(db):
        return []
    message = (
        f"no fact import has rep_id {rep_id!r}; check the spelling (rep ids are exact, e.g. R001), "
        f"or confirm a rep not imported yet with {confirm}"
    )
    return [Problem("token", None, None, "rep_id", message)]


def token_dict(row: ApiToken, now: datetime) -> dict[str, Any]:
    """A token as lists show it: never its secret, nor its hash."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "regions": json.loads(row.regions),
        "rep_id": row.rep_id,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "status": status(row, now),
    }


def status(row: ApiToken, now: datetime) -> str:
    """`revoked`, `expired` or `active`."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and now >= row.expires_at:
        return "expired"
    return "active"


def _audit(db: Session, actor: tuple[str, str, int | None], at: datetime, action: str, row: ApiToken) -> None:
    detail = {
        "name": row.name,
        "role": row.role,
        "regions": json.loads(row.regions),
        "rep_id": row.rep_id,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }
    db.add(
        AuditEntry(
            at=at,
            actor=actor[0],
            role=actor[1],
            token_id=actor[2],
            action=action,
            target=f"token:{row.id}",
            after_sha256=row.token_sha256 if action == "token.create" else None,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )


def issue_token(
    session: Session,
    at: datetime,
    *,
    role: str,
    name: str,
    regions: Sequence[str],
    rep_id: str | None,
    expires: str | None = None,
    new_region: bool = False,
    confirm: str = "--new-region",
    actor: tuple[str, str, int | None] = (*CLI_ACTOR, None),
    new_rep: bool = False,
    confirm_rep: str = "--new-rep",
) -> tuple[str, ApiToken]:
    """Create the token and audit it (by `actor`: name, role, token id); commits. Returns (secret, row).
    Refuses with every problem at once: the grant's, the lifetime's, each region (a manager's) or
    the rep_id (a rep's) no import names, unless confirmed."""
    problems = check_grant(role, regions, rep_id, name)
    expires_at = None
    if expires is not None:
        try:
            expires_at = parse_expires(expires, at)
        except MeritInputError as err:
            problems += err.problems
    if role == "manager" and all(r.strip() for r in regions):
        problems += region_problems(session, regions, new_region, confirm)
    if role == "rep" and rep_id is not None and rep_id.strip():
        problems += rep_id_problems(session, rep_id, new_rep, confirm_rep)
    if problems:
        raise MeritInputError(problems)
    token, row = create_token(
        session, role=role, name=name, regions=regions, rep_id=rep_id, now=at, expires_at=expires_at
    )
    _audit(session, actor, at, "token.create", row)
    session.commit()
    return token, row


def list_tokens(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every token, oldest first, with its status at `now`."""
    return [token_dict(r, now) for r in session.scalars(select(ApiToken).order_by(ApiToken.id))]


class TokenNotFound(LookupError):
    """No token has that id."""


def revoke_token(
    session: Session, token_id: int, at: datetime, actor: tuple[str, str, int | None] = (*CLI_ACTOR, None)
) -> tuple[ApiToken, bool]:
    """Revoke the token (audited; commits). Returns (row, whether it was revoked just now): revoking
    a revoked token changes nothing and writes no second audit entry."""
    row = session.scalars(select(ApiToken).where(ApiToken.id == token_id).with_for_update()).first()
    if row is None:
        raise TokenNotFound(token_id)
    if row.revoked_at is not None:  # the caller's session ends the read (a rollback would expire `row`)
        return row, False
    row.revoked_at = at
    _audit(session, actor, at, "token.revoke", row)
    session.commit()
    return row, True
