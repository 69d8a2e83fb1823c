"""Read one worksheet of an .xlsx workbook as raw cell text, streamed, never through float.

openpyxl hands numeric cells back as Python floats (0.1 arrives as 0.1000000000000000055…) and
pads every row of a read-only sheet out to the widest column (one cell in column ZZZ makes 18,278
cells per row), so this module reads the XML parts itself: a numeric cell's `<v>` holds the decimal
text Excel wrote, read straight into `Decimal`. Parts are parsed as a stream (`iterparse`) with
limits checked while parsing, and no part may unpack to more than a bounded multiple of the upload,
so an 870 KB file cannot become gigabytes (a zip bomb is a refused file to us).

What a person sees decides what is read: hidden sheets are never chosen silently (a workbook with
several visible sheets that hold data needs the sheet's name), hidden rows and columns are reported
to the caller, the value of a merged cell applies to every cell of the merge (HR merges a region
over its reps' rows), and a number with a date format is a date (Excel turns a typed `2026-08`
into one). This module knows nothing about facts; `XlsxError` messages are fit for a user.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from typing import IO
from xml.etree import ElementTree

from engine.sheetcells import (
    EXCEL_DIGITS,
    Cell,
    SheetData,
    SheetError,
    SheetLimits,
    column_index,
    column_letters,
    excel_number,
    serial_date,
    split_ref,
)

__all__ = [
    "Cell",
    "SheetData",
    "SheetLimits",
    "XlsxError",
    "column_index",
    "column_letters",
    "excel_number",
    "read_sheet",
    "split_ref",
]

XlsxError = SheetError

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
#: Built-in number formats that show a date (ECMA-376 18.8.30, plus the zh-CN ones 27-36, 50-58).
_DATE_FORMATS = frozenset((*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)))
_COLUMNS = {column_letters(i): i for i in range(1, 703)}  # A..ZZ: most references, without parsing
#: A number already in the form `excel_number` returns: no exponent, at most 15 digits, no trailing zero.
_PLAIN = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{0,14}[1-9])?")
_FORMAT_NOISE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def read_sheet(data: bytes, sheet: str | None = None, limits: SheetLimits | None = None) -> SheetData:
    """The chosen worksheet: `sheet` by name, else the only visible sheet that holds data."""
    limits = limits or SheetLimits()
    if data[:4] != b"PK\x03\x04":
        raise XlsxError(_not_a_zip(data))
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return _Workbook(archive, len(data), limits).read(sheet)
    except zipfile.BadZipFile:
        raise XlsxError("the file is not a readable .xlsx workbook (the zip archive is damaged)") from None
    except ElementTree.ParseError as e:
        raise XlsxError(f"the workbook contains malformed XML ({e})") from None
    except XlsxError:
        raise
    except (ValueError, KeyError) as e:
        raise XlsxError(f"the workbook is malformed ({e})") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
        raise XlsxError(f"the workbook cannot be read ({e})") from None


def _not_a_zip(data: bytes) -> str:
    """Why bytes named .xlsx are not one, in the words of the program that made them."""
    head = data[:512].lstrip().lower()
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return (
            "the file is a legacy Excel 97-2003 workbook (.xls) or a password-protected .xlsx: remove the"
            " password and save it as 'Excel Workbook (*.xlsx)'"
        )
    if head.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")):
        return (
            "the file is a web page or XML saved with a spreadsheet name: open it and save as 'Excel Workbook (*.xlsx)'"
        )
    if not data:
        return "the file is empty"
    return "the file is not an .xlsx workbook (it is not a zip archive); if it is CSV text, name it .csv"


def _local(tag: str) -> str:
    """The tag or attribute name without its XML namespace (transitional and strict both work)."""
    return tag.rpartition("}")[2]


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
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return _unescape("".join(parts))


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true")


class _Workbook:
    def __init__(self, archive: zipfile.ZipFile, upload: int, limits: SheetLimits) -> None:
        self.archive = archive
        self.part = archive.open  # a member of the in-memory zip, as a stream (no file is opened)
        self.names = set(archive.namelist())
        self.limits = limits
        self.budget = limits.unpacked_budget(upload)

    def _open(self, name: str) -> IO[bytes]:
        """A part as a stream; its unpacked size is charged to the budget before it is read."""
        if name not in self.names:
            raise XlsxError(f"the workbook has no part {name!r}; it is not an .xlsx workbook")
        size = self.archive.getinfo(name).file_size
        if size > self.budget:
            raise XlsxError(
                f"the workbook unpacks to more than {self.limits.ratio} times its size ({name} alone is"
                f" {size:,} bytes); it is refused as a possible zip bomb: save a copy with only the fact table"
            )
        self.budget -= size
        return self.part(name)

    def _xml(self, name: str) -> ElementTree.Element:
        with self._open(name) as stream:
            return ElementTree.parse(stream).getroot()

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, resolved target) of a part's relationships."""
        folder, _, base = part.rpartition("/")
        rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
        if rels not in self.names:
            return {}
        found = {}
        for rel in self._xml(rels):
            target = rel.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else _join(folder, target)
            found[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
        return found

    def read(self, wanted: str | None) -> SheetData:
        root_rels = self._relationships("")
        workbook = next((t for kind, t in root_rels.values() if kind.endswith("/officeDocument")), "xl/workbook.xml")
        rels = self._relationships(workbook)
        book = self._xml(workbook)
        date1904 = any(_local(e.tag) == "workbookPr" and _truthy(e.get("date1904")) for e in book)
        sheets: list[tuple[str, bool, str]] = []  # name, visible, part
        for element in book.iter():
            if _local(element.tag) == "sheet":
                rel = rels.get(element.get(_R_ID, ""))
                part = rel[1] if rel else f"xl/worksheets/sheet{len(sheets) + 1}.xml"
                sheets.append((element.get("name", ""), element.get("state", "visible") == "visible", part))
        if not sheets:
            raise XlsxError("the workbook has no worksheet")
        name, part = self._choose(sheets, wanted)
        shared_part = next((t for kind, t in rels.values() if kind.endswith("/sharedStrings")), "xl/sharedStrings.xml")
        styles_part = next((t for kind, t in rels.values() if kind.endswith("/styles")), "xl/styles.xml")
        shared = self._shared_strings(shared_part) if shared_part in self.names else []
        dates = self._date_styles(styles_part) if styles_part in self.names else frozenset()
        with self._open(part) as stream:
            sheet = _SheetReader(name, shared, dates, date1904, self.limits).read(stream)
        sheet.sheets = len(sheets)
        if wanted is None and len(sheets) > 1:
            sheet.notes.append(f"read the sheet {name!r}, the only visible one with data")
        elif any(n == name and not v for n, v, _ in sheets):
            sheet.notes.append(f"read the sheet {name!r}, which is hidden, because it was named")
        return sheet

    def _choose(self, sheets: list[tuple[str, bool, str]], wanted: str | None) -> tuple[str, str]:
        names = ", ".join(repr(n) for n, _, _ in sheets)
        if wanted is not None:
            for match in (lambda n: n == wanted, lambda n: n.strip().casefold() == wanted.strip().casefold()):
                found = [(n, p) for n, _, p in sheets if match(n)]
                if len(found) == 1:
                    return found[0]
            raise XlsxError(f"the workbook has no sheet {wanted!r}; its sheets are {names}")
        visible = [(n, p) for n, v, p in sheets if v]
        if len(visible) > 1:
            visible = [(n, p) for n, p in visible if self._has_data(p)] or visible[:1]
        if len(visible) == 1:
            return visible[0]
        if not visible:
            raise XlsxError(f"every sheet of the workbook is hidden ({names}): unhide the one to read or name it")
        shown = ", ".join(repr(n) for n, _ in visible)
        raise XlsxError(
            f"the workbook has {len(visible)} visible sheets with data ({shown}):"
            " name one with --sheet NAME (API: form field sheet)"
        )

    def _has_data(self, part: str) -> bool:
        """Whether a sheet holds any value, found by streaming to its first one."""
        if part not in self.names:
            return False
        with self._open(part) as stream:  # charged to the budget; stops at the first value
            for _, element in ElementTree.iterparse(stream):
                tag = _local(element.tag)
                if tag in ("v", "is", "f"):
                    return True
                if tag == "row":
                    element.clear()  # an empty row: nothing of it is kept
                elif tag == "sheetData":
                    return False
        return False

    def _shared_strings(self, part: str) -> list[str]:
        strings: list[str] = []
        with self._open(part) as stream:
            for _, element in ElementTree.iterparse(stream):
                if _local(element.tag) == "si":
                    strings.append(_string_item(element))
                    element.clear()
                    if len(strings) > self.limits.cells:
                        raise XlsxError(f"the workbook has more than {self.limits.cells:,} strings")
        return strings

    def _date_styles(self, part: str) -> frozenset[int]:
        """Indexes of the cell styles whose number format shows a date."""
        styles = self._xml(part)
        custom: dict[int, str] = {}
        xfs: list[int] = []
        for element in styles:
            if _local(element.tag) == "numFmts":
                for fmt in element:
                    custom[int(fmt.get("numFmtId", "-1"))] = fmt.get("formatCode", "")
            elif _local(element.tag) == "cellXfs":
                xfs = [int(xf.get("numFmtId", "0")) for xf in element if _local(xf.tag) == "xf"]
        return frozenset(i for i, fmt in enumerate(xfs) if _is_date_format(fmt, custom.get(fmt)))


def _join(folder: str, target: str) -> str:
    parts: list[str] = folder.split("/") if folder else []
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _is_date_format(fmt_id: int, code: str | None) -> bool:
    if code is None:
        return fmt_id in _DATE_FORMATS
    bare = _FORMAT_NOISE.sub("", code).lower()
    return any(ch in bare for ch in "ymd") and "general" not in bare


class _SheetReader:
    """Streams one worksheet's XML into sparse rows, checking the limits as cells arrive."""

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

    def read(self, stream: IO[bytes]) -> SheetData:
        sheet, limits = self.sheet, self.limits
        row_number = 0
        merges: list[str] = []
        data: ElementTree.Element | None = None
        ns = ""
        row_tag = c_tag = ""
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if data is None and tag.endswith("sheetData"):
                    data, ns = element, tag[: -len("sheetData")]
                    row_tag, c_tag = ns + "row", ns + "c"
                continue
            if tag == row_tag:  # a whole row, its cells read at once (fewer Python steps per cell)
                row_number = int(element.get("r") or row_number + 1)
                if row_number > limits.rows:
                    raise XlsxError(f"the sheet {sheet.name!r} has more than {limits.rows:,} rows")
                if _truthy(element.get("hidden")):
                    sheet.hidden_rows.add(row_number)
                self.column = 0
                for c in element:
                    if c.tag == c_tag:
                        self._cell(c, row_number)
                data.clear()  # type: ignore[union-attr]  # the rows read so far: nothing of them is kept
            elif tag == c_tag or (tag.startswith(ns) and tag[len(ns) :] in ("v", "f", "t", "is", "r", "rPh")):
                continue
            elif _local(tag) == "col":
                if _truthy(element.get("hidden")) or element.get("width", "").strip() in ("0", "0.0"):
                    low, high = int(element.get("min", "1")), int(element.get("max", "1"))
                    sheet.hidden_columns.update(range(low, min(high, limits.columns) + 1))
            elif _local(tag) == "mergeCell":
                merges.append(element.get("ref", ""))
        for ref in merges:
            self._merge(ref)
        return sheet

    def _cell(self, c: ElementTree.Element, row_number: int) -> None:
        ref = c.get("r")
        if ref:
            letters = ref.rstrip("0123456789")
            column = _COLUMNS.get(letters) or column_index(letters)
        else:
            column = self.column + 1
        self.column = column
        cell = self._value(c, ref or f"{column_letters(column)}{row_number}")
        if cell is None:
            return
        if column > self.limits.columns:
            raise XlsxError(
                f"the sheet {self.sheet.name!r} has a value in cell {column_letters(column)}{row_number}, beyond"
                f" column {column_letters(self.limits.columns)}: delete the columns to the right of the fact table"
            )
        self.cells += 1
        if self.cells > self.limits.cells:
            raise XlsxError(f"the sheet {self.sheet.name!r} has more than {self.limits.cells:,} cells")
        row = self.sheet.rows.get(row_number)
        if row is None:
            row = self.sheet.rows[row_number] = {}
        row[column] = cell

    def _value(self, c: ElementTree.Element, where: str) -> Cell | None:
        kind = c.get("t", "n")
        children = {_local(child.tag): child for child in c}
        if kind == "inlineStr":
            inline = children.get("is")
            return Cell("text", _string_item(inline)) if inline is not None else None
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
            return Cell("text", _unescape(raw))
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

    def _merge(self, ref: str) -> None:
        first, _, last = ref.partition(":")
        if last:
            (c1, r1), (c2, r2) = split_ref(first), split_ref(last)
            self.cells += self.sheet.merge(c1, r1, min(c2, self.limits.columns), r2, self.limits.cells - self.cells)
