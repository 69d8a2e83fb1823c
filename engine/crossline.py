"""What crosses lines in one period: group sums and ranks, summarised per partition of the reps.

Most of a result is the rep's own business (metrics, light, tier, commission, score). A few
decisions look across reps: a group award compares the group's *summed* facts, a rank award or an
eligibility rule the rep's *rank* in the team. The evaluator (`engine.evaluation`) takes those in
two steps so that the reps can be split between Dask workers (`runtime.partitions`) without changing a
byte of the output:

1. every partition of the reps writes a `Partial`: per group its column sums and member count,
   per ranking the values that can matter (all of them when an eligibility rule shows every rep's
   rank, else only the local leaders: an award paying the top 3 cannot reach a rep who is 4th
   within its own partition);
2. `combine` turns the partials into what each partition needs back (`Combined`): group totals
   and counts, and the team-wide rank of each of its candidates. A single process is one partition.

Sums are exact: fact amounts and money have a few decimals, so the 28-digit context never rounds a
sum of them, and a sum does not depend on how the reps were split. Should a sum ever be rounded,
the partial says so (`inexact`) and the parallel path gives way to the single-process one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact

from engine.awards import ranks
from engine.errors import MeritError
from engine.metrics import Ratio

Sums = dict[str, Decimal | None]  # column -> total over the members; None when blank for all
Ranking = tuple[str, str]  # (value name, "desc" | "asc")
_ZERO = Decimal(0)  # sums start here, as `sum(values, Decimal(0))` does


@dataclass
class Partial:
    """One partition's cross-line summary of one period."""

    # group award id -> group -> (column sums over the partition's members, member count)
    groups: dict[str, dict[str, tuple[Sums, int]]] = field(default_factory=dict)
    # ranking -> (candidates' line indices, their values, lines with a value)
    rankings: dict[Ranking, tuple[list[int], list[Ratio | Decimal], int]] = field(default_factory=dict)
    # ranking -> how deep exact ranks are needed (None: every rank); the same in every partition
    depths: dict[Ranking, int | None] = field(default_factory=dict)
    inexact: bool = False  # a group sum was rounded: partitions cannot be combined exactly
    lines: int = 0  # lines the partition evaluated in the period (for progress reports)


@dataclass
class Combined:
    """What one partition gets back: team-wide group totals and ranks."""

    groups: dict[str, dict[str, tuple[Sums, int]]]
    # ranking -> ((line index, rank, tied) for the partition's candidates within depth, lines ranked)
    rankings: dict[Ranking, tuple[list[tuple[int, int, int]], int]]


def add_to(sums: Sums, column: str, value: Decimal, context: Context) -> None:
    """sums[column] += value (a blank total starts at 0), in `context`, which notes any rounding."""
    total = sums[column]
    sums[column] = context.add(_ZERO if total is None else total, value)


def combine(partials: list[Partial]) -> list[Combined]:
    """Team-wide totals and ranks, handed back to each partition (in the partitions' order).

    A candidate ranked below its ranking's depth gets no entry: its partition knows it as "below
    depth", which is all an award that deep can tell apart.
    """
    context = Context()  # the default 28 digits, its own flags
    groups: dict[str, dict[str, tuple[Sums, int]]] = {}
    for partial in partials:
        for award_id, by_key in partial.groups.items():
            totals = groups.setdefault(award_id, {})
            for key, (sums, count) in by_key.items():
                if key not in totals:
                    totals[key] = (dict(sums), count)
                    continue
                total, members = totals[key]
                for column, value in sums.items():
                    if value is not None:
                        add_to(total, column, value, context)
                totals[key] = (total, members + count)
    if context.flags[Inexact]:
        raise InexactSum("a group sum needs more than 28 digits")
    fills: list[dict[Ranking, tuple[list[tuple[int, int, int]], int]]] = [{} for _ in partials]
    for ranking, depth in partials[0].depths.items():
        shares = [partial.rankings[ranking] for partial in partials]
        rank, tied = ranks([value for _, values, _ in shares for value in values], ranking[1])
        ranked = sum(count for _, _, count in shares)
        start = 0
        for p, (indices, _, _) in enumerate(shares):  # each partition's candidates, in turn
            end = start + len(indices)
            mine = zip(indices, rank[start:end], tied[start:end], strict=True)
            fills[p][ranking] = (list(mine) if depth is None else [f for f in mine if f[1] <= depth], ranked)
            start = end
    return [Combined(groups, f) for f in fills]


class InexactSum(MeritError, ArithmeticError):
    """A cross-line sum was rounded, so splitting the reps could change it."""
