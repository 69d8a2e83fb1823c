"""The Merit HTTP API: a thin FastAPI adapter over `engine/` with a SQL store.

`create_app(database_url, clock)` builds the app; the schema must already be migrated
(`merit db upgrade`, or `merit serve`, which upgrades first). The clock is injectable so tests can
move past objection deadlines. No business rule lives in this package: validation, numbers,
diffs and evaluation all come from the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api import audit, errors, facts, openapi, payroll, policies, runs, simulations, ui, workflow
from service.api.deps import DB, Settings
from service.db import make_engine, make_sessionmaker

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 50_000  # ~1 KB of results JSON per rep-period; a run is one request
DEFAULT_MAX_POLICY_BYTES = 256 * 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BodyTooLarge(HTTPException):
    """A body sent without a declared length grew over the limit while being read.

    An HTTPException, because FastAPI turns any other error while reading a body into a 400.
    """

    def __init__(self) -> None:
        super().__init__(413)


class BodyLimit:
    """Refuse a request whose body is over the limit (413): a declared `Content-Length` before
    anything reads the body; a chunked JSON body as soon as the bytes read exceed the limit.

    Fact uploads (multipart) and policy bodies (YAML) are streamed by their routes, which cut them
    off at their own, smaller limits with a more specific problem type.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self.too_large()(scope, receive, send)
                return
            if name == b"content-type":
                content_type = value.lower()
        if content_type and not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, counted, send)

    def too_large(self) -> ASGIApp:
        return errors.problem_response(413, "request-too-large", f"requests may carry at most {self.limit} bytes")


class HeadAsGet:
    """Answer HEAD as GET without the body (RFC 9110 9.3.2): FastAPI routes declare only GET.

    A client checking a policy version's ETag or a result's size should not have to download it.
    GET routes write nothing, so running one for a HEAD changes nothing either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def create_app(
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES,
) -> FastAPI:
    """Build the API on `database_url`; `clock` returns timezone-aware UTC datetimes."""
    engine = make_engine(database_url)
    app = FastAPI(
        title="Merit",
        version="0.1.0",
        description="Sales-incentive policies, evaluation runs, publication with objections, payroll feed.",
    )
    app.state.merit = Settings(
        sessions=make_sessionmaker(engine),
        clock=clock or _utc_now,
        max_upload_bytes=max_upload_bytes,
        max_rows=max_rows,
        max_policy_bytes=max_policy_bytes,
    )
    app.state.db_engine = engine
    errors.install(app)
    openapi.install(app)
    limit = max(max_upload_bytes, max_policy_bytes) + 64 * 1024  # multipart framing adds a little

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_request: Request, _exc: BodyTooLarge) -> Response:
        return errors.problem_response(413, "request-too-large", f"requests may carry at most {limit} bytes")

    for module in (policies, facts, runs, workflow, payroll, audit, simulations, ui):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    def healthz(db: DB) -> dict[str, Any]:
        db.execute(text("SELECT 1"))
        return {"status": "ok"}

    app.add_middleware(BodyLimit, limit=limit)
    app.add_middleware(HeadAsGet)
    return app
