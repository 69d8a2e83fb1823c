"""Database access for the Merit service: engine construction, sessions and schema upgrades.

The service runs on an embedded SQLite file by default and on PostgreSQL in production. The two
differ in how they serialise writers, so the differences are confined here: SQLite runs in WAL mode,
its writing transactions start with ``BEGIN IMMEDIATE`` (one writer at a time, waiting instead of
failing with "database is locked") while reads (`make_read_sessionmaker`) start a deferred
transaction that never takes the write lock; PostgreSQL relies on row locks
(``SELECT ... FOR UPDATE``) taken by the API.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///merit.db"
SQLITE_BUSY_TIMEOUT = 10.0
"""Seconds a SQLite writer waits for the write lock before the request answers 503 (Retry-After)."""
POOL_SIZE = 32
"""Database connections each server process keeps open once it needed them (see `make_engine`)."""
POOL_OVERFLOW = 8
"""Connections a process opens beyond POOL_SIZE at a peak, closed again when returned."""
READ_ONLY = "merit_read_only"  # execution option of the engine behind read sessions
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
SUPPORTED_URLS = "sqlite:///PATH (a file) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (psycopg 3)"


class UnsupportedDatabaseURL(ValueError):
    """A database URL the service cannot use (the message says which ones it can)."""


def _parse(database_url: str) -> URL | None:
    try:
        return make_url(database_url)
    except (ArgumentError, ValueError):
        return None


def database_url_problem(database_url: str) -> str | None:
    """Why the service cannot use `database_url` (None when it can); never echoes a password."""
    if not database_url.strip():
        return f"the database URL is empty: use {SUPPORTED_URLS}"
    url = _parse(database_url)
    if url is None:
        return f"that is not a database URL: use {SUPPORTED_URLS}"
    if _with_driver(url).drivername not in SUPPORTED_DRIVERS:
        return f"unsupported database URL {_shown(url)}: use {SUPPORTED_URLS}"
    return None


def _with_driver(url: URL) -> URL:
    """`postgresql://` and `postgres://` (what people type, and what PaaS hand out) mean psycopg 3."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _shown(url: URL) -> str:
    shown = url.render_as_string(hide_password=True)
    if "password" in url.query:  # libpq also takes the password as a query parameter
        base, _, query = shown.partition("?")
        shown = base + "?" + re.sub(r"(^|&)password=[^&]*", r"\1password=***", query)
    return shown


def describe_database_url(database_url: str) -> str:
    """The database for messages: a SQLite file's absolute path, else the URL with its password hidden."""
    url = _parse(database_url)
    if url is None:
        return "an unparsable database URL"
    if url.drivername.startswith("sqlite"):
        if not url.database or url.database == ":memory:":
            return "an in-memory SQLite database"
        return f"SQLite file {os.path.abspath(url.database)}"
    return _shown(url)


def default_database_url() -> str:
    """`MERIT_DATABASE_URL` if set, else the SQLite file next to the working directory."""
    return os.environ.get("MERIT_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(database_url: str) -> Engine:
    """Create an engine whose transactions behave alike on SQLite and PostgreSQL."""
    problem = database_url_problem(database_url)
    if problem is not None:
        raise UnsupportedDatabaseURL(problem)
    url = _parse(database_url)
    if url is not None and url.drivername in ("postgresql", "postgres"):
        database_url = _with_driver(url).render_as_string(hide_password=False)
    # Connections kept open per server process: as many as requests it runs at once under load
    # (SQLAlchemy's default keeps 5 and opens and closes up to 10 more as requests come and go; a
    # new PostgreSQL connection is a new server process, and at 200 requests/s over 16 client
    # connections a worker opened ~8 of them a second).
    kwargs: dict[str, Any] = {"future": True, "pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if database_url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        engine = create_engine(database_url, **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    kwargs["pool_pre_ping"] = True
    engine = create_engine(database_url, **kwargs)
    _bytes_as_binary(engine)
    return engine


def _bytes_as_binary(engine: Engine) -> None:
    # psycopg sends a bytes parameter as text by default, hex-escaped: twice its size (a 512 MiB
    # fact file would be a 1 GiB literal, at PostgreSQL's limit for one value) and twice the work.
    # Binary format sends the bytes as they are.
    from psycopg.types.string import BytesBinaryDumper

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.adapters.register_dumper(bytes, BytesBinaryDumper)


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
        # reads see a WAL snapshot and wait for nobody; writers queue for the lock at BEGIN
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that write; every flush goes through the stored-value guard."""
    from service.db.guard import guard_flushes

    return guard_flushes(sessionmaker(bind=engine, expire_on_commit=False, autoflush=True))


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read: on SQLite a deferred transaction (no write lock), so a
    slow writer never makes a read wait; on PostgreSQL the same as `make_sessionmaker`."""
    return make_sessionmaker(engine.execution_options(**{READ_ONLY: True}))


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "busy, try again" (SQLite's lock wait ran out)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` up to `revision` with the packaged Alembic migrations."""
    from service.db.migrate import upgrade as _upgrade

    _upgrade(database_url, revision)
