"""Request ids, one JSON log line per request, request metrics, and the /metrics route.

The request id is the client's `X-Request-ID` when it is a sane value (1-64 characters of
letters, digits, `-_.:`), else a new random one; it is answered in the `X-Request-ID` header of
every response and as `request_id` in every problem document (`errors.problem_response` reads it
from `current_request_id`), and logged. Latency is recorded per route template
(`/runs/{run_id}`), never per raw path, so the metric's label set stays bounded.

/metrics (Prometheus text format) answers loopback clients (a Prometheus on the same host, or a
sidecar) and callers with an hr token; anyone else gets 403. It holds counts and timings per
route, job kind and state, and evaluated rep-months: no ids, names, periods or money.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.deps import admit
from service.api.errors import current_request_id
from service.metrics import CONTENT_TYPE, REQUEST_SECONDS, exposition

access_log = logging.getLogger("merit.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LOOPBACK = frozenset({"127.0.0.1", "::1"})


def request_id_of(given: str | None) -> str:
    """The client's id when it is sane, else a fresh one."""
    if given is not None and _SANE_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class Observe:
    """Outermost middleware: request id in and out, one log line and one histogram sample per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = request_id_of(given)
        token = current_request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode("ascii"))]}
            await send(message)

        try:
            await self.app(scope, receive, stamped)
        except BaseException:
            # left set: Starlette answers an unhandled error outside this middleware, and its 500
            # problem carries the id too (the context is this request's own task's)
            raise
        else:
            current_request_id.reset(token)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):  # nobody listening: not even encoded
                access_log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "route": route,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                            "request_id": rid,
                        },
                        separators=(",", ":"),
                    )
                )


def install(app: FastAPI) -> None:
    """Add /metrics and the middleware (call last: it must wrap every other middleware)."""

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            admit(request, ("hr",))  # 401/403 as problem+json
        return Response(exposition(), media_type=CONTENT_TYPE)

    app.add_middleware(Observe)


__all__ = ["current_request_id", "install", "request_id_of"]
