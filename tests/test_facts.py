"""Unit tests of the facts loader (engine.facts) and the raw .xlsx reader (engine.xlsx).

Expected values are written by hand: amounts as exact Decimals, problems with their exact row,
column and field, because HR fixes a file from exactly these locations.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from engine import xlsx
from engine.facts import (
    REQUIRED_COLUMNS,
    STANDARD_NUMBER_COLUMNS,
    STANDARD_TEXT_COLUMNS,
    FactSet,
    facts_from_records,
    load_facts,
)
from engine.periods import Month
from engine.problems import MeritInputError

HEADER = "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers"


def problems_of(data: bytes | str, filename: str = "facts.csv", numeric_columns: tuple[str, ...] = ()):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(MeritInputError) as info:
        load_facts(raw, filename, numeric_columns)
    return [(p.line, p.column, p.field, p.message) for p in info.value.problems]


def where(data: bytes | str, filename: str = "facts.csv", numeric_columns: tuple[str, ...] = ()):
    """(line, column, field) of each problem, for tests that pin locations only."""
    return [(line, col, name) for line, col, name, _ in problems_of(data, filename, numeric_columns)]


def csv_with(row: str, header: str = "rep_id,period,target,actual") -> str:
    return f"{header}\n{row}\n"


# --- public constants ----------------------------------------------------------------------------


def test_public_column_constants() -> None:
    assert STANDARD_TEXT_COLUMNS == ("rep_id", "name", "region", "product_line", "manager_id")
    assert STANDARD_NUMBER_COLUMNS == (
        "target",
        "actual",
        "collected",
        "new_customers",
        "leads",
        "follow_ups",
        "deals",
    )
    assert REQUIRED_COLUMNS == ("rep_id", "period", "target", "actual")


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_with_bom_and_chinese_names() -> None:
    text = (
        f"{HEADER}\n"
        "R001,张伟,华东,A,M01,2026-08,800000,840000,756000.50,3\n"
        "R002,李娜,华南,B,M02,2026-08,600000,450000.00,,\n"
    )
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    facts = load_facts(data, "facts.csv")

    assert facts.source == "facts.csv"
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.columns == (
        "rep_id",
        "name",
        "region",
        "product_line",
        "manager_id",
        "period",
        "target",
        "actual",
        "collected",
        "new_customers",
    )
    zhang, li = facts.rows
    assert zhang.rep_id == "R001"
    assert zhang.name == "张伟"
    assert zhang.region == "华东"
    assert zhang.product_line == "A"
    assert zhang.manager_id == "M01"
    assert zhang.period == Month(2026, 8)
    assert zhang.target == Decimal("800000")
    assert zhang.actual == Decimal("840000")
    assert zhang.numbers["collected"] == Decimal("756000.50")
    assert zhang.numbers["new_customers"] == Decimal("3")
    assert zhang.row == 2
    assert li.name == "李娜"
    assert li.actual == Decimal("450000.00")
    assert li.numbers["collected"] is None
    assert li.numbers["new_customers"] is None
    assert li.row == 3


def test_csv_without_bom_reads_the_same() -> None:
    data = "rep_id,name,period,target,actual\nR001,王芳,2026-08,300000,330000\n".encode()
    (row,) = load_facts(data, "facts.csv").rows
    assert row.name == "王芳"
    assert row.actual == Decimal("330000")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("840000", Decimal("840000")),
        ("840000.00", Decimal("840000.00")),
        ('"840,000.50"', Decimal("840000.50")),
        ('"1,234,567"', Decimal("1234567")),
        ("  840000  ", Decimal("840000")),
        ('" 840,000.50 "', Decimal("840000.50")),
        ("0.1", Decimal("0.1")),
    ],
)
def test_csv_accepted_number_forms(cell: str, expected: Decimal) -> None:
    (row,) = load_facts(csv_with(f"R1,2026-08,100,{cell}").encode(), "facts.csv").rows
    assert row.actual == expected


def test_negative_is_a_number_for_policy_columns() -> None:
    data = csv_with("R1,2026-08,100,90,-5", header="rep_id,period,target,actual,adjustment")
    (row,) = load_facts(data.encode(), "facts.csv", numeric_columns=("adjustment",)).rows
    assert row.numbers["adjustment"] == Decimal("-5")
    assert row.number("adjustment") == Decimal("-5")


@pytest.mark.parametrize(
    "cell",
    [
        *("NaN", "Infinity", "-Infinity", "1e5", "1E+5", '"1,23,456"', '"84,0000"', "840 000", "TRUE"),
        *("840000.", ".5", "+5", "0x10", '"840,000,"', "12abc", "(840)", "840万"),
    ],
)
def test_csv_rejected_number_forms(cell: str) -> None:
    assert where(csv_with(f"R1,2026-08,100,{cell}")) == [(2, 4, "actual")]


def test_exponent_notation_is_explained() -> None:
    [(_, _, _, message)] = problems_of(csv_with("R1,2026-08,100,1e5"))
    assert message == "'1e5' uses exponent notation; write the number out in full"


def test_csv_blank_lines_are_skipped_but_counted_in_row_numbers() -> None:
    data = "\nrep_id,period,target,actual\n\nR1,2026-08,100,90\n,,,\n   ,  ,,\nR2,2026-08,100,110\n\n"
    facts = load_facts(data.encode(), "facts.csv")
    assert [(r.rep_id, r.row) for r in facts.rows] == [("R1", 4), ("R2", 7)]


def test_column_names_are_matched_stripped_and_lower_cased() -> None:
    data = " Rep_ID ,PERIOD,Target , actual,Region\nR1,2026-08,100,90,  East  \n"
    facts = load_facts(data.encode(), "facts.csv")
    assert facts.columns == ("rep_id", "period", "target", "actual", "region")
    assert facts.has_column("REGION ")
    assert not facts.has_column("collected")
    (row,) = facts.rows
    assert row.region == "East"


def test_text_cells_are_stripped_and_unknown_columns_kept() -> None:
    data = csv_with(" R1 ,2026-08,100,90,  ,  VIP customer ,", header="rep_id,period,target,actual,name,note,team")
    (row,) = load_facts(data.encode(), "facts.csv").rows
    assert row.rep_id == "R1"
    assert row.name is None
    assert row.region is None
    assert row.texts == {"note": "VIP customer", "team": ""}


def test_numbers_always_hold_the_standard_optional_columns() -> None:
    (row,) = load_facts(csv_with("R1,2026-08,100,90").encode(), "facts.csv").rows
    assert dict(row.numbers) == {
        "collected": None,
        "new_customers": None,
        "leads": None,
        "follow_ups": None,
        "deals": None,
    }
    assert row.number("target") == Decimal("100")
    assert row.number("Actual") == Decimal("90")
    assert row.number("leads") is None
    assert row.number("no_such_column") is None


def test_csv_neither_utf8_nor_gbk_is_a_problem_with_its_line() -> None:
    data = "rep_id,name,period,target,actual\nR1,Zoë Müller,2026-08,100,90\n".encode("cp1252")
    [(line, column, name, message)] = problems_of(data)
    assert (line, column, name) == (2, None, "")
    assert "not UTF-8 or GBK" in message and "Windows-1252" in message and "CSV UTF-8(逗号分隔)" in message


def test_csv_from_zh_cn_excel_is_gbk_and_read_with_a_note() -> None:
    data = "rep_id,name,period,target,actual\nR1,张伟,2026-08,100,90\n".encode("gbk")
    facts = load_facts(data, "facts.csv")
    assert facts.rows[0].name == "张伟"
    assert any("GB18030" in n for n in facts.notes)


def test_csv_broken_quoting_is_a_problem() -> None:
    assert where('rep_id,period,target,actual\nR1,2026-08,100,"90\n') == [(2, None, "")]


# --- JSON ----------------------------------------------------------------------------------------


def test_json_list_keeps_exact_decimals() -> None:
    data = json.dumps(
        [
            {"rep_id": "R001", "name": "张伟", "period": "2026-08", "target": 200000, "actual": 181071.36},
            {"rep_id": "R002", "period": "2026-08", "target": "226,339.20", "actual": "0.1", "leads": 12},
        ],
        ensure_ascii=False,
        indent=1,
    ).encode()  # each record starts on its own line: 2 and 9
    facts = load_facts(data, "facts.JSON")
    first, second = facts.rows
    assert first.actual == Decimal("181071.36")
    assert str(first.actual) == "181071.36"
    assert first.target == Decimal("200000")
    assert first.name == "张伟"
    assert first.row == 2
    assert second.target == Decimal("226339.20")
    assert second.actual == Decimal("0.1")
    assert second.numbers["leads"] == Decimal("12")
    assert second.row == 9
    assert facts.columns == ("rep_id", "name", "period", "target", "actual", "leads")
    assert facts.sha256 == hashlib.sha256(data).hexdigest()


def test_json_facts_object_and_string_numbers() -> None:
    data = b'{"facts": [{"rep_id": "R1", "period": "2026-08", "target": "800000.00", "actual": "840000"}]}'
    (row,) = load_facts(data, "facts.json").rows
    assert row.target == Decimal("800000.00")
    assert row.actual == Decimal("840000")


def test_invalid_json_reports_line_and_column() -> None:
    data = b'[\n  {"rep_id": "R1",\n   "period": "2026-08" "target": 1}\n]'
    assert problems_of(data, "facts.json") == [(3, 24, "", "invalid JSON: Expecting ',' delimiter")]


def test_json_that_is_not_a_list_of_records() -> None:
    assert where(b'{"rows": []}', "facts.json") == [(None, None, "")]
    assert where(b'[{"rep_id": "R1", "period": "2026-08", "target": 1, "actual": 1},\n 5]', "facts.json") == [
        (2, None, "")  # the line the second record starts on
    ]


def test_json_values_that_are_not_numbers() -> None:
    data = (
        b'[{"rep_id": "R1", "period": "2026-08", "target": NaN, "actual": true},\n'
        b' {"rep_id": "R2", "period": 202608, "target": [1], "actual": "1e3"}]'
    )
    assert where(data, "facts.json") == [  # the record's line and the key (a JSON key has no column)
        (1, None, "actual"),
        (1, None, "target"),
        (2, None, "actual"),
        (2, None, "target"),
    ]


def test_json_number_in_period_is_a_month_only_when_unambiguous() -> None:
    data = b'[{"rep_id": "R1", "period": 202608, "target": 1, "actual": 1}]'
    assert load_facts(data, "facts.json").rows[0].period == Month(2026, 8)
    data = b'[{"rep_id": "R1", "period": 2026.1, "target": 1, "actual": 1}]'
    [(_, _, _, message)] = problems_of(data, "facts.json")
    assert message.startswith("period 2026.1 is a number, which cannot say the month")
    assert '=TEXT(F2,"yyyy-mm")' in message


def test_empty_json_list() -> None:
    assert problems_of(b"[]", "facts.json") == [(None, None, "", "there are no records")]


# --- in-memory records ---------------------------------------------------------------------------


def test_records_from_a_gherkin_table() -> None:
    records = [
        {"rep_id": "张", "region": "East", "period": "2026-08", "target": "800000", "actual": "840000"},
        {"rep_id": "李", "region": "South", "period": "2026-08", "target": "600000", "actual": "450000"},
    ]
    facts = facts_from_records(records, "scenario")
    assert facts.source == "scenario"
    assert [(r.rep_id, r.actual, r.row) for r in facts.rows] == [
        ("张", Decimal("840000"), 1),
        ("李", Decimal("450000"), 2),
    ]


def test_records_digest_is_the_canonical_json() -> None:
    a = [{"rep_id": "R1", "period": "2026-08", "target": Decimal("100"), "actual": "90"}]
    b = [{"actual": "90", "target": Decimal("100"), "period": "2026-08", "rep_id": "R1"}]
    canonical = '[{"actual":"90","period":"2026-08","rep_id":"R1","target":"100"}]'
    assert facts_from_records(a, "x").sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert facts_from_records(b, "y").sha256 == facts_from_records(a, "x").sha256


def test_records_reject_floats_and_accept_ints() -> None:
    ok = facts_from_records([{"rep_id": "R1", "period": "2026-08", "target": 100, "actual": Decimal("0.1")}], "r")
    assert ok.rows[0].target == Decimal("100")
    with pytest.raises(MeritInputError) as info:
        facts_from_records([{"rep_id": "R1", "period": "2026-08", "target": 100, "actual": 0.1}], "r")
    [problem] = info.value.problems
    assert (problem.source, problem.line, problem.column, problem.field) == ("r", 1, 4, "actual")
    assert "float" in problem.message


def test_records_with_a_key_twice_after_normalising() -> None:
    records = [{"rep_id": "R1", "period": "2026-08", "target": "1", "actual": "1", "Actual ": "2"}]
    with pytest.raises(MeritInputError) as info:
        facts_from_records(records, "r")
    assert [(p.line, p.column, p.field) for p in info.value.problems] == [(1, 4, "actual")]


# --- XLSX ----------------------------------------------------------------------------------------


def write_workbook(path: Path, rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path.read_bytes()


def test_xlsx_written_by_openpyxl_keeps_exact_amounts(tmp_path: Path) -> None:
    data = write_workbook(
        tmp_path / "facts.xlsx",
        [
            ["rep_id", "name", "period", "target", "actual", "collected", "deals"],
            ["R001", "张伟", "2026-08", 200000, 181071.36, 0.1, 3],
            ["R002", "李娜", "2026-08", 250000, 226339.20, None, None],
        ],
    )
    facts = load_facts(data, "Facts.XLSX")
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.columns == ("rep_id", "name", "period", "target", "actual", "collected", "deals")
    first, second = facts.rows
    assert first.name == "张伟"
    assert first.target == Decimal("200000")
    assert str(first.target) == "200000"
    assert first.actual == Decimal("181071.36")
    assert str(first.actual) == "181071.36"
    assert first.numbers["collected"] == Decimal("0.1")
    assert first.numbers["deals"] == Decimal("3")
    assert first.row == 2
    assert second.name == "李娜"
    assert second.actual == Decimal("226339.20")
    assert second.numbers["collected"] is None
    assert second.row == 3


def test_xlsx_period_typed_as_date_or_number_is_that_month(tmp_path: Path) -> None:
    data = write_workbook(
        tmp_path / "facts.xlsx",
        [
            ["rep_id", "period", "target", "actual"],
            ["R1", datetime.datetime(2026, 8, 1), 100, 90],
            ["R2", 202608, 100, 90],
            ["R3", 2026.1, 100, 90],
        ],
    )
    found = problems_of(data, "facts.xlsx")
    assert [(line, col, name) for line, col, name, _ in found] == [(4, 2, "period")]
    assert '=TEXT(B2,"yyyy-mm")' in found[0][3]
    rows = load_facts(data[:0] + write_workbook(tmp_path / "ok.xlsx", [
        ["rep_id", "period", "target", "actual"], ["R1", datetime.datetime(2026, 8, 1), 100, 90], ["R2", 202608, 1, 1]
    ]), "ok.xlsx").rows  # fmt: skip
    assert [r.period for r in rows] == [Month(2026, 8), Month(2026, 8)]


def test_xlsx_bool_and_error_cells_are_not_numbers(tmp_path: Path) -> None:
    data = write_workbook(
        tmp_path / "facts.xlsx",
        [["rep_id", "period", "target", "actual"], ["R1", "2026-08", True, "=1/0"]],
    )
    # openpyxl stores "=1/0" as a formula without a cached value: it is named as one
    assert problems_of(data, "facts.xlsx") == [
        (2, 3, "target", "C2: TRUE is a true/false value, not a number"),
        (
            2,
            4,
            "actual",
            "D2: =1/0 is a formula with no saved value (open the file in Excel and save it), not a number",
        ),
    ]


def make_xlsx(sheet_data: str, shared_strings: str | None = None) -> bytes:
    """A minimal workbook written by hand, so the raw <v> text is exactly what the test says."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument"'
            ' Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Facts" sheetId="1" r:id="rId7"/><sheet name="Other" sheetId="2" r:id="rId8"/>'
            "</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}">'
            f'<Relationship Id="rId8" Type="{rel}/worksheet" Target="worksheets/other.xml"/>'
            f'<Relationship Id="rId7" Type="{rel}/worksheet" Target="worksheets/facts.xml"/>'
            f'<Relationship Id="rId9" Type="{rel}/sharedStrings" Target="strings.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/worksheets/facts.xml",
            f'<worksheet xmlns="{main}"><sheetData>{sheet_data}</sheetData></worksheet>',
        )
        z.writestr("xl/worksheets/other.xml", f'<worksheet xmlns="{main}"><sheetData/></worksheet>')
        if shared_strings is not None:
            z.writestr("xl/strings.xml", f'<sst xmlns="{main}">{shared_strings}</sst>')
    return buffer.getvalue()


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER_ROW = (
    '<row r="1">'
    + inline("A1", "rep_id")
    + inline("B1", "period")
    + inline("C1", "target")
    + inline("D1", "actual")
    + inline("E1", "collected")
    + "</row>"
)


