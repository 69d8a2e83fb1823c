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

from engine.sheetcells import Cell, SheetData, SheetError, SheetLimits, excel_number

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
            size = archive.getinfo("content.xml").file_size
            if size > limits.unpacked_budget(len(data)):
                raise SheetError(
                    f"the spreadsheet unpacks to more than {limits.ratio} times its size ({size:,} bytes); it is"
                    " refused as a possible zip bomb: save a copy with only the fact table"
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


class _Reader:
    def __init__(self, wanted: str | None, limits: SheetLimits) -> None:
        self.wanted = wanted
        self.limits = limits
        self.hidden_styles: set[str] = set()
        self.sheets: list[tuple[SheetData, bool]] = []  # kept sheets and whether each is visible
        self.names: list[str] = []
        self.cells = 0
        self.column_count = 0

    def read(self, stream: IO[bytes]) -> SheetData:
        sheet: SheetData | None = None
        row = column = 0
        repeat_rows = 1
        merges: list[tuple[int, int, int, int]] = []
        hidden: list[tuple[int, int]] = []
        for event, el in ElementTree.iterparse(stream, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == _t("table"):
                    name = el.get(_t("name"), "")
                    self.names.append(name)
                    visible = el.get(_t("style-name"), "") not in self.hidden_styles
                    keep = name == self.wanted if self.wanted is not None else visible
                    sheet = SheetData(name) if keep else None
                    if sheet is not None:
                        self.sheets.append((sheet, visible))
                    row, merges, hidden, self.column_count = 0, [], [], 0
                elif tag == _t("table-row"):
                    column = 0
                    repeat_rows = int(el.get(_t("number-rows-repeated"), "1"))
                    row += 1
                    if row > self.limits.rows:
                        raise SheetError(f"the sheet has more than {self.limits.rows:,} rows")
                    if sheet is not None and el.get(_t("visibility"), "visible") != "visible":
                        hidden.append((row, row + repeat_rows))
                continue
            if tag == f"{{{_STYLE}}}style" and el.get(f"{{{_STYLE}}}family") == "table":
                props = el.find(f"{{{_STYLE}}}table-properties")
                if props is not None and props.get(_t("display")) == "false":
                    self.hidden_styles.add(el.get(f"{{{_STYLE}}}name", ""))
            elif tag == _t("table-column") and sheet is not None:
                count = int(el.get(_t("number-columns-repeated"), "1"))
                if el.get(_t("visibility"), "visible") != "visible":
                    start = self.column_count + 1
                    sheet.hidden_columns.update(range(start, min(start + count, self.limits.columns + 1)))
                self.column_count += count
            elif tag in (_t("table-cell"), _t("covered-table-cell")):
                count = int(el.get(_t("number-columns-repeated"), "1"))
                if sheet is not None:
                    cell = _cell(el) if tag == _t("table-cell") else None
                    if cell is not None:
                        for c in range(column + 1, column + count + 1):
                            self._put(sheet, row, c, cell, repeat_rows)
                        spans = (
                            int(el.get(_t("number-columns-spanned"), "1")),
                            int(el.get(_t("number-rows-spanned"), "1")),
                        )
                        if spans != (1, 1):
                            merges.append((column + 1, row, column + spans[0], row + spans[1] - 1))
                column += count
                el.clear()
            elif tag == _t("table-row"):
                row += repeat_rows - 1
                el.clear()
            elif tag == _t("table"):
                if sheet is not None:
                    starts = [a for a, _ in hidden]  # in row order: one bisect per data row
                    for r in sheet.rows:
                        i = bisect.bisect_right(starts, r) - 1
                        if i >= 0 and r < hidden[i][1]:
                            sheet.hidden_rows.add(r)
                    for left, top, right, bottom in merges:
                        budget = self.limits.cells - self.cells
                        self.cells += sheet.merge(left, top, min(right, self.limits.columns), bottom, budget)
                sheet = None
                el.clear()
        return self._choose()

    def _put(self, sheet: SheetData, row: int, column: int, cell: Cell, repeat_rows: int) -> None:
        if column > self.limits.columns:
            raise SheetError(
                f"the sheet {sheet.name!r} has a value in row {row} beyond column {self.limits.columns}: delete the"
                " columns to the right of the fact table"
            )
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
