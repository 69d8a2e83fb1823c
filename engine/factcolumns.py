"""Plainly valid CSV rows read a column at a time: the loader's bulk path (issue 14).

`engine.facts` reads a CSV in chunks of a few thousand records. `ColumnReader.facts` takes a
chunk whose every value is in the plainest form (amounts of digits with at most six decimals, ids
of printable ASCII, months the fast path knows, no totals word, no duplicate key) and builds its
`FactRow`s from whole columns: one regular-expression pass over each number column's joined text,
then `Decimal` per distinct text. Anything else (a blank rep id, "840,000", a space, a repeated
header, a totals row, a second row of a rep's month) makes it answer None, and the chunk goes
through the row-at-a-time path (`RowChecker.fast`, then `check`), which says what is wrong. So
this path never decides that a row is bad, and what it builds is exactly what `fast` builds for
the same rows (tests/test_fact_columns.py compares them).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import repeat
from types import MappingProxyType

from engine.factrow import COUNT_COLUMNS, FactRow, fact_rows
from engine.factrows import RowChecker, _month
from engine.facttotals import _TOTALS_WORD, looks_like_totals
from engine.factvalues import plain_text
from engine.periods import Month

#: rows per chunk: columns of a chunk are held at once, never the whole file's
CHUNK_ROWS = 8192

_DIGITS = r"[0-9]{1,15}(?:\.[0-9]{1,6})?"  # within as_number's limits: 15 digits before the point, 6 after
_PATTERNS = {  # fullmatch over a column's texts joined with "\n" (and one more "\n")
    "target": re.compile(rf"(?:{_DIGITS}\n)*"),
    "actual": re.compile(rf"(?:{_DIGITS}\n)*"),
    "collected": re.compile(rf"(?:(?:{_DIGITS})?\n)*"),
    "count": re.compile(r"(?:(?:[0-9]{1,15}(?:\.0{1,6})?)?\n)*"),
    "extra": re.compile(rf"(?:(?:-?{_DIGITS})?\n)*"),
}
_LONGEST = 16  # characters of a number: a longer one may be float noise (`float_noise`), which `check` rounds
_ZERO = re.compile(r"^[0.]+$", re.MULTILINE)  # a target of 0 (refused by `check`)
_CENTS = re.compile(r"\.[0-9]")  # an amount written with decimals (`RowChecker.display_rounded`)
#: printable ASCII, no space at either end, at most 100 characters: `fast`'s rep_id, already stripped
_REP_IDS = re.compile(r"(?:[!-~](?:[ -~]{0,98}[!-~])?\n)*")
#: the same or blank: a name, region, ... that `fast` takes as it is (`plain_text`, at most 100 characters)
_PLAIN_TEXTS = re.compile(r"(?:(?:[!-~](?:[ -~]{0,98}[!-~])?)?\n)*")
#: `facttotals._TOTALS_WORD` over many lower-cased ASCII texts at once (finds at least what it finds in each)
_TOTALS_LINES = re.compile(_TOTALS_WORD.pattern, re.MULTILINE)
_SHARED = 1024  # distinct texts of a column whose values share one Decimal each (as `_NumberCells`)
_NO_TEXTS: MappingProxyType[str, str] = MappingProxyType({})


def _joined(texts: Sequence[str]) -> str | None:
    """The texts joined with "\n" and ended by one; None when a text holds a line break itself."""
    joined = "\n".join(texts) + "\n"
    return joined if joined.count("\n") == len(texts) else None


def _totals_in(texts: Iterable[str]) -> bool:
    """Whether any text may be a totals label (a superset of `looks_like_totals` over each)."""
    distinct = set(texts)
    joined = "\n".join(distinct)
    if joined.isascii():
        lower = joined.lower()  # every totals word has one of these in it
        if "tota" not in lower and "sum" not in lower and "all" not in lower:
            return False
        return _TOTALS_LINES.search(lower) is not None
    return any(map(looks_like_totals, distinct))


class ColumnReader:
    """Builds a chunk's facts a column at a time, for one table's `RowChecker`."""

    def __init__(self, checker: RowChecker, first_row: dict[Month, dict[str, int]]) -> None:
        self.checker = checker
        self.first_row = first_row  # month -> rep_id -> its row: shared with the row path
        self.width = checker.fast_width
        self.months: dict[str, Month] = {}
        self.shared: dict[str, dict[str, Decimal | None]] = {}
        self.texts: dict[str, str | None] = {}  # raw text of a name/region/... -> its stripped, interned form
        if self.width < 0:
            return
        self.numbers = tuple((name, col, self._kind(name)) for name, col, _, _ in checker.fast_numbers)
        self.unknown = checker.fast_unknown

    @staticmethod
    def _kind(name: str) -> str:
        return "collected" if name == "collected" else "count" if name in COUNT_COLUMNS else "extra"

    def facts(self, chunk: Sequence[tuple[int, object]]) -> list[FactRow] | None:
        """The chunk's facts, or None: the row path must read it (it is not plainly valid throughout)."""
        width = self.width
        if width < 0 or not chunk:
            return None
        records = [r for _, r in chunk]
        if type(records[0]) is not list or set(map(len, records)) != {width}:  # type: ignore[arg-type]
            return None  # a spreadsheet's rows (one table's rows are all of one kind), or a short record
        columns: list[tuple[str, ...]] = list(zip(*records, strict=True))
        c = self.checker
        reps = columns[c.fast_rep]
        joined = _joined(reps)
        if joined is None or not joined.isascii() or _REP_IDS.fullmatch(joined) is None:
            return None
        periods = self._periods(columns[c.fast_period])
        targets = self._amounts("target", "target", columns[c.fast_target.col])  # type: ignore[index]
        actuals = self._amounts("actual", "actual", columns[c.fast_actual.col])  # type: ignore[index]
        if periods is None or targets is None or actuals is None:
            return None
        numbers = self._numbers(columns, len(records))
        texts = [[None] * len(records) if col is None else self._texts(columns[col]) for col in c.fast_texts]
        if numbers is None or any(t is None for t in texts):
            return None
        names, regions, lines, managers = texts
        unknown = self._unknown(columns, len(records))
        if unknown is None or _totals_in(reps) or _totals_in(n for n in names if n):  # type: ignore[union-attr]
            return None
        rows = [line for line, _ in chunk]
        if not self._first_rows(reps, columns[c.fast_period], periods, rows):
            return None  # a rep's second row for a month: the row path names both rows
        intern = sys.intern
        reps = tuple(map(intern, reps))
        columns_of_rows = (reps, periods, targets, actuals, names, regions, lines, managers, numbers, unknown, rows)
        return fact_rows(len(rows), columns_of_rows)  # type: ignore[arg-type]  # texts: None was answered above

    def _first_rows(
        self, reps: Sequence[str], texts: Sequence[str], periods: Sequence[Month], rows: Sequence[int]
    ) -> bool:
        """Notes each row as its rep's row of its month; False (noting nothing) if one has one already."""
        distinct = set(texts)
        if len(distinct) != len(set(map(self.months.__getitem__, distinct))):
            return False  # two spellings of one month: the row path compares months
        if len(distinct) == 1:
            parts = [(periods[0], dict(zip(reps, rows, strict=True)))]
        else:
            parts = [
                (self.months[t], {r: n for p, r, n in zip(texts, reps, rows, strict=True) if p == t}) for t in distinct
            ]
        if sum(len(firsts) for _, firsts in parts) != len(rows):
            return False
        if any(not self.first_row.get(month, {}).keys().isdisjoint(firsts) for month, firsts in parts):
            return False
        for month, firsts in parts:
            self.first_row.setdefault(month, {}).update(firsts)
        return True

    def _periods(self, texts: Sequence[str]) -> list[Month] | None:
        months = self.months
        for text in set(texts).difference(months):
            try:
                months[text] = _month(text)
            except ValueError:
                return None
        return list(map(months.__getitem__, texts))

    def _amounts(self, name: str, kind: str, texts: Sequence[str]) -> list[Decimal | None] | None:
        """A number column's values when every text is a plain number of its kind (blank: None)."""
        joined = _joined(texts)
        if joined is None or _PATTERNS[kind].fullmatch(joined) is None or max(map(len, texts)) > _LONGEST:
            return None
        if kind == "target" and _ZERO.search(joined) is not None:
            return None  # a target of zero: `check` says why it cannot be
        if name in ("target", "actual", "collected") and not self.checker.cents and _CENTS.search(joined):
            self.checker.cents = True
        return self._decimals(name, texts)

    def _decimals(self, key: str, texts: Sequence[str]) -> list[Decimal | None]:
        distinct = set(texts)
        if len(distinct) > _SHARED:  # values keep being new (actual): one Decimal each
            if "" in distinct:
                return [Decimal(t) if t else None for t in texts]
            return list(map(Decimal, texts))
        shared = self.shared.setdefault(key, {})
        for text in distinct.difference(shared):
            shared[text] = Decimal(text) if text else None
        if len(shared) > 4 * _SHARED:
            self.shared[key] = {}  # the next chunk starts again
        return list(map(shared.__getitem__, texts))

    def _numbers(self, columns: list[tuple[str, ...]], n: int) -> list[dict[str, Decimal | None]] | None:
        """Each row's `numbers`, the optional and extra columns in `fast`'s order."""
        names = []
        values: list[Iterable[Decimal | None]] = []
        for name, col, kind in self.numbers:
            names.append(name)
            if col is None:
                values.append(repeat(None, n))
                continue
            column = self._amounts(name, kind, columns[col])
            if column is None:
                return None
            values.append(column)
        if not names:
            return [{} for _ in range(n)]
        return list(map(dict, map(zip, repeat(names), zip(*values, strict=True))))

    def _texts(self, texts: Sequence[str]) -> list[str | None] | None:
        """A name/region/product line/manager column, stripped (blank: None), when `fast` takes every text."""
        distinct = set(texts)
        joined = _joined(list(distinct))
        if joined is not None and joined.isascii() and _PLAIN_TEXTS.fullmatch(joined) is not None:
            plain: dict[str, str | None] = dict(zip(distinct, map(sys.intern, distinct), strict=True))
            if "" in plain:  # the others are already stripped and plain
                plain[""] = None
            return list(map(plain.__getitem__, texts))
        if len(self.texts) > 4 * _SHARED:
            self.texts.clear()
        known = self.texts if len(distinct) <= _SHARED else {}  # regions repeat; names are new in every chunk
        for raw in distinct.difference(known):
            shown = raw.strip() or None
            if shown is not None and (len(shown) > 100 or not plain_text(shown)):
                return None
            known[raw] = shown and sys.intern(shown)
        return list(map(known.__getitem__, texts))

    def _unknown(self, columns: list[tuple[str, ...]], n: int) -> Sequence[object] | None:
        """Each row's `texts` (the columns Merit does not know), when every one is printable."""
        if not self.unknown:
            return [_NO_TEXTS] * n
        names = [name for name, _ in self.unknown]
        values = []
        for _, col in self.unknown:
            column = columns[col]
            if not all(map(str.isprintable, set(column))):
                return None
            values.append([sys.intern(t.strip()) for t in column])
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