def test_hand_made_xlsx_rounds_float_noise_to_excel_precision() -> None:
    data = make_xlsx(
        HEADER_ROW
        + '<row r="2">'
        + inline("A2", "R1")
        + inline("B2", "2026-08")
        + '<c r="C2"><v>840000</v></c><c r="D2" t="n"><v>181071.36</v></c>'
        + '<c r="E2"><v>0.10000000000000001</v></c></row>'
    )
    (row,) = load_facts(data, "hand.xlsx").rows
    assert row.target == Decimal("840000")
    assert str(row.target) == "840000"
    assert row.actual == Decimal("181071.36")
    assert row.numbers["collected"] == Decimal("0.1")
    assert str(row.numbers["collected"]) == "0.1"


def test_hand_made_xlsx_sparse_rows_shared_strings_and_missing_refs() -> None:
    shared = (
        "<si><t>rep_id</t></si><si><t>period</t></si><si><t>target</t></si><si><t>actual</t></si>"
        '<si><r><t>张</t></r><r><t xml:space="preserve">伟</t></r><rPh><t>ちょう</t></rPh></si>'
        "<si><t>2026-08</t></si><si><t>name</t></si><si><t>region</t></si>"
    )
    data = make_xlsx(
        # header: rep_id, period, target, actual, (F empty), name in G, region in H; cells without refs
        '<row r="1"><c t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c><c t="s"><v>3</v></c>'
        '<c r="G1" t="s"><v>6</v></c><c t="s"><v>7</v></c></row>'
        '<row r="5"><c r="A5" t="str"><v>R1</v></c><c r="B5" t="s"><v>5</v></c>'
        '<c r="C5"><v>100</v></c><c r="D5"><v>90</v></c><c r="G5" t="s"><v>4</v></c></row>'
        # row 6 exists in XML but has only a styled empty cell: blank, skipped
        '<row r="6"><c r="B6" s="1"/></row>'
        '<row r="9"><c r="A9" t="inlineStr"><is><t>R2</t></is></c>'
        '<c r="B9" t="inlineStr"><is><t>2026-09</t></is></c>'
        '<c r="C9"><v>1E+3</v></c><c r="D9"><v>1.5E-2</v></c><c r="H9" t="str"><v>East</v></c></row>',
        shared_strings=shared,
    )
    facts = load_facts(data, "hand.xlsx")
    assert facts.columns == ("rep_id", "period", "target", "actual", "name", "region")
    first, second = facts.rows
    assert (first.rep_id, first.name, first.region, first.row) == ("R1", "张伟", None, 5)
    assert (second.rep_id, second.region, second.row) == ("R2", "East", 9)
    assert second.target == Decimal("1000")
    assert second.actual == Decimal("0.015")


