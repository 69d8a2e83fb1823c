"""Background jobs as use cases over a Session: submit (with Idempotency-Key), read, claim, finish, recover.

No FastAPI here and no threads: `service.jobs.worker` runs `execute` in its pool, the views
decide when a POST becomes a job. A job's work is the same use case a synchronous POST calls
(`service.runs.service.create_run`, `service.simulations.stored.create_simulation` /
`create_sweep`), run as the principal who created the job. What a job stores is written in that
use case's one transaction, so a job interrupted by a crash has stored nothing or everything;
re-running it finds a run already stored (same inputs, same run) instead of writing a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.api.errors import TYPE_BASE, ApiError
from service.auth import Principal
from service.engine_gate import reporting
from service.facts.models import FactImport
from service.jobs.models import Job
from service.jobs.progress import JobProgress
from service.runs.models import Run
from service.runs.service import iso_utc
from service.runs.states import RunState

log = logging.getLogger("merit.jobs")
MAX_ATTEMPTS = 3  # a job interrupted this often is marked failed instead of run a fourth time


def owner_name() -> str:
    """This process as a job's owner: host:pid (computed again after a fork)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def import_rows(db: Session, import_id: int | None) -> int:
    """Rep-months of a fact import (its rows); 0 when there is none (the use case then says 404)."""
    if import_id is None:
        return 0
    return int(db.scalar(select(FactImport.row_count).where(FactImport.id == import_id)) or 0)


def finalized_rows(db: Session, period: str) -> int:
    """Rep-months a simulation on the finalized runs of `period` reads (their reps, as stored)."""
    total = db.scalar(select(func.sum(Run.rep_count)).where(Run.period == period, Run.status == RunState.FINALIZED))
    return int(total or 0)


def submit(
    db: Session, who: Principal, at: datetime, kind: str, body: dict[str, Any], key: str | None, rep_months: int
) -> tuple[Job, bool]:
    """The caller's job for this request: (new job, True), or (the job of this Idempotency-Key, False).

    Same key and same body: the same job. Same key and another body: 422 (a key names one request).
    Commits.
    """
    text = canonical({"kind": kind, "body": body})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if key is not None:
        found = _keyed(db, who, key)
        if found is not None:
            return _same_request(found, digest), False
    job = Job(
        kind=kind,
        state="queued",
        request_json=text,
        request_sha256=digest,
        idempotency_key=key,
        created_by=who.name,
        created_by_token=who.token_id,
        principal_json=canonical(
            {"role": who.role, "regions": sorted(who.regions), "rep_id": who.rep_id, "name": who.name}
        ),
        owner=owner_name(),
        attempts=0,
        done=0,
        total=1,
        rep_months=rep_months,
        created_at=at,
    )
    db.add(job)
    try:
        db.commit()
    except IntegrityError:  # the same key raced in from another request: that job is the one
        db.rollback()
        found = _keyed(db, who, key or "")
        if found is None:
            raise
        return _same_request(found, digest), False
    return job, True


def _keyed(db: Session, who: Principal, key: str) -> Job | None:
    return db.scalars(select(Job).where(Job.created_by_token == who.token_id, Job.idempotency_key == key)).first()


def _same_request(job: Job, digest: str) -> Job:
    if job.request_sha256 != digest:
        raise ApiError(
            422,
            "idempotency-key-reused",
            f"this Idempotency-Key was used for another request (job {job.id}); use a new key for a new request",
        )
    return job


def readable_job(db: Session, who: Principal, job_id: int) -> Job:
    """The job, for its creator or hr; anyone else hears 404 (a job id says nothing about others)."""
    job = db.get(Job, job_id)
    if job is None or (who.role != "hr" and job.created_by_token != who.token_id):
        raise ApiError(404, "job-not-found", f"there is no job {job_id} of yours")
    return job


def job_dict(job: Job) -> dict[str, Any]:
    """A job as GET /jobs/{id} answers it."""
    seconds = None
    if job.started_at is not None and job.finished_at is not None:
        seconds = round((job.finished_at - job.started_at).total_seconds(), 3)
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": {"done": job.done, "total": job.total},
        "rep_months": job.rep_months,
        "attempts": job.attempts,
        "created_at": iso_utc(job.created_at),
        "started_at": iso_utc(job.started_at),
        "finished_at": iso_utc(job.finished_at),
        "duration_seconds": seconds,
        "result": job.result_path,
        "error": None if job.error_json is None else json.loads(job.error_json),
    }


def principal_of(job: Job) -> Principal:
    """The job's creator, as they were when they submitted it."""
    p = json.loads(job.principal_json)
    return Principal(job.created_by_token, p["name"], p["role"], frozenset(p["regions"]), p["rep_id"])


