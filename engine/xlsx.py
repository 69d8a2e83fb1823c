"""Read the first worksheet of an .xlsx workbook as raw cell text, never through float.

openpyxl hands numeric cells back as Python floats, so an amount typed as 0.1 arrives as
0.1000000000000000055… and money stops being exact to the cent. An .xlsx file is a zip of XML
parts, and a numeric cell stores the decimal text Excel wrote (`<v>181071.36</v>`), so reading
that text straight into `Decimal` keeps every cent. Only what the facts loader needs is read: the
first sheet, shared strings and inline strings. Styles (and therefore dates) are ignored on
purpose: a period must be typed as text, and the loader says so when it is not.

This module knows nothing about facts; it returns rows of typed raw strings and raises
`XlsxError` (with a message fit for a user) when the bytes are not a readable workbook.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from io import BytesIO
from typing import Literal
from xml.etree import ElementTree

from engine.errors import MeritError

CellKind = Literal["text", "number", "bool", "date", "error", "formula"]

#: Excel keeps 15 significant decimal digits; anything longer in `<v>` is binary-float noise.
EXCEL_DIGITS = 15
#: Refuse parts that would inflate beyond this (a zip bomb is a corrupt file to us).
MAX_PART_BYTES = 256 * 1024 * 1024

_REF = re.compile(r"^([A-Za-z]{1,3})([0-9]+)$")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_EXCEL_CONTEXT = Context(prec=EXCEL_DIGITS, rounding=ROUND_HALF_EVEN)


class XlsxError(MeritError, ValueError):
    """The bytes are not a workbook this reader can read; the message says why."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One non-empty cell: its kind and its raw text.

    `number` cells hold plain decimal text without exponent ("840000", "0.1"); `bool` cells hold
    "TRUE"/"FALSE"; `date` cells hold Excel's ISO text; `error` cells hold e.g. "#DIV/0!";
    `formula` cells (a formula with no saved value) hold the formula, e.g. "=B2*1.05".
    """

    kind: CellKind
    text: str


@dataclass(frozen=True, slots=True)
class SheetRow:
    """A row of the sheet: its 1-based row number and its cells, index 0 being column A."""

    number: int
    cells: tuple[Cell | None, ...]


def column_index(letters: str) -> int:
    """Map column letters to a 1-based index: "A" -> 1, "Z" -> 26, "AB" -> 28."""
    if not letters or not letters.isascii() or not letters.isalpha():
        raise XlsxError(f"{letters!r} is not a column name")
    index = 0
    for ch in letters.upper():
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return index


def split_ref(ref: str) -> tuple[int, int]:
    """Split a cell reference into (1-based column, 1-based row): "AB12" -> (28, 12)."""
    m = _REF.match(ref.replace("$", ""))
    if not m or int(m.group(2)) < 1:
        raise XlsxError(f"{ref!r} is not a cell reference")
    return column_index(m.group(1)), int(m.group(2))


def excel_number(raw: str) -> str:
    """The exact decimal a numeric cell's `<v>` text stands for, as plain text.

    More than 15 significant digits is binary-float noise ("0.10000000000000001"), so it is
    rounded to 15; the result is normalized and written without exponent, so 181071.36 stays
    "181071.36" and 840000 stays "840000". Raises `XlsxError` when `raw` is not a number.
    """
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise XlsxError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise XlsxError(f"{raw!r} is not a number")
    if len(value.as_tuple().digits) > EXCEL_DIGITS:
        value = _EXCEL_CONTEXT.plus(value)
    text = format(value.normalize(_EXCEL_CONTEXT), "f")
    return "0" if text == "-0" else text


def read_first_sheet(data: bytes) -> list[SheetRow]:
    """Rows of the workbook's first worksheet, in row order; rows with no cells are left out."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return _Workbook(archive).first_sheet_rows()
    except zipfile.BadZipFile:
        raise XlsxError("the file is not an .xlsx workbook (it is not a zip archive)") from None
    except ElementTree.ParseError as e:
        raise XlsxError(f"the workbook contains malformed XML ({e})") from None
    except XlsxError:
        raise
    except ValueError as e:
        raise XlsxError(f"the workbook is malformed ({e})") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
        raise XlsxError(f"the workbook cannot be read ({e})") from None


