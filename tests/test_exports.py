"""Excel-ready exports of `merit evaluate`: CSV with a BOM (`--excel`), XLSX, and `--output`'s format.

Figures worked by hand from examples/facts-2026-Q3.csv, August 2026 under 2026-Q3:
  R001 张伟 target 800000.00, actual 840000.00 -> 105%: green (绿灯, > 100%), tier advanced (进阶激励奖,
  >= 100%): commission 2% x 840000 = 16800.00, bonus 1000.00; the month's highest actual (sales star,
  an honour: 0.00) -> total 17800.00.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from service import xlsxexport
from service.cli.main import main

REPO = Path(__file__).resolve().parent.parent
LIBRARY = str(REPO / "policies" / "sales-incentive")
EXAMPLE = str(REPO / "examples" / "facts-2026-Q3.csv")
LIGHTS = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}  # as the policy's warning bands name them
TIERS = {"basic": "基础达标奖", "advanced": "进阶激励奖", "sprint": "冲刺卓越奖"}
FILLS = {"red": "00FFC7CE", "yellow": "00FFEB9C", "green": "00C6EFCE"}
MONEY = ("target", "actual", "commission", "bonus", "total")


def evaluate(period: str, *extra: str, facts: str = EXAMPLE) -> int:
    return main(["evaluate", "--policy", LIBRARY, "--facts", facts, "--period", period, *extra])


def _json(tmp_path: Path, period: str) -> dict[str, Any]:
    out = tmp_path / f"{period}.json"
    assert evaluate(period, "--output", str(out)) == 0  # the extension picks JSON
    return json.loads(out.read_text(encoding="utf-8"))


def _number(value: object) -> Decimal:
    """A number cell read back: the shortest decimal that gives its double (the amount written)."""
    assert isinstance(value, int | float), value
    return Decimal(repr(value))


def _same_as_json(sheet: Any, lines: list[dict[str, Any]]) -> None:
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert len(rows) - 1 == len(lines)
    for row, line in zip(rows[1:], lines, strict=True):
        got = dict(zip(header, row, strict=True))
        for key in ("period", "rep_id", "name", "region", "product_line", "rating"):
            assert got[key].value == line[key], key
        for key in MONEY:
            assert got[key].number_format == "#,##0.00" and _number(got[key].value) == Decimal(line[key]), key
        assert _number(got["awards"].value) == sum((Decimal(a["amount"]) for a in line["awards"]), Decimal(0))
        achievement = line["metrics"]["achievement"]
        assert got["achievement"].number_format == "0.00%"
        assert _number(got["achievement"].value) == Decimal(achievement)
        assert got["light"].value == LIGHTS[line["light"]]
        assert got["light"].fill.start_color.rgb == FILLS[line["light"]]
        assert got["tier"].value == (TIERS[line["tier"]] if line["tier"] else None)
        score = got["score"].value
        assert (score is None and line["score"] is None) or _number(score) == Decimal(line["score"])


def test_month_xlsx_reads_back_as_the_json_results(tmp_path: Path) -> None:
    doc = _json(tmp_path, "2026-08")
    out = tmp_path / "august.xlsx"
    assert evaluate("2026-08", "--output", str(out)) == 0  # the extension picks xlsx
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["2026-08"]
    sheet = wb["2026-08"]
    assert sheet.freeze_panes == "A2"
    _same_as_json(sheet, doc["results"])
    r001 = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert r001 == [
        "2026-08", "R001", "张伟", "East", "A", 800000, 840000, 1.05, "绿灯", "进阶激励奖",
        16800, 1000, 0, 17800, 114.5, "A",
    ]  # fmt: skip  # score 114.50 is the README's; rating A (>= 110)
    again = tmp_path / "again.xlsx"
    assert evaluate("2026-08", "--format", "xlsx", "--output", str(again)) == 0
    assert again.read_bytes() == out.read_bytes()  # same inputs, byte-identical workbook


def test_quarter_xlsx_has_a_sheet_per_month_and_the_quarter(tmp_path: Path) -> None:
    doc = _json(tmp_path, "2026-Q3")
    out = tmp_path / "q3.xlsx"
    assert evaluate("2026-Q3", "--format", "xlsx", "--output", str(out)) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["2026-07", "2026-08", "2026-09", "2026-Q3"]
    for month in ("2026-07", "2026-08", "2026-09"):
        lines = [m for line in doc["results"] for m in line["months"] if m["period"] == month]
        assert len(lines) == 12
        _same_as_json(wb[month], lines)
    quarter = list(wb["2026-Q3"].iter_rows(min_row=2, values_only=True))
    assert len(quarter) == 12 and all(row[0] == "2026-Q3" and row[9] is None for row in quarter)  # no quarter tier
    assert [Decimal(repr(row[13])) for row in quarter] == [Decimal(line["total"]) for line in doc["results"]]


def test_xlsx_neutralises_formula_looking_text(tmp_path: Path) -> None:
    facts = tmp_path / "facts.csv"
    facts.write_text(
        'rep_id,name,region,period,target,actual\nR1,"=HYPERLINK(""http://x"",""y"")",@East,2026-08,100000,105000\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.xlsx"
    assert evaluate("2026-08", "--output", str(out), facts=str(facts)) == 0
    row = next(openpyxl.load_workbook(out)["2026-08"].iter_rows(min_row=2))
    assert row[2].value == '\'=HYPERLINK("http://x","y")' and row[2].data_type == "s"
    assert row[3].value == "'@East"


def test_excel_csv_is_the_csv_with_a_bom(tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    assert evaluate("2026-08", "--output", str(plain)) == 0
    assert evaluate("2026-08", "--format", "csv", "--excel", "--output", str(excel)) == 0
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    assert plain.read_bytes().startswith(b"period,rep_id,")  # without --excel: unchanged, no BOM


def test_excel_csv_from_worker_processes_has_the_bom_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    assert evaluate("2026-08", "--output", str(plain)) == 0
    monkeypatch.setenv("MERIT_WORKERS", "2")  # the big-file path, forced on the small example
    assert evaluate("2026-08", "--excel", "--output", str(excel)) == 0
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (libreoffice-calc-nogui) is not installed")
def test_excel_csv_opens_in_libreoffice_with_the_names(tmp_path: Path) -> None:
    source = tmp_path / "august.csv"
    assert evaluate("2026-08", "--excel", "--output", str(source)) == 0
    subprocess.run(
        [
            "soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
            "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(source),
        ],
        check=True, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip  # 44 = comma, 34 = double quote, 76 = UTF-8, from line 1
    rows = list(openpyxl.load_workbook(tmp_path / "out" / "august.xlsx").active.iter_rows(values_only=True))
    assert rows[0][:3] == ("period", "rep_id", "name")  # the BOM is not part of the first header
    names = [r[2] for r in rows[1:]]
    assert names == [
        "张伟",
        "李娜",
        "王芳",
        "刘洋",
        "陈静",
        "杨磊",
        "赵敏",
        "黄勇",
        "周杰",
        "吴霞",
        "Emily Chen",
        "徐强",
    ]
    assert rows[1][10] == 16800  # R001's commission, a number


def test_output_extension_and_format_must_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert evaluate("2026-08", "--format", "csv", "--output", str(out)) == 1
    err = capsys.readouterr().err
    assert "--output" in err and "is a .json file but --format is csv" in err
    assert not out.exists()
    assert evaluate("2026-08", "--format", "json", "--excel") == 1
    assert "--excel: applies to csv only (the format is json)" in capsys.readouterr().err
    text = tmp_path / "table.txt"  # any other extension: --format decides, else the table
    assert evaluate("2026-08", "--output", str(text)) == 0
    assert "R001" in text.read_text(encoding="utf-8") and not text.read_text(encoding="utf-8").startswith("{")


def test_workbook_bytes_carry_no_save_time(tmp_path: Path) -> None:
    out = tmp_path / "august.xlsx"
    assert evaluate("2026-08", "--output", str(out)) == 0
    with zipfile.ZipFile(out) as book:
        assert {info.date_time for info in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
    stamps = re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]*)<", core)
    assert stamps == ["2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z"]


def test_more_lines_than_a_sheet_holds_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(xlsxexport, "MAX_SHEET_ROWS", 11)  # August has 12 lines
    out = tmp_path / "august.xlsx"
    assert evaluate("2026-08", "--output", str(out)) == 1
    assert (
        "--format: xlsx: 2026-08 has 12 lines: a sheet holds 11; write csv or json instead" in capsys.readouterr().err
    )
    assert not out.exists()