def test_xlsx_numeric_rep_id_is_plain_text() -> None:
    data = make_xlsx(
        HEADER_ROW + '<row r="2"><c r="A2"><v>1001</v></c>' + inline("B2", "2026-08") + '<c r="C2"><v>1</v></c>'
        '<c r="D2"><v>1</v></c></row>'
    )
    assert load_facts(data, "hand.xlsx").rows[0].rep_id == "1001"


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b"PK\x03\x04 truncated", make_xlsx("")[:200]],
    ids=["empty", "text", "truncated-header", "truncated-zip"],
)
def test_corrupt_xlsx_is_a_problem_not_a_traceback(data: bytes) -> None:
    assert where(data, "facts.xlsx") == [(None, None, "")]


def test_zip_that_is_not_a_workbook_is_a_problem() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hi")
    [(_, _, _, message)] = problems_of(buffer.getvalue(), "facts.xlsx")
    assert "xl/workbook.xml" in message


def test_malformed_sheet_xml_is_a_problem() -> None:
    data = make_xlsx("<row r='1'><c r='A1'><v>1</v></row>")
    [(_, _, _, message)] = problems_of(data, "facts.xlsx")
    assert "malformed XML" in message


def test_empty_first_worksheet() -> None:
    assert problems_of(make_xlsx(""), "facts.xlsx") == [(None, None, "", "the sheet 'Facts' is empty")]


