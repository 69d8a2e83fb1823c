"""Initial schema: tokens, policies, fact imports, runs, objections, payroll lines, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The audit log is append-only: the database itself refuses to change or delete an entry.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]
_POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION merit_audit_log_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION merit_audit_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("rep_id", sa.String(100), nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "policy_contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("policy_contents.sha256"), nullable=False),
        sa.Column("effective_from", sa.String(7), nullable=True),
        sa.Column("effective_to", sa.String(7), nullable=True),
        sa.Column("objection_days", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("policy_id", "version", name="uq_policy_versions_id_version"),
    )
    op.create_table(
        "fact_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("periods", sa.Text(), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_fact_imports_sha256", "fact_imports", ["sha256"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("policy_sha256", sa.String(64), sa.ForeignKey("policy_contents.sha256"), nullable=False),
        sa.Column("fact_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), nullable=False),
        sa.Column("facts_sha256", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rep_count", sa.Integer(), nullable=False),
        sa.Column("total_payout", sa.String(40), nullable=False),
        sa.Column("results_json", sa.LargeBinary(), nullable=False),
        sa.Column("results_sha256", sa.String(64), nullable=False),
        sa.Column("results_csv", sa.Text(), nullable=False),
        sa.Column("objection_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("objection_deadline", UTCDateTime(), nullable=True),
        sa.Column("finalized_at", UTCDateTime(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.UniqueConstraint("policy_sha256", "facts_sha256", "period", name="uq_runs_inputs"),
    )
    op.create_index("ix_runs_period_status", "runs", ["period", "status"])
    op.create_table(
        "run_reps",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("rep_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("total", sa.String(40), nullable=False),
    )
    op.create_table(
        "run_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("line_id", sa.String(64), nullable=False, unique=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rep_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.UniqueConstraint("run_id", "rep_id", "period", "component", name="uq_run_lines"),
    )
    op.create_index("ix_run_lines_run_id", "run_lines", ["run_id"])
    op.create_table(
        "period_claims",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_index("ix_period_claims_run_id", "period_claims", ["run_id"])
    op.create_table(
        "objections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("original_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rep_id", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("raised_by", sa.String(200), nullable=False),
        sa.Column("raised_role", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fact_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), nullable=True),
        sa.Column("new_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
    )
    op.create_index("ix_objections_run_id", "objections", ["run_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("before_sha256", sa.String(64), nullable=True),
        sa.Column("after_sha256", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    bind = op.get_bind()
    triggers = _POSTGRES_TRIGGERS if bind.dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS merit_audit_log_append_only()")
    for table in (
        "audit_log",
        "objections",
        "period_claims",
        "run_lines",
        "run_reps",
        "runs",
        "fact_imports",
        "policy_versions",
        "policy_contents",
        "api_tokens",
    ):
        op.drop_table(table)
