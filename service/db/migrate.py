"""Run the packaged Alembic migrations without an alembic.ini.

`merit db upgrade` and `merit serve` call `upgrade()`; the script location is this package's
`migrations/` folder, so the migrations ship inside the wheel and work from any directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from service.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current(database_url: str) -> str | None:
    """The revision the database is at (None if never upgraded)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
