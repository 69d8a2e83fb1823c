"""The columnar evaluator's exact arithmetic (engine.colnum, engine.colmoney, engine.colscore).

Every expectation is worked out by hand in a comment; none is computed by the code under test.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from engine.colmoney import as_money, flat_commissions, round_quotients
from engine.colnum import Frame, metric_keys
from engine.colscore import score_keys
from engine.facts import facts_from_records
from engine.periods import parse_period
from engine.policy import Metric, Policy, Rounding
from engine.rules import Scale
from runtime.policies import load_policy_file

Q3 = Path(__file__).resolve().parent.parent / "policies" / "sales-incentive" / "2026-Q3.yaml"
MONTH = parse_period("2026-08")


def never(i: int) -> None:
    raise AssertionError(f"line {i} should have been decided by the columns")


def frame_of(*rows: tuple[str, ...], header: tuple[str, ...] = ("rep_id", "period", "target", "actual")) -> Frame:
    records = [dict(zip(header, row, strict=True)) for row in rows]
    facts = facts_from_records(records, "test", ())
    return Frame(facts.for_month(MONTH), ("target", "actual"))


# ----------------------------------------------------------------------------- rounding modes
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # quotients: 1005/1000 = 1.005 (a tie), 1015/1000 = 1.015 (a tie above an odd whole), 10049/10000,
        # 10051/10000, -1005/1000 = -1.005 (a tie below zero), 4995/1000 = 4.995; in units of 0.01:
        # 100.5, 101.5, 100.49, 100.51, -100.5, 499.5
        ("half-up", [101, 102, 100, 101, -101, 500]),  # ties away from zero
        ("half-even", [100, 102, 100, 101, -100, 500]),  # ties to the even unit: 100, 102, -100, 500
        ("down", [100, 101, 100, 100, -100, 499]),  # toward zero
        ("up", [101, 102, 101, 101, -101, 500]),  # away from zero when anything is left
    ],
)
def test_round_quotients_on_boundaries(mode: str, expected: list[int]) -> None:
    num = np.array([100500, 101500, 1004900, 1005100, -100500, 499500], dtype=np.int64)
    den = np.array([1000, 1000, 10000, 10000, 1000, 1000], dtype=np.int64)
    assert round_quotients(num, den, mode).tolist() == expected


def test_round_quotients_beyond_int64_stay_exact() -> None:
    # (10**20 + 0.5) as a quotient: 2 * 10**20 + 1 over 2; half-up -> 10**20 + 1, half-even -> 10**20 (even)
    num = np.array([2 * 10**20 + 1], dtype=object)
    den = np.array([2], dtype=object)
    assert round_quotients(num, den, "half-up").tolist() == [10**20 + 1]
    assert round_quotients(num, den, "half-even").tolist() == [10**20]
    assert round_quotients(num, den, "down").tolist() == [10**20]


def policy_rounding(mode: str, quantum: str = "0.01") -> Policy:
    policy = load_policy_file(Q3)
    return dataclasses.replace(policy, rounding=Rounding(Decimal(quantum), mode))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # 100.50 x 0.01 = 1.005; 101.50 x 0.01 = 1.015; 100.49 x 0.01 = 1.0049; 100.51 x 0.01 = 1.0051;
        # 333.00 x 0.015 = 4.995; 100001.25 x 0.02 = 2000.025 (the handbook's advanced tier)
        ("half-up", ["1.01", "1.02", "1.00", "1.01", "5.00", "2000.03"]),
        ("half-even", ["1.00", "1.02", "1.00", "1.01", "5.00", "2000.02"]),
        ("down", ["1.00", "1.01", "1.00", "1.00", "4.99", "2000.02"]),
        ("up", ["1.01", "1.02", "1.01", "1.01", "5.00", "2000.03"]),
    ],
)
def test_flat_commissions_round_as_the_policy_says(mode: str, expected: list[str]) -> None:
    frame = frame_of(
        *[
            (f"R{i}", "2026-08", "1", base)
            for i, base in enumerate(("100.50", "101.50", "100.49", "100.51", "333", "100001.25"))
        ]
    )
    rates = [Decimal(r) for r in ("0.01", "0.01", "0.01", "0.01", "0.015", "0.02")]
    amounts = flat_commissions(policy_rounding(mode), frame.column("actual"), list(range(6)), rates)
    assert [str(a) for a in amounts] == expected  # two places, as Decimal.quantize(0.01) writes them


@pytest.mark.parametrize(("mode", "expected"), [("half-up", "3"), ("half-even", "2"), ("down", "2"), ("up", "3")])
def test_a_whole_yuan_quantum(mode: str, expected: str) -> None:
    # 250 x 0.01 = 2.5 yuan, rounded to whole yuan (quantum 1: exponent 0, so "3", not "3.00")
    frame = frame_of(("R1", "2026-08", "1", "250.00"))
    (amount,) = flat_commissions(policy_rounding(mode, "1"), frame.column("actual"), [0], [Decimal("0.01")])
    assert str(amount) == expected


def test_a_base_not_above_zero_is_left_to_the_per_line_way() -> None:
    rows = frame_of(("R1", "2026-08", "1", "0"), ("R2", "2026-08", "1", "10.00"), ("R3", "2026-08", "1", "10.00")).items
    negative = dataclasses.replace(rows[1], actual=Decimal("-10.00"))  # facts refuse it; a credited month may not
    frame = Frame((rows[0], negative, rows[2]), ("target", "actual"))
    amounts = flat_commissions(policy_rounding("half-up"), frame.column("actual"), [0, 1, 2], [Decimal("0.02")] * 3)
    assert amounts == [None, None, Decimal("0.20")]  # 10.00 x 0.02 = 0.20


def test_money_beyond_int64_is_exact() -> None:
    # 100000000000000000.50 x 0.01 = 1000000000000000.005 -> half-even 1000000000000000.00, half-up .01
    (row,) = frame_of(("R1", "2026-08", "1", "1")).items  # a file stops at 15 digits; the engine does not
    column = Frame((dataclasses.replace(row, actual=Decimal("100000000000000000.50")),), ("actual",)).column("actual")
    (even,) = flat_commissions(policy_rounding("half-even"), column, [0], [Decimal("0.01")])
    (up,) = flat_commissions(policy_rounding("half-up"), column, [0], [Decimal("0.01")])
    assert (str(even), str(up)) == ("1000000000000000.00", "1000000000000000.01")


def test_as_money_writes_the_quantums_places() -> None:
    assert [str(d) for d in as_money(np.array([480001, 0, 5]), Decimal("0.01"))] == ["4800.01", "0.00", "0.05"]


# ----------------------------------------------------------------------------- comparison keys
ACHIEVEMENT = Metric(name="achievement", label="achievement", numerator="actual", denominator="target")
BANDS = Scale((Decimal("0.80"), Decimal("1.00")))


def test_keys_are_exact_on_the_threshold() -> None:
    frame = frame_of(
        ("R1", "2026-08", "226339.20", "181071.36"),  # 181071.36 / 226339.20 = 0.8 exactly -> on 0.80: key 1
        ("R2", "2026-08", "226339.20", "181071.35"),  # a cent below 80% -> key 0
        ("R3", "2026-08", "226339.20", "181071.37"),  # a cent above -> between 0.80 and 1.00: key 2
        ("R4", "2026-08", "226339.20", "226339.20"),  # exactly 1.00 -> key 3
        ("R5", "2026-08", "226339.20", "300000"),  # above 1.00 -> key 4
        ("R6", "2026-08", "1", "10"),
    )
    zero = dataclasses.replace(frame.items[5], target=Decimal(0))  # a zero target (a file refuses it): no value
    frame = Frame((*frame.items[:5], zero), ("target", "actual"))
    assert metric_keys(frame, ACHIEVEMENT, BANDS, never) == [1, 0, 2, 3, 4, None]


def test_keys_beyond_int64_are_exact() -> None:
    # 8 x 10**25 + 0.01 over 10**26: just above 0.80 -> key 2; 8 x 10**25 over 10**26 = 0.80 -> key 1
    one, two = frame_of(("R1", "2026-08", "1", "1"), ("R2", "2026-08", "1", "1")).items
    huge = Decimal("1" + "0" * 26)  # beyond what a file may hold (15 digits), not beyond the engine
    one = dataclasses.replace(one, target=huge, actual=Decimal("8" + "0" * 25 + ".01"))
    two = dataclasses.replace(two, target=huge, actual=Decimal("8" + "0" * 25))
    frame = Frame((one, two), ("target", "actual"))
    assert metric_keys(frame, ACHIEVEMENT, BANDS, never) == [2, 1]


def test_a_quarter_sums_its_months_exactly() -> None:
    # months 0.10 + 0.20 + 0.50 of 1.00 each: 0.80 of 3.00 = 26.67% -> key 0; the targets alone sum to 3.00
    records = [
        {"rep_id": "R1", "period": month, "target": "1.00", "actual": actual}
        for month, actual in (("2026-07", "0.10"), ("2026-08", "0.20"), ("2026-09", "0.50"))
    ]
    facts = facts_from_records(records, "test", ())
    rows = tuple(facts.for_month(parse_period(m))[0] for m in ("2026-07", "2026-08", "2026-09"))
    frame = Frame([rows], ("target", "actual"))
    target = frame.column("target")
    assert Decimal(target.ints.tolist()[0]).scaleb(-target.scale) == 3  # 1.00 + 1.00 + 1.00
    assert metric_keys(frame, ACHIEVEMENT, BANDS, never) == [0]
    # 0.80 / 1.00 of a target of 1.00: 2.40 of 3.00 = exactly 80% -> key 1
    rows2 = tuple(
        dataclasses.replace(r, actual=Decimal(a)) for r, a in zip(rows, ("0.80", "0.80", "0.80"), strict=True)
    )
    assert metric_keys(Frame([rows2], ("target", "actual")), ACHIEVEMENT, BANDS, never) == [1]


# ----------------------------------------------------------------------------- scorecard
def test_score_keys_are_exact_on_a_rating_bound() -> None:
    policy = load_policy_file(Q3)
    assert policy.scorecard is not None
    header = ("rep_id", "period", "target", "actual", "collected", "new_customers", "follow_ups", "leads", "deals")
    records = [
        dict(zip(header, row, strict=True))
        for row in (
            # 80/100 = 0.80 x 50% = 0.40; 72/80 = 0.90 of 0.90 = 1 x 20% = 0.20; 5/5 x 20% = 0.20; 40/40 x 10% = 0.10
            # -> 0.90 x 100 = 90 exactly: on the bound 90 (bounds 0, 70, 90, 110) -> key 2 x 2 + 1 = 5
            ("R1", "2026-08", "100", "80", "72", "5", "40", "10", "1"),
            # 90/100 = 0.90 x 50% = 0.45; 81/90 = 0.90 -> 0.20; 0.20; 0.10 -> 95: above 0, 70, 90 -> key 6
            ("R2", "2026-08", "100", "90", "81", "5", "40", "10", "1"),
            # 300/100 = 3, capped at 1.5 x 50% = 0.75; 300/300 = 1.00 / 0.90 = 1.11.. (below its cap 1.2) x 20%
            # = 0.2222..; 10/5 = 2, capped at 1.5 x 20% = 0.30; 60/40 = 1.5, capped at 1.2 x 10% = 0.12
            # -> 139.22..: above every bound -> key 8
            ("R3", "2026-08", "100", "300", "300", "10", "60", "10", "1"),
            # 79.99/100 = 0.7999 x 50% = 0.39995; 71.991/79.99 = 0.9 -> 0.20; 0.20; 0.10 -> 89.995 -> key 4
            ("R4", "2026-08", "100", "79.99", "71.991", "5", "40", "10", "1"),
            # no collected: collection_rate not available -> no score (None)
            ("R5", "2026-08", "100", "80", "", "5", "40", "10", "1"),
        )
    ]
    facts = facts_from_records(records, "test", ())
    frame = Frame(facts.for_month(MONTH), ("target", "actual"))
    scale = Scale((Decimal(0), Decimal(70), Decimal(90), Decimal(110)))
    assert score_keys(frame, policy.scorecard, policy.metrics, scale, never) == [5, 6, 8, 4, None]
