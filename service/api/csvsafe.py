"""CSV exports that a spreadsheet cannot execute.

Payroll and HR open exports in Excel/WPS; a cell such as `=HYPERLINK(...)` or `@SUM(...)` (from a
rep name or a policy label) would run as a formula. Cells starting with `=`, `+`, `-`, `@`, tab or
carriage return are prefixed with an apostrophe - except plain numbers like `-500.00`, which are
data, not formulas, and must stay numeric for payroll.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def neutralise(cell: object) -> str:
    text = "" if cell is None else str(cell)
    if text.startswith(_DANGEROUS) and not _NUMBER.match(text):
        return "'" + text
    return text


def write_rows(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return buf.getvalue()


def sanitise_csv(text: str, keep: Iterable[str] | None = None, key: str = "rep_id") -> str:
    """Re-emit a CSV with every cell neutralised; with `keep`, only rows whose `key` column is in it."""
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if keep is not None:
        wanted = set(keep)
        idx = header.index(key) if key in header else None
        body = [r for r in body if idx is not None and idx < len(r) and _plain(r[idx]) in wanted]
    return write_rows(header, body)


def _plain(cell: str) -> str:
    """A cell's value before neutralisation (undo a leading apostrophe added by an exporter)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_DANGEROUS) else cell
