"""Read one sheet of a LibreOffice .ods spreadsheet, streamed, with the .xlsx reader's rules.

Why not a library: the maintained choices either build the whole document in memory and expand
repeated cells (odfpy, which pandas uses; pyexcel-ods3 on top of ezodf), or hand numbers back as
floats (pandas, pyexcel). An .ods is a zip whose `content.xml` carries every number's exact
decimal text in `office:value` (and dates in `office:date-value`), so reading that one part with
the standard library's streaming parser keeps amounts exact, keeps memory bounded
(`table:number-columns-repeated="16384"` costs nothing), and applies exactly the rules of
`engine.xlsx`: hidden sheets are never chosen silently, hidden rows and columns are reported,
merged cells fill their range, and the same row, column, cell and unpacked-size limits hold.
"""

from __future__ import annotations

import bisect
import zipfile
from io import BytesIO
from typing import IO
from xml.etree import ElementTree

from engine.sheetcells import (
    MAX_COLUMNS,
    MAX_DEPTH,
    Cell,
    SheetData,
    SheetError,
    SheetLimits,
    excel_number,
    whole_number,
)

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"


def _t(name: str) -> str:
    return f"{{{_TABLE}}}{name}"


def _o(name: str) -> str:
    return f"{{{_OFFICE}}}{name}"


def read_sheet(data: bytes, sheet: str | None = None, limits: SheetLimits | None = None) -> SheetData:
    """The chosen sheet: `sheet` by name, else the only visible sheet that holds data."""
    limits = limits or SheetLimits()
    if data[:4] != b"PK\x03\x04":
        raise SheetError("the file is not an .ods spreadsheet (it is not a zip archive)")
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            if "content.xml" not in archive.namelist():
                raise SheetError("the file has no content.xml; it is not an .ods spreadsheet")
            info = archive.getinfo("content.xml")  # the only part read: the budget is a multiple of its packed size
            if info.file_size > limits.unpacked_budget(info.compress_size):
                raise SheetError(
                    f"the spreadsheet unpacks to more than {limits.ratio} times its size (content.xml is"
                    f" {info.file_size:,} bytes, packed in {info.compress_size:,}); it is refused as a possible zip"
                    " bomb: save a copy with only the fact table"
                )
            part = archive.open  # a member of the in-memory zip, as a stream (no file is opened)
            with part("content.xml") as stream:
                return _Reader(sheet, limits).read(stream)
    except zipfile.BadZipFile:
        raise SheetError("the file is not a readable .ods spreadsheet (the zip archive is damaged)") from None
    except ElementTree.ParseError as e:
        raise SheetError(f"the spreadsheet contains malformed XML ({e})") from None
    except SheetError:
        raise
    except (ValueError, KeyError, OSError, EOFError, RuntimeError, NotImplementedError) as e:
        raise SheetError(f"the spreadsheet cannot be read ({e})") from None


_TABLE_TAG, _ROW, _COLUMN = _t("table"), _t("table-row"), _t("table-column")
_CELLS = (_t("table-cell"), _t("covered-table-cell"))
_PROPERTIES, _STYLE_TAG = f"{{{_STYLE}}}table-properties", f"{{{_STYLE}}}style"


