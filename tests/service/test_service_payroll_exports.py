"""The payroll feed as files payroll opens in a spreadsheet: CSV with a BOM, and XLSX.

Expected lines are the hand-computed ones of service_testkit.AUGUST (after the 3-day objection period):
  R1 张三 East  105% -> commission 2% x 105000 = 2100.00, bonus 1000.00
  R2 李四 East   70% -> nothing (no line)
  R3 王五 South 125% -> commission 3% x 125000 = 3750.00, bonus 3000.00, South team award 500.00
The CSV is converted by a real LibreOffice (headless) and the workbook read back with openpyxl.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, published_run

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPECTED = [  # (rep_id, name, component, amount), in the engine's order
    ("R1", "张三", "commission", Decimal("2100.00")),
    ("R1", "张三", "bonus", Decimal("1000.00")),
    ("R3", "王五", "commission", Decimal("3750.00")),
    ("R3", "王五", "bonus", Decimal("3000.00")),
    ("R3", "王五", "award:team_collaboration", Decimal("500.00")),
]


def _finalized(client: TestClient, tokens: Tokens, clock: Clock) -> None:
    run = published_run(client, tokens)
    clock.advance(days=3)
    assert client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200


def test_payroll_csv_has_a_bom_and_json_has_none(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    _finalized(app_client, tokens, clock)
    as_csv = app_client.get("/payroll/lines?period=2026-08&format=csv", headers=tokens["payroll"])
    assert as_csv.content.startswith("\ufeffline_id,".encode())
    by_accept = app_client.get("/payroll/lines?period=2026-08", headers={**tokens["payroll"], "Accept": "text/csv"})
    assert by_accept.content == as_csv.content
    as_json = app_client.get("/payroll/lines?period=2026-08", headers=tokens["payroll"])
    assert as_json.content.startswith(b'{"lines":[') and as_json.headers["content-type"] == "application/json"
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [(r["rep_id"], r["name"], r["component"], Decimal(r["amount"])) for r in rows] == EXPECTED


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (libreoffice-calc-nogui) is not installed")
def test_payroll_csv_opens_in_libreoffice_with_the_names(
    app_client: TestClient, tokens: Tokens, clock: Clock, tmp_path: Path
) -> None:
    _finalized(app_client, tokens, clock)
    source = tmp_path / "payroll-lines.csv"
    source.write_bytes(app_client.get("/payroll/lines?period=2026-08&format=csv", headers=tokens["payroll"]).content)
    subprocess.run(
        [
            "soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
            "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(source),
        ],
        check=True, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip  # 44 = comma, 34 = double quote, 76 = UTF-8, from line 1
    sheet = openpyxl.load_workbook(tmp_path / "out" / "payroll-lines.xlsx").active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[0] == "line_id"  # the BOM was read as the BOM, not as part of the first name
    got = [(r[header.index("rep_id")], r[header.index("name")], r[header.index("component")]) for r in rows[1:]]
    assert got == [(rep, name, comp) for rep, name, comp, _ in EXPECTED]
    assert [Decimal(str(r[header.index("amount")])) for r in rows[1:]] == [a for *_, a in EXPECTED]


def test_payroll_xlsx_reads_back_as_the_json_lines(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    _finalized(app_client, tokens, clock)
    pay = tokens["payroll"]
    lines = app_client.get("/payroll/lines?period=2026-08", headers=pay).json()["lines"]
    answer = app_client.get("/payroll/lines?period=2026-08&format=xlsx", headers=pay)
    assert answer.headers["content-type"] == XLSX and answer.headers["merit-more"] == "false"
    assert app_client.get("/payroll/lines?period=2026-08", headers={**pay, "Accept": XLSX}).content == answer.content
    wb = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert wb.sheetnames == ["2026-08"]
    ws = wb["2026-08"]
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    amount = header.index("amount")
    assert all(r[amount].data_type == "n" and r[amount].number_format == "#,##0.00" for r in rows[1:])
    back = [{h: c.value for h, c in zip(header, r, strict=True)} for r in rows[1:]]
    for item in back:  # a double back to the shortest decimal that gives it: the amount exactly
        item["amount"] = Decimal(repr(item["amount"]))
    assert back == [{**ln, "amount": Decimal(ln["amount"])} for ln in lines]
    assert [(b["rep_id"], b["name"], b["component"], b["amount"]) for b in back] == EXPECTED


def test_payroll_xlsx_of_a_quarter_has_a_sheet_per_period(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    _finalized(app_client, tokens, clock)
    answer = app_client.get("/payroll/lines?period=2026-Q3&format=xlsx", headers=tokens["payroll"])
    # only August was evaluated: its sheet; an empty page still has its header
    assert openpyxl.load_workbook(io.BytesIO(answer.content)).sheetnames == ["2026-08"]
    empty = app_client.get("/payroll/lines?period=2026-07&format=xlsx", headers=tokens["payroll"])
    sheet = openpyxl.load_workbook(io.BytesIO(empty.content))["2026-07"]
    assert [c.value for c in next(sheet.iter_rows())][:2] == ["line_id", "run_id"] and sheet.max_row == 1
