"""Months and quarters, the only periods the handbook pays on.

Periods are plain strings in files (`2026-08`, `2026-Q3`); parsing them once into `Month` and
`Quarter` keeps calendar arithmetic (previous month, months of a quarter) out of the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.year, (self.month - 1) // 3 + 1)


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.number}"

    @property
    def months(self) -> tuple[Month, Month, Month]:
        first = 3 * (self.number - 1) + 1
        return (Month(self.year, first), Month(self.year, first + 1), Month(self.year, first + 2))


Period = Month | Quarter


def parse_month(text: str) -> Month:
    """Parse `YYYY-MM`; raise ValueError with a message fit for a user."""
    m = _MONTH.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a month in the form YYYY-MM")
    return Month(int(m.group(1)), int(m.group(2)))


def parse_period(text: str) -> Period:
    """Parse `YYYY-MM` or `YYYY-Qn`."""
    t = text.strip()
    q = _QUARTER.match(t)
    if q:
        return Quarter(int(q.group(1)), int(q.group(2)))
    try:
        return parse_month(t)
    except ValueError:
        raise ValueError(f"{text!r} is not a period: use a month (2026-08) or a quarter (2026-Q3)") from None


def months_of(period: Period) -> tuple[Month, ...]:
    return (period,) if isinstance(period, Month) else period.months
