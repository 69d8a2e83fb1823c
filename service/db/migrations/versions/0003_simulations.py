"""What-if simulations and named scenarios (issue 5).

`simulations` keeps each simulation or sweep result as the exact JSON text first returned, so
reading it back gives the same bytes; `scenarios` keeps named sets of changes to re-run. Neither
table is referenced by runs, policies, fact imports or payroll lines: a simulation changes none
of them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=True),
        sa.Column("scenario_version", sa.String(100), nullable=True),
        sa.Column("period", sa.String(7), nullable=True),
        sa.Column("edits", sa.Text(), nullable=False),
        sa.Column("quotas", sa.Text(), nullable=False),
        sa.Column("fact_import_id", sa.Integer(), sa.ForeignKey("fact_imports.id"), nullable=True),
        sa.Column("from_finalized_runs", sa.Boolean(), nullable=False),
        sa.Column("scope_regions", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "simulations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scenario_id", sa.Integer(), sa.ForeignKey("scenarios.id"), nullable=True),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("facts_sha256", sa.String(64), nullable=False),
        sa.Column("fact_import_ids", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("scope_regions", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("result_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_simulations_scenario_id", "simulations", ["scenario_id"])


def downgrade() -> None:
    op.drop_index("ix_simulations_scenario_id", table_name="simulations")
    op.drop_table("simulations")
    op.drop_table("scenarios")