def problem_of(err: ApiError) -> dict[str, Any]:
    """The problem document a synchronous request would have answered with."""
    from service.api.errors import _TITLES  # one table of reason phrases

    body: dict[str, Any] = {
        "type": TYPE_BASE + err.kind,
        "title": _TITLES.get(err.status, "Error"),
        "status": err.status,
        "detail": err.detail,
    }
    if err.problems is not None:
        body["problems"] = err.problems
    return body


def claim(sessions: sessionmaker[Session], job_id: int, at: datetime) -> bool:
    """Move the job from queued to running for this process; False when another took it."""
    with sessions() as db:
        moved: CursorResult[Any] = db.execute(  # type: ignore[assignment]
            update(Job)
            .where(Job.id == job_id, Job.state == "queued")
            .values(state="running", owner=owner_name(), started_at=at, attempts=Job.attempts + 1)
        )
        db.commit()
        return bool(moved.rowcount == 1)


def finish(
    sessions: sessionmaker[Session], job_id: int, at: datetime, result: str | None, error: dict[str, Any] | None
) -> None:
    """Mark the job succeeded (with its result link) or failed (with its problem)."""
    with sessions() as db:
        db.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "running")
            .values(
                state="failed" if error is not None else "succeeded",
                done=Job.total if error is None else Job.done,
                result_path=result,
                error_json=None if error is None else canonical(error),
                finished_at=at,
            )
        )
        db.commit()


Work = Callable[[Session, Principal, datetime, dict[str, Any]], str]
"""A kind of job's work: run the use case, return the link to what it stored."""


def execute(sessions: sessionmaker[Session], clock: Callable[[], datetime], job_id: int, works: dict[str, Work]) -> str:
    """Claim, run and finish one job; its final state ('' when another process had claimed it)."""
    if not claim(sessions, job_id, clock()):
        return ""
    with sessions() as db:
        job = db.get(Job, job_id)
        assert job is not None
        kind, who, at = job.kind, principal_of(job), job.created_at
        body = json.loads(job.request_json)["body"]
        db.rollback()
        try:
            with reporting(JobProgress(sessions, job_id)):
                result = works[kind](db, who, at, body)
        except ApiError as err:
            db.rollback()
            finish(sessions, job_id, clock(), None, problem_of(err))
            return "failed"
        except Exception:
            db.rollback()
            log.exception("job %s failed", job_id)
            error = ApiError(500, "internal-error", "the job failed with an internal error; it has been logged")
            finish(sessions, job_id, clock(), None, problem_of(error))
            return "failed"
    finish(sessions, job_id, clock(), result, None)
    return "succeeded"


def _alive(owner: str | None) -> bool:
    """Whether the owning process still runs (on this host; another host's jobs are left to it)."""
    if owner is None:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(sessions: sessionmaker[Session], at: datetime) -> list[int]:
    """At start-up: take over the jobs of processes that died; the ids to run again.

    A queued job is run. A running one was interrupted: what it stored was stored whole or not
    at all, so it is queued again (its attempt counted), or marked failed with the reason once it
    has been interrupted MAX_ATTEMPTS times.
    """
    me = owner_name()
    again: list[int] = []
    with sessions() as db:
        for job in db.scalars(select(Job).where(Job.state.in_(("queued", "running"))).order_by(Job.id)).all():
            if _alive(job.owner):
                continue
            previous = job.owner
            if job.state == "running" and job.attempts >= MAX_ATTEMPTS:
                reason = f"the server was stopped while running this job {job.attempts} times; not run again"
                error = problem_of(ApiError(500, "job-interrupted", reason))
                db.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.state == "running", Job.owner == previous)
                    .values(state="failed", error_json=canonical(error), finished_at=at, owner=me)
                )
            else:
                moved: CursorResult[Any] = db.execute(  # type: ignore[assignment]
                    update(Job)
                    .where(Job.id == job.id, Job.state == job.state, Job.owner == previous)
                    .values(state="queued", owner=me)
                )
                if moved.rowcount == 1:
                    again.append(job.id)
                    log.warning("job %s of %s taken over (%s before)", job.id, previous, job.state)
        db.commit()
    return again


def simulation_rows(db: Session, import_id: int | None, from_finalized: bool, period: str) -> int:
    """Rep-months one evaluation of a simulation reads: its import's rows, or the finalized runs' reps."""
    if import_id is not None:
        return import_rows(db, import_id)
    return finalized_rows(db, period.strip()) if from_finalized else 0
