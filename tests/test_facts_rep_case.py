"""Rep ids that differ only by letter case are one problem, not two reps (issue 10, #9).

`r001` beside `R001` would be evaluated, paid and exported as two reps that HR reads as one; like two
spellings of a region (`east` beside `East`), the file is refused with the rows of each spelling.
`ｒ001` (a full-width r) is `r001` once read (NFKC), so it clashes with `R001` the same way.
"""

from __future__ import annotations

import pytest

from engine.facts import load_facts
from engine.problems import MeritInputError
from runtime.partitions import range_of

HEADER = "rep_id,name,region,period,target,actual\n"


def problems(text: str, name: str = "q3.csv", **kw: object) -> list[tuple[int | None, int | None, str, str]]:
    with pytest.raises(MeritInputError) as info:
        load_facts(text.encode(), name, **kw)  # type: ignore[arg-type]
    return [(p.line, p.column, p.field, p.message) for p in info.value.problems]


def test_two_spellings_of_a_rep_id_in_one_quarter_are_one_located_problem() -> None:
    text = HEADER + (
        "R001,张伟,East,2026-07,100,100\n"  # line 2
        "R002,李娜,East,2026-07,100,100\n"  # line 3
        "R001,张伟,East,2026-08,100,100\n"  # line 4
        "r001,张伟,East,2026-09,100,100\n"  # line 5: another month, so no (rep, month) duplicate
    )
    assert problems(text) == [
        (
            5,
            1,
            "rep_id",
            "rep_id 'r001' (row 5) and 'R001' (rows 2, 4) differ only by letter case: they would be paid as"
            " different reps; write the id one way",
        )
    ]


def test_a_full_width_letter_clashes_after_nfkc_and_three_spellings_are_one_problem() -> None:
    text = HEADER + (
        "R001,张伟,East,2026-08,100,100\n"  # line 2
        "ｒ001,李娜,East,2026-07,100,100\n"  # line 3: read as r001
        "r001,李娜,East,2026-09,100,100\n"  # line 4: the same rep as line 3
        "R00a,王五,East,2026-08,100,100\n"  # line 5
        "r00A,王五,East,2026-07,100,100\n"  # line 6
    )
    assert problems(text) == [
        (
            3,
            1,
            "rep_id",
            "rep_id 'r001' (rows 3, 4) and 'R001' (row 2) differ only by letter case: they would be paid as"
            " different reps; write the id one way",
        ),
        (
            6,
            1,
            "rep_id",
            "rep_id 'r00A' (row 6) and 'R00a' (row 5) differ only by letter case: they would be paid as"
            " different reps; write the id one way",
        ),
    ]


def test_json_records_name_lines_and_one_spelling_in_every_month_is_fine() -> None:
    data = (
        '[{"rep_id":"R1","period":"2026-08","target":1,"actual":1},\n'
        '{"rep_id":"r1","period":"2026-09","target":1,"actual":1}]'
    )
    [(line, column, field, message)] = problems(data, "q3.json")
    assert (line, column, field) == (2, None, "rep_id")
    assert message.startswith("rep_id 'r1' (line 2) and 'R1' (line 1) differ only by letter case")
    same = HEADER + "ｒ001,A,East,2026-08,1,1\nr001,A,East,2026-09,1,1\n"  # one rep, two months
    assert [r.rep_id for r in load_facts(same.encode(), "q3.csv").rows] == ["r001", "r001"]


def test_a_clash_across_workers_makes_the_worker_owning_the_folded_id_step_aside() -> None:
    """Workers split the reps into ranges of rep_id ("R" sorts before "r", so R001 and r001 may go to
    different workers); the one whose range holds the folded id "r001" sees both spellings and
    steps aside, and the Dask executor then runs one process, which says what is wrong."""
    text = HEADER + "R001,A,East,2026-08,1,1\nR002,B,East,2026-08,1,1\nr001,A,East,2026-09,1,1\n"
    for splits in (["R002"], ["a"], ["s"]):
        refused = []
        for k in range(len(splits) + 1):
            try:
                load_facts(text.encode(), "q3.csv", reps=lambda rep, k=k, at=splits: range_of(at, rep) == k)  # type: ignore[misc]
            except MeritInputError as err:
                assert [p.message for p in err.problems] == ["the whole file needs checking in one process"]
                refused.append(k)
        assert refused == [range_of(splits, "r001")]
    fine = text.replace("r001", "R003").encode()
    assert (
        sum(len(load_facts(fine, "q3.csv", reps=lambda rep, k=k: range_of(["R002"], rep) == k).rows) for k in (0, 1))
        == 3
    )
