"""The worksheet part of an .xlsx, streamed into sparse rows with every limit checked as it arrives.

`engine.xlsx` opens the workbook, picks the sheet and reads shared strings and date styles; this
module reads the chosen sheet's XML: cells from their stored text (never through float), hidden
rows and columns noted, merges filled, and row, column, cell, element and merge counts bounded
while parsing, so a small hostile file cannot cost more memory than the limits allow.
"""

from __future__ import annotations

import bisect
import itertools
import re
from array import array
from collections.abc import Iterator
from typing import IO
from xml.etree import ElementTree

from engine.sheetcells import (
    EXCEL_DIGITS,
    MAX_COLUMNS,
    MAX_DEPTH,
    Cell,
    SheetData,
    SheetError,
    SheetLimits,
    column_index,
    column_letters,
    excel_number,
    serial_date,
    split_ref,
    whole_number,
)

XlsxError = SheetError

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_COLUMNS = {column_letters(i): i for i in range(1, 703)}  # A..ZZ: most references, without parsing
#: A number already in the form `excel_number` returns: no exponent, at most 15 digits, no trailing zero.
_PLAIN = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{0,14}[1-9])?")


def local_name(tag: str) -> str:
    """The tag or attribute name without its XML namespace (transitional and strict both work)."""
    return tag.rpartition("}")[2]


