"""Run tables: a run, its per-rep rows, its payout lines, and the months it holds.

Money is stored as decimal *strings* (never REAL/float): SQLite has no exact decimal type and
the payroll feed must equal the engine's totals to the cent on both databases. `period_claims` has
one row per month held by a published or finalized run; its primary key is what stops two runs for
the same month from both reaching payroll, even under concurrency.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from service.api.inputs import Id, Input
from service.db.base import Base, UTCDateTime
from service.runs.states import RunState, RunStateType


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("policy_sha256", "facts_sha256", "period", name="uq_runs_inputs"),
        Index("ix_runs_period_status", "period", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(100))
    policy_sha256: Mapped[str] = mapped_column(ForeignKey("policy_contents.sha256"))
    fact_import_id: Mapped[int] = mapped_column(ForeignKey("fact_imports.id"))
    facts_sha256: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[RunState] = mapped_column(RunStateType())  # service.runs.states
    rep_count: Mapped[int] = mapped_column(Integer)
    total_payout: Mapped[str] = mapped_column(String(40))  # decimal string, two places
    #: the engine's results JSON as stored: the bytes, or zlib-compressed above PACK_ABOVE (see
    #: `results_json`, through which every reader and writer goes)
    results_blob: Mapped[bytes] = mapped_column("results_json", LargeBinary, deferred=True)
    results_sha256: Mapped[str] = mapped_column(String(64))
    results_csv: Mapped[str] = mapped_column(Text, deferred=True)
    objection_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    objection_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finalized_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)

    @hybrid_property
    def results_json(self) -> bytes:
        """The engine's results JSON, byte for byte (unpacked when it was stored compressed)."""
        return unpacked(self.results_blob)

    @results_json.inplace.setter
    def _results_json_set(self, value: bytes) -> None:
        self.results_blob = packed(value)

    @results_json.inplace.expression
    @classmethod
    def _results_json_column(cls) -> Any:  # in a query: the stored bytes
        return cls.results_blob

    @results_json.inplace.update_expression
    @classmethod
    def _results_json_update(cls, value: Any) -> list[tuple[Any, Any]]:
        return [(cls.results_blob, value)]


PACK_ABOVE = 64 * 1024 * 1024
"""Results JSON over this many bytes is stored zlib-compressed: ~1 KB per rep-month makes a
million rep-months' document ~1 GB, which neither a PostgreSQL bytea nor a SQLite blob can hold
(1 GB each); compressed it is a tenth of that. A JSON document starts with `{`, a zlib stream
with `x` (0x78): the stored bytes say which they are, so smaller runs are stored as before."""


def packed(document: bytes) -> bytes:
    return zlib.compress(document, 1) if len(document) > PACK_ABOVE else document


def unpacked(stored: bytes) -> bytes:
    return zlib.decompress(stored) if stored[:1] == b"x" else stored


class RunRep(Base):
    """One row per rep in a run: what scopes managers (region) and reps (rep_id)."""

    __tablename__ = "run_reps"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    total: Mapped[str] = mapped_column(String(40))


class RunLine(Base):
    """A payout line (rep x period x component) computed by the engine when the run was evaluated."""

    __tablename__ = "run_lines"
    __table_args__ = (
        UniqueConstraint("run_id", "rep_id", "period", "component", name="uq_run_lines"),
        Index("ix_run_lines_run_id_id", "run_id", "id"),  # the payroll feed's keyset reads
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    rep_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    period: Mapped[str] = mapped_column(String(7))
    component: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(300))
    amount: Mapped[str] = mapped_column(String(40))


class PeriodClaim(Base):
    __tablename__ = "period_claims"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)


class RunRequest(Input):
    policy_id: str = Field(min_length=1)
    version: str | None = None
    period: str = Field(description="a month (2026-08) or a quarter (2026-Q3)")
    fact_import_id: Id | None = Field(
        default=None,
        description="the facts to evaluate; required, except when the run closes a quarter whose months "
        "were paid by finalized month runs (the close reads those runs' facts), or for a deal set:",
    )
    deal_import_id: Id | None = Field(default=None, description="a kind=deals import (with the two below)")
    payment_import_id: Id | None = Field(default=None, description="a kind=payments import")
    target_import_id: Id | None = Field(default=None, description="a kind=targets import")


# ------------------------------------------------------------------------- read models
class PolicyRef(BaseModel):
    """The policy version a run was evaluated with."""

    id: str
    version: str
    sha256: str


class RunTotals(BaseModel):
    """Team-wide figures: hr and payroll only."""

    reps: int
    payout: str


class CloseOut(BaseModel):
    """What a close run closes: the period and, per month, the finalized month run it was evaluated from."""

    period: str = Field(description="the period closed, e.g. 2026-Q3")
    month_runs: dict[str, int] = Field(description='month -> the month run it read, e.g. {"2026-07": 1}')


class RunOut(BaseModel):
    """A run as the caller may see it (`totals` only for hr and payroll)."""

    id: int
    policy: PolicyRef
    period: str
    fact_import_id: int
    facts_sha256: str
    results_sha256: str
    status: RunState
    created_at: str
    created_by: str | None = None
    published_at: str | None
    published_by: str | None = None
    objection_days: int
    objection_deadline: str | None
    finalized_at: str | None
    finalized_by: str | None = None
    supersedes: int | None
    superseded_by: int | None
    totals: RunTotals | None = None
    closes: CloseOut | None = Field(default=None, description="a quarter's close only: what it closes")


class RunsOut(BaseModel):
    """The runs matching the filters, oldest first."""

    runs: list[RunOut]
