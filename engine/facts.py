"""Load the facts a policy is evaluated on: one row per rep per month, exact to the cent.

HR hands Merit the figures they already keep in spreadsheets (CSV exported from Excel, the .xlsx
itself, or JSON from a CRM). Money decided from these numbers must be exact and every problem
must be found in one pass, so this module:

* parses amounts straight from text to `Decimal`, never through float (`.xlsx` cells are read
  from their raw XML text by `engine.xlsx`, JSON with `parse_float=Decimal`);
* accepts only unambiguous number forms (840000, 840000.00, -5, 840,000.50) and rejects the rest
  (NaN, 1e5, TRUE) instead of guessing;
* reports every problem of the file at once, each located by row and column, in one
  `MeritInputError`, and returns nothing when there is any;
* stays a pure function of the bytes and filename it is handed (no I/O, no framework), and is
  deterministic: rows keep file order, `FactSet.for_month` sorts by rep_id.

Rows are numbered as a spreadsheet shows them (the header is row 1, blank rows count) for CSV and
XLSX, by the line a record starts on for JSON, and by 1-based index for in-memory records. Reading
the formats is `engine.factsources`; this module judges the values.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cached_property, lru_cache
from types import MappingProxyType

from engine.factsources import (
    Table,
    Value,
    as_number,
    as_text,
    column_name,
    csv_table,
    is_blank,
    json_records,
    located,
    records_digest,
    records_table,
    xlsx_table,
)
from engine.periods import Month, parse_month
from engine.problems import MeritInputError

STANDARD_TEXT_COLUMNS = ("rep_id", "name", "region", "product_line", "manager_id")
STANDARD_NUMBER_COLUMNS = ("target", "actual", "collected", "new_customers", "leads", "follow_ups", "deals")
REQUIRED_COLUMNS = ("rep_id", "period", "target", "actual")

#: Counts of things: whole numbers, never negative.
COUNT_COLUMNS = ("new_customers", "leads", "follow_ups", "deals")
#: Standard number columns other than target/actual; always present as keys of `FactRow.numbers`.
OPTIONAL_NUMBER_COLUMNS = tuple(c for c in STANDARD_NUMBER_COLUMNS if c not in ("target", "actual"))

_FORMATS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx"}
_CACHE_LIMIT = 1024  # distinct texts a number column's cache keeps before it gives up


@dataclass(frozen=True, slots=True)
class FactRow:
    """One rep's figures for one month, as read from one row of the source."""

    rep_id: str
    period: Month
    target: Decimal
    actual: Decimal
    name: str | None
    region: str | None
    product_line: str | None
    manager_id: str | None
    numbers: Mapping[str, Decimal | None]
    texts: Mapping[str, str]
    row: int

    def number(self, column: str) -> Decimal | None:
        """The value of a number column (target, actual or any in `numbers`); None if absent or blank."""
        name = column_name(column)
        if name == "target":
            return self.target
        if name == "actual":
            return self.actual
        return self.numbers.get(name)


_SETTERS = tuple(getattr(FactRow, f.name).__set__ for f in fields(FactRow))
assert [f.name for f in fields(FactRow)] == [
    "rep_id", "period", "target", "actual", "name", "region", "product_line", "manager_id", "numbers", "texts", "row"
], "_fact_row sets FactRow's fields by position"  # fmt: skip


def _fact_row(
    rep_id: str,
    period: Month,
    target: Decimal,
    actual: Decimal,
    name: str | None,
    region: str | None,
    product_line: str | None,
    manager_id: str | None,
    numbers: Mapping[str, Decimal | None],
    texts: Mapping[str, str],
    row: int,
) -> FactRow:
    """`FactRow(...)` without the frozen dataclass's `__init__` (one `object.__setattr__` per
    field): the same object for a third of the cost, for the loader's million rows."""
    fact = object.__new__(FactRow)
    s = _SETTERS
    s[0](fact, rep_id), s[1](fact, period), s[2](fact, target), s[3](fact, actual)
    s[4](fact, name), s[5](fact, region), s[6](fact, product_line), s[7](fact, manager_id)
    s[8](fact, numbers), s[9](fact, texts), s[10](fact, row)
    return fact


