"""One rep's figures for one month (`FactRow`) and the columns a fact file may have.

Kept apart from the loader so that the reading modules (`engine.factrows`, `engine.facts`) and
the evaluator share one definition without importing each other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from itertools import repeat

from engine.factvalues import column_name
from engine.periods import Month

STANDARD_TEXT_COLUMNS = ("rep_id", "name", "region", "product_line", "manager_id")
STANDARD_NUMBER_COLUMNS = ("target", "actual", "collected", "new_customers", "leads", "follow_ups", "deals")
REQUIRED_COLUMNS = ("rep_id", "period", "target", "actual")

#: Counts of things: whole numbers, never negative.
COUNT_COLUMNS = ("new_customers", "leads", "follow_ups", "deals")
#: Standard number columns other than target/actual; always present as keys of `FactRow.numbers`.
OPTIONAL_NUMBER_COLUMNS = tuple(c for c in STANDARD_NUMBER_COLUMNS if c not in ("target", "actual"))


@dataclass(frozen=True, slots=True)
class FactRow:
    """One rep's figures for one month, as read from one row of the source."""

    rep_id: str
    period: Month
    target: Decimal
    actual: Decimal
    name: str | None
    region: str | None
    product_line: str | None
    manager_id: str | None
    numbers: Mapping[str, Decimal | None]
    texts: Mapping[str, str]
    row: int

    def number(self, column: str) -> Decimal | None:
        """The value of a number column (target, actual or any in `numbers`); None if absent or blank."""
        name = column_name(column)
        if name == "target":
            return self.target
        if name == "actual":
            return self.actual
        return self.numbers.get(name)


_SETTERS = tuple(getattr(FactRow, f.name).__set__ for f in fields(FactRow))
assert [f.name for f in fields(FactRow)] == [
    "rep_id", "period", "target", "actual", "name", "region", "product_line", "manager_id", "numbers", "texts", "row"
], "fact_row sets FactRow's fields by position"  # fmt: skip


def fact_row(
    rep_id: str,
    period: Month,
    target: Decimal,
    actual: Decimal,
    name: str | None,
    region: str | None,
    product_line: str | None,
    manager_id: str | None,
    numbers: Mapping[str, Decimal | None],
    texts: Mapping[str, str],
    row: int,
) -> FactRow:
    """`FactRow(...)` without the frozen dataclass's `__init__` (one `object.__setattr__` per
    field): the same object for a third of the cost, for the loader's million rows."""
    fact = object.__new__(FactRow)
    s = _SETTERS
    s[0](fact, rep_id), s[1](fact, period), s[2](fact, target), s[3](fact, actual)
    s[4](fact, name), s[5](fact, region), s[6](fact, product_line), s[7](fact, manager_id)
    s[8](fact, numbers), s[9](fact, texts), s[10](fact, row)
    return fact


def fact_rows(n: int, columns: Sequence[Sequence[object]]) -> list[FactRow]:
    """`n` FactRows from one column per field (in `fact_row`'s order), each field set over all
    rows at once: the same objects as `fact_row` row by row, for a quarter less."""
    rows: list[FactRow] = list(map(object.__new__, repeat(FactRow, n)))
    for setter, column in zip(_SETTERS, columns, strict=True):
        deque(map(setter, rows, column), maxlen=0)
    return rows
