"""policy_shadows and shadow_results: a draft version evaluated beside every run, never paid (issue 12).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.base import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_shadows",
        sa.Column("policy_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("policy_contents.sha256"), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "shadow_results",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("results_json", sa.LargeBinary(), nullable=True),
        sa.Column("results_sha256", sa.String(64), nullable=True),
        sa.Column("total_payout", sa.String(40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("shadow_results")
    op.drop_table("policy_shadows")