@dataclass(frozen=True)
class FactSet:
    """Every fact row of one source, validated, in file order."""

    source: str
    rows: tuple[FactRow, ...]
    columns: tuple[str, ...]
    sha256: str

    @property
    def periods(self) -> tuple[str, ...]:
        """The distinct months present, sorted, as "YYYY-MM"."""
        return tuple(str(m) for m in sorted({row.period for row in self.rows}))

    def for_month(self, month: Month) -> tuple[FactRow, ...]:
        """The rows of one month, sorted by rep_id (unique within a month)."""
        return self._by_month.get(month, ())

    @cached_property
    def _by_month(self) -> dict[Month, tuple[FactRow, ...]]:
        months: dict[Month, list[FactRow]] = {}
        last: Month | None = None
        rows: list[FactRow] = []
        for r in self.rows:
            if r.period is not last:  # rows of one month mostly come together and share one Month
                last = r.period
                rows = months.setdefault(last, [])
            rows.append(r)
        return {m: tuple(sorted(rows, key=lambda r: r.rep_id)) for m, rows in months.items()}

    def has_column(self, column: str) -> bool:
        return column_name(column) in self.columns


def load_facts(
    data: bytes, filename: str, numeric_columns: Collection[str] = (), *, reps: RepFilter | None = None
) -> FactSet:
    """Parse and validate a fact file; the format comes from the extension (.csv, .json, .xlsx).

    `numeric_columns` are extra columns the policy's metrics read: they must be present and are
    parsed as numbers. Raises `MeritInputError` carrying every problem found.

    `reps` keeps only the rows whose rep_id it accepts (a blank rep_id is ""), for one of several
    worker processes (runtime.parallel): every row is still read, but only those are checked and
    built, so the problems found are those rows' own (plus the file's: header, emptiness).
    """
    return _load_facts(data, filename, numeric_columns, reps)


RepFilter = Callable[[str], bool]


def _load_facts(data: bytes, filename: str, numeric_columns: Collection[str], reps: RepFilter | None = None) -> FactSet:
    extras = _extra_numeric_columns(numeric_columns)
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    fmt = _FORMATS.get(suffix)
    digest = hashlib.sha256(data).hexdigest()
    if fmt is None:
        shown = f"{suffix!r} files" if suffix else "files without an extension"
        raise MeritInputError(
            [located(filename, None, None, "", f"cannot read {shown}: give a .csv, .json or .xlsx file")]
        )
    if fmt == "json":
        records, lines = json_records(data, filename)
        return _validate(records_table(records, filename, lines), extras, digest, reps)
    table = csv_table(data, filename) if fmt == "csv" else xlsx_table(data, filename)
    return _validate(table, extras, digest, reps)


def facts_from_records(
    records: Sequence[Mapping[str, object]], source: str, numeric_columns: Collection[str] = ()
) -> FactSet:
    """Validate in-memory records (a Gherkin table, decoded JSON) exactly as a file would be.

    Values may be text, `Decimal`, int, bool or None; a float is refused (it cannot be exact).
    Problems are located by 1-based record index and by the column's position among all keys.
    """
    extras = _extra_numeric_columns(numeric_columns)
    return _validate(records_table(records, source), extras, records_digest(records))


# --- validation ----------------------------------------------------------------------------------


def _extra_numeric_columns(numeric_columns: Collection[str]) -> tuple[str, ...]:
    """The policy's number columns, normalized, in a deterministic order, without duplicates."""
    if isinstance(numeric_columns, str):
        raise TypeError("numeric_columns must be a collection of column names, not one string")
    names: list[str] = []
    for column in numeric_columns:
        name = column_name(column)
        if name in STANDARD_TEXT_COLUMNS or name == "period" or not name:
            raise ValueError(f"column {column!r} cannot be read as a number: it is not a number column")
        if name not in names:
            names.append(name)
    return tuple(sorted(names))


@dataclass
class _Columns:
    """Where each named column sits (1-based), and the names in file order."""

    position: dict[str, int]
    names: tuple[str, ...]
    header: dict[int, str]  # column -> its name, for every named column (duplicates included)


def _check_header(table: Table, extras: tuple[str, ...]) -> _Columns:
    source, line = table.source, table.header_line
    position: dict[str, int] = {}
    for col, raw in table.header:
        name = column_name(raw)
        if not name:
            continue
        if name in position:
            table.problems.append(
                located(
                    source,
                    line,
                    col,
                    name,
                    f"column {name!r} appears twice in the header (first as column {position[name]})",
                )
            )
            continue
        position[name] = col
    if line is not None:
        hint = _header_hint(table, position)
        for name in REQUIRED_COLUMNS:
            if name not in position:
                table.problems.append(located(source, line, None, name, f"required column {name!r} is missing{hint}"))
        for name in extras:
            if name not in position:
                table.problems.append(located(source, line, None, name, f"column {name!r} is required by the policy"))
    header = {col: column_name(raw) for col, raw in table.header if column_name(raw)}
    return _Columns(position, tuple(position), header)