@pytest.mark.parametrize(
    ("letters", "index"), [("A", 1), ("Z", 26), ("AA", 27), ("AB", 28), ("az", 52), ("XFD", 16384)]
)
def test_xlsx_column_index(letters: str, index: int) -> None:
    assert xlsx.column_index(letters) == index


def test_xlsx_split_ref() -> None:
    assert xlsx.split_ref("AB12") == (28, 12)
    assert xlsx.split_ref("A1") == (1, 1)
    assert xlsx.split_ref("$C$3") == (3, 3)
    with pytest.raises(xlsx.XlsxError):
        xlsx.split_ref("12AB")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("840000", "840000"),
        ("181071.36", "181071.36"),
        ("226339.2", "226339.2"),
        ("0.10000000000000001", "0.1"),
        ("0.30000000000000004", "0.3"),
        ("181071.35999999999", "181071.36"),
        ("123456789012345678", "123456789012346000"),
        ("1E+3", "1000"),
        ("1.5E-2", "0.015"),
        ("-5", "-5"),
        ("0", "0"),
        ("2.50", "2.5"),
    ],
)
def test_excel_number(raw: str, expected: str) -> None:
    assert xlsx.excel_number(raw) == expected


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["rep_id", "period", "target", "actual"])
def test_missing_required_column(missing: str) -> None:
    header = ",".join(c for c in ("rep_id", "period", "target", "actual") if c != missing)
    values = {"rep_id": "R1", "period": "2026-08", "target": "100", "actual": "90"}
    row = ",".join(v for k, v in values.items() if k != missing)
    assert problems_of(f"{header}\n{row}\n") == [(1, None, missing, f"required column {missing!r} is missing")]


