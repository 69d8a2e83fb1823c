"""Totals rows: rows of a fact table that are not reps.

Merit pays every row as a rep, so a totals row (合计, 小计, "Total", or a row whose target and actual
are the sums of the other rows) would be paid, would top every ranking and would take the
sales-star honour. Such rows are refused, each with its cell (the rep_id cell, or the cell that
says 合计), or, when the caller asked for it explicitly (`--drop-totals`), left out with a note.

A totals row often has no label at all: rep_id, period and name left blank and the amounts summed
with =SUM. Reporting it as "rep_id is blank" and "period is blank" sends HR looking for a missing
rep; so a row with a blank rep_id is held back until the whole table is read, and when its amounts
equal the sums of the rows of the whole file or of the month above it, it is named a totals row.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engine.factrow import FactRow
from engine.factsources import Table, located
from engine.factvalues import Value, as_number, as_text
from engine.periods import Month
from engine.problems import Problem
from engine.sheetcells import column_letters

#: The words that say "total", compared on the text's NFKC form in lower case (Ｔｏｔａｌ is total)...
_TOTALS_WORD = re.compile(r"\b(grand\s*)?(sub)?totals?\b|^\s*sum\b|^\s*all\s*$")
#: ...and the Chinese ones with every space removed: sheets align labels as 合 计 or 合\u3000计.
_TOTALS_CJK = re.compile(r"合计|合計|总计|總計|小计|小計|汇总|彙總|总和|共计|共計|累计|累計|总额|總額")
_SPACE = re.compile(r"\s+")


def _says_totals(text: str) -> bool:
    folded = (text if text.isascii() else unicodedata.normalize("NFKC", text)).lower()
    return _TOTALS_WORD.search(folded) is not None or (
        not folded.isascii() and _TOTALS_CJK.search(_SPACE.sub("", folded)) is not None
    )


def totals_label(
    cells: Mapping[int, Value] | list[str], rep_col: int | None, name_col: int | None
) -> tuple[int, str] | None:
    """(column, the word) that marks a row as a totals row, if any: in its rep_id or name, or anywhere in a
    row whose rep_id is blank (合计 often stands in the first column, whatever that column is)."""
    values = cells if isinstance(cells, Mapping) else dict(enumerate(cells, start=1))
    for col in (rep_col, name_col):
        if col is not None:
            text = as_text(values.get(col))
            if text and _says_totals(text):
                return col, text
    if rep_col is not None and not as_text(values.get(rep_col)):
        for at, value in values.items():
            text = value if isinstance(value, str) else None
            if text and _says_totals(text):
                return at, text.strip()
    return None


def looks_like_totals(text: str) -> bool:
    """A cheap first test for the fast path: any text the totals pattern could match."""
    return _says_totals(text)


def sum_rows(facts: list[FactRow]) -> list[tuple[FactRow, int]]:
    """The first or last row of a month whose target and actual both equal the sums of that month's
    other rows (at least three others), with how many rows it sums: a totals row without a word
    that says so. Where a totals row stands (top or bottom) keeps a rep who happens to equal the
    others' sum in a small hand-made table from being taken for one."""
    by_month: dict[Month, list[FactRow]] = defaultdict(list)
    last: Month | None = None
    rows: list[FactRow] = []
    for fact in facts:
        if fact.period is not last:  # a month's rows mostly come together and share one Month
            last = fact.period
            rows = by_month[last]
        rows.append(fact)
    found: list[tuple[FactRow, int]] = []
    for rows in by_month.values():
        if len(rows) < 4:
            continue
        target = sum((r.target for r in rows), Decimal(0))
        actual = sum((r.actual for r in rows), Decimal(0))
        ends = {min(rows, key=lambda r: r.row).row, max(rows, key=lambda r: r.row).row}
        found.extend(
            (r, len(rows) - 1) for r in rows if r.row in ends and 2 * r.target == target and 2 * r.actual == actual
        )
    return found


