"""The cell shape shared by the spreadsheet readers (.xlsx, .ods), and the limits they enforce.

Both formats are zips of XML; both readers stream that XML into the same sparse `SheetData` (a
row holds only the cells that have a value, so one cell in column ZZZ costs one cell, not 18,278),
and both stop as soon as a limit is passed, while parsing, so a hostile file costs little memory.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Literal

from engine.errors import MeritError

CellKind = Literal["text", "number", "bool", "date", "error", "formula"]

#: Excel keeps 15 significant decimal digits; anything longer in `<v>` is binary-float noise.
EXCEL_DIGITS = 15

_REF = re.compile(r"^([A-Za-z]{1,3})([0-9]+)$")
_EXCEL_CONTEXT = Context(prec=EXCEL_DIGITS, rounding=ROUND_HALF_EVEN)


class SheetError(MeritError, ValueError):
    """The bytes are not a workbook the reader can read; the message says why."""


@dataclass(frozen=True, slots=True)
class SheetLimits:
    """Bounds a fact sheet never comes near, checked while parsing.

    `ratio`/`floor`: the XML parts read may unpack to at most `ratio` times their packed size in
    the zip (at least `floor` bytes); padding the upload with parts never read buys nothing. Real
    workbooks unpack to 5-15 times; a zip bomb to hundreds. `part`: the unpacked size of each part
    other than the sheet and its strings (workbook, relationships, styles), `strings`: of the
    shared strings. `elements`: XML elements of each such part and of a sheet outside its cells
    (styles, column widths, merges...), `row_elements`: of one row (its cells and their parts).
    Every part is read as a stream and what was read is dropped, so memory follows these bounds.
    """

    rows: int = 1_048_576  # Excel's own row limit
    columns: int = 200  # a fact table has a dozen columns; column GR is far beyond any
    cells: int = 5_000_000
    ratio: int = 50
    floor: int = 32 * 1024 * 1024
    part: int = 8 * 1024 * 1024
    strings: int = 16 * 1024 * 1024
    elements: int = 250_000
    row_elements: int = 100_000
    merges: int = 100_000
    #: The caller's own cap on data rows (the service's import limit): reading stops at the first
    #: row over it, so a file of a million bad rows costs no more than the cap to refuse.
    data_rows: int | None = None

    def unpacked_budget(self, packed: int) -> int:
        """How many bytes the parts read may unpack to, given their packed size in the zip."""
        return max(self.floor, self.ratio * packed)


#: Excel's and LibreOffice's last column (XFD): a position beyond it is not a spreadsheet's.
MAX_COLUMNS = 16_384
#: How deep XML elements outside the cells may nest: spreadsheets' own parts stay under ten.
MAX_DEPTH = 100
_COUNT = re.compile(r"[0-9]{1,9}")


def whole_number(text: str, what: str) -> int:
    """A row number or repeat count written in the XML, its digits checked before `int` reads them.

    A 5,000-digit count is refused in words (Python's own `int` would answer with its
    `sys.set_int_max_str_digits()` text); no sheet needs more than 9 digits.
    """
    bare = text.strip()
    if _COUNT.fullmatch(bare):
        return int(bare)
    if bare.isascii() and bare.isdigit():
        raise SheetError(f"{what} is a {len(bare):,}-digit number, beyond any spreadsheet")
    shown = repr(bare) if len(bare) <= 20 else f"a {len(bare):,}-character text"
    raise SheetError(f"{what} is {shown}, not a whole number")


@dataclass(frozen=True, slots=True)
class Cell:
    """One non-empty cell: its kind and its raw text.

    `number` cells hold plain decimal text without exponent ("840000", "0.1"); `bool` cells hold
    "TRUE"/"FALSE"; `date` cells hold the ISO date ("2026-08-01"); `error` cells hold e.g.
    "#DIV/0!"; `formula` cells (a formula with no saved value) hold the formula, e.g. "=B2*1.05".
    """

    kind: CellKind
    text: str


@dataclass
class SheetData:
    """One sheet as read: sparse rows (row -> column -> cell, 1-based) and what is hidden in it."""

    name: str
    sheets: int = 1  # how many sheets the workbook has: problems name the sheet when there are several
    rows: dict[int, dict[int, Cell]] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)
    merged: list[str] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # (left, top, right, bottom) filled
    notes: list[str] = field(default_factory=list)

    def merge(self, left: int, top: int, right: int, bottom: int, budget: int, last_row: int) -> int:
        """Copy the top-left value of a merged range to its other cells (within the rows read).

        HR merges a region over its reps' rows; every one of those rows has that region. Returns
        the number of cells the range covers up to `last_row` (the last row read), all of them
        charged so that many overlapping ranges cannot make the work grow without adding cells;
        raises `SheetError` when that is more than `budget`.
        """
        value = self.rows.get(top, {}).get(left)
        if value is None:
            return 0
        bottom_read = min(bottom, last_row)
        covered = max(0, bottom_read - top + 1) * max(0, right - left + 1)
        if covered > budget:
            raise SheetError(f"the sheet {self.name!r} has too many cells once merged cells are filled")
        for r in range(top, bottom_read + 1):
            row = self.rows.setdefault(r, {})
            for c in range(left, right + 1):
                if row.get(c) is None:
                    row[c] = value
        self.merged.append(f"{column_letters(left)}{top}:{column_letters(right)}{bottom}")
        self.merges.append((left, top, right, bottom))
        return covered


def column_index(letters: str) -> int:
    """Map column letters to a 1-based index: "A" -> 1, "Z" -> 26, "AB" -> 28."""
    if not letters or not letters.isascii() or not letters.isalpha():
        raise SheetError(f"{letters!r} is not a column name")
    index = 0
    for ch in letters.upper():
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return index


def column_letters(index: int) -> str:
    """Map a 1-based column index to its letters: 1 -> "A", 28 -> "AB"."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def split_ref(ref: str) -> tuple[int, int]:
    """Split a cell reference into (1-based column, 1-based row): "AB12" -> (28, 12)."""
    m = _REF.match(ref.replace("$", ""))
    if not m or int(m.group(2)) < 1:
        raise SheetError(f"{ref!r} is not a cell reference")
    return column_index(m.group(1)), int(m.group(2))


