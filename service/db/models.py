"""The service's tables, as SQLAlchemy 2 mapped classes.

Why these shapes:
- Money is stored as decimal *strings* (never REAL/float): SQLite has no exact decimal type and
  the payroll feed must equal the engine's totals to the cent on both databases.
- Policy texts live in a content-addressed table so a run can always recover the exact policy it
  was evaluated with, even after an unpublished version is edited.
- `period_claims` has one row per month held by a published or finalized run; its primary key is
  what stops two runs for the same month from both reaching payroll, even under concurrency.
- `audit_log` is append-only (database triggers refuse UPDATE and DELETE; see the migration).
The Alembic migrations create exactly this schema; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from service.runs.states import RunState, RunStateType


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    regions: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of region names
    rep_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PolicyContent(Base):
    __tablename__ = "policy_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_versions_id_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(ForeignKey("policy_contents.sha256"))  # the engine's content hash
    text: Mapped[str] = mapped_column(Text)  # the YAML exactly as HR last stored it (comments too)
    text_sha256: Mapped[str] = mapped_column(String(64))  # sha256 of `text`: the ETag
    effective_from: Mapped[str | None] = mapped_column(String(7), nullable=True)
    effective_to: Mapped[str | None] = mapped_column(String(7), nullable=True)
    objection_days: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # a published run used it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FactImport(Base):
    __tablename__ = "fact_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer)
    periods: Mapped[str] = mapped_column(Text)  # JSON list of "YYYY-MM"
    columns: Mapped[str] = mapped_column(Text)  # JSON list of column names
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: How the bytes were read (`ReadOptions.as_dict`: sheet, company column map, drop_totals);
    #: null when read as they are. Runs and simulations read the bytes again exactly so.
    read_options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


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
    results_json: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    results_sha256: Mapped[str] = mapped_column(String(64))
    results_csv: Mapped[str] = mapped_column(Text, deferred=True)
    objection_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    objection_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)


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


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    original_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    rep_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open | accepted | rejected
    raised_by: Mapped[str] = mapped_column(String(200))
    raised_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    fact_import_id: Mapped[int | None] = mapped_column(ForeignKey("fact_imports.id"), nullable=True)
    new_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    before_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    after_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON object


class Scenario(Base):
    """A named what-if scenario: a baseline and the changes to try (no figures, no results)."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)  # None: in force for the period
    scenario_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    edits: Mapped[str] = mapped_column(Text)  # JSON list of "PATH=VALUE"
    quotas: Mapped[str] = mapped_column(Text)  # JSON list of quota changes
    target_plan: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {team_target, split_by, shares}
    fact_import_id: Mapped[int | None] = mapped_column(ForeignKey("fact_imports.id"), nullable=True)
    from_finalized_runs: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_regions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list; None: every region
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Simulation(Base):
    """A stored what-if result (a simulation or a sweep). Nothing else is changed by one.

    `result_json` is the response document exactly as first returned, as text, so reading it back
    gives the same bytes; the other columns are for listing and scoping.
    """

    __tablename__ = "simulations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # simulation | sweep
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), nullable=True, index=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(100))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    facts_sha256: Mapped[str] = mapped_column(String(64))
    fact_import_ids: Mapped[str] = mapped_column(Text)  # JSON list of the imports the facts came from
    summary: Mapped[str] = mapped_column(Text)  # JSON object shown in listings
    scope_regions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list; None: every region
    result_json: Mapped[str] = mapped_column(Text, deferred=True)
    result_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
