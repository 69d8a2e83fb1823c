"""One row of a fact table, checked: how its values become a `FactRow`.

Split from `engine.facts` by concern (the header is `engine.factheader`): a fast path takes the
rows that are plainly valid (most of a million-row CSV, and spreadsheet rows of text and numbers),
and `check`, which says what is wrong, takes every other row; `engine.facts` runs the table.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

from engine.factheader import Columns
from engine.factrow import (
    COUNT_COLUMNS,
    OPTIONAL_NUMBER_COLUMNS,
    REQUIRED_COLUMNS,
    STANDARD_NUMBER_COLUMNS,
    STANDARD_TEXT_COLUMNS,
    FactRow,
    fact_row,
)
from engine.factsources import Table, Value, as_number, as_text, is_blank, located
from engine.factvalues import MAX_TEXT, as_month, clean_text, float_noise, key_text, plain_text
from engine.periods import Month, parse_month
from engine.sheetcells import column_letters

_CACHE_LIMIT = 1024  # distinct texts a number column's cache keeps before it gives up
_KEY_COLUMNS = ("rep_id", "region", "product_line", "manager_id")


_NO_TEXTS: Mapping[str, str] = MappingProxyType({})


@lru_cache(maxsize=256)
def _month(text: str) -> Month:
    """One shared Month per distinct period text."""
    return parse_month(text)


class _NumberCells:
    """One number column as the fast path reads it: text -> Decimal, already checked for the column.

    Targets and counts repeat a lot, so their texts are remembered and every row shares one
    Decimal per distinct value (about a quarter of the memory a million rows take). A column
    whose values keep being new (actual, collected) stops remembering after _CACHE_LIMIT texts.
    """

    __slots__ = ("cache", "cents", "col", "grouped", "non_negative", "remembering", "whole")

    def __init__(self, col: int | None, non_negative: bool, whole: bool) -> None:
        self.col = col
        self.non_negative = non_negative
        self.whole = whole
        self.cache: dict[str, Decimal] = {}
        self.remembering = True
        self.grouped = self.cents = False  # seen: a text with thousands separators, an amount with cents

    def number(self, record: list[str]) -> Decimal | None:
        text = record[self.col]  # type: ignore[index]
        hit = self.cache.get(text)
        return hit if hit is not None else self.parse(text)

    def parse(self, text: str) -> Decimal | None:
        """A number that passes the column's checks; None when blank or when `check` must say why."""
        number, error = as_number(text)
        if number is None or error is not None or float_noise(text):
            return None  # float noise is rounded in `check`, which also counts it for a note
        if (self.non_negative and number < 0) or (self.whole and number != number.to_integral_value()):
            return None
        self.grouped = self.grouped or "," in text
        self.cents = self.cents or number != number.to_integral_value() or "." in text  # `.00`: decimals shown
        if self.remembering:
            if len(self.cache) < _CACHE_LIMIT:
                self.cache[text] = number
            else:  # values keep being new: stop remembering
                self.cache.clear()
                self.remembering = False
        return number