def _header_hint(table: Table, position: Mapping[str, int]) -> str:
    """Why the header may lack the required columns, when the file itself suggests it."""
    if all(n in position for n in REQUIRED_COLUMNS):
        return ""
    cells = [raw for _, raw in table.header]
    for sep in (";", "\t", "|"):
        if any(sep in c for c in cells) and all(n in " ".join(cells).lower() for n in REQUIRED_COLUMNS):
            shown = "tab" if sep == "\t" else repr(sep)
            return f" (the header seems separated by {shown}: save the file as comma-separated CSV)"
    rest = iter(table.rows)
    first = list(itertools.islice(rest, 10))
    table.rows = itertools.chain(first, rest)  # peeked, not consumed: the rows are still checked
    for number, row in first:
        values = row.values() if isinstance(row, dict) else row
        names = {column_name(v) for v in values if isinstance(v, str)}
        if all(n in names for n in REQUIRED_COLUMNS):
            return f" (line {number} looks like the header: remove the lines above it)"
    return ""


def _is_repeated_header(cells: Mapping[int, Value], columns: _Columns) -> bool:
    """A data row that reads like the header (e.g. two exports pasted one after another)."""
    filled = [(col, v) for col, v in cells.items() if not is_blank(v)]
    return len(filled) >= 2 and all(
        isinstance(v, str) and column_name(v) == columns.header.get(col) for col, v in filled
    )


_NO_TEXTS: Mapping[str, str] = MappingProxyType({})


@lru_cache(maxsize=256)
def _month(text: str) -> Month:
    """One shared Month per distinct period text."""
    return parse_month(text)


class _NumberCells:
    """One number column as the fast path reads it: text -> Decimal, already checked for the column.

    Targets and counts repeat a lot, so their texts are remembered and every row shares one
    Decimal per distinct value (about a quarter of the memory a million rows take). A column
    whose values keep being new (actual, collected) stops remembering after _CACHE_LIMIT texts.
    """

    __slots__ = ("cache", "col", "non_negative", "remembering", "whole")

    def __init__(self, col: int | None, non_negative: bool, whole: bool) -> None:
        self.col = col
        self.non_negative = non_negative
        self.whole = whole
        self.cache: dict[str, Decimal] = {}
        self.remembering = True

    def number(self, record: list[str]) -> Decimal | None:
        text = record[self.col]  # type: ignore[index]
        hit = self.cache.get(text)
        return hit if hit is not None else self.parse(text)

    def parse(self, text: str) -> Decimal | None:
        """A number that passes the column's checks; None when blank or when `check` must say why."""
        number, error = as_number(text)
        if number is None or error is not None:
            return None
        if (self.non_negative and number < 0) or (self.whole and number != number.to_integral_value()):
            return None
        if self.remembering:
            if len(self.cache) < _CACHE_LIMIT:
                self.cache[text] = number
            else:  # values keep being new: stop remembering
                self.cache.clear()
                self.remembering = False
        return number


