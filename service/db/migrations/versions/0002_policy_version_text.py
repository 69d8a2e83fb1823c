"""Policy versions keep their own YAML text and its sha256 (the HTTP ETag).

Two texts that differ only in comments or layout have the same engine content hash, so the
content-addressed `policy_contents` table cannot hold a comment-only edit; the version row now
keeps the text HR last stored, and the ETag is the sha256 of exactly those bytes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("text_sha256", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT v.id, c.text FROM policy_versions v JOIN policy_contents c ON c.sha256 = v.sha256")
    ).all()
    for version_id, text in rows:
        bind.execute(
            sa.text("UPDATE policy_versions SET text = :t, text_sha256 = :h WHERE id = :i"),
            {"t": text, "h": hashlib.sha256(text.encode("utf-8")).hexdigest(), "i": version_id},
        )
    with op.batch_alter_table("policy_versions") as batch:
        batch.alter_column("text", existing_type=sa.Text(), nullable=False)
        batch.alter_column("text_sha256", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_column("text_sha256")
        batch.drop_column("text")
