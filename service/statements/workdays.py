"""Working days in mainland China: the 公示 deadline ("published within three working days of the
figures closing") counted on the State Council's holiday calendar, adjusted working days
(调休上班, e.g. Saturday 2026-10-10 after National Day) included.

The calendar is `chinesecalendar` (PyPI, maintained; it carries each year's official notice). A
year it does not know yet is said, never guessed: the deadline is then unknown, not a weekday count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

PUBLISH_WITHIN_WORKING_DAYS = 3
"""The handbook: results are published within three working days of the figures closing."""


@dataclass(frozen=True)
class Deadline:
    """The last day to publish, and the days between that are not counted (holidays, weekends)
    or that count although they fall on a weekend (adjusted working days)."""

    closed: date
    working_days: int
    due: date | None  # None: the official calendar of a year on the way is not known
    skipped_holidays: tuple[tuple[date, str], ...]  # (day, holiday name) of days off that were skipped
    adjusted_workdays: tuple[date, ...]  # weekend days that are working days by the State Council's notice
    unknown_year: int | None = None


def publication_deadline(closed: date, working_days: int = PUBLISH_WITHIN_WORKING_DAYS) -> Deadline:
    """The `working_days`-th working day after `closed` (the day the figures closed)."""
    day, counted = closed, 0
    holidays: list[tuple[date, str]] = []
    adjusted: list[date] = []
    try:
        while counted < working_days:
            day += timedelta(days=1)
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            if not is_holiday:
                if day.weekday() >= 5 and name is not None:
                    adjusted.append(day)
                counted += 1
            elif name is not None:
                holidays.append((day, str(name)))
    except NotImplementedError:
        return Deadline(closed, working_days, None, tuple(holidays), tuple(adjusted), unknown_year=day.year)
    return Deadline(closed, working_days, day, tuple(holidays), tuple(adjusted))
