"""The audit log refuses TRUNCATE on PostgreSQL, as it refuses UPDATE and DELETE.

Row triggers do not fire for TRUNCATE, so `TRUNCATE audit_log` emptied the append-only log; a
statement-level BEFORE TRUNCATE trigger raises the same error. SQLite has no TRUNCATE (its
`DELETE FROM audit_log` already meets the row trigger).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
               FOR EACH STATEMENT EXECUTE FUNCTION merit_audit_log_append_only()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