def unescape(text: str) -> str:
    """Excel writes control characters as `_xHHHH_` inside strings."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def string_item(element: ElementTree.Element) -> str:
    """Text of a shared-string `<si>` or inline `<is>`: plain `<t>` or rich-text runs, no phonetics."""
    parts: list[str] = []
    for child in element:
        name = local_name(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if local_name(t.tag) == "t")
    return unescape("".join(parts))


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true")


def zero_height(row: ElementTree.Element) -> bool:
    """A row of height 0 (`ht="0"`, or a custom height with none given, as openpyxl writes 0): hidden."""
    height = row.get("ht")
    if height is None:
        return truthy(row.get("customHeight"))
    try:
        return float(height) == 0
    except ValueError:
        return False


def among(numbers: array[int], rows: dict[int, dict[int, Cell]]) -> Iterator[int]:
    """The rows of `rows` that are in `numbers` (in ascending order, as a sheet writes them)."""
    if any(a >= b for a, b in itertools.pairwise(numbers)):
        numbers = array("l", sorted(set(numbers)))  # rows out of order: a program's file, not Excel's
    for row in rows:
        i = bisect.bisect_left(numbers, row)
        if i < len(numbers) and numbers[i] == row:
            yield row


class SheetReader:
    """Streams one worksheet's XML into sparse rows, checking the limits as cells arrive.

    A row's elements are kept until the row ends (its cells are then read at once: fewer Python
    steps per cell) and dropped; every element outside the rows is dropped as soon as it ends.
    Both are counted, so neither a row of millions of empty cells nor millions of column widths
    or merges cost more than the limits allow.
    """

    def __init__(
        self, name: str, shared: list[str], dates: frozenset[int], date1904: bool, limits: SheetLimits
    ) -> None:
        self.sheet = SheetData(name)
        self.shared = shared
        self.dates = dates
        self.date1904 = date1904
        self.limits = limits
        self.cells = 0
        self.column = 0
        self.c_tag = ""
        self.merge_refs: list[str] = []
        self.hidden = array("l")  # hidden rows, 4-8 bytes each: only those that end up holding data are kept

    def read(self, stream: IO[bytes]) -> SheetData:
        c_tag = ""
        for row_number, row in self._rows(stream):
            c_tag = c_tag or self.c_tag
            self.column = 0
            for c in row:
                if c.tag == c_tag:
                    self._cell(c, row_number)
        last_row = max(self.sheet.rows, default=0)
        for ref in self.merge_refs:
            self._merge(ref, last_row)
        self.sheet.hidden_rows.update(among(self.hidden, self.sheet.rows))
        return self.sheet

    def has_value(self, stream: IO[bytes]) -> bool:
        """Whether any cell holds a value, formula or inline string, read up to the first one."""
        values: set[str] = set()
        for _, row in self._rows(stream):
            values = values or {self.c_tag[: -len("c")] + name for name in ("v", "is", "f")}
            if any(child.tag in values for c in row for child in c):
                return True
        return False

    def _rows(self, stream: IO[bytes]) -> Iterator[tuple[int, ElementTree.Element]]:
        """Each `<row>` with its number once it has ended; column widths and merges are noted on the way."""
        sheet, limits = self.sheet, self.limits
        row_number = 0
        stack: list[ElementTree.Element] = []  # the open elements outside rows
        row: ElementTree.Element | None = None  # the row being read
        row_tag = ""
        inside = outside = columns = 0
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            if row is not None:
                if event == "start":
                    inside += 1
                    if inside > limits.row_elements:
                        raise XlsxError(
                            f"the sheet {sheet.name!r} has more than {limits.row_elements:,} XML elements in row"
                            f" {row_number} (a row has at most {MAX_COLUMNS:,} cells); it is not a fact table's row"
                        )
                elif element is row:
                    yield row_number, row
                    stack[-1].remove(row)  # read: nothing of it is kept
                    row = None
                continue
            tag = element.tag
            if event == "start":
                if tag == row_tag:
                    row, inside = element, 0
                    number = element.get("r")
                    what = f"the sheet {sheet.name!r} has a row whose number"
                    row_number = whole_number(number, what) if number is not None else row_number + 1
                    if row_number > limits.rows:
                        raise XlsxError(f"the sheet {sheet.name!r} has more than {limits.rows:,} rows")
                    if truthy(element.get("hidden")) or zero_height(element):
                        self.hidden.append(row_number)
                    continue
                outside += 1
                if outside > limits.elements:
                    raise XlsxError(
                        f"the sheet {sheet.name!r} has more than {limits.elements:,} XML elements outside its"
                        " cells (column widths, merges, formatting); save a copy with only the fact table"
                    )
                stack.append(element)
                if len(stack) > MAX_DEPTH:
                    raise XlsxError(f"the sheet {sheet.name!r} nests XML elements more than {MAX_DEPTH} deep")
                if not row_tag and tag.endswith("sheetData"):
                    ns = tag[: -len("sheetData")]
                    row_tag, self.c_tag = ns + "row", ns + "c"
                continue
            stack.pop()
            name = local_name(tag)
            if name == "col":
                columns += 1
                if columns > MAX_COLUMNS:
                    raise XlsxError(f"the sheet {sheet.name!r} has more than {MAX_COLUMNS:,} column entries (<col>)")
                self._column(element)
            elif name == "mergeCell":
                if len(self.merge_refs) >= limits.merges:
                    raise XlsxError(f"the sheet {sheet.name!r} has more than {limits.merges:,} merged ranges")
                self.merge_refs.append(element.get("ref", ""))
            if stack:
                stack[-1].remove(element)  # the only child left: the earlier ones were removed

    def _column(self, col: ElementTree.Element) -> None:
        if truthy(col.get("hidden")) or col.get("width", "").strip() in ("0", "0.0"):
            what = f"the sheet {self.sheet.name!r} has a column entry (<col>) whose first or last column"
            low, high = whole_number(col.get("min", "1"), what), whole_number(col.get("max", "1"), what)
            self.sheet.hidden_columns.update(range(low, min(high, self.limits.columns) + 1))

    def _cell(self, c: ElementTree.Element, row_number: int) -> None:
        self.cells += 1  # every cell counts, with a value or without
        if self.cells > self.limits.cells:
            raise XlsxError(f"the sheet {self.sheet.name!r} has more than {self.limits.cells:,} cells")
        ref = c.get("r")
        if ref:
            letters = ref.rstrip("0123456789")
            column = _COLUMNS.get(letters) or (column_index(letters) if len(letters) <= 3 else MAX_COLUMNS + 1)
        else:
            column = self.column + 1
        self.column = column
        cell = self._value(c, ref or f"{column_letters(column)}{row_number}")
        if cell is None:
            return
        if column > self.limits.columns:
            where = f"{column_letters(column)}{row_number}" if column <= MAX_COLUMNS else (ref or "")[:20]
            raise XlsxError(
                f"the sheet {self.sheet.name!r} has a value in cell {where}, beyond"
                f" column {column_letters(self.limits.columns)}: delete the columns to the right of the fact table"
            )
        row = self.sheet.rows.get(row_number)
        if row is None:
            row = self.sheet.rows[row_number] = {}
        row[column] = cell

    def _value(self, c: ElementTree.Element, where: str) -> Cell | None:
        kind = c.get("t", "n")
        children = {local_name(child.tag): child for child in c}
        if kind == "inlineStr":
            inline = children.get("is")
            return Cell("text", string_item(inline)) if inline is not None else None
        v = children.get("v")
        raw = v.text if v is not None else None
        if raw is None:
            f = children.get("f")  # a formula whose value was never saved (written by a program, not Excel)
            return Cell("formula", "=" + (f.text or "")) if f is not None and f.text else None
        if kind == "s":
            try:
                return Cell("text", self.shared[int(raw)])
            except (ValueError, IndexError):
                raise XlsxError(f"cell {where} points at a shared string that does not exist") from None
        if kind == "str":
            return Cell("text", unescape(raw))
        if kind == "b":
            return Cell("bool", "TRUE" if raw.strip() in ("1", "true") else "FALSE")
        if kind == "e":
            return Cell("error", raw)
        if kind == "d":
            return Cell("date", raw.strip()[:10])
        if not raw.strip():
            return None
        try:
            number = raw if len(raw) <= EXCEL_DIGITS and _PLAIN.fullmatch(raw) else excel_number(raw)
        except XlsxError:
            return Cell("error", raw)
        style = c.get("s")
        if style is not None and style.isdigit() and int(style) in self.dates:
            day = serial_date(number, self.date1904)
            if day is not None:
                return Cell("date", day)
        return Cell("number", number)

    def _merge(self, ref: str, last_row: int) -> None:
        first, _, last = ref.partition(":")
        if last:
            (c1, r1), (c2, r2) = split_ref(first), split_ref(last)
            budget = self.limits.cells - self.cells
            self.cells += self.sheet.merge(c1, r1, min(c2, self.limits.columns), r2, budget, last_row)
