"""Storing a run's many rows in bulk, inside the session's transaction.

A run of a million rep-months has a million rep rows and a few million payout lines. On
PostgreSQL they go in with `COPY ... FROM STDIN` through psycopg's `cursor.copy` on the
session's own connection (so in its transaction: a crash before the commit leaves nothing);
on SQLite with executemany inserts in batches, so no list of every row's dict is built. Each
value passes the same guard as a flushed row (`service.db.guard`): a NUL or an over-long text is
a 422 naming the column on both databases, before anything reaches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from service.db.guard import checked_tuples
from service.engine_gate import EvaluatedRun, money_text
from service.runs.models import RunLine, RunRep

BATCH = 5000  # rows per executemany on SQLite


def store_rows(db: Session, model: type[Any], columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert `rows` (values in the order of `columns`) into `model`'s table; how many were stored."""
    table = model.__table__
    values = checked_tuples(model, columns, rows)
    connection = db.connection()
    count = 0
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:  # type: ignore[union-attr]
            for row in values:
                copy.write_row(row)
                count += 1
        return count
    statement = insert(table)
    while batch := [dict(zip(columns, row, strict=True)) for row in islice(values, BATCH)]:
        connection.execute(statement, batch)
        count += len(batch)
    return count


def line_id(run_id: int, rep_id: str, period: str, component: str) -> str:
    """A payout line's stable id (what payroll de-duplicates on)."""
    key = "\x1f".join([str(run_id), rep_id, period, component])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


REP_COLUMNS = ("run_id", "rep_id", "name", "region", "total")
LINE_COLUMNS = ("line_id", "run_id", "rep_id", "name", "region", "period", "component", "label", "amount")


def store_lines(db: Session, run_id: int, ev: EvaluatedRun) -> None:
    """A run's per-rep rows and payout lines, in bulk (the run row itself is already flushed)."""
    names = {r.rep_id: r.name for r in ev.reps}
    store_rows(db, RunRep, REP_COLUMNS, ((run_id, r.rep_id, r.name, r.region, money_text(r.total)) for r in ev.reps))
    store_rows(
        db,
        RunLine,
        LINE_COLUMNS,
        (
            (
                line_id(run_id, ln.rep_id, ln.period, ln.component),
                run_id,
                ln.rep_id,
                names.get(ln.rep_id),
                ev.regions.get((ln.rep_id, str(ln.period))),  # the line's own region
                ln.period,
                ln.component,
                ln.label,
                money_text(ln.amount),
            )
            for ln in ev.lines
        ),
    )
