"""The largest amount a fact file may hold, and the smallest one refused, exactly at the boundary.

An amount is below 10**15 with at most 6 decimal places (engine/factvalues.py MAX_WHOLE_DIGITS,
MAX_DECIMALS): far above any real company's figures (the largest yearly revenue is about
¥5,000,000,000,000, 13 digits), read exactly as written. Money written to cents is never taken for
binary-float noise, however many digits it has: 123456789012345.67 was read as 123456789012346
(rounded to Excel's 15 significant digits, with a note), and 999999999999999.99 was refused as
having "more than 15 digits before the decimal point", which it does not have.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.evaluation import evaluate
from engine.facts import load_facts
from engine.problems import MeritInputError
from runtime.policies import load_policy_file

POLICY = Path(__file__).resolve().parent.parent / "policies" / "sales-incentive" / "2026-Q3.yaml"
HEADER = "rep_id,period,target,actual\n"
LARGEST = "999999999999999.999999"  # 15 digits before the point, 6 after it


def _rows(*amounts: str) -> bytes:
    return (HEADER + "".join(f'R{i},2026-08,100.00,"{a}"\n' for i, a in enumerate(amounts, 1))).encode()


def _problems(data: bytes, filename: str = "facts.csv") -> list[tuple[int | None, int | None, str, str]]:
    with pytest.raises(MeritInputError) as info:
        load_facts(data, filename)
    return [(p.line, p.column, p.field, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    "written",
    [
        LARGEST,
        "999999999999999.99",
        "123456789012345.67",
        "999,999,999,999,999.99",
        "¥999,999,999,999,999.99",
        "999999999999999.99元",
        "0.000001",  # the smallest place kept
    ],
)
def test_the_largest_amounts_are_read_exactly_as_written(written: str) -> None:
    facts = load_facts(_rows(written), "facts.csv")
    digits = written.replace(",", "").removeprefix("¥").removesuffix("元")
    assert facts.rows[0].actual == Decimal(digits)
    assert str(facts.rows[0].actual) == digits  # not rounded, not normalised
    assert not any("noise" in n for n in facts.notes)


def test_the_smallest_amounts_refused_are_named_by_place() -> None:
    # one past each bound: 10**15 (16 digits before the point), and a 7th decimal place
    data = _rows("1000000000000000", "1000000000000000.00", "1,000,000,000,000,000", "0.0000001")
    more = "has more than 15 digits before the decimal point"
    assert _problems(data) == [
        (2, 4, "actual", f"1000000000000000 {more}"),
        (3, 4, "actual", f"1000000000000000.00 {more}"),
        (4, 4, "actual", f"1,000,000,000,000,000 {more}"),
        (5, 4, "actual", "0.0000001 has more than 6 decimal places (round it to cents: in Excel =ROUND(D2,2),"
         " then copy and paste as values)"),
    ]  # fmt: skip


def test_json_numbers_have_the_same_bounds() -> None:
    ok = b'[{"rep_id": "R1", "period": "2026-08", "target": 100, "actual": 999999999999999.99}]'
    assert load_facts(ok, "facts.json").rows[0].actual == Decimal("999999999999999.99")
    refused = b'[{"rep_id": "R1", "period": "2026-08", "target": 100, "actual": 1000000000000000}]'
    assert _problems(refused, "facts.json") == [
        (1, None, "actual", "1000000000000000 has more than 15 digits before the decimal point")
    ]


def test_hostile_amounts_stay_refused_in_words() -> None:
    data = _rows("9" * 100_000, "1e999999999", "1" + "0" * 15 + ".5")
    assert _problems(data) == [
        (2, 4, "actual", "99999999999999999999...(100000 characters) has more than 15 digits before the decimal point"),
        (3, 4, "actual", "'1e999999999' uses exponent notation; write the number out in full"),
        (4, 4, "actual", "1000000000000000.5 has more than 15 digits before the decimal point"),
    ]  # fmt: skip


def test_float_noise_beyond_the_cents_is_still_read_as_excel_shows_it() -> None:
    facts = load_facts(_rows("181071.36000000001", "0.30000000000000004"), "facts.csv")
    assert [r.actual for r in facts.rows] == [Decimal("181071.36"), Decimal("0.3")]
    assert any("2 amount(s) had 16-17 significant digits" in n for n in facts.notes)


def test_a_rep_at_the_largest_amount_is_paid_exactly() -> None:
    # 999999999999999.99 / 999999999999999.99 = 100%: advanced, 2% + 1,000 bonus.
    # 2% x 999999999999999.99 = 19999999999999.9998 -> half-up to cents 20000000000000.00
    data = b"rep_id,region,period,target,actual\nR1,East,2026-08,999999999999999.99,999999999999999.99\n"
    line = evaluate(load_policy_file(POLICY), load_facts(data, "facts.csv"), "2026-08").results[0]
    assert (line.tier, line.commission, line.bonus) == ("advanced", Decimal("20000000000000.00"), Decimal("1000.00"))
