"""An index on run_lines (run_id, id): the payroll feed reads a run's lines after a cursor by it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_run_lines_run_id_id", "run_lines", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_run_lines_run_id_id", table_name="run_lines")
