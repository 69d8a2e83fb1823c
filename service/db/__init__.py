"""Database access for the Merit service: engine construction, sessions and schema upgrades.

The service runs on an embedded SQLite file by default and on PostgreSQL in production. The two
differ in how they serialise writers, so the differences are confined here: SQLite transactions
start with ``BEGIN IMMEDIATE`` (one writer at a time, waiting instead of failing with "database is
locked"), PostgreSQL relies on row locks (``SELECT ... FOR UPDATE``) taken by the API.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///merit.db"


def default_database_url() -> str:
    """`MERIT_DATABASE_URL` if set, else the SQLite file next to the working directory."""
    return os.environ.get("MERIT_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(database_url: str) -> Engine:
    """Create an engine whose transactions behave alike on SQLite and PostgreSQL."""
    kwargs: dict[str, Any] = {"future": True}
    if database_url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(database_url, **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_engine(database_url, **kwargs)


def _serialise_sqlite_writers(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two
    # requests that both read then write deadlock into SQLITE_BUSY. Taking the write lock at BEGIN
    # makes concurrent requests queue (bounded by the 30 s busy timeout) instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` up to `revision` with the packaged Alembic migrations."""
    from service.db.migrate import upgrade as _upgrade

    _upgrade(database_url, revision)
