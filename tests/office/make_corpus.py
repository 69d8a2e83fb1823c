"""Make the LibreOffice part of the office corpus (run by hand; the outputs are committed).

    python tests/office/make_corpus.py   # needs soffice (apt-get install libreoffice-calc-nogui)

A workbook is written with openpyxl the way a zh-CN HR team keeps it (Chinese headers, the month
typed as a date, the region merged over its reps, a 合计 row), then LibreOffice 7.4 converts it
to .ods, .xlsx and CSV (UTF-8, and GB18030: character set 85), so the tests read what a real office program writes.
"""

from __future__ import annotations

import csv
import datetime
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "facts-2026-Q3.csv"
HEADER = [
    "工号",
    "姓名",
    "大区",
    "产品线",
    "经理工号",
    "月份",
    "目标",
    "销售额",
    "回款",
    "新客户数",
    "线索量",
    "跟进次数",
    "成单量",
]


def august() -> list[list[str]]:
    with EXAMPLE.open(encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh)][1:]
    return sorted((r for r in rows if r[5] == "2026-08"), key=lambda r: (r[2], r[0]))


def workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "8月"
    ws.append(HEADER)
    rows = august()
    for r in rows:
        ws.append([r[0], r[1], r[2], r[3], r[4], datetime.datetime(2026, 8, 1), *(float(v) for v in r[6:9]),
                   *(int(v) for v in r[9:])])  # fmt: skip
        ws.cell(ws.max_row, 6).number_format = "yyyy-mm"
    start = 2
    for i in range(1, len(rows) + 1):  # merge each region's cells (column C) over its reps
        if i == len(rows) or rows[i][2] != rows[start - 2][2]:
            ws.merge_cells(start_row=start, start_column=3, end_row=i + 1, end_column=3)
            start = i + 2
    wb.save(path)


def hidden(path: Path) -> None:
    """A hidden draft sheet, and on the visible one a hidden column and a hidden row holding data."""
    wb = openpyxl.Workbook()
    draft = wb.active
    draft.title = "draft"
    draft.append(["rep_id", "period", "target", "actual"])
    draft.append(["R1", "2026-08", 1, 999])
    draft.sheet_state = "hidden"
    final = wb.create_sheet("final")
    final.append(["rep_id", "period", "target", "actual", "note"])
    final.append(["R1", "2026-08", 100, 90, "x"])
    final.append(["R2", "2026-08", 100, 95, "secret"])
    final.column_dimensions["E"].hidden = True
    final.row_dimensions[3].hidden = True
    wb.save(path)


def convert(source: Path, target: str, out: Path, env: dict[str, str] | None = None) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", target, "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=120, env=env)  # fmt: skip
    return next(p for p in out.iterdir() if p.suffix != source.suffix or p.name != source.name)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "lo-august.xlsx"
        workbook(base)
        for target, name in (
            ("ods", "lo-august.ods"),
            ("csv:Text - txt - csv (StarCalc):44,34,76", "lo-august-utf8.csv"),
            ("csv:Text - txt - csv (StarCalc):44,34,85", "lo-august-gb18030.csv"),
        ):
            out = Path(tmp) / name.replace(".", "-")
            out.mkdir()
            shutil.copy(convert(base, target, out), HERE / name)
        out = Path(tmp) / "roundtrip"
        out.mkdir()
        ods = HERE / "lo-august.ods"
        shutil.copy(convert(ods, "xlsx", out), HERE / "lo-august.xlsx")
        base = Path(tmp) / "lo-hidden.xlsx"
        hidden(base)
        out = Path(tmp) / "hidden"
        out.mkdir()
        shutil.copy(convert(base, "ods", out), HERE / "lo-hidden.ods")
        western(Path(tmp))


def western(tmp: Path) -> None:
    """The UTF-8 CSV converted to .xlsx as `soffice --convert-to xlsx FILE.csv` does it under a C locale:
    read as Windows-1252, so every Chinese cell is mojibake (员工编号 -> å‘˜å·¥ç¼–å·)."""
    source = tmp / "lo-august-utf8-read-as-western.csv"
    shutil.copy(HERE / "lo-august-utf8.csv", source)
    out = tmp / "western"
    out.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C"}
    shutil.copy(convert(source, "xlsx", out, env), HERE / "lo-august-utf8-read-as-western.xlsx")


if __name__ == "__main__":
    main()