def test_column_required_by_the_policy() -> None:
    data = csv_with("R1,2026-08,100,90")
    assert problems_of(data, numeric_columns=("visits", "Collected")) == [
        (1, None, "collected", "column 'collected' is required by the policy"),
        (1, None, "visits", "column 'visits' is required by the policy"),
    ]


def test_policy_columns_are_parsed_as_numbers() -> None:
    data = csv_with("R1,2026-08,100,90,12,abc", header="rep_id,period,target,actual,visits,note")
    (row,) = load_facts(data.encode(), "facts.csv", numeric_columns=["Visits"]).rows
    assert row.numbers["visits"] == Decimal("12")
    assert row.texts == {"note": "abc"}
    assert where(
        csv_with("R1,2026-08,100,90,x", header="rep_id,period,target,actual,visits"),
        numeric_columns=("visits",),
    ) == [(2, 5, "visits")]


def test_policy_cannot_ask_for_a_text_column_as_a_number() -> None:
    with pytest.raises(ValueError):
        load_facts(csv_with("R1,2026-08,100,90").encode(), "facts.csv", numeric_columns=("region",))


def test_empty_file() -> None:
    assert problems_of(b"") == [(None, None, "", "the file is empty")]
    assert problems_of(b"\xef\xbb\xbf\n \n,,\n") == [(None, None, "", "the file is empty")]


