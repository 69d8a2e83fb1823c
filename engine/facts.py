"""Load the facts a policy is evaluated on: one row per rep per month, exact to the cent.

HR hands Merit the figures they already keep in spreadsheets (CSV exported from Excel, the .xlsx
itself, a LibreOffice .ods, or JSON from a CRM). Money decided from these numbers must be exact and every problem
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
the formats is `engine.factsources`, the header and rows `engine.factrows`, whole-table checks
(merged blanks, 万元 hints) `engine.factchecks`, totals rows `engine.facttotals`; this module runs
a table through them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice

from engine.factchecks import (
    TableWatch,
    amount_hints,
    blank_keys,
    merged_amounts,
    rep_case_clashes,
    spelling_clashes,
)
from engine.factcolumns import CHUNK_ROWS, ColumnReader
from engine.factheader import HeaderMap, check_header, is_repeated_header
from engine.factrow import (
    COUNT_COLUMNS,
    OPTIONAL_NUMBER_COLUMNS,
    REQUIRED_COLUMNS,
    STANDARD_NUMBER_COLUMNS,
    STANDARD_TEXT_COLUMNS,
    FactRow,
)
from engine.factrows import RowChecker, row_rep, spreadsheet_record
from engine.factsources import (
    Table,
    column_name,
    csv_table,
    json_records,
    located,
    records_digest,
    records_table,
    sheet_table,
)
from engine.facttotals import Totals, looks_like_totals, sum_rows, totals_label
from engine.periods import Month
from engine.problems import MeritInputError
from engine.sheetcells import SheetLimits, column_letters

__all__ = [
    "COUNT_COLUMNS",
    "OPTIONAL_NUMBER_COLUMNS",
    "REQUIRED_COLUMNS",
    "STANDARD_NUMBER_COLUMNS",
    "STANDARD_TEXT_COLUMNS",
    "FactRow",
    "FactSet",
    "ReadOptions",
    "RepFilter",
    "facts_from_records",
    "load_facts",
]

_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".ods": "ods",
}
_REFUSED = {
    ".xls": "a legacy Excel 97-2003 workbook (.xls): open it and save it as 'Excel Workbook (*.xlsx)'",
    ".et": "a WPS workbook (.et): save it as 'Excel Workbook (*.xlsx)'",
    ".numbers": "a Numbers file: export it as Excel (.xlsx) or CSV",
}


_RowChecker = RowChecker  # its former name, which tests patch


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file whose layout the loader must not guess.

    `sheet`: the sheet of a workbook with several visible sheets that hold data. `columns`: a
    company's header names (`{"业绩": "actual"}`), on top of the built-in Chinese ones.
    `drop_totals`: leave totals rows out (with a note) instead of refusing the file.
    """

    sheet: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    drop_totals: bool = False
    limits: SheetLimits = field(default_factory=SheetLimits)

    @property
    def plain(self) -> bool:
        """No option given: the file is read as it is."""
        return self.sheet is None and not self.columns and not self.drop_totals

    def as_dict(self) -> dict[str, object]:
        """What to store with an import, so that it is read again exactly as it was accepted."""
        return {"sheet": self.sheet, "columns": dict(self.columns), "drop_totals": self.drop_totals}

    @classmethod
    def from_dict(cls, stored: Mapping[str, object] | None) -> ReadOptions:
        if not stored:
            return cls()
        sheet, columns = stored.get("sheet"), stored.get("columns")
        return cls(
            sheet=sheet if isinstance(sheet, str) else None,
            columns={str(k): str(v) for k, v in columns.items()} if isinstance(columns, Mapping) else {},
            drop_totals=stored.get("drop_totals") is True,
        )


