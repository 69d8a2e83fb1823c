"""Hostile fact files (issue 10, #4 #5 #9 #6): refused quickly, in little memory, with a bounded answer.

Measured by hand on this machine (2 shared cores), `load_facts` of the hostile workbooks of the
issue: an 0.6 MB .xlsx whose sheet unpacks to 256 MiB, and a 0.1 MB one with 20,000 rows each with
a cell in column ZZZ, are both refused in about 0.5 s of process time with a peak RSS of ~23 MB
(the interpreter alone: ~22 MB). The tests below pin the same behaviour with smaller files.
"""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zipfile
from collections.abc import Callable

import pytest

from engine import ods as ods_reader
from engine import xlsx
from engine.facts import ReadOptions, load_facts
from engine.problems import MAX_PROBLEMS, MeritInputError
from engine.sheetcells import SheetLimits

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook(
    rows: bytes | list[bytes],
    *,
    head: bytes = b"",
    tail: bytes = b"",
    parts: dict[str, bytes] | None = None,
    padding: int = 0,
) -> bytes:
    """A one-sheet workbook: `head`/`tail` go before/after the sheet's `<sheetData>`, `parts` add or
    replace parts, `padding` adds a stored part of random bytes that no reader opens."""
    files: dict[str, str | bytes] = {
        "_rels/.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="r1" Type="{REL}/officeDocument"'
        ' Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
        '<sheet name="S" sheetId="1" r:id="r1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="r1"'
        f' Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in {**files, **(parts or {})}.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}">'.encode() + head + b"<sheetData>")
            for chunk in [rows] if isinstance(rows, bytes) else rows:
                sheet.write(chunk)
            sheet.write(b"</sheetData>" + tail + b"</worksheet>")
        if padding:
            z.writestr("docProps/thumbnail.bin", os.urandom(padding), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    ' xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
)


def ods_row(*values: str, attributes: str = "") -> bytes:
    cells = "".join(
        f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        if v.isdigit()
        else f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
        for v in values
    )
    return f"<table:table-row{attributes}>{cells}</table:table-row>".encode()


