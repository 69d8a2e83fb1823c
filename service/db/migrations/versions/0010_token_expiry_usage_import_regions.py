"""api_tokens.expires_at and last_used_at; fact_imports.regions, kind and credited_from.

A token may now expire (`merit token create --expires 90d`) and records when it was last used (at
most once a minute: `service.tokens.usage`). An import records the regions its rows name, so a
manager token's `--region` can be checked against the regions HR has actually imported.
Imports stored before this revision have no regions (null); the runs made from them still name
theirs (`run_reps.region`), which the check reads too. An import's `kind` says what it holds
(facts when null; deals, payments, targets; or `credited`: facts a run derived from a deal set,
which `credited_from` names, so the run can be evaluated again the same way).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.db.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("fact_imports") as batch:
        batch.add_column(sa.Column("regions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(20), nullable=True))
        batch.add_column(sa.Column("credited_from", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fact_imports") as batch:
        batch.drop_column("credited_from")
        batch.drop_column("kind")
        batch.drop_column("regions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
