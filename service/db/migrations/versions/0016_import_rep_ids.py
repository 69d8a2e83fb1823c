"""fact_imports.rep_ids: the reps an import's rows name.

A rep token's `--rep-id` is checked against them as a manager token's `--region` is against the
imports' regions: a token for "R0O1" would show its holder nothing, silently. Imports stored before
this revision have no rep ids (null); the runs made from them still name their reps
(`run_reps.rep_id`), which the check reads too.

Revision ID: 0016
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fact_imports") as batch:
        batch.add_column(sa.Column("rep_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fact_imports") as batch:
        batch.drop_column("rep_ids")
