"""Deal, payment and target files read as tables of checked values, every problem located.

The fact loader (`engine.facts`) reads monthly totals; a CRM export of deals and a finance export of
payments have other columns (合同编号, 签约日期, 回款金额), dates rather than months, and a split of
a deal between reps. This module reads any of them the way facts are read: the same formats,
encodings and limits (`engine.factsources`), the same header comparison (`engine.factheader`), the
same value readers (`engine.factvalues`), every problem located by file, sheet, row and column and
all of them collected (bounded by `ProblemList`). A file is described by a `FileSpec`; what the
values mean together (a payment's deal, split shares) is `engine.deals`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engine.factheader import header_key
from engine.factsources import Table, Value, as_number, csv_table, json_records, located, records_table, sheet_table
from engine.factvalues import DATE, Opaque, as_month, as_text, is_blank, key_text
from engine.problems import MeritInputError
from engine.sheetcells import SheetLimits

_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".ods": "ods",
}
_UNIT = re.compile(r"_*[(\[（【]\s*([^)\]）】]*)\s*[)\]）】]$")
_SCALED = ("万元", "万", "千元", "百万", "百万元", "w", "k")
_DAY = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[T ]0{1,2}:00(?::00(?:\.0+)?)?)?$")
_CHINESE_DAY = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
DATE_ADVICE = "write the date like 2026-08-05 (or 2026/8/5, 2026年8月5日), or format the cell as a date"
_MEMO = 50_000  # distinct texts remembered per column (bounded memory)


@dataclass(frozen=True)
class ColumnSpec:
    """One column a file may have: its name, how its values are read, and the headers that name it.

    kinds: `id` (a key such as deal_id, NFKC, no invisible or look-alike characters), `text`,
    `amount` (yuan with at most two decimals, above zero), `date`, `month`, `count` (a whole
    number >= 0), `number` (any bounded decimal), `raw` (kept as written, judged by the caller).
    """

    name: str
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileSpec:
    """What a file holds: its columns, and columns that must not be there (name -> why)."""

    what: str  # "deals", "payments", "targets": how messages name the file's rows
    columns: tuple[ColumnSpec, ...]
    refused: Mapping[str, str] = field(default_factory=dict)
    refused_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    may_be_empty: bool = False  # a header without rows is a valid file (no payments yet)

    def lookup(self) -> dict[str, str]:
        """Compared header key -> column name (the name itself and every alias)."""
        table: dict[str, str] = {}
        refused = (ColumnSpec(n, "raw", False, self.refused_aliases.get(n, ())) for n in self.refused)
        for column in (*self.columns, *refused):
            for spelled in (column.name, *column.aliases):
                table[header_key(spelled).replace("_", "")] = column.name
        return table


@dataclass
class ReadTable:
    """A file's rows as {column: value} (values read by their column's kind), and its problems."""

    table: Table
    rows: list[tuple[int, dict[str, object]]]
    position: dict[str, int]
    rejected: list[tuple[int, dict[str, object]]] = field(default_factory=list)  # rows with a problem: what was read
    memo: dict[str, dict[str, tuple[object | None, str | None]]] = field(default_factory=dict)  # column -> text -> read

    @property
    def source(self) -> str:
        return self.table.source

    def problem(self, line: int | None, column: str, message: str) -> None:
        """Add a problem located at `line` and the named column's position (when the format has one)."""
        col = self.position.get(column) if self.table.columns_located else None
        self.table.problems.append(located(self.table.source, line, col, column, message))

    def raise_problems(self) -> None:
        if self.table.problems:
            raise MeritInputError(self.table.problems)


def table_of(data: bytes, filename: str, limits: SheetLimits) -> Table:
    """The file's table, read as fact files are (format from the extension)."""
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        shown = f"{suffix!r} files" if suffix else "files without an extension"
        raise MeritInputError(
            [located(filename, None, None, "", f"cannot read {shown}: give a .csv, .xlsx, .ods or .json file")]
        )
    if fmt == "json":
        records, lines = json_records(data, filename)
        return records_table(records, filename, lines)
    if fmt == "csv":
        return csv_table(data, filename)
    return sheet_table(data, filename, fmt, None, limits)


def read_file(data: bytes, filename: str, spec: FileSpec, limits: SheetLimits | None = None) -> ReadTable:
    """Read and check every row of a file against `spec`; problems are collected, not raised,
    except that a header without a required column stops before the rows (nothing could be read)."""
    limits = limits or SheetLimits()
    table = table_of(data, filename, limits)
    position = _header(table, spec)
    read = ReadTable(table, [], position)
    if table.header_line is None:
        if not table.problems and not table.unreadable:
            table.problems.append(located(table.source, None, None, "", table.empty_message))
        read.raise_problems()
    if any(c.required and c.name not in position for c in spec.columns):
        read.raise_problems()
    count = 0
    for line, cells in table.rows:
        count += 1
        if limits.data_rows is not None and count > limits.data_rows:
            message = f"more than {limits.data_rows} rows; a file may have at most {limits.data_rows} (split it)"
            raise MeritInputError([located(table.source, line, None, "", message)], kind="too-many-rows")
        by_column = dict(enumerate(cells, start=1)) if isinstance(cells, list) else cells
        before = _found(table)
        values = dict(_row_values(read, spec, line, by_column))
        if _found(table) == before:  # a row with a problem is left out: no follow-on problems
            read.rows.append((line, values))
        else:
            read.rejected.append((line, values))
    if count == 0 and not spec.may_be_empty and not table.problems and not table.unreadable:
        table.problems.append(located(table.source, None, None, "", table.no_rows_message))
    return read


