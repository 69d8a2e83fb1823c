"""Group awards and rank awards: the parts of a result that depend on other reps.

A group award compares the group's metric over the *sum* of its members' facts (a region at
110% means the region's total actual over its total target), not an average of ratios. Ranks are
standard competition ranks (1, 1, 3): equal values share a rank. What a tie is paid is the
policy's choice, `ties`: `same_rank` pays every tied rep the prize of the shared rank; `split`
pools the prizes of the positions the tied reps occupy and shares the pool equally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from engine.metrics import Ratio

T = TypeVar("T")


@dataclass(frozen=True)
class Placing:
    rank: int  # competition rank, 1 = best
    tied: int  # how many share this rank
    value: Ratio


def _sort_key(value: Ratio) -> Decimal | Fraction:
    """Exact order: the Decimal itself for plain amounts, a Fraction for true ratios."""
    if value.denominator == 1:
        return value.numerator
    return Fraction(value.numerator) / Fraction(value.denominator)


def place(items: Sequence[T], value_of: Callable[[T], Ratio | None], order: str = "desc") -> dict[int, Placing]:
    """Competition ranks by exact value; items without a value are not ranked. Keyed by index."""
    values = {i: v for i, v in ((i, value_of(it)) for i, it in enumerate(items)) if v is not None}
    exact: dict[int, Decimal | Fraction] = {i: _sort_key(v) for i, v in values.items()}
    if any(isinstance(k, Fraction) for k in exact.values()):
        exact = {i: Fraction(k) for i, k in exact.items()}  # never compare Decimal with Fraction
    ordered = sorted(exact, key=lambda i: (-exact[i] if order == "desc" else exact[i], i))
    result: dict[int, Placing] = {}
    pos = 0
    while pos < len(ordered):
        end = pos
        while end + 1 < len(ordered) and exact[ordered[end + 1]] == exact[ordered[pos]]:
            end += 1
        for j in range(pos, end + 1):
            result[ordered[j]] = Placing(rank=pos + 1, tied=end - pos + 1, value=values[ordered[j]])
        pos = end + 1
    return result


def sum_columns(rows: Sequence[dict[str, Decimal | None]], columns: Sequence[str]) -> dict[str, Decimal | None]:
    """Column totals; a column blank in every row stays None."""
    out: dict[str, Decimal | None] = {}
    for col in columns:
        vals = [r.get(col) for r in rows]
        present = [v for v in vals if v is not None]
        out[col] = sum(present, Decimal(0)) if present else None
    return out
