"""XLSX exports people open in Excel or WPS: an evaluation's results and the payroll feed.

Why a workbook and not only CSV: a CSV carries no types, so a spreadsheet guesses (a rep id
`0012` loses its zeros, an amount is text or a date); here every amount is a typed number with a
two-decimal format, ratios are percentages, the header is frozen, the light is a coloured cell
with the policy's own label (绿灯), and each period has its own sheet (a quarter: one per month,
then the quarter's).

Money is exact. An amount becomes the one double nearest it, which is what Excel itself stores
when the amount is typed; an amount of at most 15 significant digits is the only decimal of that
size nearest its double, so reading the cell back and taking the shortest decimal for the double
(Python's `repr`, Excel's own display) gives the amount exactly. A number with more significant
digits could not come back exactly, so it is written as a text cell with its own digits.

Text cells go through the same formula guard as the CSV exports (`service.api.csvsafe.cell`), so
a name such as `=HYPERLINK(...)` is shown, never run. The bytes are deterministic: openpyxl
stamps the save time into the document properties and the zip entries, so both are fixed here.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from engine.labels import Labels
from engine.policy import Policy
from engine.problems import MeritInputError
from service.api.csvsafe import cell as safe_text

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
SCORE_FORMAT = "0.00"
MAX_EXACT_DIGITS = 15
#: The rows a sheet holds below its header (Excel's limit is 1,048,576 rows in all).
MAX_SHEET_ROWS = 1_048_575
#: Excel's own "good / neutral / bad" fills, so the colours read as they do in any workbook.
LIGHT_FILL = {"green": "C6EFCE", "yellow": "FFEB9C", "red": "FFC7CE"}
_FIXED_TIME = "2000-01-01T00:00:00Z"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: The results sheet: (header, JSON key, kind); kinds: text, money, percent, score, light, tier.
RESULT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("period", "period", "text"),
    ("rep_id", "rep_id", "text"),
    ("name", "name", "text"),
    ("region", "region", "text"),
    ("product_line", "product_line", "text"),
    ("target", "target", "money"),
    ("actual", "actual", "money"),
    ("achievement", "achievement", "percent"),
    ("light", "light", "light"),
    ("tier", "tier", "tier"),
    ("commission", "commission", "money"),
    ("bonus", "bonus", "money"),
    ("awards", "awards", "money"),
    ("total", "total", "money"),
    ("score", "score", "score"),
    ("rating", "rating", "text"),
)
PAYROLL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("line_id", "text"),
    ("run_id", "integer"),
    ("policy_id", "text"),
    ("policy_version", "text"),
    ("period", "text"),
    ("rep_id", "text"),
    ("name", "text"),
    ("region", "text"),
    ("component", "text"),
    ("label", "text"),
    ("amount", "money"),
    # what the feed says about corrections (service/payroll/feed.py FIELDS, docs/service.md)
    ("kind", "text"),
    ("settled", "text"),
    ("pay_period", "text"),
    ("original_run_id", "integer"),
    ("original_policy_sha256", "text"),
    ("original_facts_sha256", "text"),
    ("policy_sha256", "text"),
    ("facts_sha256", "text"),
    ("reason", "text"),
    ("requested_by", "text"),
    ("approved_by", "text"),
)
_FORMATS = {"money": MONEY_FORMAT, "percent": PERCENT_FORMAT, "score": SCORE_FORMAT}


def exact_number(text: str | None) -> Decimal | str | None:
    """A decimal string as the value of a number cell: the Decimal when a double brings it back
    exactly (at most 15 significant digits), else the text itself; None for a blank."""
    if text is None or text == "":
        return None
    value = Decimal(text)
    if len(value.normalize().as_tuple().digits) > MAX_EXACT_DIGITS:
        return text
    return value


def results_workbook(policy: Policy, document: Mapping[str, Any]) -> bytes:
    """The results JSON document (`Evaluation.as_dict()`) as a workbook: one sheet per period.

    A month run has one sheet; a quarter run one per month (the month lines) and the quarter's.
    """
    by_period: dict[str, list[Mapping[str, Any]]] = {}
    for line in document["results"]:
        for month in line.get("months", ()):
            by_period.setdefault(month["period"], []).append(month)
    for line in document["results"]:
        by_period.setdefault(line["period"], []).append(line)
    if not by_period:
        by_period[str(document["period"])] = []
    too_long = [f"{p} has {len(rows):,} lines" for p, rows in sorted(by_period.items()) if len(rows) > MAX_SHEET_ROWS]
    if too_long:  # a spreadsheet would silently drop the rest: refuse, and say what does hold them
        raise MeritInputError.at(
            "--format", "xlsx", f"{'; '.join(too_long)}: a sheet holds {MAX_SHEET_ROWS:,}; write csv or json instead"
        )
    labels = Labels(policy)
    lights, tiers = labels.lights, labels.tiers
    wb = Workbook()
    wb.remove(wb.active)
    for period in sorted(by_period):  # 2026-07 < 2026-08 < 2026-09 < 2026-Q3: months, then quarter
        ws = wb.create_sheet(period)
        _header(ws, [h for h, _, _ in RESULT_COLUMNS])
        for r, line in enumerate(by_period[period], start=2):
            for c, (_, key, kind) in enumerate(RESULT_COLUMNS, start=1):
                _result_cell(ws, r, c, kind, _result_value(line, key), lights, tiers)
        _widths(ws, [12, 10, 12, 10, 10, 16, 16, 12, 8, 12, 14, 12, 12, 14, 8, 8])
    return _deterministic(wb)


def _result_value(line: Mapping[str, Any], key: str) -> Any:
    if key == "achievement":
        return line["metrics"].get("achievement")
    if key == "awards":  # the line's awards in money, as the CSV's column (honours count 0)
        return str(sum((Decimal(a["amount"]) for a in line["awards"]), Decimal("0.00")))
    return line[key]


def _result_cell(
    ws: Worksheet, row: int, col: int, kind: str, value: Any, lights: dict[str, str], tiers: dict[str, str]
) -> None:
    if kind in _FORMATS:
        cell = ws.cell(row, col, exact_number(value))
        cell.number_format = _FORMATS[kind]
    elif kind == "light":
        cell = ws.cell(row, col, safe_text(lights.get(value, value)) if value else None)
        if value in LIGHT_FILL:
            cell.fill = PatternFill("solid", start_color=LIGHT_FILL[value], end_color=LIGHT_FILL[value])
    elif kind == "tier":
        ws.cell(row, col, safe_text(tiers.get(value, value)) if value else None)
    else:
        ws.cell(row, col, safe_text(value) if value is not None else None)


def payroll_workbook(lines: Sequence[Mapping[str, Any]], empty_period: str | None = None) -> bytes:
    """Payroll feed lines as a workbook: one sheet per period, lines in feed order within it.

    A page with no line has one sheet (named `empty_period`, else "payroll") with the header."""
    by_period: dict[str, list[Mapping[str, Any]]] = {}
    for item in lines:
        by_period.setdefault(str(item["period"]), []).append(item)
    if not by_period:
        by_period[empty_period or "payroll"] = []
    wb = Workbook()
    wb.remove(wb.active)
    for period in sorted(by_period):
        ws = wb.create_sheet(period)
        _header(ws, [h for h, _ in PAYROLL_COLUMNS])
        _rows(ws, ([item[h] for h, _ in PAYROLL_COLUMNS] for item in by_period[period]))
        _widths(ws, [26, 8, 16, 10, 10, 10, 12, 10, 24, 16, 14, 10, 8, 10, 8, 16, 16, 16, 16, 24, 12, 12])
    return _deterministic(wb)


def _rows(ws: Worksheet, rows: Iterable[Sequence[Any]]) -> None:
    for r, values in enumerate(rows, start=2):
        for c, ((_, kind), value) in enumerate(zip(PAYROLL_COLUMNS, values, strict=True), start=1):
            if kind == "money":
                ws.cell(r, c, exact_number(None if value is None else str(value))).number_format = MONEY_FORMAT
            elif kind == "integer":
                ws.cell(r, c, None if value is None else int(value))
            else:
                ws.cell(r, c, None if value is None else safe_text(value))


def _header(ws: Worksheet, names: Sequence[str]) -> None:
    bold = Font(bold=True)
    for c, name in enumerate(names, start=1):
        ws.cell(1, c, name).font = bold
    ws.freeze_panes = "A2"


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width


def _deterministic(wb: Workbook) -> bytes:
    """The workbook's bytes with openpyxl's save-time stamps fixed (document properties, zip
    entry times), so the same inputs give byte-identical files."""
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + _FIXED_TIME.encode(), data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()
