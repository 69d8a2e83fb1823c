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
    """Bring the schema up to `revision` in one transaction.

    SQLite changes a column's type by rebuilding the table (Alembic's batch mode), and with
    foreign keys enforced, dropping the old copy of a table other tables refer to fails. So on
    SQLite the upgrade follows SQLite's documented procedure for schema changes: foreign keys
    off (outside the transaction, where the pragma takes effect), the changes, a
    `foreign_key_check` that must find nothing before the commit, foreign keys on again.
    """
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.connection.cursor().execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    cfg = alembic_config()
                    cfg.attributes["connection"] = connection
                    command.upgrade(cfg, revision)
                    if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                        raise RuntimeError(f"the upgrade would leave rows referring to nothing: {broken[:5]}")
            finally:
                if sqlite:
                    connection.connection.cursor().execute("PRAGMA foreign_keys=ON")
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
