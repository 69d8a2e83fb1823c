"""Group awards and rank awards: the parts of a result that depend on other reps.

A group award compares the group's metric over the *sum* of its members' facts (a region at
110% means the region's total actual over its total target), not an average of ratios. Ranks are
standard competition ranks (1, 1, 3): equal values share a rank. What a tie is paid is the
policy's choice, `ties`: `same_rank` pays every tied rep the prize of the shared rank; `split`
pools the prizes of the positions the tied reps occupy and shares the pool equally.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate
from typing import TypeVar

from engine.metrics import Ratio

T = TypeVar("T")


def _sort_key(value: Ratio) -> Decimal | Fraction:
    """Exact order: the Decimal itself for plain amounts, a Fraction for true ratios."""
    if value.denominator == 1:
        return value.numerator
    return Fraction(value.numerator) / Fraction(value.denominator)


def ranks(values: Sequence[Ratio | Decimal | None], order: str = "desc") -> tuple[list[int], list[int]]:
    """Per item: its competition rank (0 when it has no value) and how many share that rank.

    Two lists of ints instead of an object per rep. A
    `Decimal` is ranked as itself, a `Ratio` by its exact value. Written with whole-list steps
    (sort, map, accumulate) because a quarter ranks every rep: a third of a million values.
    """
    present = [i for i, v in enumerate(values) if v is not None]
    exact = _exact_keys([values[i] for i in present])  # type: ignore[misc]
    n = len(exact)
    # a stable sort keeps equal values in item order either way (`reverse` keeps stability)
    ordered = sorted(range(n), key=exact.__getitem__, reverse=order == "desc")
    keys = [exact[j] for j in ordered]
    new_run = [True, *map(operator.ne, keys[1:], keys)]  # by sorted position: a new value starts here
    run_start = list(accumulate(map(operator.mul, range(n), new_run), max))  # 0-based
    ends_here = [*new_run[1:], True]
    run_end = list(accumulate(reversed([p + 1 if e else n for p, e in enumerate(ends_here)]), min))[::-1]
    by_item = sorted(range(n), key=ordered.__getitem__)  # sorted position of each present item
    rank = [0] * len(values)
    tied = [0] * len(values)
    for i, p in zip(present, by_item, strict=True):
        rank[i] = run_start[p] + 1
        tied[i] = run_end[p] - run_start[p]
    return rank, tied


def leaders(values: Sequence[Ratio | Decimal | None], order: str, depth: int) -> list[int]:
    """Indices of the items whose competition rank is at most `depth` (ties at the edge included).

    An award that pays the top 3 needs exact ranks only there: selecting them costs a pass, not a
    sort of the whole team. Every item left out ranks below `depth`.
    """
    present = [i for i, v in enumerate(values) if v is not None]
    if len(present) <= depth:
        return present
    exact = _exact_keys([values[i] for i in present])  # type: ignore[misc]
    if order == "desc":
        edge = heapq.nlargest(depth, exact)[-1]
        return [present[j] for j, k in enumerate(exact) if k >= edge]
    edge = heapq.nsmallest(depth, exact)[-1]
    return [present[j] for j, k in enumerate(exact) if k <= edge]


def in_rank_order(indices: list[int], values: list[T], order: str) -> tuple[list[int], list[T]]:
    """Both lists reordered best first (stable). Ranking a concatenation of such runs costs a
    merge, not a sort: how the parent process ranks what its workers sorted."""
    exact = _exact_keys(values)  # type: ignore[arg-type]
    ordered = sorted(range(len(values)), key=exact.__getitem__, reverse=order == "desc")
    return [indices[j] for j in ordered], [values[j] for j in ordered]


def _exact_keys(values: Sequence[Ratio | Decimal]) -> list[Decimal | Fraction]:
    """Sort keys that compare exactly: Decimals as they are, true ratios as Fractions."""
    exact = [v if type(v) is Decimal else _sort_key(v) for v in values]  # type: ignore[arg-type]
    if Fraction in set(map(type, exact)):
        return [Fraction(k) for k in exact]  # never compare Decimal with Fraction
    return exact
