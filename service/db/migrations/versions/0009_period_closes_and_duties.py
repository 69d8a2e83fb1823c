"""period_closes (one close per period, naming its month runs) and runs.published_by/finalized_by
(who published and who finalized a run: separation of duties is checked and shown on the run).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.base import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("published_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("finalized_by", sa.String(200), nullable=True))
    op.create_table(
        "period_closes",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False, unique=True),
        sa.Column("month_runs", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("period_closes")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("finalized_by")
        batch.drop_column("published_by")