@dataclass(frozen=True)
class FactSet:
    """Every fact row of one source, validated, in file order."""

    source: str
    rows: tuple[FactRow, ...]
    columns: tuple[str, ...]
    sha256: str
    notes: tuple[str, ...] = ()  # what reading decided (an encoding, a sheet, rows left out), and hints

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
    data: bytes,
    filename: str,
    numeric_columns: Collection[str] = (),
    *,
    reps: RepFilter | None = None,
    options: ReadOptions | None = None,
) -> FactSet:
    """Parse and validate a fact file; the format comes from the extension (.csv/.txt, .json,
    .xlsx, .ods).

    `numeric_columns` are extra columns the policy's metrics read: they must be present and are
    parsed as numbers. Raises `MeritInputError` carrying every problem found.

    `reps` keeps only the rows whose rep_id it accepts (a blank rep_id is ""), for one of several
    Dask workers (runtime.partitions): every row is still read, but only those are checked and
    built, so the problems found are those rows' own (plus the file's: header, emptiness).
    """
    return _load_facts(data, filename, numeric_columns, reps, options or ReadOptions())


RepFilter = Callable[[str], bool]


def _load_facts(
    data: bytes, filename: str, numeric_columns: Collection[str], reps: RepFilter | None, options: ReadOptions
) -> FactSet:
    extras = _extra_numeric_columns(numeric_columns)
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    fmt = _FORMATS.get(suffix)
    digest = hashlib.sha256(data).hexdigest()
    if fmt is None:
        shown = f"{suffix!r} files" if suffix else "files without an extension"
        why = _REFUSED.get(suffix, f"cannot read {shown}: give a .csv, .xlsx, .ods or .json file")
        raise MeritInputError([located(filename, None, None, "", f"the file is {why}" if suffix in _REFUSED else why)])
    if fmt == "json":
        records, lines = json_records(data, filename)
        table = records_table(records, filename, lines)
    elif fmt == "csv":
        table = csv_table(data, filename)
    else:
        table = sheet_table(data, filename, fmt, options.sheet, options.limits)
    return _validate(table, extras, digest, reps, options, filename)


def facts_from_records(
    records: Sequence[Mapping[str, object]], source: str, numeric_columns: Collection[str] = ()
) -> FactSet:
    """Validate in-memory records (a Gherkin table, decoded JSON) exactly as a file would be.

    Values may be text, `Decimal`, int, bool or None; a float is refused (it cannot be exact).
    Problems are located by 1-based record index and by the column's position among all keys.
    """
    extras = _extra_numeric_columns(numeric_columns)
    return _validate(records_table(records, source), extras, records_digest(records), None, ReadOptions(), source)


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


