"""Whose result lines a manager sees: each line by its own region.

A quarter result rolls up a rep's months, and names the region of the rep's last month. A rep who
moved from East to South in August was shown, months and all, to the South manager and not at
all to the East manager. A manager now sees a quarter line (with the months of their regions in
it) when the quarter names one of their regions, and otherwise just the rep's month lines that
were in their regions, as lines of their own - every line scoped by its own region.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def _mine(line: dict[str, Any], regions: Collection[str]) -> bool:
    return line.get("region") in regions


def manager_lines(results: list[Any], regions: Collection[str]) -> list[dict[str, Any]]:
    """The result lines of `results` (the engine's results document) a manager of `regions` sees."""
    out: list[dict[str, Any]] = []
    for line in results:
        if not isinstance(line, dict):
            continue
        months = [m for m in line.get("months") or () if isinstance(m, dict)]
        if _mine(line, regions):
            out.append({**line, "months": [m for m in months if _mine(m, regions)]} if months else line)
        else:
            out.extend(m for m in months if _mine(m, regions))
    return out


def line_regions(results: list[Any]) -> dict[tuple[str, str], str | None]:
    """(rep_id, period) -> that line's own region, month lines included (for payout lines)."""
    out: dict[tuple[str, str], str | None] = {}
    for line in results:
        for ln in (*(getattr(line, "months", None) or ()), line):
            out[(ln.rep_id, str(ln.period))] = ln.region
    return out
