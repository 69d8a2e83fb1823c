"""The CSV loader's column-at-a-time path (`engine.factcolumns`) builds exactly what the row path builds.

Every file here is loaded twice: as it is (plain chunks by column, the others row by row) and with
the column path switched off (every row through `RowChecker.fast`, then `check`). The facts, their
numbers down to the exponent, the notes and every problem (text and order) must be the same.
Chunks are made a few rows long so that one file mixes both paths and duplicates cross chunks.
"""

from __future__ import annotations

import random

import pytest

from engine import facts as facts_module
from engine.factcolumns import ColumnReader
from engine.facts import FactSet, load_facts
from engine.problems import MeritInputError

HEADER = (
    "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers,leads,follow_ups,deals"
)


def _plain_rows(n: int, months: tuple[str, ...] = ("2026-07", "2026-08"), seed: int = 3) -> list[str]:
    rnd = random.Random(seed)
    rows = []
    for month in months:
        for i in range(n):
            target = rnd.choice(("250000.00", "300000", "400000.5", "800000.00"))
            actual = f"{rnd.randint(0, 900000)}.{rnd.randint(0, 99):02d}"
            collected = rnd.choice(("", "0", f"{rnd.randint(0, 900000)}.5"))
            counts = ",".join(rnd.choice(("", "0", "3", "12", "7.0")) for _ in range(4))
            name = rnd.choice(("", "rep a", "张伟", "Li Na"))
            region = ("East", "South", "")[i % 3]
            rows.append(f"R{i:04d},{name},{region},A,M{i % 4},{month},{target},{actual},{collected},{counts}")
    return rows


def _both(
    data: str, monkeypatch: pytest.MonkeyPatch, numeric: tuple[str, ...] = (), chunk: int = 5
) -> tuple[object, object]:
    """What loading gives (a FactSet or the problems) with the column path and without it."""
    monkeypatch.setattr(facts_module, "CHUNK_ROWS", chunk)
    out: list[object] = []
    for columnar in (True, False):
        if not columnar:
            monkeypatch.setattr(ColumnReader, "facts", lambda self, chunk: None)
        try:
            out.append(_shown(load_facts(data.encode(), "f.csv", numeric)))
        except MeritInputError as e:
            out.append([str(p) for p in e.problems] + [str(e.omitted)])
    return out[0], out[1]


def _shown(facts: FactSet) -> tuple[object, ...]:
    """Everything a fact set says, numbers as their text (Decimal("1.0") == Decimal("1.00"), but not here)."""
    rows = [
        (
            *(r.rep_id, r.period, str(r.target), str(r.actual), r.name, r.region, r.product_line, r.manager_id),
            *(tuple((k, None if v is None else str(v)) for k, v in r.numbers.items()), tuple(r.texts.items()), r.row),
        )
        for r in facts.rows
    ]
    return rows, facts.columns, facts.notes, facts.periods


def test_a_plain_file_is_read_by_column_and_gives_the_same_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    data = HEADER + "\n" + "\n".join(_plain_rows(40)) + "\n"
    calls: list[int] = []
    real_fast = facts_module.RowChecker.fast

    def counted(self: facts_module.RowChecker, *a: object) -> object:
        calls.append(1)
        return real_fast(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(facts_module.RowChecker, "fast", counted)
    columnar, rows = _both(data, monkeypatch)
    assert columnar == rows
    assert len(columnar[0]) == 80  # type: ignore[index]
    assert len(calls) == 80  # only the run without the column path went row by row


@pytest.mark.parametrize(
    "odd",
    [
        ' R0001 ,"Li, Na", South ,,,2026-08 ,"600,000.00",450000,,0,,,',  # spaces, grouping: the row path
        "R0002,a,East,A,M,2026-08,100,90.1234567,,,,,",  # more than 6 decimals: refused
        "R0003,a,East,A,M,2026-08,0.00,90,,,,,",  # zero target
        "R0004,a,East,A,M,2026-08,100,90,,2.5,,,",  # a count that is not whole
        "R0005,Total,,,,2026-08,100,90,,,,,",  # a totals word
        "R0006,a,East,A,M,2026-08,100,12345678901234.5678,,,,,",  # 16+ characters
        "R0007,a,East,A,M,2026-08,1,2,3,4,5,6,7,8",  # a value beyond the header
        "R0008,a,Ｅast,A,M,2026-08,100,90,,,,,",  # full-width letters, cleaned by `check`
        "R0009,a,East,A,M,2026-8,100,90,,,,,",  # a month the fast path does not know
        "R0010,a,East,A,M,2026-08,100,90,,,,,",  # a duplicate of the row below (the first month)
        ",,,,,,1000,1000,,,,,",  # a totals row without a word
        "R0011,a,East,A,M,2026-08,100,-90,,,,,",  # negative actual
        "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers,leads,follow_ups,deals",
    ],
)
def test_rows_off_the_plain_path_read_as_before(odd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _plain_rows(12, ("2026-08",))
    rows.insert(7, odd)
    rows.append(odd.replace("R00", "S00"))
    data = HEADER + "\n" + "\n".join(rows) + "\n"
    columnar, by_rows = _both(data, monkeypatch)
    assert columnar == by_rows


def test_a_duplicate_in_a_later_chunk_names_the_first_row(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _plain_rows(20, ("2026-08",))
    rows.append(rows[2])  # row 4 again, as row 22
    data = HEADER + "\n" + "\n".join(rows) + "\n"
    columnar, by_rows = _both(data, monkeypatch)
    assert columnar == by_rows
    assert isinstance(columnar, list)
    assert "f.csv:22:1: rep_id: rep_id 'R0002' already has a row for 2026-08 (row 4)" in columnar


def test_two_months_in_one_chunk_and_extra_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    header = HEADER + ",calls,notes"
    rows = [r + f",{i - 5}.5,note {i}" for i, r in enumerate(_plain_rows(9, ("2026-07", "2026-08", "2026-09")))]
    data = header + "\n" + "\n".join(rows) + "\n"
    columnar, by_rows = _both(data, monkeypatch, numeric=("calls",), chunk=8)
    assert columnar == by_rows


def test_a_csv_broken_midway_reports_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _plain_rows(9, ("2026-08",))
    rows[3] = rows[3].replace("2026-08", "2026-13")  # a problem before the break
    rows.insert(6, 'R9,"unterminated,East,A,M,2026-08,1,1,,,,,')
    data = HEADER + "\n" + "\n".join(rows) + "\n"
    columnar, by_rows = _both(data, monkeypatch, chunk=4)
    assert columnar == by_rows


def test_amounts_without_cents_keep_their_note(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f"R{i},a,East,A,M,2026-08,{100 + i},{90 + i},,,,," for i in range(8)]
    rows.append('R9,a,East,A,M,2026-08,"1,000",900,,,,,')  # grouped, no cents: the display-rounded note
    data = HEADER + "\n" + "\n".join(rows) + "\n"
    columnar, by_rows = _both(data, monkeypatch)
    assert columnar == by_rows
    assert any("thousands separators" in n for n in columnar[2])  # type: ignore[index]