def test_header_without_data_rows() -> None:
    assert problems_of("rep_id,period,target,actual\n\n") == [
        (None, None, "", "there are no data rows, only the header")
    ]


def test_blank_rep_id() -> None:
    assert problems_of(csv_with("  ,2026-08,100,90")) == [(2, 1, "rep_id", "rep_id is blank")]


@pytest.mark.parametrize("period", ["Aug 2026", "2026-13", "2026-Q3", "2026.1", "2026-02-30", "08/2026"])
def test_unknown_period_format(period: str) -> None:
    [(line, col, name, message)] = problems_of(csv_with(f"R1,{period},100,90"))
    assert (line, col, name) == (2, 2, "period")
    assert '=TEXT(B2,"yyyy-mm")' in message


@pytest.mark.parametrize(
    "period",
    ["2026-08", "2026/08", "2026-8", "2026/8/1", "202608", "2026年8月", "2026年08月", "2026.08", "2026-08-01",
     "2026-08-31", "２０２６-０８", "2026年8月份"],
)  # fmt: skip
def test_office_period_forms_are_that_month(period: str) -> None:
    (row,) = load_facts(csv_with(f"R1,{period},100,90").encode(), "facts.csv").rows
    assert row.period == Month(2026, 8)


def test_blank_period_target_actual() -> None:
    assert problems_of(csv_with("R1,,,")) == [
        (2, 2, "period", "period is blank"),
        (2, 3, "target", "target is blank"),
        (2, 4, "actual", "actual is blank"),
    ]


def test_non_number() -> None:
    assert problems_of(csv_with("R1,2026-08,abc,90")) == [
        (2, 3, "target", "'abc' is not a number (write it like 840000, 840000.50 or 840,000.50)")
    ]


def test_negative_and_zero_target() -> None:
    assert problems_of(csv_with("R1,2026-08,-5,90") + "R2,2026-08,0.00,90\n") == [
        (2, 3, "target", "target is negative (-5)"),
        (3, 3, "target", "target is zero, so achievement (actual / target) cannot be computed"),
    ]