def spreadsheet(rows: list[bytes], *, styles: bytes | list[bytes] = b"") -> bytes:
    """A one-sheet .ods ('Facts') of `rows`, with `styles` in its automatic styles."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        with z.open("content.xml", "w") as content:
            content.write(f"<office:document-content {ODS_NS}><office:automatic-styles>".encode())
            for chunk in [styles] if isinstance(styles, bytes) else styles:
                content.write(chunk)
            content.write(
                b'</office:automatic-styles><office:body><office:spreadsheet><table:table table:name="Facts">'
            )
            for row in rows:
                content.write(row)
            content.write(b"</table:table></office:spreadsheet></office:body></office:document-content>")
    return buffer.getvalue()


HEADER = b'<row r="1"><c r="A1" t="inlineStr"><is><t>rep_id</t></is></c></row>'
ODS_HEADER = ods_row("rep_id", "period", "target", "actual")
ODS_DATA = ods_row("R001", "2026-08", "100", "90")


def bounded(data: bytes, name: str = "facts.xlsx", **options: object) -> tuple[str, int]:
    """The refusal of `data` and the peak of memory allocated while reading it."""
    tracemalloc.start()
    try:
        message = refusal(data, name, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return message, peak


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
    assert "(xl/worksheets/sheet1.xml alone is 42,926,192 bytes, packed in " in message


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


MIB = 1024 * 1024
SMALL = SheetLimits(floor=MIB)  # the budget's floor scaled down with the files, so tests stay quick


def test_padding_the_upload_with_a_part_never_read_does_not_raise_the_unpack_budget() -> None:
    row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
    bomb = [row] * 4 * 1024  # a 4 MiB sheet packed in ~10 KB
    padded = workbook(bomb, padding=MIB)  # 50 times the upload would be ~50 MiB
    assert len(padded) > MIB
    message, peak = bounded(padded, limits=SMALL)
    assert "unpacks to more than 50 times its size" in message and "zip bomb" in message
    assert peak < 2 * MIB


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ("xl/styles.xml", lambda n: f'<styleSheet xmlns="{MAIN}">'.encode() + b'<x a="1"/>' * n + b"</styleSheet>"),
        (
            "xl/workbook.xml",  # before <sheets>: what follows it is never read
            lambda n: (
                f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'.encode()
                + b'<x a="1"/>' * n
                + b'<sheets><sheet name="S" sheetId="1" r:id="r1"/></sheets></workbook>'
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            lambda n: (
                f'<Relationships xmlns="{PKG}"><Relationship Id="r1" Type="{REL}/worksheet"'.encode()
                + b' Target="worksheets/sheet1.xml"/>'
                + b'<Relationship Id="x" Target="a"/>' * n
                + b"</Relationships>"
            ),
        ),
    ],
)
def test_workbook_styles_and_relationships_are_capped_and_streamed(part: str, text: Callable[[int], bytes]) -> None:
    huge = workbook([HEADER], parts={part: text(1_000_000)})  # 10 MiB or more: beyond the cap of a part
    message, peak = bounded(huge)
    assert message.startswith(f"the workbook part {part} unpacks to ") and "more than the 8,388,608 allowed" in message
    assert peak < 2 * MIB
    many = workbook([HEADER], parts={part: text(30_000)})  # under the cap, more elements than allowed (scaled down)
    message, peak = bounded(many, limits=SheetLimits(elements=20_000))
    assert message == (
        f"the workbook part {part} has more than 20,000 XML elements (a fact table's workbook needs a few"
        " hundred); save a copy with only the fact table"
    )
    assert peak < 2 * MIB


def test_what_is_read_is_dropped_as_soon_as_it_is_read() -> None:
    """Elements under the limits cost nothing once read: 100,000 of them kept would be over 10 MiB."""
    styles = f'<styleSheet xmlns="{MAIN}">'.encode() + b'<x a="1"/>' * 50_000 + b"</styleSheet>"
    data = workbook([HEADER], head=b"<x/>" * 50_000, tail=b"<x/>" * 50_000, parts={"xl/styles.xml": styles})
    ods = spreadsheet([ODS_HEADER, ODS_DATA], styles=b'<x a="1"/>' * 100_000)
    for read in (lambda: xlsx.read_sheet(data), lambda: ods_reader.read_sheet(ods)):
        tracemalloc.start()
        try:
            assert read().rows
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 2 * MIB


def test_shared_strings_are_read_as_a_stream() -> None:
    strings = f'<sst xmlns="{MAIN}">'.encode() + b"<si><t>R1</t><x/></si>" * 20_000 + b"</sst>"
    cells = b'<row r="2"><c r="A2" t="s"><v>19999</v></c></row>' * 4_000  # room for 4,000 x 48 / 16 = 12,000 strings
    data = workbook([HEADER, cells], parts={"xl/sharedStrings.xml": strings})
    message, peak = bounded(data, limits=SheetLimits(cells=10_000))
    assert message == "the workbook has more than 10,000 strings"
    assert peak < 2 * MIB


def sheet_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.getinfo("xl/worksheets/sheet1.xml").file_size


def test_millions_of_empty_shared_strings_beside_a_small_sheet_are_refused_at_once() -> None:
    """3,000,000 `<si/>` (15 MB of XML in a ~15 KB upload) beside a sheet of two rows: a cell that
    uses a shared string takes at least 16 bytes of sheet XML, so this sheet can use at most
    size // 16 + 1 of them, and reading stops at the one after."""
    strings = f'<sst xmlns="{MAIN}">'.encode() + b"<si/>" * 3_000_000 + b"</sst>"
    cells = b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
    data = workbook([HEADER, cells], parts={"xl/sharedStrings.xml": strings})
    assert len(data) < 50_000
    size = sheet_size(data)
    assert 150 < size < 400  # the worksheet element, its namespace, two rows
    started = time.process_time()
    message, peak = bounded(data)
    assert time.process_time() - started < 1
    assert message == (
        f"the workbook part xl/sharedStrings.xml has more than {size // 16 + 1:,} shared strings, more than the"
        f" cells of the sheet 'S' ({size:,} bytes of XML, at least 16 bytes a cell) could use; it is not a fact"
        " table's workbook: save a copy with only the fact table"
    )
    assert peak < 2 * MIB
    with pytest.raises(MeritInputError) as info:
        load_facts(data, "august.xlsx")
    [problem] = info.value.problems
    assert problem.source == "august.xlsx" and problem.message == message


def test_shared_strings_of_many_elements_each_are_bounded_too() -> None:
    """Strings are counted as they end; elements inside one (runs, formatting) are counted as they
    start: at most the part limit plus 16 per string the sheet can use."""
    strings = f'<sst xmlns="{MAIN}"><si><t>R1</t>'.encode() + b"<b/>" * 3_000_000 + b"</si></sst>"
    data = workbook([HEADER], parts={"xl/sharedStrings.xml": strings})
    message, peak = bounded(data)
    assert message == "the workbook part xl/sharedStrings.xml has too many XML elements for its strings"
    assert peak < 2 * MIB


