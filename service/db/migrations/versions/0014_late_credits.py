"""late_credits: a payments import that credits an already finalized month late (issue 12);
adjustments.month_runs: the months' facts runs a re-close of a closed quarter read.

The month is never rewritten: the service asks for an adjustment of it at once; a row without an
adjustment run is a late credit still pending (shown by `GET /payroll/periods/{period}`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.base import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "late_credits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("payment_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), nullable=False),
        sa.Column("credited_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), nullable=False),
        sa.Column("original_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("deals", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("adjustment_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_late_credits_period", "late_credits", ["period"])
    with op.batch_alter_table("adjustments") as batch:
        batch.add_column(sa.Column("month_runs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("adjustments") as batch:
        batch.drop_column("month_runs")
    op.drop_index("ix_late_credits_period", table_name="late_credits")
    op.drop_table("late_credits")