def excel_number(raw: str) -> str:
    """The exact decimal a numeric cell's text stands for, as plain text.

    More than 15 significant digits is binary-float noise ("0.10000000000000001"), so it is
    rounded to 15; the result is normalized and written without exponent, so 181071.36 stays
    "181071.36" and 840000 stays "840000". Raises `SheetError` when `raw` is not a number.
    """
    if len(raw) > 400:
        raise SheetError("the number is too long")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise SheetError(f"{raw!r} is not a number") from None
    if not value.is_finite() or abs(value.adjusted()) > 400:
        raise SheetError(f"{raw!r} is not a number")
    if len(value.as_tuple().digits) > EXCEL_DIGITS:
        value = _EXCEL_CONTEXT.plus(value)
    text = format(value.normalize(_EXCEL_CONTEXT), "f")
    return "0" if text == "-0" else text


def serial_date(number: str, date1904: bool = False) -> str | None:
    """The ISO date of an Excel date serial ("46235" -> "2026-08-01"); None if out of range."""
    try:
        days = Decimal(number)
    except InvalidOperation:
        return None
    if not 1 <= days < 2958466:
        return None
    whole = int(days)
    base = datetime.date(1904, 1, 1) if date1904 else datetime.date(1899, 12, 30)
    if not date1904 and whole < 61:  # Excel's 1900-02-29 that never was
        base = datetime.date(1899, 12, 31)
    return (base + datetime.timedelta(days=whole)).isoformat()
