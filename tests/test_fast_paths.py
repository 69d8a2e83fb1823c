"""The shortcuts the evaluator's hot loops take give exactly what the long way gives.

Each one is checked against the plain formulation it stands in for, on values chosen to sit on,
next to and far from the edges: comparison keys (bisect among near bands vs. comparing every
threshold exactly), whole-number keys, ranks and leaders (vs. counting by hand), money text (vs.
the exponent test), and the CSV loader's fast path (vs. the row checker that explains problems).
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from engine import facts as facts_module
from engine.awards import leaders, ranks
from engine.facts import load_facts
from engine.metrics import Ratio
from engine.problems import MeritInputError
from engine.rules import Scale
from engine.tiers import money_text

D = Decimal
SCALES = [
    (D("0.80"), D("1.00")),
    (D("0.80"), D("1.00"), D("1.20")),
    (D("0"), D("70"), D("90"), D("110")),
    (D("1.10"),),
    (D("1"), D("3")),
    (D("-5"), D("0.333333333333333333333333333333")),  # more digits than the 28-digit context
    (D("100000000000000000000"), D("100000000000000000000.5")),  # near bands that overlap
    (),
]


def exact_key(scale: Scale, value: Ratio) -> int:
    """The definition: 2 x (thresholds strictly below) + 1 if equal to one, each compared exactly."""
    exact = Fraction(value.numerator) / Fraction(value.denominator)
    below = sum(1 for t in scale.thresholds if Fraction(t) < exact)
    return 2 * below + (1 if any(Fraction(t) == exact for t in scale.thresholds) else 0)


def values_around(thresholds: tuple[Decimal, ...], rnd: random.Random) -> list[Ratio]:
    out = [Ratio(D("181071.36"), D("226339.20")), Ratio(D(1), D(3)), Ratio(D(2), D(3)), Ratio(D(0))]
    for t in thresholds:
        for den in (D("226339.20"), D("7"), D("1"), D("0.03")):
            on = t * den
            out += [Ratio(on, den), Ratio(on + D("1e-20"), den), Ratio(on - D("1e-20"), den)]
            out += [Ratio(on + D("0.01"), den), Ratio(on - D("0.01"), den)]
    for _ in range(300):
        out.append(Ratio(D(rnd.randint(0, 10**9)) / 100, D(rnd.randint(1, 10**7)) / 100))
    return out


@pytest.mark.parametrize("thresholds", SCALES, ids=lambda t: ",".join(map(str, t)) or "none")
def test_scale_key_is_the_exact_definition(thresholds: tuple[Decimal, ...]) -> None:
    scale = Scale(thresholds)
    for value in values_around(thresholds, random.Random(7)):
        assert scale.key(value) == exact_key(scale, value), value


def test_whole_number_keys_are_the_ratio_keys() -> None:
    scale = Scale((D(1), D(3), D("10")))
    for n in range(0, 15):
        assert scale.key_of_int(n) == scale.key(Ratio(D(n)))


def competition_ranks(values: list[Ratio | Decimal | None], order: str) -> tuple[list[int], list[int]]:
    def exact(v: Ratio | Decimal) -> Fraction:
        return Fraction(v.numerator) / Fraction(v.denominator) if isinstance(v, Ratio) else Fraction(v)

    rank, tied = [], []
    for v in values:
        if v is None:
            rank.append(0)
            tied.append(0)
            continue
        others = [exact(w) for w in values if w is not None]
        better = sum(1 for w in others if (w > exact(v) if order == "desc" else w < exact(v)))
        rank.append(better + 1)
        tied.append(sum(1 for w in others if w == exact(v)))
    return rank, tied


def random_values(rnd: random.Random, n: int) -> list[Ratio | Decimal | None]:
    out: list[Ratio | Decimal | None] = []
    for _ in range(n):
        pick = rnd.random()
        if pick < 0.15:
            out.append(None)
        elif pick < 0.7:
            out.append(D(rnd.randint(0, 8)) / 2)
        else:
            out.append(Ratio(D(rnd.randint(0, 9)), D(rnd.randint(1, 4))))
    return out


def test_ranks_and_leaders_are_competition_ranks() -> None:
    rnd = random.Random(11)
    for _ in range(200):
        values = random_values(rnd, rnd.randint(0, 30))
        for order in ("desc", "asc"):
            rank, tied = ranks(values, order)
            assert (rank, tied) == competition_ranks(values, order)
            for depth in (1, 3, 9):
                assert leaders(values, order, depth) == [i for i, r in enumerate(rank) if 0 < r <= depth]


def test_money_text_is_the_exponent_rule() -> None:
    def by_exponent(amount: Decimal) -> str:
        exponent = amount.as_tuple().exponent
        assert isinstance(exponent, int)
        return format(amount.quantize(D("0.01")) if exponent > -2 else amount, "f")

    samples = ["0", "0.0", "0.00", "0.000", "5", "5.1", "5.10", "5.123", "-5", "-0.5", "1E+3", "1.5E+2", "12345678.9"]
    samples += [str(D(random.Random(3).randint(-(10**9), 10**9)).scaleb(e)) for e in range(-5, 3)]
    for text in samples:
        assert money_text(D(text)) == by_exponent(D(text)), text


MESSY = (
    "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers,leads,follow_ups,deals,note\n"
    "R1,张伟,East,A,M1,2026-08,800000.00,840000.00,756000.50,9,58,51,10,x\n"
    ' R2 ,"Li, Na", South ,,,2026-08 ,"600,000.00",450000,,0,,,,\n'
    "R3,,,,,2026-07,300000,330000.0,0,3,20,40,5,\n"
    "R4,-minus,=cmd,B,M2,2026-07,0.03,0.036,0.04,6,10,29,1,  spaced  \n"
    "\n"
    "R5,a,West,C,M3,2026-09,100,181071.36,1,1.0,2,3,4,\n"
)


def test_csv_fast_path_builds_the_rows_the_checker_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = load_facts(MESSY.encode(), "messy.csv")
    monkeypatch.setattr(facts_module._RowChecker, "fast", lambda self, line, record: None)
    slow = load_facts(MESSY.encode(), "messy.csv")
    assert len(fast.rows) == 5
    for a, b in zip(fast.rows, slow.rows, strict=True):
        assert a == b
        assert [str(v) for v in a.numbers.values()] == [str(v) for v in b.numbers.values()]  # exponents too
        assert (str(a.target), str(a.actual)) == (str(b.target), str(b.actual))


@pytest.mark.parametrize(
    "row",
    [
        "R1,a,E,A,M,2026-08,100,abc,,,,,,",  # not a number
        "R1,a,E,A,M,2026-08,-100,90,,,,,,",  # negative target
        "R1,a,E,A,M,2026-08,100,90,,2.5,,,,",  # a count that is not whole
        "R1,a,E,A,M,2026-13,100,90,,,,,,",  # not a month
        ",a,E,A,M,2026-08,100,90,,,,,,",  # no rep_id
        "R1,a,E,A,M,2026-08,100,90,,,,,,,extra",  # a value beyond the header
        "R1,a,E,A,M,2026-08,1e5,90,,,,,,",  # exponent notation
    ],
)
def test_rows_the_fast_path_declines_are_explained_as_before(row: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (MESSY.splitlines()[0] + "\n" + row + "\n").encode()
    with pytest.raises(MeritInputError) as fast:
        load_facts(data, "bad.csv")
    monkeypatch.setattr(facts_module._RowChecker, "fast", lambda self, line, record: None)
    with pytest.raises(MeritInputError) as slow:
        load_facts(data, "bad.csv")
    assert [str(p) for p in fast.value.problems] == [str(p) for p in slow.value.problems]