class _RowChecker:
    """Validates one data row, collecting its problems."""

    def __init__(self, table: Table, columns: _Columns, extras: tuple[str, ...]) -> None:
        self.table = table
        self.columns = columns
        self.extras = extras
        self.number_columns = set(STANDARD_NUMBER_COLUMNS) | set(extras)
        self.unknown = tuple(
            n
            for n in columns.names
            if n not in self.number_columns and n not in STANDARD_TEXT_COLUMNS and n != "period"
        )
        self._plan_fast()

    def _plan_fast(self) -> None:
        """Where `fast` finds each value: 0-based positions, or no fast path at all.

        The fast path takes a CSV record whose every column has a name and whose values are all
        in the forms nobody needs to be told about; anything else goes through `check`, which
        says what is wrong. So `fast` never decides that a row is bad, only that it is plainly good.
        """
        self.fast_width = -1  # no record has this length: fast path off
        pos = self.columns.position
        width = len(self.table.header)
        if any(n not in pos for n in (*REQUIRED_COLUMNS, *self.extras)) or len(self.columns.header) != width:
            return
        self.fast_width = width

        def at(name: str) -> int | None:
            return None if name not in pos else pos[name] - 1

        self.fast_rep, self.fast_period = pos["rep_id"] - 1, pos["period"] - 1
        self.fast_target = _NumberCells(pos["target"] - 1, non_negative=True, whole=False)
        self.fast_actual = _NumberCells(pos["actual"] - 1, non_negative=True, whole=False)
        self.fast_texts = tuple(at(n) for n in ("name", "region", "product_line", "manager_id"))
        names = (*OPTIONAL_NUMBER_COLUMNS, *(e for e in self.extras if e not in STANDARD_NUMBER_COLUMNS))
        self.fast_numbers = tuple(
            (name, at(name), cells.cache, cells)
            for name in names
            for cells in [_NumberCells(at(name), name == "collected" or name in COUNT_COLUMNS, name in COUNT_COLUMNS)]
        )
        self.fast_unknown = tuple((n, pos[n] - 1) for n in self.unknown)
        self.fast_months: dict[str, Month] = {}

    def fast(self, line: int, record: list[str]) -> FactRow | None:
        """The row as a fact when it is plainly valid; None sends it to `check`."""
        if len(record) != self.fast_width:
            return None
        rep_id = record[self.fast_rep].strip()
        if not rep_id:
            return None
        raw = record[self.fast_period]
        period = self.fast_months.get(raw)
        if period is None:
            try:
                period = self.fast_months[raw] = _month(raw)
            except ValueError:
                return None
        target = self.fast_target.number(record)
        if target is None or target <= 0:
            return None
        actual = self.fast_actual.number(record)
        if actual is None:
            return None
        numbers: dict[str, Decimal | None] = {}
        for column, col, cache, cells in self.fast_numbers:
            if col is None:
                numbers[column] = None
                continue
            text = record[col]
            value = cache.get(text)
            if value is None:
                if not text or text.isspace():
                    numbers[column] = None
                    continue
                value = cells.parse(text)
                if value is None:
                    return None
            numbers[column] = value
        c_name, c_region, c_line, c_manager = self.fast_texts
        name = None if c_name is None else record[c_name].strip() or None
        region = None if c_region is None else record[c_region].strip() or None
        product_line = None if c_line is None else record[c_line].strip() or None
        manager_id = None if c_manager is None else record[c_manager].strip() or None
        intern = sys.intern  # ids, names, regions repeat every month
        return _fact_row(
            intern(rep_id),
            period,
            target,
            actual,
            name and intern(name),
            region and intern(region),
            product_line and intern(product_line),
            manager_id and intern(manager_id),
            numbers,
            {n: intern(record[col].strip()) for n, col in self.fast_unknown} if self.fast_unknown else _NO_TEXTS,
            line,
        )

    def check(self, line: int, cells: Mapping[int, Value]) -> tuple[FactRow | None, tuple[str, Month] | None]:
        """The row as a fact (None if it has a problem) and its (rep_id, period) when both are valid."""
        self.line, self.cells, self.ok = line, cells, True
        for col, value in sorted(cells.items()):
            if col not in self.columns.header and not is_blank(value):
                self._report(col, "", f"column {col} has a value but no name in the header")
        rep_id = self._text("rep_id")
        if "rep_id" in self.columns.position and rep_id is None:
            self._report(self.columns.position["rep_id"], "rep_id", "rep_id is blank")
        period = self._period()
        target = self._required_amount("target")
        actual = self._required_amount("actual")
        numbers: dict[str, Decimal | None] = {}
        for name in (*OPTIONAL_NUMBER_COLUMNS, *(e for e in self.extras if e not in STANDARD_NUMBER_COLUMNS)):
            numbers[name] = self._number(name)
        if target is not None and target <= 0:
            message = (
                "target is zero, so achievement (actual / target) cannot be computed"
                if target == 0
                else f"target is negative ({target})"
            )
            self._report(self.columns.position["target"], "target", message)
        if actual is not None and actual < 0:
            self._report(self.columns.position["actual"], "actual", f"actual is negative ({actual})")
        for name in ("collected", *COUNT_COLUMNS):
            value = numbers[name]
            if value is not None and value < 0:
                self._report(self.columns.position[name], name, f"{name} is negative ({value})")
            elif name in COUNT_COLUMNS and value is not None and value != value.to_integral_value():
                self._report(self.columns.position[name], name, f"{name} must be a whole number, not {value}")
        key = (rep_id, period) if rep_id is not None and period is not None else None
        if not self.ok or key is None or target is None or actual is None:
            return None, key
        fact = FactRow(
            rep_id=key[0],
            period=key[1],
            target=target,
            actual=actual,
            name=self._text("name"),
            region=self._text("region"),
            product_line=self._text("product_line"),
            manager_id=self._text("manager_id"),
            numbers=numbers,
            texts={n: self._text(n) or "" for n in self.unknown} if self.unknown else _NO_TEXTS,
            row=line,
        )
        return fact, key

    def _report(self, column: int | None, name: str, message: str) -> None:
        self.ok = False
        shown = column if self.table.columns_located else None
        self.table.problems.append(located(self.table.source, self.line, shown, name, message))

    def _value(self, name: str) -> Value:
        col = self.columns.position.get(name)
        return self.cells.get(col) if col is not None else None

    def _text(self, name: str) -> str | None:
        text = as_text(self._value(name))
        return None if text is None else sys.intern(text)  # ids, names, regions repeat every month

    def _period(self) -> Month | None:
        col = self.columns.position.get("period")
        if col is None:
            return None
        value = self.cells.get(col)
        if is_blank(value):
            self._report(col, "period", "period is blank")
            return None
        if not isinstance(value, str):
            shown = as_text(value)
            self._report(
                col,
                "period",
                f"period {shown} is not text: write the month as text in the form YYYY-MM, e.g. 2026-08"
                " (in a spreadsheet, format the period column as Text)",
            )
            return None
        try:
            return _month(value)
        except ValueError as e:
            self._report(col, "period", f"{e} (e.g. 2026-08)")
            return None

    def _number(self, name: str) -> Decimal | None:
        col = self.columns.position.get(name)
        if col is None:
            return None
        number, error = as_number(self.cells.get(col))
        if error is not None:
            self._report(col, name, error)
        return number

    def _required_amount(self, name: str) -> Decimal | None:
        col = self.columns.position.get(name)
        if col is None:
            return None
        if is_blank(self.cells.get(col)):
            self._report(col, name, f"{name} is blank")
            return None
        return self._number(name)


