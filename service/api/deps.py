"""Per-request plumbing: one database transaction per request, the caller's identity, the clock.

Every endpoint gets its Session from `get_db`; the endpoint commits once at the end (through
`commit`), and anything else - an exception, a refused precondition - rolls the whole request
back, so a failure half-way leaves nothing behind.

A request costs as few thread hops as its work needs: `get_db` and `require` are async, so
opening the session (no I/O until its first statement) and admitting a token the app's
`TokenCache` remembers happen on the event loop; only a token lookup, the endpoint itself and
ending a transaction that touched the database run in the thread pool. A read (GET, HEAD) looks
its token up in its own session, so it uses one session, not two.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from service.api.errors import ApiError
from service.auth import Principal, TokenCache, authenticate, hash_token
from service.payroll.feed import FullPages
from service.runs.reading import ResultBodies
from service.tokens import usage


@dataclass
class Settings:
    """What `create_app` was configured with; kept on `app.state.merit`."""

    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]  # GET/HEAD: on SQLite a deferred BEGIN, no write lock
    clock: Callable[[], datetime]
    max_upload_bytes: int
    max_rows: int
    max_policy_bytes: int
    full_pages: FullPages = field(default_factory=FullPages)  # this app's unchangeable feed pages
    result_bodies: ResultBodies = field(default_factory=ResultBodies)  # results answers by run and view
    tokens: TokenCache = field(default_factory=TokenCache)  # valid tokens seen in the last 2 s
    separate_duties: bool = False  # finalize only by someone who neither created nor published the run
    async_rep_months: int = 20_000  # a POST estimated above this many rep-months becomes a job (202)


def settings(request: Request) -> Settings:
    merit: Settings = request.app.state.merit
    return merit


def _reads(request: Request) -> bool:
    return request.method in ("GET", "HEAD")


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session; reads (GET, HEAD) get one that never takes SQLite's write lock.

    The session begins its transaction at its first statement, not here: a route that reads its
    body first (uploads, policies) holds no transaction while the body arrives. Creating it does
    no I/O (so it happens on the event loop); a transaction still open at the end is rolled back
    in the thread pool, shielded from cancellation so that its connection always goes back.
    """
    cfg = settings(request)
    reads = _reads(request)
    session = (cfg.read_sessions if reads else cfg.sessions)()
    try:
        yield session
    finally:
        if not session.in_transaction():  # committed, or never used: no connection is held
            session.close()
        elif reads and session.get_bind().dialect.name == "sqlite":
            _end(session)  # a read of a local file: its ROLLBACK never waits (WAL), a hop would cost more
        else:  # undoes everything a failed request did
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_end, session)


def _end(session: Session) -> None:
    session.rollback()
    session.close()


def now(request: Request) -> datetime:
    return settings(request).clock()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="merit"'}


def _token(request: Request) -> str:
    token = _bearer(request)
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            "send a bearer token: Authorization: Bearer <token>",
            headers=_CHALLENGE,
        )
    return token


def authorize(request: Request, db: Session, roles: tuple[str, ...]) -> Principal:
    """The caller if their bearer token is valid and has one of `roles`; else the 401 or 403."""
    principal = authenticate(db, _token(request), settings(request).tokens)
    if principal is None:
        raise ApiError(401, "unauthenticated", usage.refusal(db, _bearer(request)), headers=_CHALLENGE)
    admit_usage(request, principal)
    authorize_role(principal, roles)
    return principal


def admit_usage(request: Request, principal: Principal) -> None:
    """An expired token is a 401 saying when it expired; a valid one's `last_used_at` is stamped
    (at most once a minute: `service.tokens.usage`)."""
    at = settings(request).clock()
    reason = usage.expired(principal, at)
    if reason is not None:
        raise ApiError(401, "unauthenticated", reason, headers=_CHALLENGE, reason="expired")
    usage.touch(settings(request).sessions, principal, at)


PRINCIPAL = "merit.principal"
"""Where `admit` keeps the caller in the request's ASGI scope, so the token is looked up once."""


