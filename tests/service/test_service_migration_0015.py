"""Migration 0015 (SQLite: the runs table with its results JSON and CSV last) on a database at 0014
holding runs that other tables refer to: every value reads back the same, the large columns come
after every other one, the constraints and the index are kept, nothing refers to nothing, and the
downgrade restores the old order. On PostgreSQL the migration changes nothing (large values live
out of line there whatever the order); the upgrade through it is checked on both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import BACKENDS, POSTGRES_URL
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import IntegrityError

from service.db import make_engine, upgrade
from service.db.migrate import current

AT = datetime(2026, 9, 1, 8, 0)
BLOB = bytes(range(256)) * 40_000  # 10 MB: hundreds of overflow pages on SQLite
CSV = "rep_id,total\n" + "R1,1.00\n" * 200_000
COLUMNS = (
    "id, policy_id, policy_version, policy_sha256, fact_import_id, facts_sha256, period, status, rep_count,"
    " total_payout, results_json, results_sha256, results_csv, objection_days, created_at, created_by,"
    " published_at, objection_deadline, finalized_at, supersedes_id, superseded_by_id, published_by, finalized_by"
)


@pytest.fixture(params=BACKENDS)
def at_0014(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated to 0014 only."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
        upgrade(url, "0014")
        yield url
        return
    assert POSTGRES_URL
    schema = f"merit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    rendered = (
        make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        upgrade(rendered, "0014")
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _rows(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(f"SELECT {COLUMNS} FROM runs ORDER BY id"))]
    engine.dispose()
    return rows


def _old_runs(url: str) -> None:
    """Two runs (the second supersedes the first), a payout line and a month claim referring to them."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fact_imports (id, filename, sha256, size, row_count, periods, columns, data,"
                " created_at, created_by) VALUES (1, 'q3.csv', :sha, 3, 2, '[\"2026-08\"]', '[\"rep_id\"]', :d, :at,"
                " 'hr')"
            ),
            {"sha": "f" * 64, "d": b"abc", "at": AT},
        )
        conn.execute(
            text("INSERT INTO policy_contents VALUES (:sha, 'sales-incentive', '2026-Q3', 'id: x', :at)"),
            {"sha": "c" * 64, "at": AT},
        )
        for run_id, status, sha, supersedes in ((1, "finalized", "1" * 64, None), (2, "published", "2" * 64, 1)):
            conn.execute(
                text(
                    f"INSERT INTO runs ({COLUMNS}) VALUES (:id, 'sales-incentive', '2026-Q3', :p, 1, :f, '2026-08',"
                    " :status, 1, '12.50', :j, :r, :csv, 3, :at, 'hr', :at, :at, :fin, :sup, NULL, 'hr2', :by)"
                ),
                {"id": run_id, "p": "c" * 64, "f": sha, "status": status, "j": BLOB + bytes([run_id]), "r": "e" * 64,
                 "csv": CSV + str(run_id), "at": AT, "fin": AT if run_id == 1 else None, "sup": supersedes,
                 "by": "hr3" if run_id == 1 else None},
            )  # fmt: skip
        conn.execute(text("UPDATE runs SET superseded_by_id = 2 WHERE id = 1"))
        conn.execute(
            text(
                "INSERT INTO run_lines (id, line_id, run_id, rep_id, name, region, period, component, label, amount)"
                " VALUES (1, 'abc', 2, 'R1', '张三', '华东', '2026-08', 'commission', '提成', '12.50')"
            )
        )
        conn.execute(text("INSERT INTO period_claims (month, run_id) VALUES ('2026-08', 2)"))
    engine.dispose()


def _sqlite_columns(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        names = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(runs)")]
    engine.dispose()
    return names


def test_0015_keeps_every_run_and_puts_the_results_last(at_0014: str) -> None:
    _old_runs(at_0014)
    before = _rows(at_0014)
    upgrade(at_0014)
    assert current(at_0014) >= "0015"
    assert _rows(at_0014) == before  # every value, the 10 MB results included
    engine = make_engine(at_0014)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                indexes = {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(runs)")}
                assert "ix_runs_period_status" in indexes
        if sqlite:
            assert _sqlite_columns(at_0014)[-2:] == ["results_json", "results_csv"]
        with pytest.raises(IntegrityError), engine.begin() as conn:  # uq_runs_inputs is kept
            conn.execute(
                text(f"INSERT INTO runs ({COLUMNS}) SELECT 3, {COLUMNS.split(', ', 1)[1]} FROM runs WHERE id = 2")
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:  # and the foreign keys
            conn.execute(text("UPDATE runs SET supersedes_id = 99 WHERE id = 2"))
    finally:
        engine.dispose()


def test_0015_downgrade_restores_the_old_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0014")
    old_order = _sqlite_columns(url)
    _old_runs(url)
    before = _rows(url)
    upgrade(url)
    from alembic import command

    from service.db.migrate import alembic_config

    engine = make_engine(url)
    with engine.connect() as conn:
        conn.connection.cursor().execute("PRAGMA foreign_keys=OFF")  # as `upgrade` does, outside a transaction
        with conn.begin():
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0014")
    engine.dispose()
    assert _sqlite_columns(url) == old_order
    assert _rows(url) == before
