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
from collections.abc import Iterator
from io import BytesIO
from typing import IO
from xml.etree import ElementTree

from engine.sheetcells import (
    MAX_DEPTH,
    Cell,
    SheetData,
    SheetError,
    SheetLimits,
    column_index,
    column_letters,
    excel_number,
    split_ref,
)
from engine.xlsxsheet import SheetReader, local_name, truthy, unescape

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

_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
#: Built-in number formats that show a date (ECMA-376 18.8.30, plus the zh-CN ones 27-36, 50-58).
#: The fewest bytes of sheet XML a cell using a shared string takes (`<c t="s"><v>7</v></c>` is 20).
CELL_BYTES = 16
#: XML elements a shared string may take on average (`<si>`, `<t>`, formatted runs and their parts).
STRING_ELEMENTS = 16
_DATE_FORMATS = frozenset((*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)))
_FORMAT_NOISE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def read_sheet(data: bytes, sheet: str | None = None, limits: SheetLimits | None = None) -> SheetData:
    """The chosen worksheet: `sheet` by name, else the only visible sheet that holds data."""
    limits = limits or SheetLimits()
    if data[:4] != b"PK\x03\x04":
        raise XlsxError(_not_a_zip(data))
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return _Workbook(archive, limits).read(sheet)
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


class _Workbook:
    def __init__(self, archive: zipfile.ZipFile, limits: SheetLimits) -> None:
        self.archive = archive
        self.part = archive.open  # a member of the in-memory zip, as a stream (no file is opened)
        self.names = set(archive.namelist())
        self.limits = limits
        self.packed = self.unpacked = 0  # of the parts read so far: what the budget is based on

    def _open(self, name: str, cap: int | None = None) -> IO[bytes]:
        """A part as a stream; its unpacked size is checked against `cap` and charged to the budget first.

        The budget is a multiple of the packed size of the parts read, not of the upload: a stored
        part of random bytes that is never read cannot raise it.
        """
        if name not in self.names:
            raise XlsxError(f"the workbook has no part {name!r}; it is not an .xlsx workbook")
        info = self.archive.getinfo(name)
        if cap is not None and info.file_size > cap:
            raise XlsxError(
                f"the workbook part {name} unpacks to {info.file_size:,} bytes, more than the {cap:,} allowed"
                " for it (a fact table's workbook needs a fraction of that); it is refused as a possible zip"
                " bomb: save a copy with only the fact table"
            )
        self.packed += info.compress_size
        self.unpacked += info.file_size
        if self.unpacked > self.limits.unpacked_budget(self.packed):
            raise XlsxError(
                f"the workbook unpacks to more than {self.limits.ratio} times its size ({name} alone is"
                f" {info.file_size:,} bytes, packed in {info.compress_size:,}); it is refused as a possible zip"
                " bomb: save a copy with only the fact table"
            )
        return self.part(name)

    def _elements(self, name: str, cap: int) -> Iterator[tuple[str, ElementTree.Element]]:
        """(parent's name, element) for each element of a small part as it ends; each is then dropped.

        At most `limits.elements` elements are read: the part is refused past that, in a fraction
        of a second, whatever its size.
        """
        limit = self.limits.elements
        with self._open(name, cap) as stream:
            stack: list[ElementTree.Element] = []
            for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                if event == "start":
                    stack.append(element)
                    if len(stack) > MAX_DEPTH:
                        raise XlsxError(f"the workbook part {name} nests XML elements more than {MAX_DEPTH} deep")
                    limit -= 1
                    if limit < 0:
                        raise XlsxError(
                            f"the workbook part {name} has more than {self.limits.elements:,} XML elements"
                            " (a fact table's workbook needs a few hundred); save a copy with only the fact table"
                        )
                    continue
                stack.pop()
                yield (local_name(stack[-1].tag) if stack else ""), element
                if stack:
                    stack[-1].remove(element)  # the only child left: the earlier ones were removed

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, resolved target) of a part's relationships."""
        folder, _, base = part.rpartition("/")
        rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
        if rels not in self.names:
            return {}
        found = {}
        for parent, rel in self._elements(rels, self.limits.part):
            if parent == "Relationships":
                target = rel.get("Target", "")
                resolved = target.lstrip("/") if target.startswith("/") else _join(folder, target)
                found[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
        return found

    def _book(self, part: str, rels: dict[str, tuple[str, str]]) -> tuple[bool, list[tuple[str, bool, str]]]:
        """Whether dates count from 1904, and each sheet's name, visibility and part (read up to `</sheets>`)."""
        date1904 = False
        sheets: list[tuple[str, bool, str]] = []  # name, visible, part
        for parent, element in self._elements(part, self.limits.part):
            tag = local_name(element.tag)
            if tag == "workbookPr":
                date1904 = truthy(element.get("date1904"))
            elif tag == "sheet":
                rel = rels.get(element.get(_R_ID, ""))
                target = rel[1] if rel else f"xl/worksheets/sheet{len(sheets) + 1}.xml"
                sheets.append((element.get("name", ""), element.get("state", "visible") == "visible", target))
            elif tag == "sheets" and parent == "workbook":
                break  # defined names and the rest follow: nothing of them is read
        return date1904, sheets

    def read(self, wanted: str | None) -> SheetData:
        root_rels = self._relationships("")
        workbook = next((t for kind, t in root_rels.values() if kind.endswith("/officeDocument")), "xl/workbook.xml")
        rels = self._relationships(workbook)
        date1904, sheets = self._book(workbook, rels)
        if not sheets:
            raise XlsxError("the workbook has no worksheet")
        name, part = self._choose(sheets, wanted)
        shared_part = next((t for kind, t in rels.values() if kind.endswith("/sharedStrings")), "xl/sharedStrings.xml")
        styles_part = next((t for kind, t in rels.values() if kind.endswith("/styles")), "xl/styles.xml")
        shared = (
            self._shared_strings(shared_part, name, self._sheet_bytes(part, shared_part))
            if shared_part in self.names
            else []
        )
        dates = self._date_styles(styles_part) if styles_part in self.names else frozenset()
        with self._open(part) as stream:
            sheet = SheetReader(name, shared, dates, date1904, self.limits).read(stream)
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
            visible = [(n, p) for n, p in visible if self._has_data(n, p)] or visible[:1]
        if len(visible) == 1:
            return visible[0]
        if not visible:
            raise XlsxError(f"every sheet of the workbook is hidden ({names}): unhide the one to read or name it")
        shown = ", ".join(repr(n) for n, _ in visible)
        raise XlsxError(
            f"the workbook has {len(visible)} visible sheets with data ({shown}):"
            " name one with --sheet NAME (API: form field sheet)"
        )

    def _has_data(self, name: str, part: str) -> bool:
        """Whether a sheet holds any value, found by streaming to its first one (with the sheet's limits)."""
        if part not in self.names:
            return False
        with self._open(part) as stream:  # charged to the budget; stops at the first value
            return SheetReader(name, [], frozenset(), False, self.limits).has_value(stream)

    def _sheet_bytes(self, part: str, shared_part: str) -> int:
        """The sheet's unpacked size as its zip entry says, at most what the budget lets be read."""
        if part not in self.names:
            return 0
        sheet, shared = self.archive.getinfo(part), self.archive.getinfo(shared_part)
        return min(
            sheet.file_size, self.limits.unpacked_budget(self.packed + sheet.compress_size + shared.compress_size)
        )

    def _shared_strings(self, part: str, sheet: str, sheet_bytes: int) -> list[str]:
        """The shared strings, each built from its `<t>` texts as they end (phonetic runs left out).

        A string is only worth reading if a cell of the sheet can use it, and such a cell takes at
        least `CELL_BYTES` of the sheet's XML (`<c t="s"><v>7</v></c>`): so there may be at most
        that many strings (and never more than the cell limit), and at most `STRING_ELEMENTS` XML
        elements each on average (runs of formatted text) plus a part's `elements`. A part of
        millions of empty `<si/>` beside a small sheet is refused after the first few, in little time.
        """
        strings: list[str] = []
        pieces: list[str] = []
        usable = sheet_bytes // CELL_BYTES + 1
        limit = min(self.limits.cells, usable)
        elements = self.limits.elements + STRING_ELEMENTS * limit
        with self._open(part, self.limits.strings) as stream:
            stack: list[ElementTree.Element] = []
            for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                if event == "start":
                    stack.append(element)
                    if len(stack) > MAX_DEPTH:
                        raise XlsxError(f"the workbook part {part} nests XML elements more than {MAX_DEPTH} deep")
                    elements -= 1
                    if elements < 0:
                        raise XlsxError(f"the workbook part {part} has too many XML elements for its strings")
                    continue
                stack.pop()
                tag = local_name(element.tag)
                if tag == "t" and stack and local_name(stack[-1].tag) in ("si", "r"):
                    pieces.append(element.text or "")
                elif tag == "si":
                    strings.append(unescape("".join(pieces)))
                    pieces.clear()
                    if len(strings) > limit:
                        raise XlsxError(_too_many_strings(part, limit, sheet, sheet_bytes, limit == usable))
                if stack:
                    stack[-1].remove(element)  # read: nothing of it is kept
        return strings

    def _date_styles(self, part: str) -> frozenset[int]:
        """Indexes of the cell styles whose number format shows a date (read up to `</cellXfs>`)."""
        custom: dict[int, str] = {}
        xfs: list[int] = []
        for parent, element in self._elements(part, self.limits.part):
            tag = local_name(element.tag)
            if tag == "numFmt" and parent == "numFmts":
                custom[_style_number(element.get("numFmtId", ""), -1)] = element.get("formatCode", "")
            elif tag == "xf" and parent == "cellXfs":
                xfs.append(_style_number(element.get("numFmtId", ""), 0))
            elif tag == "cellXfs":
                break  # cell styles, differential formats and the rest: nothing of them is read
        return frozenset(i for i, fmt in enumerate(xfs) if _is_date_format(fmt, custom.get(fmt)))


def _too_many_strings(part: str, limit: int, sheet: str, sheet_bytes: int, by_sheet: bool) -> str:
    if not by_sheet:
        return f"the workbook has more than {limit:,} strings"
    return (
        f"the workbook part {part} has more than {limit:,} shared strings, more than the cells of the sheet"
        f" {sheet!r} ({sheet_bytes:,} bytes of XML, at least {CELL_BYTES} bytes a cell) could use; it is not a"
        " fact table's workbook: save a copy with only the fact table"
    )


def _style_number(text: str, default: int) -> int:
    """A format id of styles.xml; a missing or absurd one is no date format."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else default


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