@dataclass
class _Unnamed:
    """A row with a blank rep_id and no totals word: its problems, held until the sums are known."""

    line: int
    target: Decimal | None
    actual: Decimal | None
    problems: list[Problem]


@dataclass
class Totals:
    """Totals rows found in one table: refused with their cell, or left out (`drop`) and listed."""

    table: Table
    drop: bool
    rep_col: int | None
    header: Mapping[int, str] = field(default_factory=dict)  # column -> its name, for the problem's field
    dropped: list[str] = field(default_factory=list)
    unnamed: list[_Unnamed] = field(default_factory=list)
    #: Rows held at most: a file of a million blank rep_ids is not a file of totals rows, and its
    #: problems must stay bounded (`ProblemList`).
    limit: int = 1000

    def found(self, line: int, why: str, col: int | None = None) -> None:
        """A totals row at `line`; `col` is the cell that says so (default: the rep_id cell)."""
        table, col = self.table, col if col is not None else self.rep_col
        cell = f"{column_letters(col)}{line}" if table.cell_names and col is not None else None
        if self.drop:
            self.dropped.append(f"{cell or f'{table.row_word} {line}'} ({why})")
            return
        table.problems.append(
            located(
                table.source,
                line,
                col if table.columns_located else None,
                self.header.get(col, "") if col is not None else "",
                (f"{cell}: " if cell else "")
                + f"this looks like a totals row ({why}), not a rep: Merit would pay it; delete the row, or leave"
                " totals rows out with --drop-totals (API: form field drop_totals=true)",
            )
        )

    def hold(self, line: int, cells: Mapping[int, Value], position: Mapping[str, int], problems: list[Problem]) -> None:
        """A row with a blank rep_id: `problems` are said later unless its amounts are sums."""
        if len(self.unnamed) >= self.limit:  # not a totals row among them: said now, in file order
            for problem in [p for h in self.unnamed for p in h.problems] + problems:
                self.table.problems.append(problem)  # one by one: `ProblemList.append` counts the rest
            self.unnamed.clear()
            self.limit = 0
            return
        amounts = (as_number(cells.get(position["target"]))[0], as_number(cells.get(position["actual"]))[0])
        self.unnamed.append(_Unnamed(line, *amounts, problems))

    def settle(self, facts: list[FactRow]) -> None:
        """Each held row: a totals row when its target and actual are the sums of the whole file's
        rows or of the month just above it (at least two rows), else its own problems."""
        for held in self.unnamed:
            why = _sums(held, facts)
            if why:
                self.found(held.line, why)
            else:
                for problem in held.problems:
                    self.table.problems.append(problem)

    def note(self, file: str) -> list[str]:
        if not self.dropped:
            return []
        sheet = f" from {self.table.source}" if self.table.source != file else ""
        return [f"left out {len(self.dropped)} totals row(s){sheet} (--drop-totals): " + "; ".join(self.dropped[:10])]


def _sums(held: _Unnamed, facts: list[FactRow]) -> str | None:
    """Why the held row is a totals row: its target and actual (those it has, one at least) are sums."""
    if held.target is None and held.actual is None:
        return None
    above = [f for f in facts if f.row < held.line]
    groups = [("the rows of the whole file", facts)]
    if above:
        month = max(above, key=lambda f: f.row).period
        groups.append((f"the {month} rows above it", [f for f in above if f.period == month]))
    for what, rows in groups:
        target, actual = sum((r.target for r in rows), Decimal(0)), sum((r.actual for r in rows), Decimal(0))
        if len(rows) >= 2 and held.target in (None, target) and held.actual in (None, actual):
            if held.target is not None and held.actual is not None:
                return f"rep_id is blank and its target and actual are the sums of {what} ({len(rows)})"
            only = "target" if held.target is not None else "actual"
            return f"rep_id is blank and its {only} is the sum of {what} ({len(rows)})"
    return None
