"""CSV exports that a spreadsheet cannot execute.

Payroll and HR open exports in Excel/WPS; a cell such as `=HYPERLINK(...)` or `@SUM(...)` (from a
rep name or a policy label) would run as a formula. Every text cell goes through the engine's own
`safe_cell` (the rule `merit evaluate --format csv` applies: a leading `=`, `+`, `-`, `@`, tab or
carriage return gets an apostrophe), so the service and the CLI neutralise exactly alike. Number
columns (amounts, ids) are written as they are: `-500.00` is data, not a formula, and must stay
numeric for payroll. `safe_cell` is idempotent, so re-emitting the engine's (already safe) CSV
through it changes nothing the engine wrote.

Spreadsheets also read full-width signs (`＝1+1`, `＋`, `－`, `＠`) as formulas, and skip invisible
characters (a zero-width space before `=`): so a cell is judged by its NFKC form with format
characters (Unicode category Cf) and leading spaces removed, and apostrophed when that form
starts like a formula. The cell's own text is kept as it was.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Collection, Iterable, Sequence

from engine.results import safe_cell

#: The number columns of the engine's results CSV (`Evaluation.CSV_COLUMNS`); the rest is text.
RESULT_NUMBER_COLUMNS = frozenset(
    {"target", "actual", "achievement", "commission", "bonus", "awards", "total", "score"}
)


_FORMULA_START = "=+-@\t\r"


def _looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could read `text` as a formula once it folds width and skips the
    invisible: its NFKC form, without format characters and leading spaces, starts with a sign."""
    if text[:1] == "'":
        return False  # already neutralised (keeps `cell` idempotent)
    folded = unicodedata.normalize("NFKC", text[:64])
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").lstrip(" \u00a0\u3000")
    return visible[:1] in tuple(_FORMULA_START) if visible else False


def cell(value: object) -> str:
    """A text cell, neutralised against formula injection (the engine's rule, and the folded forms)."""
    text = safe_cell(None if value is None else str(value))
    return "'" + text if text and _looks_like_formula(text) else text


def write_rows(header: Sequence[str], rows: Iterable[Sequence[object]], numbers: Collection[str] = ()) -> str:
    """CSV text: `header`, then `rows`; cells of the columns named in `numbers` are left as they are."""
    plain = [name in numbers for name in header]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if c is None else str(c) if keep else cell(c) for c, keep in zip(row, plain, strict=True)])
    return buf.getvalue()


def filter_results_csv(text: str, keep: Collection[str] | None, key: str = "rep_id") -> str:
    """The engine's results CSV, with only the rows whose `key` is in `keep` (all rows when None).

    The engine wrote the key cells through `safe_cell`, so the wanted ids are compared the same way.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if keep is not None:
        wanted = {safe_cell(k) for k in keep}  # what the engine wrote
        idx = header.index(key) if key in header else None
        body = [r for r in body if idx is not None and idx < len(r) and r[idx] in wanted]
    return write_rows(header, body, RESULT_NUMBER_COLUMNS)