class _Reader:
    """Streams `content.xml`: a cell's elements are kept until the cell ends, every other element is
    dropped as soon as it ends, and both are counted, so styles, rows or cells by the million cost
    no more memory than the limits allow."""

    def __init__(self, wanted: str | None, limits: SheetLimits) -> None:
        self.wanted = wanted
        self.limits = limits
        self.hidden_styles: set[str] = set()
        self.sheets: list[tuple[SheetData, bool]] = []  # kept sheets and whether each is visible
        self.names: list[str] = []
        self.cells = 0
        self.column_count = 0

    def read(self, stream: IO[bytes]) -> SheetData:
        limits = self.limits
        sheet: SheetData | None = None
        row = column = 0
        repeat_rows = 1
        merges: list[tuple[int, int, int, int]] = []
        hidden: list[tuple[int, int]] = []  # [first, end) of hidden rows, adjacent ones joined
        stack: list[ElementTree.Element] = []  # the open elements outside cells
        cell: ElementTree.Element | None = None  # the cell being read: its paragraphs are kept until it ends
        inside = outside = 0
        for event, el in ElementTree.iterparse(stream, events=("start", "end")):
            if cell is not None:
                if event == "start":
                    inside += 1
                    if inside > limits.row_elements:
                        raise self._crowded(row)
                elif el is cell:
                    count = self._repeat(el, "number-columns-repeated", row, column + 1)
                    value = _cell(el) if sheet is not None and el.tag == _CELLS[0] else None
                    if sheet is not None and value is not None:
                        for c in range(column + 1, column + count + 1):
                            self._put(sheet, row, c, value, repeat_rows)
                        across = self._repeat(el, "number-columns-spanned", row, column + 1)
                        down = self._repeat(el, "number-rows-spanned", row, column + 1)
                        if (across, down) != (1, 1):
                            if len(merges) >= limits.merges:
                                raise SheetError(
                                    f"the sheet {sheet.name!r} has more than {limits.merges:,} merged ranges"
                                )
                            merges.append((column + 1, row, column + across, row + down - 1))
                    else:
                        self.cells += 1  # every cell counts, with a value or without
                        if self.cells > limits.cells:
                            raise SheetError(f"the sheet {self.names[-1]!r} has more than {limits.cells:,} cells")
                    column += count
                    cell = None
                    stack[-1].remove(el)  # read: nothing of it is kept
                continue
            tag = el.tag
            if event == "start":
                if tag in _CELLS:
                    cell = el
                    inside += 1
                    if inside > limits.row_elements:
                        raise self._crowded(row)
                    continue
                stack.append(el)
                if len(stack) > MAX_DEPTH:
                    raise SheetError(f"the spreadsheet nests XML elements more than {MAX_DEPTH} deep")
                if tag == _ROW:
                    column = inside = 0
                    row += 1
                    if row > limits.rows:
                        raise SheetError(
                            f"the sheet {self.names[-1] if self.names else ''!r} has more than {limits.rows:,} rows"
                        )
                    repeat_rows = self._repeat(el, "number-rows-repeated", row)
                    if sheet is not None and el.get(_t("visibility"), "visible") != "visible":
                        if hidden and hidden[-1][1] == row:
                            hidden[-1] = (hidden[-1][0], row + repeat_rows)
                        else:
                            hidden.append((row, row + repeat_rows))
                    continue
                outside += 1
                if outside > limits.elements:
                    raise SheetError(
                        f"the spreadsheet has more than {limits.elements:,} XML elements outside its cells (styles,"
                        " columns, rows); save a copy with only the fact table"
                    )
                if tag == _TABLE_TAG:
                    name = el.get(_t("name"), "")
                    self.names.append(name)
                    visible = el.get(_t("style-name"), "") not in self.hidden_styles
                    keep = name == self.wanted if self.wanted is not None else visible
                    sheet = SheetData(name) if keep else None
                    if sheet is not None:
                        self.sheets.append((sheet, visible))
                    row, merges, hidden, self.column_count = 0, [], [], 0
                continue
            stack.pop()
            if tag == _PROPERTIES and stack and stack[-1].tag == _STYLE_TAG:
                style = stack[-1]
                if style.get(f"{{{_STYLE}}}family") == "table" and el.get(_t("display")) == "false":
                    self.hidden_styles.add(style.get(f"{{{_STYLE}}}name", ""))
            elif tag == _COLUMN and sheet is not None:
                count = self._repeat(el, "number-columns-repeated", None, self.column_count + 1)
                if el.get(_t("visibility"), "visible") != "visible":
                    start = self.column_count + 1
                    sheet.hidden_columns.update(range(start, min(start + count, limits.columns + 1)))
                self.column_count += count
            elif tag == _ROW:
                row += repeat_rows - 1
            elif tag == _TABLE_TAG and sheet is not None:
                starts = [a for a, _ in hidden]  # in row order: one bisect per data row
                for r in sheet.rows:
                    i = bisect.bisect_right(starts, r) - 1
                    if i >= 0 and r < hidden[i][1]:
                        sheet.hidden_rows.add(r)
                last_row = max(sheet.rows, default=0)
                for left, top, right, bottom in merges:
                    budget = limits.cells - self.cells
                    self.cells += sheet.merge(left, top, min(right, limits.columns), bottom, budget, last_row)
                sheet = None
            if stack:
                stack[-1].remove(el)  # the only child left: the earlier ones were removed
        return self._choose()

    def _repeat(self, el: ElementTree.Element, attribute: str, row: int | None, column: int | None = None) -> int:
        """A repeat or span count of a row, column or cell: a whole number from 1 (refused otherwise).

        LibreOffice reads a row repeated 0 times once and a negative count as 1; a file that holds
        one was not written by it or by Excel, so Merit refuses it rather than guess which rows it
        stands for.
        """
        text = el.get(_t(attribute))
        if text is None:
            return 1
        where = f"the sheet {self.names[-1] if self.names else ''!r}"
        where += f" row {row}" if row is not None else ""
        where += f" column {column}" if column is not None else ""
        count = whole_number(text, f"{where}: table:{attribute}")
        if count < 1:
            raise SheetError(
                f"{where}: table:{attribute} is {count}, not a count from 1: LibreOffice reads it as 1, but the"
                " program that wrote the file may have meant another count, so Merit refuses it rather than guess:"
                " open the file in LibreOffice, check that row and save it again"
            )
        return count

    def _crowded(self, row: int) -> SheetError:
        return SheetError(
            f"the sheet {self.names[-1] if self.names else ''!r} has more than {self.limits.row_elements:,} XML"
            f" elements in row {row} (a row has at most {MAX_COLUMNS:,} cells); it is not a fact table's row"
        )

    def _put(self, sheet: SheetData, row: int, column: int, cell: Cell, repeat_rows: int) -> None:
        if column > self.limits.columns:
            raise SheetError(
                f"the sheet {sheet.name!r} has a value in row {row} beyond column {self.limits.columns}: delete the"
                " columns to the right of the fact table"
            )
        if row + repeat_rows - 1 > self.limits.rows:
            raise SheetError(f"the sheet {sheet.name!r} has more than {self.limits.rows:,} rows")
        for r in range(row, row + repeat_rows):
            sheet.rows.setdefault(r, {})[column] = cell
            self.cells += 1
            if self.cells > self.limits.cells:
                raise SheetError(f"the sheet {sheet.name!r} has more than {self.limits.cells:,} cells")

    def _choose(self) -> SheetData:
        for kept, _ in self.sheets:
            kept.sheets = len(self.names)
        names = ", ".join(repr(n) for n in self.names)
        if self.wanted is not None:
            if not self.sheets:
                raise SheetError(f"the spreadsheet has no sheet {self.wanted!r}; its sheets are {names}")
            return self.sheets[0][0]
        with_data = [s for s, _ in self.sheets if s.rows]
        if len(with_data) == 1:
            chosen = with_data[0]
            if len(self.names) > 1:
                chosen.notes.append(f"read the sheet {chosen.name!r}, the only visible one with data")
            return chosen
        if not self.sheets:
            raise SheetError(f"every sheet of the spreadsheet is hidden ({names}): unhide the one to read or name it")
        if not with_data:
            return self.sheets[0][0]
        shown = ", ".join(repr(s.name) for s in with_data)
        raise SheetError(
            f"the spreadsheet has {len(with_data)} visible sheets with data ({shown}):"
            " name one with --sheet NAME (API: form field sheet)"
        )


def _cell(el: ElementTree.Element) -> Cell | None:
    kind = el.get(_o("value-type"))
    if kind in ("float", "percentage", "currency"):
        raw = el.get(_o("value"), "")
        try:
            return Cell("number", excel_number(raw))
        except SheetError:
            return Cell("error", raw)
    if kind == "date":
        return Cell("date", el.get(_o("date-value"), "")[:10])
    if kind == "boolean":
        return Cell("bool", "TRUE" if el.get(_o("boolean-value")) == "true" else "FALSE")
    text = "\n".join("".join(p.itertext()) for p in el if p.tag.endswith("}p"))
    if kind == "string" or (kind is None and text):
        if el.get(f"{{{_CALCEXT}}}value-type") == "error":
            return Cell("error", text)
        return Cell("text", el.get(_o("string-value"), text)) if text or el.get(_o("string-value")) else None
    if kind is None and el.get(_t("formula")):
        return Cell("formula", el.get(_t("formula"), ""))
    if kind == "time":
        return Cell("error", el.get(_o("time-value"), ""))
    return None