def known(request: Request, roles: tuple[str, ...]) -> Principal | None:
    """The caller, authorised for `roles`, if settled without the database (already admitted, or a
    token the app's cache remembers); None when the token must be looked up. No I/O: it runs on
    the event loop. A request without a token is refused here (401), one of another role too (403)."""
    principal: Principal | None = request.scope.get(PRINCIPAL)
    if principal is None:
        principal = settings(request).tokens.get(hash_token(_token(request)))
        if principal is None:
            return None
        reason = usage.expired(principal, settings(request).clock())  # a remembered token expires too
        if reason is not None:
            raise ApiError(401, "unauthenticated", reason, headers=_CHALLENGE, reason="expired")
        request.scope[PRINCIPAL] = principal
    authorize_role(principal, roles)
    return principal


def admit(request: Request, roles: tuple[str, ...], db: Session | None = None) -> Principal:
    """The caller, authorised for `roles`, looked up once per request: in `db` (a read's own
    session) or in a short transaction of its own (the gate calls this before the body is read,
    `require` before the route runs). Blocking: call it in the thread pool."""
    principal = known(request, roles)
    if principal is None:
        if db is not None:
            principal = authorize(request, db, roles)
        else:
            session = settings(request).read_sessions()
            try:
                principal = authorize(request, session, roles)
            finally:
                session.rollback()
                session.close()
        request.scope[PRINCIPAL] = principal
    return principal


def authorize_role(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this (needs {' or '.join(roles)})")


def _refuse_nul(request: Request) -> None:
    """A NUL character cannot be stored or compared by PostgreSQL (SQLite would take it): refuse it
    in any path or query parameter, the same 422 on both databases."""
    params = [("path", k, v) for k, v in request.path_params.items()]
    params += [("query", k, v) for k, v in request.query_params.multi_items()]
    for source, name, value in params:
        if isinstance(value, str) and "\x00" in value:
            msg = "must not contain a NUL character"
            raise ApiError(
                422,
                "invalid-request",
                "the request is not valid",
                [{"source": source, "line": None, "column": None, "field": name, "message": msg}],
            )


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only tokens with one of `roles` (401 without a valid token, 403 else);
    then a declared body over the gate's limit is a 413 and a NUL in a parameter a 422."""

    async def dependency(request: Request, db: Annotated[Session, Depends(get_db)]) -> Principal:
        principal = known(request, roles)
        if principal is None:  # looked up in the request's own session when it only reads
            principal = await run_in_threadpool(admit, request, roles, db if _reads(request) else None)
        limit = request.scope.get("merit.body_limit")
        declared = request.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, "request-too-large", f"requests may carry at most {limit} bytes", limit=limit)
        _refuse_nul(request)
        return principal

    dependency.merit_roles = roles  # type: ignore[attr-defined]  # read by `route_roles`
    return dependency


def route_roles(route: object) -> tuple[str, ...] | None:
    """The roles the matched route's `require(...)` dependency admits (None for public routes)."""
    dependant: Dependant | None = getattr(route, "dependant", None)
    stack = [dependant] if dependant is not None else []
    while stack:
        current = stack.pop()
        roles = getattr(current.call, "merit_roles", None)
        if roles is not None:
            return tuple(roles)
        stack.extend(current.dependencies)
    return None


def access_refusal(request: Request) -> ApiError | None:
    """The 401/403 a request would get, checked before FastAPI's own request validation answers.

    FastAPI decodes a JSON body (and validates path, query and body) before it runs dependencies, so
    without this an unauthenticated or wrong-role caller sending a malformed request would learn
    "422" instead of "401"/"403". The validation-error handler asks here first.
    """
    roles = route_roles(request.scope.get("route"))
    if roles is None:
        return None
    try:
        admit(request, roles)
    except ApiError as refusal:
        return refusal
    return None


ALL_ROLES = ("hr", "manager", "payroll", "rep")

# Annotated dependencies: the endpoints' signatures say who may call them.
DB = Annotated[Session, Depends(get_db)]
HR = Annotated[Principal, Depends(require("hr"))]
Payroll = Annotated[Principal, Depends(require("payroll"))]
Anyone = Annotated[Principal, Depends(require(*ALL_ROLES))]
Objector = Annotated[Principal, Depends(require("rep", "manager"))]
NotPayroll = Annotated[Principal, Depends(require("hr", "manager", "rep"))]
