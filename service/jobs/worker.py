"""The bounded pool that runs background jobs inside the server process, outside any request.

Threads, not processes: a job runs the very use case a synchronous request runs, with the app's
own session factory, and most of its time is spent where the GIL is released or shared anyway
(database writes, the rule engine's C code behind its own lock); a process pool would have to
pickle policies and facts, re-open database engines in every child and fork a process that holds
durable_rules' C state and open connections (neither survives a fork reliably). Evaluations that
need several cores use `runtime/parallel.py`'s worker processes, not this pool. The pool is
bounded (`MERIT_JOB_WORKERS`, default 2): more jobs wait in the queue, visible as `queued` in
GET /jobs/{id} and as `merit_jobs_queued` on /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.auth import Principal
from service.jobs import service
from service.metrics import JOB_SECONDS, JOBS_QUEUED, JOBS_RUNNING

log = logging.getLogger("merit.jobs")


def _run(db: Session, who: Principal, at: datetime, body: dict[str, Any]) -> str:
    from service.runs.models import RunRequest
    from service.runs.service import create_run, deal_set

    req = RunRequest.model_validate(body)
    run, _ = create_run(db, who, at, req.policy_id, req.version, req.period, req.fact_import_id, deal_set(req))
    return f"/runs/{run.id}"


def _simulation(db: Session, who: Principal, at: datetime, body: dict[str, Any]) -> str:
    from service.simulations.models import SimulationRequest
    from service.simulations.stored import create_simulation

    return f"/simulations/{create_simulation(db, who, at, SimulationRequest.model_validate(body)).id}"


def _sweep(db: Session, who: Principal, at: datetime, body: dict[str, Any]) -> str:
    from service.simulations.models import SweepRequest
    from service.simulations.stored import create_sweep

    return f"/simulations/{create_sweep(db, who, at, SweepRequest.model_validate(body)).id}"


WORKS: dict[str, service.Work] = {"run": _run, "simulation": _simulation, "sweep": _sweep}


class JobRunner:
    """A fixed number of worker threads running jobs by id, in the order they were queued."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], workers: int) -> None:
        self.sessions = sessions
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="merit-job")

    def enqueue(self, job_id: int) -> None:
        JOBS_QUEUED.inc()
        self.pool.submit(self._one, job_id)

    def _one(self, job_id: int) -> None:
        JOBS_QUEUED.dec()
        JOBS_RUNNING.inc()
        started = time.perf_counter()
        state = ""
        try:
            state = service.execute(self.sessions, self.clock, job_id, WORKS)
        except Exception:  # the database went away: the job stays running and a restart takes it over
            log.exception("job %s could not be run", job_id)
        finally:
            JOBS_RUNNING.dec()
            if state:
                JOB_SECONDS.labels(_kind(self.sessions, job_id), state).observe(time.perf_counter() - started)

    def recover(self) -> list[int]:
        """Queue again the jobs of processes that died (called when the app is built)."""
        ids = service.recover(self.sessions, self.clock())
        for job_id in ids:
            self.enqueue(job_id)
        return ids

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


def _kind(sessions: sessionmaker[Session], job_id: int) -> str:
    from service.jobs.models import Job

    with sessions() as db:
        job = db.get(Job, job_id)
        return job.kind if job is not None else "unknown"