def test_a_row_of_empty_cells_by_the_million_is_refused_in_little_memory() -> None:
    row = b'<row r="2">' + b'<c r="A2"/>' * 2_500_000 + b"</row>"  # 27 MiB in ~60 KB, under the budget's floor
    data = workbook([HEADER, row])
    assert len(data) < 100_000
    message, peak = bounded(data)
    assert message == (
        "the sheet 'S' has more than 100,000 XML elements in row 2 (a row has at most 16,384 cells);"
        " it is not a fact table's row"
    )
    assert peak < 40 * MIB


def test_every_cell_counts_toward_the_cell_limit_with_a_value_or_without() -> None:
    rows = [f'<row r="{i}">'.encode() + b"<c/>" * 50 + b"</row>" for i in range(2, 10)]
    assert refusal(workbook([HEADER, *rows]), limits=SheetLimits(cells=300)) == "the sheet 'S' has more than 300 cells"


def test_merges_and_column_entries_are_bounded() -> None:
    merges = b"<mergeCells>" + b'<mergeCell ref="Z1:Z2"/>' * 5_000 + b"</mergeCells>"
    message, peak = bounded(workbook([HEADER], tail=merges), limits=SheetLimits(merges=2_000))
    assert message == "the sheet 'S' has more than 2,000 merged ranges"
    assert peak < 2 * MIB
    columns = b"<cols>" + b'<col min="1" max="1" width="9"/>' * 20_000 + b"</cols>"
    message, peak = bounded(workbook([HEADER], head=columns))
    assert message == "the sheet 'S' has more than 16,384 column entries (<col>)"
    assert peak < 2 * MIB
    other = b"<extLst>" + b"<x/>" * 30_000 + b"</extLst>"
    message, peak = bounded(workbook([HEADER], tail=other), limits=SheetLimits(elements=20_000))
    assert message.startswith("the sheet 'S' has more than 20,000 XML elements outside its cells")
    assert peak < 2 * MIB


def test_the_same_merge_over_and_over_costs_its_cells_each_time() -> None:
    rows = [f'<row r="{i}"><c r="A{i}"><v>1</v></c><c r="B{i}"><v>2</v></c></row>'.encode() for i in range(1, 40)]
    tail = b"<mergeCells>" + b'<mergeCell ref="A1:B39"/>' * 5000 + b"</mergeCells>"
    message = refusal(workbook(rows, tail=tail), limits=SheetLimits(cells=10_000))
    assert message == "the sheet 'S' has too many cells once merged cells are filled"


def test_the_styles_of_a_spreadsheet_are_bounded_and_dropped_as_read() -> None:
    data = spreadsheet([ODS_HEADER, ODS_DATA], styles=b'<x a="1"/>' * 30_000)
    message, peak = bounded(data, "facts.ods", limits=SheetLimits(elements=20_000))
    assert message == (
        "the spreadsheet has more than 20,000 XML elements outside its cells (styles, columns, rows);"
        " save a copy with only the fact table"
    )
    assert peak < 4 * MIB


def test_a_spreadsheet_row_of_empty_cells_by_the_million_is_refused_in_little_memory() -> None:
    row = b"<table:table-row>" + b"<table:table-cell/>" * 50_000 + b"</table:table-row>"
    message, peak = bounded(spreadsheet([ODS_HEADER, row]), "facts.ods", limits=SheetLimits(row_elements=10_000))
    assert message.startswith("the sheet 'Facts' has more than 10,000 XML elements in row 2")
    assert peak < 4 * MIB


@pytest.mark.parametrize(
    ("attributes", "refused"),
    [
        (' table:number-rows-repeated="0"', "row 2: table:number-rows-repeated is 0, not a count from 1"),
        (' table:number-rows-repeated="-1"', "row 2: table:number-rows-repeated is '-1', not a whole number"),
        (' table:number-rows-repeated="x"', "row 2: table:number-rows-repeated is 'x', not a whole number"),
        (
            ' table:number-rows-repeated="' + "9" * 5000 + '"',
            "row 2: table:number-rows-repeated is a 5,000-digit number, beyond any spreadsheet",
        ),
        (' table:number-rows-repeated="2000000"', "has more than 1,048,576 rows"),
    ],
)
def test_a_spreadsheet_row_repeated_other_than_from_one_time_is_refused(attributes: str, refused: str) -> None:
    """LibreOffice reads a row repeated 0 times once: Merit refuses it rather than guess."""
    data = spreadsheet([ODS_HEADER, ods_row("R001", "2026-08", "100", "90", attributes=attributes)])
    message = refusal(data, "facts.ods")
    assert message.startswith("the sheet 'Facts'") and refused in message
    assert "sys.set_int_max_str_digits" not in message


