"""The front gate: who is asking is settled before a byte of the body is read, and a body is cut
off the moment it passes its limit.

FastAPI reads (and decodes) a route's body before it runs the route's dependencies, so the bearer
token check in `deps.require` alone would let an anonymous client make the server buffer a
400 MiB body before hearing 401. This ASGI middleware wraps `receive`: the first time anything
asks for the body, the caller is authenticated and authorised for the matched route (the same
check `require` makes, whose result is then reused), a declared `Content-Length` over the limit
is refused, and the bytes that do arrive are counted whatever their Content-Type or framing
(chunked, no length). Multipart uploads get their own, larger limit.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.deps import admit, known, route_roles
from service.api.errors import ApiError, Refused

BODY_SLACK = 64 * 1024  # multipart boundaries and part headers around a file, JSON around a value


def body_limit(scope: Scope, json_limit: int, upload_limit: int) -> int:
    """How many body bytes this request may carry: uploads (multipart) more than anything else."""
    for name, value in scope.get("headers", []):
        if name == b"content-type" and value.lower().lstrip().startswith(b"multipart/form-data"):
            return upload_limit
    return json_limit


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


def too_large(limit: int) -> ApiError:
    return ApiError(413, "request-too-large", f"requests may carry at most {limit} bytes", limit=limit)


class Gate:
    """Authenticate before the body is read; refuse a body over its limit while it is read."""

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope, self.json_limit, self.upload_limit)
        scope["merit.body_limit"] = limit  # `require` refuses a declared length over it, too
        admitted = False
        read = 0

        async def gated() -> Message:
            nonlocal admitted, read
            if not admitted:
                admitted = True
                roles = route_roles(scope.get("route"))
                if roles is not None:  # public routes (health, docs) need no token
                    request = Request(scope)
                    try:
                        if known(request, roles) is None:  # not settled without the database
                            await run_in_threadpool(admit, request, roles)
                    except ApiError as refusal:
                        raise Refused(refusal) from None
                declared = declared_length(scope)
                if declared is not None and declared > limit:
                    raise Refused(too_large(limit))
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise Refused(too_large(limit))
            return message

        await self.app(scope, gated, send)
