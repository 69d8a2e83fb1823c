"""Values the database cannot hold are refused when a session flushes, the same on both databases.

PostgreSQL refuses a NUL character in any text and a string longer than its `VARCHAR(n)`; SQLite
takes both. The API validates what clients send, but values also come from files (a rep id in a
fact file, a part's Content-Type): this guard is the net under all of them, so such a value is a
422 naming the column on either database instead of a 500 on one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import String, Text, event, inspect
from sqlalchemy.orm import Session, sessionmaker


class StoredValueRefused(ValueError):
    """A value the database cannot store: `column` is `table.column`, `reason` says why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column} {reason}")
        self.column = column
        self.reason = reason


def _check(table: str, column: Any, value: Any) -> None:
    if not isinstance(value, str) or not isinstance(column.type, String | Text):
        return
    where = f"{table}.{column.name}"
    if "\x00" in value:
        raise StoredValueRefused(where, "must not contain a NUL character")
    length = getattr(column.type, "length", None)
    if length is not None and len(value) > length:
        raise StoredValueRefused(where, f"may be at most {length} characters (got {len(value)})")


def check_row(obj: Any) -> None:
    """Raise StoredValueRefused for the first text value of `obj` the database cannot hold."""
    mapper = inspect(obj).mapper
    for attr in mapper.column_attrs:
        # unloaded deferred columns are not in __dict__
        _check(mapper.local_table.name, attr.columns[0], obj.__dict__.get(attr.key))


def checked(model: type[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` for a Core bulk insert into `model`'s table, each value checked like a flushed row."""
    table = model.__table__
    for row in rows:
        for key, value in row.items():
            _check(table.name, table.c[key], value)
    return rows


def guard_flushes(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """`sessions`, with every new or changed row checked before it is flushed."""

    @event.listens_for(sessions, "before_flush")
    def _check(session: Session, _context: Any, _instances: Any) -> None:
        for obj in (*session.new, *session.dirty):
            check_row(obj)

    return sessions


def checked_tuples(
    model: type[Any], columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """`rows` (values in the order of `columns`) for a bulk insert or COPY, each checked as it passes.

    Only the text columns are looked at, with the two tests inline (a million rows pass here);
    a value failing one goes through `_check` for its message."""
    table = model.__table__
    texts = [
        (i, table.c[name], getattr(table.c[name].type, "length", None) or -1)
        for i, name in enumerate(columns)
        if isinstance(table.c[name].type, String | Text)
    ]
    for row in rows:
        for i, column, length in texts:
            value = row[i]
            if type(value) is str and ("\x00" in value or -1 < length < len(value)):
                _check(table.name, column, value)
        yield row
