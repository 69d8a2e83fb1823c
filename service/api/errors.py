"""RFC 9457 problem details (`application/problem+json`) for every error the API returns.

Clients branch on `type`, a stable URI per kind of failure; `detail` is for humans; `problems`
lists each input problem with its place (line/row, column, field) so HR can fix a policy or a fact
file in one go. No handler ever puts a traceback or exception text from a library in a response.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from engine.numbers import clip
from engine.problems import MeritInputError, Problem
from service.db import is_busy
from service.db.guard import StoredValueRefused

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://merit.invalid/problems/"
log = logging.getLogger("merit.api")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_ECHO = 300
"""Characters of any text a problem shows: what a client sent is echoed at most this long, so a
20 MB value never comes back as a 20 MB error."""
RETRY_AFTER = "1"
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("merit_request_id", default=None)
"""The id of the request being answered (set by `service.api.observe`), echoed in every problem."""


class ApiError(Exception):
    """Raised anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        problems: Iterable[Problem | Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        listed = [p.as_dict() if isinstance(p, Problem) else dict(p) for p in problems]
        self.problems = listed or None  # only input errors carry a problems list
        self.headers = dict(headers or {})
        self.extra = extra


class Refused(StarletteHTTPException):
    """An ApiError raised while FastAPI reads a body: FastAPI turns any other exception raised
    there into a bare 400, an HTTPException it passes on (to the `_http` handler below)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.status)
        self.error = error


def _clipped(value: Any) -> Any:
    """`value` with every string cut to MAX_ECHO characters (and a note of the full length)."""
    if isinstance(value, str):
        return clip(value, MAX_ECHO)
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clipped(v) for v in value[:1000]]
    return value


def problem_response(
    status: int,
    kind: str,
    detail: str,
    problems: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": clip(detail, MAX_ECHO),
    }
    if problems is not None:
        body["problems"] = _clipped(problems)
    body.update(_clipped(dict(extra or {})))
    answer_headers = dict(headers or {})
    request_id = current_request_id.get()
    if request_id is not None:  # also in the header: a 500 is answered outside `observe`'s middleware
        body["request_id"] = request_id
        answer_headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, headers=answer_headers, media_type=PROBLEM_JSON)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path (for the 405's `Allow` header)."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.160 includes routers lazily

        routes: Iterable[Any] = iter_route_contexts(request.app.routes)
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        routes = request.app.routes
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _validation_problem(err: Mapping[str, Any], body: Any, content_type: str | None) -> dict[str, Any]:
    """One of FastAPI's request validation errors as a problem: where, which field, what is wrong."""
    loc = [str(x) for x in err.get("loc", ())]
    source = loc[0] if loc else "request"
    line: int | None = None
    column: int | None = None
    field = ".".join(loc[1:])
    message = str(err.get("msg", "invalid"))
    if err.get("type") == "json_invalid":
        # FastAPI puts the character offset where the field would be; say where it is instead
        reason = str((err.get("ctx") or {}).get("error") or "invalid JSON")
        offset = err["loc"][1] if len(err.get("loc", ())) > 1 and isinstance(err["loc"][1], int) else None
        field = ""
        if isinstance(body, str) and offset is not None and 0 <= offset <= len(body):
            line = body.count("\n", 0, offset) + 1
            column = offset - (body.rfind("\n", 0, offset) + 1) + 1
            message = f"the body is not valid JSON: {reason} at line {line}, column {column}"
        elif offset is not None:
            message = f"the body is not valid JSON: {reason} at character {offset}"
        else:
            message = f"the body is not valid JSON: {reason}"
    elif source == "body" and len(loc) == 1 and not _is_json(content_type):
        # the body was not decoded as JSON at all: FastAPI only does that for a JSON media type
        media = (content_type or "").split(";", 1)[0].strip()[:100]
        sent = f"it was sent as {media}" if media else "it was sent without a Content-Type"
        message += f" (send the body as JSON with Content-Type: application/json; {sent})"
    return {"source": source, "line": line, "column": column, "field": field, "message": message}


_UNPARSABLE_BODY = "There was an error parsing the body"


Refusal = Callable[[Request], "ApiError | None"]
"""The 401/403 a request would get (`deps.access_refusal`, handed to `install`: deps imports this
module, so this module does not import deps)."""


async def _unparsable_body(request: Request, access_refusal: Refusal) -> JSONResponse:
    """A body FastAPI could not even decode (e.g. JSON that is not UTF-8): a located 422 like any
    other invalid request, after the same token and role checks."""
    refusal = await run_in_threadpool(access_refusal, request)
    if refusal is not None:
        return problem_response(refusal.status, refusal.kind, refusal.detail, headers=refusal.headers)
    content_type = request.headers.get("content-type") or "no Content-Type"
    what = "UTF-8 JSON" if _is_json(content_type) else f"the {content_type} it was sent as"
    problem = {"source": "body", "line": None, "column": None, "field": "", "message": f"cannot be read as {what}"}
    return problem_response(422, "invalid-request", "the request is not valid", [problem])


def install(app: FastAPI, access_refusal: Refusal) -> None:
    """Route every exception through problem+json; `access_refusal` says whether a request that
    failed validation should rather hear 401/403."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.detail, exc.problems, exc.headers, exc.extra)

    @app.exception_handler(MeritInputError)
    async def _input_error(_request: Request, exc: MeritInputError) -> JSONResponse:
        problems = [p.as_dict() for p in exc.problems]
        return problem_response(422, "invalid-input", f"{len(problems)} problem(s) in the input", problems)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI validates (and decodes JSON bodies) before the auth dependency runs: a caller
        # without a valid token, or with the wrong role, still gets 401/403 and learns nothing more.
        refusal = await run_in_threadpool(access_refusal, request)
        if refusal is not None:
            return problem_response(refusal.status, refusal.kind, refusal.detail, headers=refusal.headers)
        content_type = request.headers.get("content-type")
        problems = [_validation_problem(err, exc.body, content_type) for err in exc.errors()]
        return problem_response(422, "invalid-request", "the request is not valid", problems)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        # SQLite's lock wait ran out, or PostgreSQL went away: the client may simply retry
        if not is_busy(exc):
            log.error("database unavailable: %s", str(getattr(exc, "orig", exc)).splitlines()[:1])
        headers = {"Retry-After": RETRY_AFTER}
        return problem_response(503, "database-busy", "the database is busy; retry the request", headers=headers)

    @app.exception_handler(StoredValueRefused)
    async def _unstorable(_request: Request, exc: StoredValueRefused) -> JSONResponse:
        problem = {"source": "request", "line": None, "column": None, "field": exc.column, "message": exc.reason}
        return problem_response(422, "invalid-request", f"{exc.column} {exc.reason}", [problem])

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        # the net under the net (service.db.guard): a value the database's types refused
        log.warning("database refused a value: %s", str(getattr(exc, "orig", exc)).splitlines()[:1])
        return problem_response(422, "invalid-request", "a value in the request cannot be stored")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, Refused):  # from the gate, while the body was being read
            err = exc.error
            return problem_response(err.status, err.kind, err.detail, err.problems, err.headers, err.extra)
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:  # FastAPI's words for it
            return await _unparsable_body(request, access_refusal)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if allowed:  # Starlette names only the first route that matched the path
                headers["Allow"] = ", ".join(allowed)
                detail = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        return problem_response(exc.status_code, kind, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal-error", "an internal error occurred; it has been logged")
