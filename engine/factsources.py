"""Fact sources: CSV, JSON and XLSX bytes read into one table shape, values not yet judged.

Each format has its own way to go wrong (a BOM, a quoted line break, a formula with no saved
value, a JSON key given twice); this module turns any of them into the same `Table` of rows of
cells, each cell kept exactly as written (text, `Decimal`, bool, or an `Opaque` value that says
what it is), and leaves judging the values to `engine.facts`. Amounts never pass through float.
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

from engine import xlsx
from engine.problems import MeritInputError, Problem

_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_GROUPED_NUMBER = re.compile(r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_EXPONENT_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$")
MAX_WHOLE_DIGITS = 15  # 999,999,999,999,999: a thousand trillion
MAX_DECIMALS = 6


# --- cell values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opaque:
    """A value that is neither text nor a number: a date or error cell, JSON NaN, a list, a float."""

    shown: str
    what: str


Value = str | Decimal | bool | Opaque | None


def column_name(text: str) -> str:
    return text.strip().lower()


def is_blank(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def as_text(value: Value) -> str | None:
    """The value as stripped text; None when blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Opaque):
        return value.shown
    return value.strip() or None


def as_number(value: Value) -> tuple[Decimal | None, str | None]:
    """(number, None), (None, None) when blank, or (None, why it is not a number)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"{'TRUE' if value else 'FALSE'} is a true/false value, not a number"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None, f"{value} is not a number"
        return _within_limits(value, format(value, "f"))
    if isinstance(value, Opaque):
        return None, f"{value.shown} is {value.what}, not a number"
    text = value.strip()
    if not text:
        return None, None
    if _PLAIN_NUMBER.match(text):
        return _within_limits(Decimal(text), text)
    if _GROUPED_NUMBER.match(text):
        return _within_limits(Decimal(text.replace(",", "")), text)
    if _EXPONENT_NUMBER.match(text):
        return None, f"{text!r} uses exponent notation; write the number out in full"
    return None, f"{text!r} is not a number (write it like 840000, 840000.50 or 840,000.50)"


def _within_limits(number: Decimal, shown: str) -> tuple[Decimal | None, str | None]:
    """Bounds no sales figure comes near, inside which every sum and product of the evaluation
    stays exact in a 28-digit context: at most 15 digits before the point and 6 after it."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_DECIMALS:
        return None, f"{_clip(shown)} has more than {MAX_DECIMALS} decimal places"
    if number.adjusted() >= MAX_WHOLE_DIGITS:
        return None, f"{_clip(shown)} has more than {MAX_WHOLE_DIGITS} digits before the decimal point"
    return number, None


def _clip(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def from_python(value: object) -> Value:
    if value is None or isinstance(value, str | bool | Decimal | Opaque):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Opaque(repr(value), "a binary float, which cannot be exact (give it as text or Decimal)")
    if isinstance(value, Mapping):
        return Opaque("{…}", "an object")
    if isinstance(value, list | tuple):
        return Opaque("[…]", "a list")
    return Opaque(repr(value), f"a {type(value).__name__}")


def from_xlsx(cell: xlsx.Cell | None) -> Value:
    if cell is None:
        return None
    if cell.kind == "number":
        return Decimal(cell.text)
    if cell.kind == "bool":
        return cell.text == "TRUE"
    if cell.kind == "date":
        return Opaque(cell.text, "a date cell")
    if cell.kind == "error":
        return Opaque(cell.text, "an error cell")
    if cell.kind == "formula":
        return Opaque(cell.text, "a formula with no saved value (open the file in Excel and save it)")
    return cell.text


# --- reading the formats into one table shape ---------------------------------------------------


@dataclass
class Table:
    """Header and data rows of a source, before any validation of values."""

    source: str
    header_line: int | None = None
    header: list[tuple[int, str]] = field(default_factory=list)  # (1-based column, raw name)
    # (row, column -> value), or for CSV (row, the record's texts in column order); a lazy iterator
    # for files, so a million rows are never all held as cells
    rows: Iterable[tuple[int, dict[int, Value] | list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unreadable: bool = False  # the source could not be read to its end
    empty_message: str = "the file is empty"
    no_rows_message: str = "there are no data rows, only the header"
    columns_located: bool = True  # False for JSON: a key has no column of its own, its name says it
    row_word: str = "row"  # how a message names another row's place: "line" in a JSON file


def located(source: str, line: int | None, column: int | None, name: str, message: str) -> Problem:
    return Problem(source=source, line=line, column=column, field=name, message=message)


def decode_utf8(data: bytes, source: str) -> str | Problem:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return located(
            source,
            line,
            None,
            "",
            f"the file is not UTF-8 text (byte 0x{data[e.start]:02x}); save it as 'CSV UTF-8'",
        )


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
    """Rows stay the csv module's lists of texts: `_RowChecker.fast` reads them as they are."""
    table = Table(source)
    if not data.isascii():  # ASCII is UTF-8; anything else is checked whole before a row is read
        text = decode_utf8(data, source)
        if isinstance(text, Problem):
            table.problems.append(text)
            return table
        del text
    # decoded as it is read, a few kilobytes at a time: a whole-file StringIO would hold four
    # bytes per character (400 MB for a million rows) while the rows are built
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream, strict=True)

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


def xlsx_table(data: bytes, source: str) -> Table:
    table = Table(source, empty_message="the first worksheet is empty")
    try:
        sheet = xlsx.read_first_sheet(data)
    except xlsx.XlsxError as e:
        table.problems.append(located(source, None, None, "", str(e)))
        return table
    _add_sheet_rows(table, ((r.number, {i: from_xlsx(c) for i, c in enumerate(r.cells, start=1)}) for r in sheet))
    return table


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