def _local(tag: str) -> str:
    """The tag or attribute name without its XML namespace (transitional and strict both work)."""
    return tag.rpartition("}")[2]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _unescape(text: str) -> str:
    """Excel writes control characters as `_xHHHH_` inside strings."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _string_item(element: ElementTree.Element) -> str:
    """Text of a shared-string `<si>` or inline `<is>`: plain `<t>` or rich-text runs, no phonetics."""
    parts: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in _children(child, "t"))
    return _unescape("".join(parts))


class _Workbook:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = set(archive.namelist())

    def _xml(self, name: str) -> ElementTree.Element:
        if name not in self.names:
            raise XlsxError(f"the workbook has no part {name!r}; it is not an .xlsx workbook")
        if self.archive.getinfo(name).file_size > MAX_PART_BYTES:
            raise XlsxError(f"the workbook part {name!r} is too large")
        return ElementTree.fromstring(self.archive.read(name))

    def _relationships(self, part: str) -> list[ElementTree.Element]:
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        if rels not in self.names:
            return []
        return _children(self._xml(rels), "Relationship")

    @staticmethod
    def _resolve(part: str, target: str) -> str:
        if target.startswith("/"):
            return target.lstrip("/")
        return posixpath.normpath(posixpath.join(posixpath.dirname(part), target))

    def _workbook_part(self) -> str:
        for rel in self._relationships(""):
            if rel.get("Type", "").endswith("/officeDocument"):
                return self._resolve("", rel.get("Target", ""))
        return "xl/workbook.xml"

    def first_sheet_rows(self) -> list[SheetRow]:
        workbook = self._workbook_part()
        rels = {rel.get("Id"): rel for rel in self._relationships(workbook)}
        sheets_element = _child(self._xml(workbook), "sheets")
        sheets = _children(sheets_element, "sheet") if sheets_element is not None else []
        if not sheets:
            raise XlsxError("the workbook has no worksheet")
        rel_id = next((v for k, v in sheets[0].attrib.items() if _local(k) == "id" and "}" in k), None)
        rel = rels.get(rel_id)
        sheet_part = self._resolve(workbook, rel.get("Target", "")) if rel is not None else "xl/worksheets/sheet1.xml"
        shared = self._shared_strings(workbook, list(rels.values()))
        return _sheet_rows(self._xml(sheet_part), shared)

    def _shared_strings(self, workbook: str, rels: list[ElementTree.Element]) -> list[str]:
        part = "xl/sharedStrings.xml"
        for rel in rels:
            if rel.get("Type", "").endswith("/sharedStrings"):
                part = self._resolve(workbook, rel.get("Target", ""))
        if part not in self.names:
            return []
        return [_string_item(si) for si in _children(self._xml(part), "si")]


def _sheet_rows(sheet: ElementTree.Element, shared: list[str]) -> list[SheetRow]:
    data = _child(sheet, "sheetData")
    if data is None:
        return []
    rows: dict[int, dict[int, Cell]] = {}
    row_number = 0
    for row in _children(data, "row"):
        row_number = int(row.get("r", row_number + 1))
        cells = rows.setdefault(row_number, {})
        column = 0
        for c in _children(row, "c"):
            ref = c.get("r")
            column = split_ref(ref)[0] if ref else column + 1
            cell = _cell(c, shared, ref or f"column {column} of row {row_number}")
            if cell is not None:
                cells[column] = cell
    result: list[SheetRow] = []
    for number in sorted(rows):
        cells = rows[number]
        if cells:
            width = max(cells)
            result.append(SheetRow(number, tuple(cells.get(i) for i in range(1, width + 1))))
    return result


def _cell(c: ElementTree.Element, shared: list[str], where: str) -> Cell | None:
    kind = c.get("t", "n")
    if kind == "inlineStr":
        inline = _child(c, "is")
        return Cell("text", _string_item(inline)) if inline is not None else None
    v = _child(c, "v")
    raw = v.text if v is not None else None
    if raw is None:
        f = _child(c, "f")  # a formula whose value was never saved (written by a program, not Excel)
        return Cell("formula", "=" + (f.text or "")) if f is not None and f.text else None
    if kind == "s":
        try:
            return Cell("text", shared[int(raw)])
        except (ValueError, IndexError):
            raise XlsxError(f"cell {where} points at a shared string that does not exist") from None
    if kind == "str":
        return Cell("text", _unescape(raw))
    if kind == "b":
        return Cell("bool", "TRUE" if raw.strip() in ("1", "true") else "FALSE")
    if kind == "e":
        return Cell("error", raw)
    if kind == "d":
        return Cell("date", raw)
    if not raw.strip():
        return None
    try:
        return Cell("number", excel_number(raw))
    except XlsxError:
        return Cell("error", raw)