def test_negative_actual_and_collected() -> None:
    data = csv_with("R1,2026-08,100,-1,-0.01", header="rep_id,period,target,actual,collected")
    assert problems_of(data) == [
        (2, 4, "actual", "actual is negative (-1)"),
        (2, 5, "collected", "collected is negative (-0.01)"),
    ]


@pytest.mark.parametrize("column", ["new_customers", "leads", "follow_ups", "deals"])
def test_counts_must_be_whole_and_not_negative(column: str) -> None:
    header = f"rep_id,period,target,actual,{column}"
    assert problems_of(csv_with("R1,2026-08,100,90,-2", header) + "R2,2026-08,100,90,2.5\n") == [
        (2, 5, column, f"{column} is negative (-2)"),
        (3, 5, column, f"{column} must be a whole number, not 2.5"),
    ]
    (row,) = load_facts(csv_with("R1,2026-08,100,90,3.0", header).encode(), "facts.csv").rows
    assert row.numbers[column] == Decimal("3")


def test_duplicate_rep_and_period_names_the_first_row() -> None:
    data = "rep_id,period,target,actual\nR1,2026-08,100,90\nR1,2026-09,100,90\nR2,2026-08,1,1\nR1,2026-08,5,5\n"
    assert problems_of(data) == [(5, 1, "rep_id", "rep_id 'R1' already has a row for 2026-08 (row 2)")]


def test_duplicate_column_names() -> None:
    data = "rep_id,period,Target,actual, target \nR1,2026-08,100,90,100\n"
    assert problems_of(data) == [(1, 5, "target", "column 'target' appears twice in the header (first as column 3)")]


def test_repeated_header() -> None:
    data = "rep_id,period,target,actual\nR1,2026-08,100,90\nRep_ID,period,TARGET,actual\nR2,2026-08,100,90\n"
    assert problems_of(data) == [(3, None, "", "the header row is repeated here")]


def test_value_in_a_column_without_a_header() -> None:
    data = "rep_id,period,target,actual,\nR1,2026-08,100,90,\nR2,2026-08,100,90,oops\n"
    assert where(data) == [(3, 5, "")]


def test_unsupported_extension() -> None:
    assert where(b"whatever", "facts.xls") == [(None, None, "")]
    assert where(b"whatever", "facts") == [(None, None, "")]


def test_extension_is_case_insensitive() -> None:
    assert len(load_facts(csv_with("R1,2026-08,100,90").encode(), "FACTS.Csv").rows) == 1


def test_all_problems_are_reported_at_once() -> None:
    data = (
        "rep_id,period,target,actual,deals,deals\n"  # row 1: duplicate column
        "R1,2026-08,100,90,1,1\n"  # row 2: fine
        ",2026-08,100,90,1,1\n"  # row 3: blank rep_id
        "R3,08/2026,0,-4,1.5,1\n"  # row 4: period, zero target, negative actual, fractional deals
        "\n"  # row 5: blank, skipped
        "R1,2026-08,abc,90,1,1\n"  # row 6: non-number, and duplicate of row 2
        "rep_id,period,target,actual,deals,deals\n"  # row 7: repeated header
    )
    with pytest.raises(MeritInputError) as info:
        load_facts(data.encode(), "team.csv", numeric_columns=("visits",))
    assert {p.source for p in info.value.problems} == {"team.csv"}
    assert [(p.line, p.column, p.field) for p in info.value.problems] == [
        (1, None, "visits"),
        (1, 6, "deals"),
        (3, 1, "rep_id"),
        (4, 2, "period"),
        (4, 3, "target"),
        (4, 4, "actual"),
        (4, 5, "deals"),
        (6, 1, "rep_id"),  # the duplicate is named in its rep_id column
        (6, 3, "target"),
        (7, None, ""),
    ]
    assert "team.csv:4:3: target: target is zero" in str(info.value)


# --- periods and months --------------------------------------------------------------------------


def test_periods_and_for_month() -> None:
    data = (
        "rep_id,period,target,actual\n"
        "R3,2026-08,100,90\n"
        "R1,2026-09,100,90\n"
        "R2,2026-08,100,90\n"
        "R1,2026-08,100,90\n"
        "R9,2025-12,100,90\n"
    )
    facts = load_facts(data.encode(), "facts.csv")
    assert isinstance(facts, FactSet)
    assert [r.rep_id for r in facts.rows] == ["R3", "R1", "R2", "R1", "R9"]
    assert facts.periods == ("2025-12", "2026-08", "2026-09")
    august = facts.for_month(Month(2026, 8))
    assert [(r.rep_id, r.row) for r in august] == [("R1", 5), ("R2", 4), ("R3", 2)]
    assert [r.rep_id for r in facts.for_month(Month(2026, 9))] == ["R1"]
    assert facts.for_month(Month(2026, 10)) == ()


