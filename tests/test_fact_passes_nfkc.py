"""A rep id written two ways that NFKC makes one (R001 and full-width Ｒ001) is one rep in every
checker: read in passes over rep ranges (a large import, `service.facts.check`; a Dask worker,
`runtime.partitions`) its two rows for one month must still be found, as one pass finds them.

Before: the pass a row belonged to was chosen by the rep id as written, so Ｒ001 and R001 fell in
different passes, neither saw the other, and the file was accepted with two rows for R001's July."""

from __future__ import annotations

import functools

import pytest

from engine.facts import ReadOptions, load_facts
from engine.problems import MeritInputError
from runtime.partitions import range_of
from service.facts.check import check_facts

ROWS = ["rep_id,name,region,period,target,actual"] + [
    f"R{i:03d},N{i},East,2026-07,100000.00,90000.00" for i in range(1, 40)
]
TWICE = ("\n".join([*ROWS, "Ｒ001,again,East,2026-07,100000.00,95000.00"]) + "\n").encode()
DUPLICATE = "f.csv:41:1: rep_id: rep_id 'R001' already has a row for 2026-07 (row 2)"


@pytest.mark.parametrize("part_bytes", [None, 200, 500])
def test_a_rep_written_full_width_and_plain_is_one_rep_in_passes(part_bytes: int | None) -> None:
    with pytest.raises(MeritInputError) as err:
        check_facts(TWICE, "f.csv", ReadOptions(), part_bytes=part_bytes)
    assert [str(p) for p in err.value.problems] == [DUPLICATE]


def _in(splits: list[str], k: int, rep_id: str) -> bool:
    return range_of(splits, rep_id) == k


def test_a_workers_rows_of_one_rep_fall_in_one_range() -> None:
    """Each range's worker (reps=...) either refuses or builds; R001 is built by one range only."""
    splits = ["R010", "R020", "R030"]
    built = []
    for k in range(len(splits) + 1):
        try:
            rows = load_facts(TWICE, "f.csv", reps=functools.partial(_in, splits, k)).rows
        except MeritInputError:
            continue  # this worker found the duplicate (or a sign for the whole file): refused
        built += [r for r in rows if r.rep_id == "R001"]
    assert len(built) <= 1  # never two July rows for R001 from two workers (paid twice)


def test_a_hint_about_every_amount_is_made_of_the_whole_file_in_passes() -> None:
    """Reps A* have targets of 1000.00 (under 10,000: 万元?), reps B* of 100000.00: not every
    target is under 10,000, so the file has no 万元 hint, read in one pass or in passes. Before, the
    A* pass's hint ("every target and actual is under 10,000") was the file's."""
    rows = ["rep_id,name,region,period,target,actual"]
    rows += [f"A{i:03d},N{i},East,2026-07,1000.00,900.00" for i in range(1, 30)]
    rows += [f"B{i:03d},N{i},East,2026-07,100000.00,90000.50" for i in range(1, 30)]
    data = ("\n".join(rows) + "\n").encode()
    assert check_facts(data, "f.csv", ReadOptions()).notes == ()
    assert check_facts(data, "f.csv", ReadOptions(), part_bytes=600).notes == ()