def _row_rep(cells: Mapping[int, Value] | list[str], rep_col: int | None) -> str:
    """A row's rep_id as `_RowChecker` reads it ("" when blank or absent)."""
    if rep_col is None:
        return ""
    if type(cells) is list:
        return cells[rep_col - 1].strip() if rep_col <= len(cells) else ""
    return as_text(cells.get(rep_col)) or ""  # type: ignore[union-attr]


def _validate(table: Table, extras: tuple[str, ...], digest: str, reps: RepFilter | None = None) -> FactSet:
    source = table.source
    unreadable = bool(table.problems)  # the source could not be read: no "empty" claims
    columns = _check_header(table, extras)
    if table.header_line is None and not unreadable and not table.unreadable:
        table.problems.append(located(source, None, None, "", table.empty_message))
    checker = _RowChecker(table, columns, extras)
    facts: list[FactRow] = []
    first_row: dict[tuple[str, Month], int] = {}
    count = 0
    fast = checker.fast
    rep_col = columns.position.get("rep_id")
    for line, cells in table.rows:
        count += 1
        if reps is not None and not reps(_row_rep(cells, rep_col)):
            continue
        fact = fast(line, cells) if isinstance(cells, list) else None
        if fact is not None:
            key: tuple[str, Month] | None = (fact.rep_id, fact.period)
        else:
            by_column = dict(enumerate(cells, start=1)) if isinstance(cells, list) else cells
            if _is_repeated_header(by_column, columns):
                table.problems.append(located(source, line, None, "", "the header row is repeated here"))
                continue
            fact, key = checker.check(line, by_column)
        if key is not None:
            first = first_row.setdefault(key, line)
            if first != line:
                table.problems.append(
                    located(
                        source,
                        line,
                        rep_col if table.columns_located else None,
                        "rep_id",
                        f"rep_id {key[0]!r} already has a row for {key[1]} ({table.row_word} {first})",
                    )
                )
                continue
        if fact is not None:
            facts.append(fact)
    if table.header_line is not None and count == 0 and not unreadable and not table.unreadable:
        table.problems.append(located(source, None, None, "", table.no_rows_message))
    if table.problems:
        raise MeritInputError(table.problems)
    return FactSet(source=source, rows=tuple(facts), columns=columns.names, sha256=digest)
