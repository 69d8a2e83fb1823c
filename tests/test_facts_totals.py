"""A totals row with no word that says so (issue 11, a new user's walk): rep_id, period and name
left blank, the amounts =SUM of the rows above with their cached values, as Excel saves them.

The sums, by hand from `examples/facts-2026-Q3.csv` (twelve reps a month): July target 5,250,000.00,
actual 5,720,000.00; August target 4,826,339.20, actual 4,989,571.36. A row holding those is a
totals row: refused with its rep_id cell, or left out with a note under --drop-totals, never
reported as "rep_id is blank" (which sends HR looking for a missing rep) and never paid.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from engine.facts import ReadOptions, load_facts
from engine.problems import MeritInputError

ROOT = Path(__file__).resolve().parent.parent
SUMS = {"2026-07": ("5250000.00", "5720000.00"), "2026-08": ("4826339.20", "4989571.36")}
DROP = "this looks like a totals row (rep_id is blank and its target and actual are the sums of"


def example() -> tuple[list[str], list[list[str]]]:
    with (ROOT / "examples" / "facts-2026-Q3.csv").open(encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def workbook(months: tuple[str, ...], sheets: int = 1) -> bytes:
    """The example's months, each followed by an unlabelled =SUM row for target (G) and actual (H),
    saved with the cached values Excel writes; `sheets` > 1 adds an empty second sheet."""
    header, rows = example()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "业绩"
    ws.append(header)
    cached: dict[str, str] = {}
    for month in months:
        first = ws.max_row + 1
        for r in rows:
            if r[5] == month:
                ws.append([*r[:6], *(Decimal(v) for v in r[6:])])
        last, at = ws.max_row, ws.max_row + 1
        ws.append([None] * 6 + [f"=SUM(G{first}:G{last})", f"=SUM(H{first}:H{last})"])
        cached[f"G{at}"], cached[f"H{at}"] = SUMS[month]
    for n in range(1, sheets):
        wb.create_sheet(f"说明{n}")
    buffer = io.BytesIO()
    wb.save(buffer)
    return _with_cached_values(buffer.getvalue(), cached)


def _with_cached_values(data: bytes, cached: dict[str, str]) -> bytes:
    """openpyxl writes a formula without its value (`<v />`); Excel saves the value it computed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = body.decode()
                for cell, value in cached.items():
                    text = re.sub(rf'(<c r="{cell}"[^>]*><f>[^<]*</f>)<v ?/>', rf"\g<1><v>{value}</v>", text)
                body = text.encode()
            dst.writestr(item, body)
    return out.getvalue()


def messages(data: bytes, name: str) -> list[tuple[str, int | None, int | None, str, str]]:
    with pytest.raises(MeritInputError) as info:
        load_facts(data, name)
    return [(p.source, p.line, p.column, p.field, p.message) for p in info.value.problems]


def test_an_unlabelled_sum_row_is_named_a_totals_row_at_its_rep_id_cell() -> None:
    [(source, line, column, field, message)] = messages(workbook(("2026-08",)), "facts.xlsx")
    assert (source, line, column, field) == ("facts.xlsx", 14, 1, "rep_id")
    assert message.startswith(f"A14: {DROP} the rows of the whole file (12)), not a rep")
    facts = load_facts(workbook(("2026-08",)), "facts.xlsx", options=ReadOptions(drop_totals=True))
    assert len(facts.rows) == 12 and sum(f.actual for f in facts.rows) == Decimal(SUMS["2026-08"][1])
    assert any("left out 1 totals row(s) (--drop-totals): A14 (rep_id is blank" in n for n in facts.notes)


def test_a_sum_row_after_each_month_names_its_month_and_the_sheet() -> None:
    data = workbook(("2026-07", "2026-08"), sheets=2)
    found = messages(data, "facts.xlsx")
    assert [(s, line, c, f) for s, line, c, f, _ in found] == [
        ("facts.xlsx[业绩]", 14, 1, "rep_id"),
        ("facts.xlsx[业绩]", 27, 1, "rep_id"),
    ]
    assert found[0][4].startswith(f"A14: {DROP} the 2026-07 rows above it (12))")
    assert found[1][4].startswith(f"A27: {DROP} the 2026-08 rows above it (12))")
    facts = load_facts(data, "facts.xlsx", options=ReadOptions(drop_totals=True))
    assert len(facts.rows) == 24
    [note] = [n for n in facts.notes if "totals" in n]
    assert note.startswith("left out 2 totals row(s) from facts.xlsx[业绩] (--drop-totals): A14 (")