def _validate(
    table: Table, extras: tuple[str, ...], digest: str, reps: RepFilter | None, options: ReadOptions, file: str
) -> FactSet:
    source = table.source
    unreadable = bool(table.problems)  # the source could not be read: no "empty" claims
    names = HeaderMap(options.columns)
    columns = check_header(table, extras, names)
    if table.header_line is None and not unreadable and not table.unreadable:
        table.problems.append(located(source, None, None, "", table.empty_message))
    if not columns.complete:  # the rows cannot be read without their columns: stop at the header
        raise MeritInputError(table.problems)
    table.problems.extend(merged_amounts(table, columns.position, (*STANDARD_NUMBER_COLUMNS, *extras)))
    checker = RowChecker(table, columns, extras)
    facts: list[FactRow] = []
    first_row: dict[Month, dict[str, int]] = {}  # month -> rep_id -> the rep's row of that month
    count = 0
    fast = checker.fast
    rep_col = columns.position.get("rep_id")
    name_col = columns.position.get("name")
    totals = Totals(table, options.drop_totals, rep_col, columns.header)
    watch = TableWatch(columns.position, reps) if reps is not None else None  # a worker: sees the others' rows
    cap = options.limits.data_rows
    bulk = ColumnReader(checker, first_row) if reps is None else None  # plainly valid CSV chunks, by column
    rows = iter(table.rows)
    while True:
        reading, table.problems = table.problems, []  # a CSV that cannot be read further says so when read:
        chunk = list(islice(rows, CHUNK_ROWS))  # its problem comes after the rows read before it
        late, table.problems = table.problems, reading
        built = bulk.facts(chunk) if bulk is not None and (cap is None or count + len(chunk) <= cap) else None
        if built is not None:
            count += len(chunk)
            facts.extend(built)
        for line, cells in () if built is not None else chunk:
            count += 1
            if cap is not None and count > cap:
                message = f"more than {cap} rows; an import may have at most {cap} (split the file)"
                raise MeritInputError([located(source, line, None, "", message)], kind="too-many-rows")
            if watch is not None and not watch.row(cells):  # not this worker's rep
                continue
            fact = fast(line, cells if isinstance(cells, list) else spreadsheet_record(cells, checker.fast_width))
            if fact is not None and not (
                looks_like_totals(fact.rep_id) or (fact.name and looks_like_totals(fact.name))
            ):
                key: tuple[str, Month] | None = (fact.rep_id, fact.period)
            else:
                by_column = dict(enumerate(cells, start=1)) if isinstance(cells, list) else cells
                if is_repeated_header(by_column, columns, names):
                    table.problems.append(located(source, line, None, "", "the header row is repeated here"))
                    continue
                label = totals_label(by_column, rep_col, name_col)
                if label is not None:
                    totals.found(line, f"{label[1]!r}", label[0])
                    continue
                if reps is None and rep_col is not None and not row_rep(by_column, rep_col):
                    kept, table.problems = table.problems, []  # a totals row without a word? said once all is read
                    checker.check(line, by_column)
                    held, table.problems = table.problems, kept
                    totals.hold(line, by_column, columns.position, held)
                    continue
                fact, key = checker.check(line, by_column)
            if key is not None:
                first = first_row.setdefault(key[1], {}).setdefault(key[0], line)
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
        for problem in late:
            table.problems.append(problem)
        if not chunk:
            break
    totals.settle(facts)  # rows held back: totals rows, or their own problems
    if table.header_line is not None and count == 0 and not unreadable and not table.unreadable:
        table.problems.append(located(source, None, None, "", table.no_rows_message))
    if watch is not None and watch.suspicious():
        table.problems.append(located(source, None, None, "", "the whole file needs checking in one process"))
    if reps is None and not table.problems:
        for fact, column, other in blank_keys(facts):
            table.problems.append(
                located(
                    source,
                    fact.row,
                    columns.position[column],
                    column,
                    f"{column} is blank while other rows have one (row {other.row}: {getattr(other, column)!r}); a"
                    f" merged cell exported to CSV leaves its lower rows blank: fill in the {column} on every row",
                )
            )
        for fact, column, usual in spelling_clashes(facts):
            table.problems.append(
                located(
                    source,
                    fact.row,
                    columns.position[column],
                    column,
                    f"{column} {getattr(fact, column)!r} differs from {usual!r} (other rows) only by case or spaces:"
                    " each spelling would be a group of its own; write it one way",
                )
            )
        rep_at = columns.position.get("rep_id") if table.columns_located else None
        table.problems.extend(rep_case_clashes(facts, source, rep_at, table.row_word))
        summed = sum_rows(facts)
        for fact, others in summed:
            totals.found(fact.row, f"its target and actual are the sums of the other {others} rows of {fact.period}")
        if summed and options.drop_totals:
            gone = {id(f) for f, _ in summed}
            facts = [f for f in facts if id(f) not in gone]
    if table.problems:
        raise MeritInputError(table.problems)
    notes = list(table.notes)
    notes.extend(totals.note(file))
    if checker.noise:
        notes.append(
            f"{checker.noise} amount(s) had 16-17 significant digits (binary float noise from the program that"
            " wrote the file) and were read at the 15 significant digits Excel keeps"
        )
    if checker.renamed:
        notes.append(f"{checker.renamed} rep_id(s) in full-width characters were read in their plain form (NFKC)")
    notes.extend(amount_hints(facts, _first_cells(table, columns.position)))
    if checker.display_rounded():
        notes.append(
            "the amounts are written with thousands separators and none has cents, as a number format shows"
            " them: if the sheet was formatted without decimals when saved as CSV, the cents are lost; Merit pays"
            " on the amounts as written (save the exact values, e.g. format the columns as 0.00 first)"
        )
    return FactSet(source=file, rows=tuple(facts), columns=columns.names, sha256=digest, notes=tuple(notes))


def _first_cells(table: Table, position: Mapping[str, int]) -> tuple[str, str] | None:
    """The first target and actual cells (D2, E2), for advice given as an Excel formula."""
    if not table.columns_located or table.header_line is None:
        return None
    row = table.header_line + 1
    return (f"{column_letters(position['target'])}{row}", f"{column_letters(position['actual'])}{row}")