# --- magnitudes and JSON shapes nobody exports on purpose ----------------------------------------


ROUND = " (round it to cents: in Excel =ROUND(C2,2), then copy and paste as values)"


def test_amounts_beyond_any_sales_figure_are_refused_by_place() -> None:
    nines = "9" * 400
    data = (
        "rep_id,period,target,actual\n"
        f"A,2026-08,100,{nines}\n"
        "B,2026-08,0.0000001,5\n"
        "C,2026-08,1000000000000000,5\n"
        "D,2026-08,999999999999999.999999,1.5\n"
    )
    assert problems_of(data) == [
        (2, 4, "actual", "99999999999999999999...(400 characters) has more than 15 digits before the decimal point"),
        (3, 3, "target", "0.0000001 has more than 6 decimal places" + ROUND),
        (4, 3, "target", "1000000000000000 has more than 15 digits before the decimal point"),
    ]


def test_json_amount_limits_apply_to_numbers_too() -> None:
    records = '[{"rep_id": "A", "period": "2026-08", "target": 1e-7, "actual": 100}]'
    assert problems_of(records, "facts.json") == [
        (1, None, "target", "0.0000001 has more than 6 decimal places" + ROUND)
    ]


def test_json_nested_too_deeply_is_a_problem() -> None:
    assert problems_of("[" * 100_000 + "]" * 100_000, "facts.json") == [
        (None, None, "", "invalid JSON: nested too deeply")
    ]


def test_json_key_given_twice_is_a_problem_not_a_silent_last_value() -> None:
    records = '[{"rep_id": "A", "period": "2026-08", "target": "100", "actual": "90", "actual": "1"}]'
    assert problems_of(records, "facts.json") == [
        (1, None, "actual", "record 1 gives 'actual' more than once; keep one value")
    ]


def test_a_semicolon_separated_file_is_told_why_its_columns_are_missing() -> None:
    problems = problems_of("rep_id;period;target;actual\nA;2026-08;100;90\n")
    hint = " (the header seems separated by ';': save the file as comma-separated CSV)"
    assert [(line, field, msg) for line, _, field, msg in problems] == [
        (1, name, f"required column {name!r} is missing{hint}") for name in ("actual", "period", "rep_id", "target")
    ]


def test_a_title_above_the_header_is_pointed_out() -> None:
    problems = problems_of("Sales report Q3,,,\n,,,\nrep_id,period,target,actual\nA,2026-08,100,90\n")
    assert (
        1,
        None,
        "rep_id",
        "required column 'rep_id' is missing (line 3 looks like the header: remove the lines above it;"
        " a two-line header: make it one)",
    ) in problems


def test_json_problems_name_the_line_each_record_starts_on() -> None:
    data = b"""{
  "exported": {"by": "crm", "at": "2026-09-01"},
  "facts": [
    {
      "rep_id": "R1",
      "period": "2026-08",
      "target": "100",
      "actual": "90"
    },
    {"rep_id": "R2", "period": "2026-08", "target": "100",
     "actual": "8x"},
    {"rep_id": "R1", "period": "2026-08", "target": "100", "actual": "1"},
    7
  ]
}"""
    assert problems_of(data, "facts.json") == [
        (10, None, "actual", "'8x' is not a number (write it like 840000, 840000.50 or 840,000.50)"),
        (12, None, "rep_id", "rep_id 'R1' already has a row for 2026-08 (line 4)"),
        (13, None, "", "record 4 is not an object of column: value"),
    ]


def test_a_formula_without_a_saved_value_is_named_not_called_blank(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["rep_id", "period", "target", "actual"])
    ws.append(["R1", "2026-08", 100, "=C2*0.9"])  # openpyxl stores the formula, never its value
    path = tmp_path / "formula.xlsx"
    wb.save(path)
    assert problems_of(path.read_bytes(), "formula.xlsx") == [
        (
            2,
            4,
            "actual",
            "D2: =C2*0.9 is a formula with no saved value (open the file in Excel and save it), not a number",
        )
    ]