def test_a_blank_rep_id_that_sums_nothing_is_still_a_blank_rep_id() -> None:
    header, rows = example()
    august = [r for r in rows if r[5] == "2026-08"]
    lines = [header, *august, ["", "", "", "", "", "", "100", "90", "", "", "", "", ""]]
    data = "\n".join(",".join(r) for r in lines).encode()
    assert [(line, c, f, m) for _, line, c, f, m in messages(data, "facts.csv")] == [
        (14, 1, "rep_id", "rep_id is blank"),
        (14, 6, "period", "period is blank"),
    ]


def test_an_unlabelled_sum_row_in_a_csv() -> None:
    header, rows = example()
    august = [r for r in rows if r[5] == "2026-08"]
    lines = [header, *august, ["", "", "", "", "", "", *SUMS["2026-08"], "", "", "", "", ""]]
    data = "\n".join(",".join(r) for r in lines).encode()
    [(_, line, column, field, message)] = messages(data, "facts.csv")
    assert (line, column, field) == (14, 1, "rep_id") and message.startswith(f"{DROP} the rows of the whole file")


def test_a_totals_word_in_the_name_is_located_at_the_name_cell() -> None:
    header, rows = example()
    august = [r for r in rows if r[5] == "2026-08"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in august:
        ws.append(r)
    ws.append(["T1", "小计", "", "", "", "2026-08", "1", "1"])
    buffer = io.BytesIO()
    wb.save(buffer)
    [(_, line, column, field, message)] = messages(buffer.getvalue(), "facts.xlsx")
    assert (line, column, field) == (14, 2, "name") and message.startswith("B14: this looks like a totals row ('小计')")


def test_an_unlabelled_sum_of_the_actuals_only_is_a_totals_row_too() -> None:
    header, rows = example()
    august = [r for r in rows if r[5] == "2026-08"]
    lines = [header, *august, ["", "", "", "", "", "", "", SUMS["2026-08"][1], "", "", "", "", ""]]
    data = "\n".join(",".join(r) for r in lines).encode()
    [(_, line, column, field, message)] = messages(data, "facts.csv")
    assert (line, column, field) == (14, 1, "rep_id")
    assert message.startswith("this looks like a totals row (rep_id is blank and its actual is the sum of the rows")
    assert len(load_facts(data, "facts.csv", options=ReadOptions(drop_totals=True)).rows) == 12


def test_many_blank_rep_ids_keep_their_problems_bounded() -> None:
    data = ("rep_id,period,target,actual\n" + ",2026-08,1,1\n" * 3000).encode()
    with pytest.raises(MeritInputError) as info:
        load_facts(data, "facts.csv")
    assert len(info.value.problems) == 1000 and info.value.total == 3000
    assert [p.line for p in info.value.problems] == list(range(2, 1002))  # the first thousand, in file order


@pytest.mark.parametrize(
    "label",
    ["合 计", "合\u3000计", "总 计", "小 计", "Ｔｏｔａｌ", "East Total", "Region total", "共计", "累计", "总额"],
)
def test_a_totals_label_however_it_is_spaced_or_written_is_never_paid(label: str) -> None:
    """Labels as Chinese sheets align them (合 计), full-width, or after a region name (the hostile
    review's files): the row is refused with its cell, never a rep called "Total" paid ¥17,800."""
    header, rows = example()
    august = [r for r in rows if r[5] == "2026-08"]
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(august)
    # the label stands in rep_id, the row carries the period and an amount like a rep's
    writer.writerow([label, "", "", "", "", "2026-08", "800000.00", "840000.00"] + [""] * (len(header) - 8))
    with pytest.raises(MeritInputError) as refused:
        load_facts(body.getvalue().encode("utf-8"), "totals.csv")
    assert any("totals row" in p.message for p in refused.value.problems), refused.value
