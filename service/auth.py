"""Bearer tokens and roles: who may call the Merit service, and on whose data.

Tokens are random strings shown once at creation; only their sha256 is stored, so a leaked
database does not leak working credentials. A token carries one role:

- ``hr``: writes policies, imports facts, runs, publishes, resolves objections, finalizes; sees all.
- ``manager``: reads results of reps in its regions and files objections for them.
- ``payroll``: reads all results and the payroll feed.
- ``rep``: reads its own result line and files its own objections.

This module knows nothing about HTTP; `service.api.deps` turns it into FastAPI dependencies.

A request's token is looked up once; a `TokenCache` remembers the answer for a valid token for
`TOKEN_TTL` seconds (2), so a client sending hundreds of requests a second costs one lookup every
two seconds, not one a request. The price is the bound on revocation: a token revoked in the
database is refused by every server process at most `TOKEN_TTL` seconds later. Unknown and
revoked tokens are never remembered (each attempt is looked up), and at most `TOKEN_CACHE_SIZE`
tokens are, so the cache's memory is bounded whatever clients send.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.problems import MeritInputError, Problem
from service.tokens.models import ApiToken

ROLES = ("hr", "manager", "payroll", "rep")
TOKEN_PREFIX = "merit_"


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid token."""

    token_id: int
    name: str
    role: str
    regions: frozenset[str] = frozenset()
    rep_id: str | None = None
    expires_at: datetime | None = None  # refused from then on (`service.tokens.usage`)
    last_used_at: datetime | None = None  # as stored when the token was looked up

    @property
    def sees_everyone(self) -> bool:
        return self.role in ("hr", "payroll")

    def may_see(self, rep_id: str, region: str | None) -> bool:
        """Whether this caller may see (or object for) the rep with this id and region."""
        if self.sees_everyone:
            return True
        if self.role == "manager":
            return region is not None and region in self.regions
        if self.role == "rep":
            return rep_id == self.rep_id
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_grant(role: str, regions: Iterable[str], rep_id: str | None, name: str) -> list[Problem]:
    """Every reason the requested token would be unusable, as problems (empty when fine)."""
    src = "token"
    regions = list(regions)
    problems: list[Problem] = []
    if role not in ROLES:
        problems.append(Problem(src, None, None, "role", f"unknown role {role!r}: use one of {', '.join(ROLES)}"))
    if not name.strip():
        problems.append(Problem(src, None, None, "name", "a token needs a name (who holds it)"))
    if role == "manager" and not regions:
        problems.append(Problem(src, None, None, "region", "a manager token needs at least one --region"))
    elif role != "manager" and regions:
        problems.append(Problem(src, None, None, "region", f"--region applies to managers only, not {role}"))
    elif any(not region.strip() for region in regions):
        problems.append(Problem(src, None, None, "region", "a --region cannot be blank"))
    if role == "rep" and rep_id is None:
        problems.append(Problem(src, None, None, "rep_id", "a rep token needs --rep-id"))
    elif role != "rep" and rep_id is not None:
        problems.append(Problem(src, None, None, "rep_id", f"--rep-id applies to reps only, not {role}"))
    elif rep_id is not None and not rep_id.strip():
        problems.append(Problem(src, None, None, "rep_id", "--rep-id cannot be blank"))
    return problems


def create_token(
    session: Session,
    *,
    role: str,
    name: str,
    regions: Iterable[str] = (),
    rep_id: str | None = None,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Store a new token's hash and return the token itself (the only time it is visible)."""
    regions = sorted(set(regions))
    problems = check_grant(role, regions, rep_id, name)
    if problems:
        raise MeritInputError(problems)
    token = new_token()
    row = ApiToken(
        name=name.strip(),
        role=role,
        regions=json.dumps(regions, ensure_ascii=False),
        rep_id=rep_id,
        token_sha256=hash_token(token),
        created_at=now or datetime.now(UTC),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return token, row


def authenticate(session: Session, token: str, cache: TokenCache | None = None) -> Principal | None:
    """The principal for a presented token, or None if it is unknown or revoked (from `cache` while
    it remembers the token; a valid token found in the database is remembered there)."""
    digest = hash_token(token)
    if cache is not None:
        known = cache.get(digest)
        if known is not None:
            return known
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
    if row is None or row.revoked_at is not None:
        return None
    principal = Principal(
        token_id=row.id,
        name=row.name,
        role=row.role,
        regions=frozenset(json.loads(row.regions)),
        rep_id=row.rep_id,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )
    if cache is not None:
        cache.put(digest, principal)
    return principal


TOKEN_TTL = 2.0
"""Seconds a valid token's principal is remembered: the longest a revoked token keeps working."""
TOKEN_CACHE_SIZE = 4096
"""Tokens remembered at once (the least recently stored go first): ~1 MB at most."""


class TokenCache:
    """Principals of valid tokens by the token's sha256, each for `ttl` seconds from its lookup.

    One per app (each server process has its own). Safe to use from the event loop and the
    thread pool at once. `now` is the clock (monotonic seconds; tests move it).
    """

    def __init__(
        self, ttl: float = TOKEN_TTL, size: int = TOKEN_CACHE_SIZE, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.now = now
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        """The principal stored for this token digest, unless it was stored `ttl` or more seconds ago."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self.now() >= entry[0]:
            with self._lock:
                if self._entries.get(digest) is entry:
                    del self._entries[digest]
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        with self._lock:
            self._entries.pop(digest, None)
            self._entries[digest] = (self.now() + self.ttl, principal)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        """Drop the token (revoked in this process: refused from the next request on)."""
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)
