"""A presented token at request time: why it is refused, and when it was last used.

`service.api.deps.authorize` calls `admit_usage` once it found the token's principal, and
`refusal` when it found none, so a 401 says why: unknown (with the hint that a token belongs to
the database it was made in), revoked at T, or expired at T.

`last_used_at` is written at most once a minute per token (`TOUCH_EVERY`), in a short write
transaction of its own, and only when the stored stamp is older. A write on every request would
make every read a writer: on SQLite each request would queue for the one write lock, on
PostgreSQL each would dirty a row (WAL, vacuum) and contend on it under load. "Used in the last
minute" is all a review of unused tokens needs. The UPDATE is conditional on the stamp still
being old, so concurrent requests (or server processes) at the minute's edge write it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.auth import Principal, hash_token
from service.tokens.models import ApiToken

TOUCH_EVERY = timedelta(minutes=1)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def expired(principal: Principal, now: datetime) -> str | None:
    """The 401's reason when the token has expired at `now` ("token expired at ..."), else None."""
    if principal.expires_at is not None and now >= principal.expires_at:
        return f"token expired at {iso(principal.expires_at)}; ask HR for a new one"
    return None


def refusal(session: Session, token: str | None) -> str:
    """Why a presented token has no principal: revoked (when), or unknown to this database."""
    if token:
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token))).first()
        if row is not None and row.revoked_at is not None:
            return f"token revoked at {iso(row.revoked_at)}"
    return (
        "the bearer token is unknown to this server's database (a token works only with the database "
        "`merit token create` stored it in: use the server's --database-url or MERIT_DATABASE_URL)"
    )


def touch(sessions: sessionmaker[Session], principal: Principal, now: datetime) -> None:
    """Stamp `last_used_at` if the stored stamp is a minute old or more (see the module's why).
    A database too busy to take the stamp does not refuse the request: the next minute's will."""
    if principal.last_used_at is not None and now - principal.last_used_at < TOUCH_EVERY:
        return
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_EVERY)
    session = sessions()
    try:
        session.execute(update(ApiToken).where(ApiToken.id == principal.token_id, stale).values(last_used_at=now))
        session.commit()
    except SQLAlchemyError:
        session.rollback()
    finally:
        session.close()
