"""The jobs table: a background evaluation's state, kept in the database so it survives a restart.

A job is created by a POST that is too big to answer inside the request (or that asked for it:
`Prefer: respond-async`, an `Idempotency-Key`). Its request body is kept as canonical JSON text,
with its hash, so a retried POST with the same key is recognised and one with a different body is
refused. `owner` says which process (host:pid) runs or will run it: at start-up a process takes
over only the jobs of processes that are gone. The job's result is a link to what it stored
(`/runs/7`), its error a problem document (`application/problem+json` body) as JSON text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime

#: a job's states, in the order a job moves through them (succeeded and failed are final)
JOB_STATES = ("queued", "running", "succeeded", "failed")
JOB_KINDS = ("run", "simulation", "sweep")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("created_by_token", "idempotency_key", name="uq_jobs_idempotency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    request_json: Mapped[str] = mapped_column(Text)  # the validated body, canonical JSON
    request_sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_token: Mapped[int] = mapped_column(Integer)
    principal_json: Mapped[str] = mapped_column(Text)  # the creator's role and scope, to run as them
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)  # host:pid running it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=1)
    rep_months: Mapped[int] = mapped_column(Integer, default=0)  # the estimate that sent it here
    result_path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