def _found(table: Table) -> int:
    """Problems found so far, listed or only counted (`ProblemList` keeps the first thousand)."""
    omitted = getattr(table.problems, "omitted", None)
    return len(table.problems) + (sum(omitted.values()) if omitted else 0)


def _header(table: Table, spec: FileSpec) -> dict[str, int]:
    names = spec.lookup()
    position: dict[str, int] = {}
    unknown: list[str] = []
    for col, raw in table.header:
        key = header_key(raw)
        if not key:
            continue
        name = names.get(key.replace("_", ""))
        unit = _UNIT.search(key)
        if name is None and unit:
            name = names.get(key[: unit.start()].replace("_", ""))
            if name is not None and unit.group(1).strip() in _SCALED:
                table.problems.append(
                    located(
                        table.source,
                        table.header_line,
                        col,
                        name,
                        f"column {raw.strip()!r} is not in yuan: Merit reads yuan; convert it and name it"
                        f" without ({unit.group(1).strip()})",
                    )
                )
        if name is None:
            unknown.append(raw.strip())
            continue
        if name in spec.refused:
            table.problems.append(located(table.source, table.header_line, col, name, spec.refused[name]))
            continue
        if name in position:
            message = f"column {name!r} appears twice in the header (first as column {position[name]})"
            table.problems.append(located(table.source, table.header_line, col, name, message))
            continue
        position[name] = col
    if table.header_line is not None:
        for column in spec.columns:
            if column.required and column.name not in position:
                known = ", ".join(column.aliases[:3])
                message = f"required column {column.name!r} is missing (a {spec.what} file names it {column.name}" + (
                    f" or {known})" if known else ")"
                )
                table.problems.append(located(table.source, table.header_line, None, column.name, message))
        if unknown:
            shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            table.notes.append(f"columns not read: {shown}")
    return position


def _row_values(read: ReadTable, spec: FileSpec, line: int, cells: Mapping[int, Value]) -> Iterator[tuple[str, object]]:
    for column in spec.columns:
        col = read.position.get(column.name)
        if col is None:
            continue
        value = cells.get(col)
        if is_blank(value):
            if column.required:
                read.problem(line, column.name, f"{column.name} is blank")
            continue
        if type(value) is str and column.kind != "raw":  # ids and days repeat: each text is read once
            memo = read.memo.setdefault(column.name, {})
            hit = memo.get(value)
            if hit is None:
                hit = read_value(column, value)
                if len(memo) < _MEMO:
                    memo[value] = hit
            parsed, why = hit
        else:
            parsed, why = read_value(column, value)
        if why is not None:
            read.problem(line, column.name, why)
        elif parsed is not None:
            yield column.name, parsed


def read_value(column: ColumnSpec, value: Value) -> tuple[object | None, str | None]:
    """(value read by the column's kind, None) or (None, why it cannot be read)."""
    name, kind = column.name, column.kind
    if kind in ("id", "text"):
        return key_text(value, name)
    if kind == "raw":
        return value, None
    if kind == "date":
        return as_date(value, name)
    if kind == "month":
        return as_month(value)
    number, why = as_number(value)
    if number is None:
        return None, why
    if kind == "amount":
        if number <= 0:
            return None, f"{name} must be above zero ({as_text(value)})"
        if number != number.quantize(Decimal("0.01")):
            return None, f"{name} {as_text(value)} has fractions of a cent: amounts are exact to the cent"
        return number, None
    if kind == "count" and (number < 0 or number != number.to_integral_value()):
        return None, f"{name} must be a whole number >= 0 ({as_text(value)})"
    return number, None


def as_date(value: Value, name: str) -> tuple[datetime.date | None, str | None]:
    """A day: ISO-like text, Chinese 年月日, or a date cell; numbers are refused (a serial or 20260805
    would be a guess)."""
    if isinstance(value, Opaque) and value.what == DATE:
        text = value.shown[:10]
    elif isinstance(value, str):
        text = value.strip()
    else:
        shown = as_text(value)
        return None, f"{name} {shown!r} is not a date: {DATE_ADVICE}"
    m = _DAY.match(text) or _CHINESE_DAY.match(text)
    if m is None:
        return None, f"{name} {text[:40]!r} is not a date: {DATE_ADVICE}"
    try:
        day = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None, f"{name} {text!r} is not a day of the calendar: {DATE_ADVICE}"
    if not 1900 <= day.year <= 2999:
        return None, f"{name} {text!r} is outside the years 1900-2999"
    return day, None