class RowChecker:
    """Validates one data row, collecting its problems."""

    def __init__(self, table: Table, columns: Columns, extras: tuple[str, ...]) -> None:
        self.table = table
        self.columns = columns
        self.extras = extras
        self.number_columns = set(STANDARD_NUMBER_COLUMNS) | set(extras)
        self.noise = 0  # values with binary-float noise, rounded to 15 significant digits
        self.grouped = self.cents = False  # amounts (check path) with thousands separators, with cents
        self.renamed = 0  # rep ids given in full-width (or other compatibility) characters
        self.unknown = tuple(
            n
            for n in columns.names
            if n not in self.number_columns and n not in STANDARD_TEXT_COLUMNS and n != "period"
        )
        self._plan_fast()

    def _plan_fast(self) -> None:
        """Where `fast` finds each value: 0-based positions, or no fast path at all.

        The fast path takes a CSV record whose every column has a name and whose values are all
        in the forms nobody needs to be told about; anything else goes through `check`, which
        says what is wrong. So `fast` never decides that a row is bad, only that it is plainly good.
        """
        self.fast_width = -1  # no record has this length: fast path off
        pos = self.columns.position
        width = len(self.table.header)
        if any(n not in pos for n in (*REQUIRED_COLUMNS, *self.extras)) or len(self.columns.header) != width:
            return
        self.fast_width = width

        def at(name: str) -> int | None:
            return None if name not in pos else pos[name] - 1

        self.fast_rep, self.fast_period = pos["rep_id"] - 1, pos["period"] - 1
        self.fast_target = _NumberCells(pos["target"] - 1, non_negative=True, whole=False)
        self.fast_actual = _NumberCells(pos["actual"] - 1, non_negative=True, whole=False)
        self.fast_texts = tuple(at(n) for n in ("name", "region", "product_line", "manager_id"))
        names = (*OPTIONAL_NUMBER_COLUMNS, *(e for e in self.extras if e not in STANDARD_NUMBER_COLUMNS))
        self.fast_numbers = tuple(
            (name, at(name), cells.cache, cells)
            for name in names
            for cells in [_NumberCells(at(name), name == "collected" or name in COUNT_COLUMNS, name in COUNT_COLUMNS)]
        )
        self.fast_unknown = tuple((n, pos[n] - 1) for n in self.unknown)
        self.fast_months: dict[str, Month] = {}
        self.fast_plain: set[str] = set()

    def display_rounded(self) -> bool:
        """Amounts written as a number format shows them (840,000) and never with cents: what Excel's
        CSV keeps of a sheet formatted `#,##0`, whose cents were in the cells but not in the file.
        An amount written with its decimals (`800,000.00`) shows a format that keeps them: no hint."""
        cells = [c for c in (getattr(self, "fast_target", None), getattr(self, "fast_actual", None)) if c]
        grouped = self.grouped or any(c.grouped for c in cells)
        cents = self.cents or any(c.cents for c in cells)
        cents = cents or any(c.cents for n, _, _, c in getattr(self, "fast_numbers", ()) if n == "collected")
        return grouped and not cents

    def fast(self, line: int, record: list[str]) -> FactRow | None:
        """The row as a fact when it is plainly valid; None sends it to `check`."""
        if len(record) != self.fast_width:
            return None
        rep_id = record[self.fast_rep].strip()
        if not rep_id or not rep_id.isascii() or not rep_id.isprintable() or len(rep_id) > 100:
            return None
        raw = record[self.fast_period]
        period = self.fast_months.get(raw)
        if period is None:
            try:
                period = self.fast_months[raw] = _month(raw)
            except ValueError:
                return None
        target = self.fast_target.number(record)
        if target is None or target <= 0:
            return None
        actual = self.fast_actual.number(record)
        if actual is None:
            return None
        numbers: dict[str, Decimal | None] = {}
        for column, col, cache, cells in self.fast_numbers:
            if col is None:
                numbers[column] = None
                continue
            text = record[col]
            value = cache.get(text)
            if value is None:
                if not text or text.isspace():
                    numbers[column] = None
                    continue
                value = cells.parse(text)
                if value is None:
                    return None
            numbers[column] = value
        c_name, c_region, c_line, c_manager = self.fast_texts
        name = None if c_name is None else record[c_name].strip() or None
        region = None if c_region is None else record[c_region].strip() or None
        product_line = None if c_line is None else record[c_line].strip() or None
        manager_id = None if c_manager is None else record[c_manager].strip() or None
        plain = self.fast_plain
        for shown in (name, region, product_line, manager_id):  # else `check` cleans or refuses it
            if shown is not None and shown not in plain:
                if len(shown) > 100 or not plain_text(shown):
                    return None
                if len(plain) < _CACHE_LIMIT:  # regions and managers repeat: each is tested once
                    plain.add(shown)
        for _, col in self.fast_unknown:
            if not record[col].isprintable():  # a control character: `check` refuses it
                return None
        intern = sys.intern  # ids, names, regions repeat every month
        return fact_row(
            intern(rep_id),
            period,
            target,
            actual,
            name and intern(name),
            region and intern(region),
            product_line and intern(product_line),
            manager_id and intern(manager_id),
            numbers,
            {n: intern(record[col].strip()) for n, col in self.fast_unknown} if self.fast_unknown else _NO_TEXTS,
            line,
        )

    def check(self, line: int, cells: Mapping[int, Value]) -> tuple[FactRow | None, tuple[str, Month] | None]:
        """The row as a fact (None if it has a problem) and its (rep_id, period) when both are valid."""
        self.line, self.cells, self.ok = line, cells, True
        for col, value in sorted(cells.items()):
            if col not in self.columns.header and not is_blank(value):
                self._report(col, "", f"column {col} has a value but no name in the header")
        rep_id, region, product_line, manager_id = (self._key(n) for n in _KEY_COLUMNS)
        rep_name = self._text("name")
        if rep_name is not None and len(rep_name) > MAX_TEXT["name"]:
            limit = f"name is {len(rep_name)} characters long; at most {MAX_TEXT['name']} are allowed"
            self._report(self.columns.position["name"], "name", limit)
        if "rep_id" in self.columns.position and is_blank(self._value("rep_id")):
            self._report(self.columns.position["rep_id"], "rep_id", "rep_id is blank")
        period = self._period()
        target = self._required_amount("target")
        actual = self._required_amount("actual")
        numbers: dict[str, Decimal | None] = {}
        for name in (*OPTIONAL_NUMBER_COLUMNS, *(e for e in self.extras if e not in STANDARD_NUMBER_COLUMNS)):
            numbers[name] = self._number(name)
        if target is not None and target <= 0:
            message = (
                "target is zero, so achievement (actual / target) cannot be computed"
                if target == 0
                else f"target is negative ({target})"
            )
            self._report(self.columns.position["target"], "target", message)
        if actual is not None and actual < 0:
            self._report(self.columns.position["actual"], "actual", f"actual is negative ({actual})")
        for name in ("collected", *COUNT_COLUMNS):
            value = numbers[name]
            if value is not None and value < 0:
                self._report(self.columns.position[name], name, f"{name} is negative ({value})")
            elif name in COUNT_COLUMNS and value is not None and value != value.to_integral_value():
                self._report(self.columns.position[name], name, f"{name} must be a whole number, not {value}")
        key = (rep_id, period) if rep_id is not None and period is not None else None
        if not self.ok or key is None or target is None or actual is None:
            return None, key
        fact = FactRow(
            rep_id=key[0],
            period=key[1],
            target=target,
            actual=actual,
            name=rep_name,
            region=region,
            product_line=product_line,
            manager_id=manager_id,
            numbers=numbers,
            texts={n: self._text(n) or "" for n in self.unknown} if self.unknown else _NO_TEXTS,
            row=line,
        )
        return fact, key

    def _report(self, column: int | None, name: str, message: str) -> None:
        self.ok = False
        shown = column if self.table.columns_located else None
        if shown is not None and "2," in message:  # a formula to fill down: from the column's first data cell
            first = f"{column_letters(shown)}{(self.table.header_line or 1) + 1}"
            message = message.replace("=ROUND(C2,", f"=ROUND({first},").replace("=TEXT(F2,", f"=TEXT({first},")
        if self.table.cell_names and column is not None:
            message = f"{column_letters(column)}{self.line}: {message}"
        self.table.problems.append(located(self.table.source, self.line, shown, name, message))

    def _value(self, name: str) -> Value:
        col = self.columns.position.get(name)
        return self.cells.get(col) if col is not None else None

    def _text(self, name: str) -> str | None:
        """A name or other text: NFKC; a NUL (which PostgreSQL cannot store) refused."""
        text = as_text(self._value(name))
        if text is None:
            return None
        if "\x00" in text:  # other control characters are shown escaped; a NUL cannot even be stored
            where = self.columns.position[name]
            self._report(where, name, f"{name} contains a NUL character (U+0000): retype it")
            return None
        return sys.intern(clean_text(text)) or None  # ids, names, regions repeat every month

    def _key(self, name: str) -> str | None:
        """An id or group key: NFKC, no invisible characters, within the database's size."""
        text, error = key_text(self._value(name), name)
        if error:
            self._report(self.columns.position[name], name, error)
            return None
        if text is not None and name == "rep_id" and text != as_text(self._value(name)):
            self.renamed += 1
        return None if text is None else sys.intern(text)

    def _period(self) -> Month | None:
        col = self.columns.position.get("period")
        if col is None:
            return None
        value = self.cells.get(col)
        if is_blank(value):
            self._report(col, "period", "period is blank")
            return None
        month, error = as_month(value)
        if error is not None:
            self._report(col, "period", error)
        return month

    def _number(self, name: str) -> Decimal | None:
        col = self.columns.position.get(name)
        if col is None:
            return None
        value = self.cells.get(col)
        number, error = as_number(value)
        if error is not None:
            self._report(col, name, error)
        elif isinstance(value, str) and float_noise(value.strip()):
            self.noise += 1
        if number is not None and name in ("target", "actual", "collected"):
            self.grouped = self.grouped or (isinstance(value, str) and "," in value)
            shown = isinstance(value, str) and "." in value  # `¥800,000.00`: the format shows the decimals
            self.cents = self.cents or shown or number != number.to_integral_value()
        return number

    def _required_amount(self, name: str) -> Decimal | None:
        col = self.columns.position.get(name)
        if col is None:
            return None
        if is_blank(self.cells.get(col)):
            self._report(col, name, f"{name} is blank")
            return None
        return self._number(name)


def row_rep(cells: Mapping[int, Value] | list[str], rep_col: int | None) -> str:
    """A row's rep_id as `RowChecker` reads it ("" when blank or absent)."""
    if rep_col is None:
        return ""
    if type(cells) is list:
        return cells[rep_col - 1].strip() if rep_col <= len(cells) else ""
    return as_text(cells.get(rep_col)) or ""  # type: ignore[union-attr]


def spreadsheet_record(cells: Mapping[int, Value], width: int) -> list[str]:
    """A spreadsheet row as the texts of a CSV record, for the fast path; [] when it holds anything
    but text and numbers (a date, an error cell: `check` says what they are) or lies beyond the header."""
    if not cells or max(cells) > width:
        return []
    record = [""] * width
    for col, value in cells.items():
        kind = type(value)
        if kind is str:
            record[col - 1] = value  # type: ignore[assignment]
        elif kind is Decimal:
            record[col - 1] = format(value, "f")
        else:
            return []
    return record
