"""A job's progress as its evaluation reports it: rep-months done out of the rep-months to do.

The engine's evaluator calls its `progress` callback after each chunk of lines it decides
(8,192 rep-months: the partitions of an evaluation in the service), and `engine_gate.evaluate_run`
forwards it to the `reporting` sink of the thread it runs in. A job's sink writes `done`/`total` to
its row of the jobs table, in a transaction of its own and at most every `EVERY` seconds (and at
each evaluation's start), so `GET /jobs/{id}` shows the real progress from any server process.
A run that also evaluates a shadow version adds that evaluation's rep-months to the total when it
starts: `done` only grows. A progress write that cannot get the database in time is skipped: the
next one, or the job's end, says more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.jobs.models import Job

log = logging.getLogger("merit.jobs")
EVERY = 0.5  # seconds between two progress writes of one job


class JobProgress:
    """The progress sink of one running job (see `service.engine_gate.reporting`)."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, every: float = EVERY) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.every = every
        self.total = 0  # rep-months of every evaluation begun so far
        self.done = 0
        self.written = 0.0

    def begin(self, total: int) -> Callable[[int], None]:
        """An evaluation of `total` rep-months starts; the callback hears how many it has done."""
        base = self.total
        self.total += total
        self._write(force=True)

        def advance(done: int) -> None:
            self.done = base + min(max(done, 0), total)
            self._write(force=done >= total)  # the last chunk is always written

        return advance

    def _write(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.written < self.every:
            return
        self.written = now
        try:
            with self.sessions() as db:
                db.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.state == "running")
                    .values(done=self.done, total=max(self.total, 1))
                )
                db.commit()
        except OperationalError as exc:  # busy: the next write (or the job's end) says more
            log.info("progress of job %s not written: %s", self.job_id, str(exc.orig).splitlines()[:1])
