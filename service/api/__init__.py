"""The Merit HTTP API: a thin FastAPI adapter over `engine/` with a SQL store.

`create_app(database_url, clock)` builds the app; the schema must already be migrated
(`merit db upgrade`, or `merit serve`, which upgrades first). The clock is injectable so tests can
move past objection deadlines. No business rule lives in this package: each noun's routes are
in `service/<noun>/views.py` over its use cases (`service/<noun>/service.py`), and validation,
numbers, diffs and evaluation all come from the engine. The routers are imported when the app is
built, not with this package, so a noun's models can use `service.api.inputs` without a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import environment
from service.adjustments import follow as late_follow
from service.api import errors, openapi, ui
from service.api.deps import DB, Settings, access_refusal
from service.api.gate import BODY_SLACK, Gate
from service.db import make_engine, make_read_sessionmaker, make_sessionmaker

DEFAULT_MAX_UPLOAD_BYTES = environment.MAX_UPLOAD_BYTES.default  # a fact file, spooled to disk while read
DEFAULT_MAX_ROWS = environment.MAX_IMPORT_ROWS.default  # rows of one fact import (checked in bounded passes)
DEFAULT_MAX_POLICY_BYTES = 256 * 1024
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # any other body (JSON requests): far above any real one
DEFAULT_ASYNC_REP_MONTHS = environment.ASYNC_REP_MONTHS.default  # above this a POST answers 202 (a job)
DEFAULT_JOB_WORKERS = environment.JOB_WORKERS.default  # threads running background jobs in each server process
log = logging.getLogger("merit.api")


SEPARATE_DUTIES_VARIABLE = environment.SEPARATE_DUTIES


def duties_separated() -> bool:
    """Whether `MERIT_SEPARATE_DUTIES` asks for separation of duties (1/true/yes/on; 0/false/no/off
    or unset: not; anything else is refused)."""
    return environment.flag(SEPARATE_DUTIES_VARIABLE)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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

        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, headers_only)
        finally:
            if "route" in as_get:  # the matched route, for the metrics and the log (service.api.observe)
                scope["route"] = as_get["route"]


def create_app(
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    *,
    max_upload_bytes: int | None = None,
    max_rows: int | None = None,
    max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    separate_duties: bool | None = None,
    async_rep_months: int | None = None,
    job_workers: int | None = None,
) -> FastAPI:
    """Build the API on `database_url`; `clock` returns timezone-aware UTC datetimes.

    `separate_duties` (default: `MERIT_SEPARATE_DUTIES=1` in the environment, else off): a run is
    finalized only by someone who neither created nor published it. `async_rep_months` (else
    MERIT_ASYNC_REP_MONTHS, else 20,000) and `job_workers` (else MERIT_JOB_WORKERS, else 2)
    configure background jobs; jobs that a dead process left queued or running are taken over
    here, when the app is built. `max_upload_bytes` (else MERIT_MAX_UPLOAD_BYTES, else 512 MiB) and
    `max_rows` (else MERIT_MAX_IMPORT_ROWS, else 5,000,000) bound a fact import.
    """
    from service.adjustments import views as adjustments
    from service.api import observe
    from service.audit import views as audit
    from service.facts import views as facts
    from service.jobs import views as jobs
    from service.jobs.worker import JobRunner
    from service.payroll import views as payroll
    from service.periods import views as periods
    from service.policies import views as policies
    from service.publication import views as publication
    from service.replay import views as replay
    from service.runs import views as runs
    from service.simulations import views as simulations
    from service.statements import views as statement_views
    from service.tokens import views as tokens

    environment.check()  # a variable it cannot mean: refused in words, before anything starts
    max_upload_bytes = _setting(max_upload_bytes, environment.MAX_UPLOAD_BYTES)
    max_rows = _setting(max_rows, environment.MAX_IMPORT_ROWS)
    engine = make_engine(database_url)
    app = FastAPI(
        title="Merit",
        version="0.1.0",
        description="Sales-incentive policies, evaluation runs, publication with objections, payroll feed.",
    )
    app.state.merit = Settings(
        sessions=make_sessionmaker(engine),
        read_sessions=make_read_sessionmaker(engine),
        clock=clock or _utc_now,
        max_upload_bytes=max_upload_bytes,
        max_rows=max_rows,
        max_policy_bytes=max_policy_bytes,
        separate_duties=duties_separated() if separate_duties is None else separate_duties,
        async_rep_months=_setting(async_rep_months, environment.ASYNC_REP_MONTHS),
    )
    app.state.db_engine = engine
    settings = app.state.merit
    app.state.jobs = JobRunner(settings.sessions, settings.clock, _setting(job_workers, environment.JOB_WORKERS))
    try:
        app.state.jobs.recover()
    except DBAPIError as exc:  # not migrated yet (no jobs table): nothing to take over
        log.warning("background jobs not recovered: %s", str(exc.orig).splitlines()[:1])
    try:  # payments imports a crash left unfollowed: their late credits, now
        late_follow.follow_left(settings.sessions, settings.clock(), starting=True)
    except DBAPIError as exc:  # not migrated yet: nothing to follow
        log.warning("late credits not followed: %s", str(exc.orig).splitlines()[:1])
    errors.install(app, access_refusal)
    openapi.install(app)
    for module in (
        policies,
        facts,
        runs,
        publication,
        adjustments,
        replay,
        payroll,
        periods,
        audit,
        simulations,
        tokens,
        jobs,
        ui,
    ):
        app.include_router(module.router)
    app.include_router(statement_views.router)

    @app.get("/healthz", tags=["health"])
    def healthz(db: DB) -> dict[str, Any]:
        db.execute(text("SELECT 1"))
        return {"status": "ok"}

    # the routes refuse uploads and policies at their own limits first, with a more specific type
    upload_limit = max_upload_bytes + 16 * BODY_SLACK  # the route cuts uploads at + BODY_SLACK
    app.add_middleware(Gate, json_limit=max(max_body_bytes, max_policy_bytes) + BODY_SLACK, upload_limit=upload_limit)
    app.add_middleware(HeadAsGet)
    observe.install(app)  # outermost: every answer, the gate's refusals included, gets a request id
    return app


def _setting(given: int | None, variable: environment.Count) -> int:
    """A number given to create_app, else from the environment (refused in words when it cannot be
    meant), else the default."""
    return given if given is not None else environment.count(variable)
