"""fact_imports.read_options: how an import's bytes were read (sheet, company column map, drop_totals).

An import accepted with `sheet`, `columns` or `drop_totals` must be read again the same way when a
run or a simulation uses it; the bytes alone do not say how.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fact_imports") as batch:
        batch.add_column(sa.Column("read_options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fact_imports") as batch:
        batch.drop_column("read_options")
