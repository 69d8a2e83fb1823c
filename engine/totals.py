"""The totals block of an evaluation, as additive parts: one per partition of the reps, merged exactly.

`Evaluation.totals()` (engine.results) is `totals_dict(merge_totals([totals_part(lines)]))`; a
partitioned evaluation (runtime.dask_executor) computes one `TotalsPart` per partition and merges
them. Every figure is a count or an exact `Decimal` sum, so merging gives what one pass over all
lines gives: exact addition does not depend on grouping (value, and exponent: the least of the
terms'). A sum that would need more than 28 digits could round differently when grouped
differently: `merge_totals` then raises `InexactSum` and the caller evaluates in one process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact
from typing import Any

from engine.crossline import InexactSum
from engine.lines import ZERO, Line
from engine.metrics import Ratio, format_ratio
from engine.policy import Policy
from engine.tiers import money_text

#: reps, target, actual, commission, bonus, awards (a `_summary`'s inputs)
Sums = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]
_NO_SUMS: Sums = (0, ZERO, ZERO, ZERO, ZERO, ZERO)


@dataclass
class TotalsPart:
    """What the totals block needs of some of the lines: sums and decision counts (picklable)."""

    all: Sums = _NO_SUMS
    by_region: dict[str, Sums] = field(default_factory=dict)
    by_product_line: dict[str, Sums] = field(default_factory=dict)
    lights: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    ratings: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    inexact: bool = False  # a sum was rounded: parts cannot be merged exactly


def _add(a: Sums, b: Sums, context: Context) -> Sums:
    return (a[0] + b[0], *(context.add(x, y) for x, y in zip(a[1:], b[1:], strict=True)))  # type: ignore[return-value]


def _line_sums(ln: Line) -> Sums:
    numbers = ln.numbers_of(("target", "actual"))
    return (1, numbers.get("target") or ZERO, numbers.get("actual") or ZERO, ln.commission, ln.bonus, ln.award_total)


def totals_part(policy: Policy, results: Sequence[Line]) -> TotalsPart:
    """The totals of `results` (an evaluation's result lines, or a partition's), not yet formatted.

    Each decision is counted where it is taken: lights on the result lines, tiers on month lines,
    ratings and flags on the lines of their rule's own period (none on a month run for a
    quarterly rule, which a month does not decide).
    """
    context = Context()
    part = TotalsPart()
    months = [m for ln in results for m in (ln.months or (ln,))] if any(ln.months for ln in results) else results
    quarter = months is not results
    for ln in results:
        sums = _line_sums(ln)
        part.all = _add(part.all, sums, context)
        region, line = ln.region or "(none)", ln.product_line or "(none)"
        part.by_region[region] = _add(part.by_region.get(region, _NO_SUMS), sums, context)
        part.by_product_line[line] = _add(part.by_product_line.get(line, _NO_SUMS), sums, context)
    part.lights.update(ln.light for ln in results if ln.light is not None)
    part.tiers.update(ln.tier for ln in months if ln.tier is not None)
    card = policy.scorecard
    if card is not None:
        rated = months if card.period == "month" else results
        part.ratings.update(ln.rating for ln in rated if ln.rating is not None)
    for e in policy.eligibility:
        if quarter or e.period == "month":
            flagged = months if e.period == "month" else results
            part.flags[e.id] += sum(1 for ln in flagged if ln.flags.get(e.id))
    part.inexact = bool(context.flags[Inexact])
    return part


def merge_totals(parts: Iterable[TotalsPart]) -> TotalsPart:
    """The parts of disjoint lines as one (InexactSum when a sum would round)."""
    context = Context()
    out = TotalsPart()
    for part in parts:
        out.inexact |= part.inexact
        out.all = _add(out.all, part.all, context)
        for mine, theirs in ((out.by_region, part.by_region), (out.by_product_line, part.by_product_line)):
            for key, sums in theirs.items():
                mine[key] = _add(mine.get(key, _NO_SUMS), sums, context)
        out.lights.update(part.lights)
        out.tiers.update(part.tiers)
        out.ratings.update(part.ratings)
        out.flags.update(part.flags)
    if out.inexact or context.flags[Inexact]:
        raise InexactSum("a total needs more than 28 digits")
    return out


def _summary(sums: Sums) -> dict[str, Any]:
    reps, target, actual, commission, bonus, awards = sums
    return {
        "reps": reps,
        "target": money_text(target),
        "actual": money_text(actual),
        "achievement": format_ratio(Ratio(actual, target)) if target else None,
        "commission": money_text(commission),
        "bonus": money_text(bonus),
        "awards": money_text(awards),
        "payout": money_text(commission + bonus + awards),
    }


def _counts(counter: Counter[str]) -> dict[str, int]:
    return {k: counter[k] for k in sorted(counter) if counter[k]}


def totals_dict(policy: Policy, part: TotalsPart, previous_actual: Decimal | None) -> dict[str, Any]:
    """The totals block as the contract writes it: sums, counts of each decision, per region and
    product line, month-on-month (against `previous_actual`, the previous month's sales)."""
    out = _summary(part.all)
    quarter_flags = [e.id for e in policy.eligibility if e.id in part.flags]
    out["lights"] = _counts(part.lights)
    out["tiers"] = _counts(part.tiers)
    out["ratings"] = {} if policy.scorecard is None else _counts(part.ratings)
    out["flags"] = {e: part.flags[e] for e in quarter_flags}
    out["by_region"] = {k: _summary(part.by_region[k]) for k in sorted(part.by_region)}
    out["by_product_line"] = {k: _summary(part.by_product_line[k]) for k in sorted(part.by_product_line)}
    if previous_actual is not None:
        actual = part.all[2]
        out["mom"] = {
            "previous_actual": money_text(previous_actual),
            "change": money_text(actual - previous_actual),
        }
        if previous_actual:
            out["mom"]["change_ratio"] = format_ratio(Ratio(actual - previous_actual, previous_actual))
    return out
