"""Fact sources: CSV, JSON, XLSX and ODS bytes read into one table shape, values not yet judged.

Each format has its own way to go wrong (a BOM, a GBK export, a quoted line break, a formula with no
saved value, a hidden sheet, a JSON key given twice); this module turns any of them into the same
`Table` of rows of cells, each cell kept exactly as written (text, `Decimal`, bool, or an `Opaque`
value that says what it is), and leaves judging the values to `engine.facts`. Amounts never pass
through float. What it had to decide on the way (an encoding, a sheet) is said in `Table.notes`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from engine import ods, xlsx
from engine.factvalues import (
    MAX_DECIMALS,
    MAX_WHOLE_DIGITS,
    Opaque,
    Value,
    as_number,
    as_text,
    column_name,
    from_cell,
    from_python,
    is_blank,
)
from engine.problems import MeritInputError, Problem, ProblemList
from engine.sheetcells import SheetData, SheetError, SheetLimits, column_letters
from engine.textfile import decode_table_text, decode_utf8

__all__ = [
    "MAX_DECIMALS",
    "MAX_WHOLE_DIGITS",
    "Opaque",
    "Table",
    "Value",
    "as_number",
    "as_text",
    "column_name",
    "csv_table",
    "from_python",
    "is_blank",
    "json_records",
    "located",
    "records_digest",
    "records_table",
    "sheet_table",
]

# --- reading the formats into one table shape ---------------------------------------------------


@dataclass
class Table:
    """Header and data rows of a source, before any validation of values."""

    source: str  # how problems name the source: the file, and for a workbook its sheet
    header_line: int | None = None
    header: list[tuple[int, str]] = field(default_factory=list)  # (1-based column, raw name)
    # (row, column -> value), or for CSV (row, the record's texts in column order); a lazy iterator
    # for files, so a million rows are never all held as cells
    rows: Iterable[tuple[int, dict[int, Value] | list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=ProblemList)
    unreadable: bool = False  # the source could not be read to its end
    empty_message: str = "the file is empty"
    no_rows_message: str = "there are no data rows, only the header"
    columns_located: bool = True  # False for JSON: a key has no column of its own, its name says it
    row_word: str = "row"  # how a message names another row's place: "line" in a JSON file
    notes: list[str] = field(default_factory=list)  # what was decided while reading, for the user
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # merged ranges filled (a sheet)
    cell_names: bool = False  # a workbook: problems also say the cell (D7)


def located(source: str, line: int | None, column: int | None, name: str, message: str) -> Problem:
    return Problem(source=source, line=line, column=column, field=name, message=message)


def _add_sheet_rows(table: Table, rows: Iterable[tuple[int, dict[int, Value]]]) -> None:
    """First non-blank row is the header; later non-blank rows are data (consumed lazily)."""
    remaining = iter(rows)
    for number, cells in remaining:
        if all(is_blank(v) for v in cells.values()):
            continue
        table.header_line = number
        table.header = [(col, as_text(v) or "") for col, v in sorted(cells.items())]
        break
    table.rows = (r for r in remaining if not all(is_blank(v) for v in r[1].values()))


def csv_table(data: bytes, source: str) -> Table:
    """Rows stay the csv module's lists of texts: `_RowChecker.fast` reads them as they are.

    UTF-8 (with or without BOM), GBK/GB18030 (zh-CN Excel's "CSV (逗号分隔)") and UTF-16 with a
    BOM (Excel's "Unicode 文本", tab-separated) are read; `engine.textfile` decides and says so.
    """
    table = Table(source)
    decoded = decode_table_text(data, source)
    if isinstance(decoded, Problem):
        table.problems.append(decoded)
        return table
    encoding, delimiter, note = decoded
    if note:
        table.notes.append(note)
    # decoded as it is read, a few kilobytes at a time: a whole-file StringIO would hold four
    # bytes per character (400 MB for a million rows) while the rows are built
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    reader = csv.reader(stream, strict=True, delimiter=delimiter)

    def records() -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for number, record in enumerate(reader, start=1):
                # blank rows are skipped (but counted); most rows start with a non-blank rep_id
                if (record and record[0].strip()) or any(v.strip() for v in record):
                    yield number, record
        except csv.Error as e:
            table.unreadable = True
            table.problems.append(located(source, number + 1, None, "", f"the CSV cannot be read here: {e}"))

    rows = records()
    for number, record in rows:
        table.header_line = number
        table.header = [(col, v.strip()) for col, v in enumerate(record, start=1)]
        break
    table.rows = rows
    return table


def sheet_table(
    data: bytes, source: str, kind: str, sheet: str | None = None, limits: SheetLimits | None = None
) -> Table:
    """An .xlsx or .ods sheet as a table; problems name the sheet (`facts.xlsx[8月]`) and the cell.

    Hidden rows and columns that hold data are refused, each with its place: Merit reads what a
    person sees, and a hidden stale `actual` column or a filtered-out row would otherwise be paid.
    """
    reader = xlsx.read_sheet if kind == "xlsx" else ods.read_sheet
    try:
        read = reader(data, sheet, limits)
    except SheetError as e:
        table = Table(source)
        table.problems.append(located(source, None, None, "", str(e)))
        return table
    named = f"{source}[{read.name}]" if read.sheets > 1 else source
    table = Table(named, empty_message=f"the sheet {read.name!r} is empty", cell_names=True)
    table.notes.extend(read.notes)
    table.merges = read.merges
    if read.merged:
        table.notes.append(
            f"merged cells filled from their first cell{f' in {read.name!r}' if read.sheets > 1 else ''}:"
            f" {', '.join(read.merged[:5])}" + (f" and {len(read.merged) - 5} more" if len(read.merged) > 5 else "")
        )
    _hidden_problems(table, read)
    rows = ((n, {c: from_cell(v) for c, v in sorted(cells.items())}) for n, cells in sorted(read.rows.items()))
    _add_sheet_rows(table, rows)
    return table


def _hidden_problems(table: Table, sheet: SheetData) -> None:
    how = "unhide it (select the neighbours, right-click, Unhide; clear any filter), then delete it if not to be read"
    for col in sorted(sheet.hidden_columns):
        holding = [r for r, cells in sorted(sheet.rows.items()) if col in cells]
        if holding:
            letters = column_letters(col)
            table.problems.append(
                located(
                    table.source,
                    holding[0],
                    col,
                    "",
                    f"column {letters} is hidden and holds data ({letters}{holding[0]}:{letters}{holding[-1]}): {how}",
                )
            )
    for row in sorted(sheet.hidden_rows):
        cells = sheet.rows.get(row)
        if cells:
            first = min(cells)
            table.problems.append(
                located(
                    table.source,
                    row,
                    None,
                    "",
                    f"row {row} is hidden and holds data ({column_letters(first)}{row}): {how}",
                )
            )


_JSON = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=lambda name: Opaque(name, "not a finite number"),
    object_pairs_hook=lambda pairs: _JsonObject.of(pairs),
)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def json_records(data: bytes, source: str) -> tuple[list[object], list[int] | None]:
    """The records of a JSON fact file and the line each one starts on."""
    text = decode_utf8(data, source)
    if isinstance(text, Problem):
        raise MeritInputError([text])
    try:
        decoded = _JSON.decode(text)
    except json.JSONDecodeError as e:
        raise MeritInputError([located(source, e.lineno, e.colno, "", f"invalid JSON: {e.msg}")]) from None
    except RecursionError:
        raise MeritInputError([located(source, None, None, "", "invalid JSON: nested too deeply")]) from None
    if isinstance(decoded, dict) and isinstance(decoded.get("facts"), list):
        return list(decoded["facts"]), _record_lines(text, facts_key=True)
    if isinstance(decoded, list):
        return decoded, _record_lines(text, facts_key=False)
    raise MeritInputError([located(source, None, None, "", 'expected a list of records, or {"facts": [records]}')])


def _record_lines(text: str, *, facts_key: bool) -> list[int] | None:
    """The 1-based line on which each record of the (already valid) document starts.

    The document is walked again value by value with `raw_decode`, so positions come from the same
    parser that read the records; None if the walk does not find the records where it expects.
    """
    pos = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
    try:
        if facts_key:  # {"...": ..., "facts": [records], ...}: find the facts array
            pos = _JSON_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            while text[pos] != "}":
                key, pos = _JSON.raw_decode(text, pos)
                pos = _JSON_SPACE.match(text, _JSON_SPACE.match(text, pos).end() + 1).end()  # type: ignore[union-attr]
                if key == "facts":
                    break
                _, pos = _JSON.raw_decode(text, pos)
                pos = _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos] == ",":
                    pos = _JSON_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text[pos] != "[":
            return None
        lines, line, counted = [], 1, 0
        pos = _JSON_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        while text[pos] != "]":
            line += text.count("\n", counted, pos)
            counted = pos
            lines.append(line)
            _, pos = _JSON.raw_decode(text, pos)
            pos = _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == ",":
                pos = _JSON_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        return lines
    except (IndexError, ValueError):
        return None


class _JsonObject(dict[str, object]):
    """A JSON object that remembers the keys it was given more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def of(cls, pairs: list[tuple[str, object]]) -> _JsonObject:
        obj = cls(pairs)
        if len(obj) != len(pairs):
            keys = [k for k, _ in pairs]
            obj.duplicates = tuple(sorted({k for k in keys if keys.count(k) > 1}))
        return obj


def records_table(records: Sequence[object], source: str, lines: Sequence[int] | None = None) -> Table:
    """Records as table rows. With `lines` (a JSON file) a record's problems name the line it starts
    on and the key; without (a Gherkin table) its 1-based index and the key's position."""
    table = Table(source, empty_message="there are no records", no_rows_message="every record is blank")
    table.columns_located = lines is None
    table.row_word = "row" if lines is None else "line"
    rows: list[tuple[int, dict[int, Value]]] = []
    table.rows = rows
    positions: dict[str, int] = {}
    for index, record in enumerate(records, start=1):
        at = index if lines is None else lines[index - 1]
        if not isinstance(record, Mapping):
            table.problems.append(located(source, at, None, "", f"record {index} is not an object of column: value"))
            continue
        for key in getattr(record, "duplicates", ()):
            table.problems.append(
                located(source, at, None, key, f"record {index} gives {key!r} more than once; keep one value")
            )
        cells: dict[int, Value] = {}
        spelled: dict[str, str] = {}
        for key, raw in record.items():
            name = column_name(str(key))
            value = from_python(raw)
            if not name:
                if not is_blank(value):
                    table.problems.append(located(source, at, None, "", "a value has an empty column name"))
                continue
            if name not in positions:
                positions[name] = len(positions) + 1
                table.header.append((positions[name], name))
            if name in spelled:
                table.problems.append(
                    located(
                        source,
                        at,
                        positions[name] if lines is None else None,
                        name,
                        f"column {name!r} is given twice in this record (as {spelled[name]!r} and {key!r})",
                    )
                )
                continue
            spelled[name] = str(key)
            cells[positions[name]] = value
        if not all(is_blank(v) for v in cells.values()):
            rows.append((at, cells))
    if table.header:
        table.header_line = 1
    return table


def records_digest(records: Sequence[object]) -> str:
    plain = [dict(r) if isinstance(r, Mapping) else r for r in records]
    canonical = json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_canonical_value)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical_value(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