def test_a_spreadsheet_cell_repeated_a_negative_number_of_times_is_refused() -> None:
    row = ods_row("R001", "2026-08", "100", "90").replace(
        b"<table:table-cell ", b'<table:table-cell table:number-columns-repeated="-1" ', 1
    )
    message = refusal(spreadsheet([ODS_HEADER, row]), "facts.ods")
    assert message == "the sheet 'Facts' row 2 column 1: table:number-columns-repeated is '-1', not a whole number"


def test_a_row_number_of_thousands_of_digits_is_refused_in_words() -> None:
    row = ('<row r="' + "1" * 5000 + '"><c t="inlineStr"><is><t>R1</t></is></c></row>').encode()
    message = refusal(workbook([HEADER, row]))
    assert message == "the sheet 'S' has a row whose number is a 5,000-digit number, beyond any spreadsheet"


@pytest.mark.parametrize("height", [' ht="0" customHeight="1"', ' ht="0.0"', ' customHeight="1"'])
def test_a_row_of_height_zero_is_hidden(height: str) -> None:
    header = b"".join(
        f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'.encode()
        for c, h in zip("ABCD", ("rep_id", "period", "target", "actual"), strict=True)
    )
    row = (
        f'<row r="2"{height}><c r="A2" t="inlineStr"><is><t>R001</t></is></c><c r="B2" t="inlineStr"><is><t>'
        '2026-08</t></is></c><c r="C2"><v>100</v></c><c r="D2"><v>90</v></c></row>'
    ).encode()
    message = refusal(workbook([b'<row r="1">' + header + b"</row>", row]))
    assert message.startswith("row 2 is hidden and holds data (A2)")


def test_elements_nested_without_end_are_refused() -> None:
    deep = b"<extLst>" + b"<x>" * 50_000 + b"</x>" * 50_000 + b"</extLst>"
    message, peak = bounded(workbook([HEADER], tail=deep))
    assert message == "the sheet 'S' nests XML elements more than 100 deep"
    assert peak < 2 * MIB
    styles = b"<x>" * 50_000 + b"</x>" * 50_000
    message, peak = bounded(spreadsheet([ODS_HEADER, ODS_DATA], styles=styles), "facts.ods")
    assert message == "the spreadsheet nests XML elements more than 100 deep"
    assert peak < 2 * MIB


def test_hidden_rows_cost_little_unless_they_hold_data() -> None:
    """50,000 hidden empty rows would be over 3 MiB as a set (a million: ~60 MiB); only the one with data is kept."""
    hidden = b"".join(b'<row r="%d" hidden="1"/>' % i for i in range(3, 50_003))
    data = workbook([HEADER, b'<row r="2" hidden="1"><c r="A2"><v>1</v></c></row>', hidden])
    tracemalloc.start()
    try:
        sheet = xlsx.read_sheet(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sheet.hidden_rows == {2}
    assert peak < 2 * MIB


@pytest.mark.parametrize(
    ("rep_id", "region"),
    [("\u0420001", "East"), ("R001\u0301", "East"), ("R001", "\u0415ast"), ("R001", "E\u0391st")],
)
def test_ids_and_regions_that_print_like_others_are_refused(rep_id: str, region: str) -> None:
    """A Cyrillic Р, a combining accent or a Greek Α prints like the plain id or region beside it:
    paid as a second rep, or judged as a second region (the hostile review's files). Refused."""
    rows = [
        "rep_id,name,region,period,target,actual",
        "R001,张伟,East,2026-08,100000,105000",
        f"{rep_id},李娜,{region},2026-08,100000,120000",
        "R003,王芳,East,2026-08,100000,90000",
    ]
    with pytest.raises(MeritInputError) as refused:
        load_facts("\n".join(rows).encode("utf-8"), "lookalike.csv")
    assert any("looks like a Latin one" in p.message or "combining mark" in p.message for p in refused.value.problems)
    assert all(p.line == 3 for p in refused.value.problems), refused.value


def test_the_callers_row_cap_stops_reading_at_the_first_row_over_it() -> None:
    """The service caps an import's rows; a file of 200,000 bad rows is refused at the first row
    over the cap (one problem, its line), not after judging every row (the hostile review: 60 s of
    CPU and a huge answer for a 14 MB file)."""
    from engine.sheetcells import SheetLimits

    body = "rep_id,period,target,actual\n" + "R1,2026-13,x,y\n" * 200_000
    options = ReadOptions(limits=SheetLimits(data_rows=50))
    with pytest.raises(MeritInputError) as refused:
        load_facts(body.encode(), "bad.csv", options=options)
    assert refused.value.kind == "too-many-rows"
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (52, "more than 50 rows; an import may have at most 50 (split the file)")
    ]
