"""Alembic environment driven programmatically by service.db.migrate (no alembic.ini).

The caller passes an open connection in `config.attributes["connection"]`; migrations run inside
the caller's transaction so a failed upgrade leaves nothing half-applied (PostgreSQL has
transactional DDL; SQLite mostly does too).
"""

from __future__ import annotations

from alembic import context

from service.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached through a hand-written alembic.ini
    raise RuntimeError("run migrations through service.db.migrate.upgrade(database_url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
