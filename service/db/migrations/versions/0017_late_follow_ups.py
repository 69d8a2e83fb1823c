"""late_follow_ups: a payments import whose late credits are still to be followed; one late credit
per payments import and month.

The marker is stored in the payments import's own transaction and deleted when its follow-up has
recorded its late credits, so a crash in between loses no late credit: it is followed again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.base import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "late_follow_ups",
        sa.Column("payment_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("uq_late_credits_import_period", "late_credits", ["payment_import_id", "period"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_late_credits_import_period", table_name="late_credits")
    op.drop_table("late_follow_ups")
