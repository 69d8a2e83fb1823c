"""adjustments and balance_entries: corrections after payment and the clawback ledger (issue 12).

An adjustment run is a `runs` row; `adjustments` says which finalized period it corrects (unique
per period and sequence number, so one of two concurrent attempts wins), `balance_entries` holds
what reps owe from negative adjustments and what was recovered from later payouts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.base import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adjustments",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("original_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("original_policy_sha256", sa.String(64), nullable=False),
        sa.Column("original_facts_sha256", sa.String(64), nullable=False),
        sa.Column("pay_period", sa.String(7), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.UniqueConstraint("period", "seq", name="uq_adjustments_period_seq"),
    )
    op.create_table(
        "balance_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rep_id", sa.String(100), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("run_id", "rep_id", "kind", name="uq_balance_entries"),
    )
    op.create_index("ix_balance_entries_rep_id", "balance_entries", ["rep_id"])


def downgrade() -> None:
    op.drop_index("ix_balance_entries_rep_id", table_name="balance_entries")
    op.drop_table("balance_entries")
    op.drop_table("adjustments")
