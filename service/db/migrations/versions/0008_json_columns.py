"""JSON columns as JSON: fact import periods and columns, scenario changes and scopes, simulation
summaries and scopes were JSON text in TEXT columns, read and written with hand-written
json.loads/dumps.

The stored text is kept as it is: PostgreSQL converts it with `::json` (which keeps the text
exactly, key order included), SQLite rebuilds the tables without casting (Alembic's batch mode
copies JSON values as they are). `audit_log.detail` stays TEXT (its canonical sorted text is what
the entry says, and the table is append-only); `api_tokens.regions` too, for now.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: table -> (column, nullable)
COLUMNS = {
    "fact_imports": [("periods", False), ("columns", False)],
    "scenarios": [("edits", False), ("quotas", False), ("target_plan", True), ("scope_regions", True)],
    "simulations": [("fact_import_ids", False), ("summary", False), ("scope_regions", True)],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, nullable in columns:
                batch.alter_column(
                    name,
                    existing_type=sa.Text(),
                    type_=sa.JSON(),
                    existing_nullable=nullable,
                    postgresql_using=f'"{name}"::json',
                )


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, nullable in columns:
                batch.alter_column(
                    name,
                    existing_type=sa.JSON(),
                    type_=sa.Text(),
                    existing_nullable=nullable,
                    postgresql_using=f'"{name}"::text',
                )
