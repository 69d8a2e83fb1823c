"""Hostile fact files (issue 10, #4 #5 #9 #6): refused quickly, in little memory, with a bounded answer.

Measured by hand on this machine (2 shared cores), `load_facts` of the hostile workbooks of the
issue: an 0.6 MB .xlsx whose sheet unpacks to 256 MiB, and a 0.1 MB one with 20,000 rows each with
a cell in column ZZZ, are both refused in about 0.5 s of process time with a peak RSS of ~23 MB
(the interpreter alone: ~22 MB). The tests below pin the same behaviour with smaller files.
"""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import pytest

from engine.facts import ReadOptions, load_facts
from engine.problems import MAX_PROBLEMS, MeritInputError
from engine.sheetcells import SheetLimits

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook(rows: bytes | list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="r1" Type="{REL}/officeDocument"'
                   ' Target="xl/workbook.xml"/></Relationships>')  # fmt: skip
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="r1"/></sheets></workbook>')  # fmt: skip
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="r1"'
                   f' Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')  # fmt: skip
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for chunk in [rows] if isinstance(rows, bytes) else rows:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def refusal(data: bytes, name: str = "facts.xlsx", **options: object) -> str:
    with pytest.raises(MeritInputError) as info:
        load_facts(data, name, options=ReadOptions(**options))  # type: ignore[arg-type]
    [problem] = info.value.problems
    return problem.message


def test_a_sheet_that_unpacks_far_beyond_the_upload_is_refused_before_it_is_read() -> None:
    row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
    data = workbook([row] * 40 * 1024)  # 40 MiB of XML in a ~60 KB file
    assert len(data) < 200_000
    started = time.process_time()
    message = refusal(data)
    assert time.process_time() - started < 1
    assert "unpacks to more than 50 times its size" in message and "zip bomb" in message


def test_cells_far_to_the_right_are_refused_while_parsing_in_little_memory() -> None:
    header = b'<row r="1"><c r="A1" t="inlineStr"><is><t>rep_id</t></is></c></row>'
    data = workbook([header, *(f'<row r="{i}"><c r="ZZZ{i}"><v>1</v></c></row>'.encode() for i in range(2, 20002))])
    tracemalloc.start()
    try:
        message = refusal(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message.startswith("the sheet 'S' has a value in cell ZZZ2, beyond column GR")
    assert peak < 10 * 1024 * 1024


def test_row_and_cell_limits_hold_while_parsing() -> None:
    rows = [f'<row r="{i}"><c r="A{i}"><v>1</v></c><c r="B{i}"><v>2</v></c></row>'.encode() for i in range(1, 60)]
    assert "more than 50 rows" in refusal(workbook(rows), limits=SheetLimits(rows=50))
    assert "more than 100 cells" in refusal(workbook(rows), limits=SheetLimits(cells=100))
    merged = workbook([*rows[:3], b'</sheetData><mergeCells><mergeCell ref="A1:GR3"/></mergeCells><sheetData>'])
    assert "too many cells once merged" in refusal(merged, limits=SheetLimits(cells=100))


def test_the_problem_list_is_capped_with_a_count_by_kind() -> None:
    data = "rep_id,period,target,actual\n" + "".join(f"R{i},2026-08,100,x\n" for i in range(5000))
    with pytest.raises(MeritInputError) as info:
        load_facts(data.encode(), "bad.csv")
    err = info.value
    assert len(err.problems) == MAX_PROBLEMS == 1000
    assert err.total == 5000 and dict(err.omitted) == {"actual": 4000}
    assert str(err).endswith("... and 4000 more problems not listed (actual: 4000)")


def test_cli_prints_the_first_thousand_and_the_count(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from service.cli import main

    facts = tmp_path / "bad.csv"
    facts.write_text("rep_id,period,target,actual\n" + "".join(f"R{i},2026-08,100,x\n" for i in range(1500)))
    code = main(["evaluate", "--policy", "policies/sales-incentive", "--facts", str(facts), "--period", "2026-08"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[-2:] == ["... and 500 more problems not listed (actual: 500)", "1500 problems found"]
    assert len(err) == 1002
