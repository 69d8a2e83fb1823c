"""Per-line columns an evaluation computes from facts and definitions alone.

The first pass of `engine.evaluation`: a line's metric values and the warnings for those not
available (a metric at a time over a chunk of lines), how a quarter's rows group by rep, and the
number columns a quarter line sums. None of it depends on a decision, so `engine.factcache` may
keep it between evaluations of the same facts.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from engine.across import Numbers
from engine.explain import metric_missing
from engine.facts import STANDARD_NUMBER_COLUMNS, FactRow, FactSet
from engine.metrics import Ratio, missing_lines
from engine.periods import Quarter
from engine.plan import Plan
from engine.policy import Policy

Measured = tuple[dict[str, Ratio | None], tuple[str, ...]]  # a line's metric values, and its warnings


def measure(plan: Plan, numbers: Numbers) -> Measured:
    """A line's metric values (those a decision reads) and the warnings for unavailable ones."""
    metrics: dict[str, Ratio | None] = {}
    warnings: tuple[str, ...] = ()
    for name, m, value_of, available in plan.metrics:
        if value_of is not None:
            v = metrics[name] = value_of(numbers)
            if v is not None:
                continue
        elif available(numbers):
            continue
        missing = [c for c in m.columns if numbers.get(c) is None]
        warnings += (metric_missing(name, missing, m.denominator),)
    return metrics, warnings


def measure_column(plan: Plan, numbers: list[Numbers]) -> list[Measured]:
    """`measure` of every line, a metric at a time (the slow per-line way only where one warns)."""
    read = [(name, value_of) for name, _, value_of, _ in plan.metrics if value_of is not None]
    values = [[value_of(n) for n in numbers] for _, value_of in read]
    names = [name for name, _ in read]
    if not names:
        metrics: list[dict[str, Ratio | None]] = [{} for _ in numbers]
    elif len(names) == 1:
        (name,) = names
        metrics = [{name: v} for v in values[0]]
    else:
        metrics = [dict(zip(names, vs, strict=True)) for vs in zip(*values, strict=True)]
    warn: set[int] = set()
    for column in values:
        warn.update(i for i, v in enumerate(column) if v is None)
    for _, m, value_of, _ in plan.metrics:
        if value_of is None:
            warn.update(missing_lines(m, numbers))
    none: tuple[str, ...] = ()
    out = [(m, none) for m in metrics]
    for i in warn:
        out[i] = (metrics[i], measure(plan, numbers[i])[1])
    return out


QuarterGroup = tuple[str, tuple[tuple[int, int], ...], tuple[FactRow, ...], tuple[str, ...]]


def quarter_groups(
    facts: FactSet, quarter: Quarter, base_facts: FactSet | None = None, base: list[QuarterGroup] | None = None
) -> list[QuarterGroup]:
    """Per rep (sorted): where its month lines are (month index, line index; () when every month
    has every rep), its rows, and what its quarter line warns about its months (a month without
    facts, a change of region).

    `base`: the same for `base_facts`, taken over when both hold the same reps month by month."""
    names = [str(m) for m in quarter.months]
    per_month = [facts.for_month(m) for m in quarter.months]
    if _aligned(facts, quarter):  # rep k's rows are row k of every month: no positions to keep
        return [(rows[0].rep_id, (), rows, _quarter_notes(rows, names)) for rows in zip(*per_month, strict=True)]
    if base is not None and base_facts is not None:
        before = [base_facts.for_month(m) for m in quarter.months]
        if all(
            len(a) == len(b) and all(x.rep_id == y.rep_id for x, y in zip(a, b, strict=True))
            for a, b in zip(per_month, before, strict=True)
        ):
            out = []
            for rep_id, where, was, notes in base:
                rows = tuple(per_month[mi][i] for mi, i in where)
                same = all(map(operator.is_, rows, was))
                out.append((rep_id, where, was if same else rows, notes if same else _quarter_notes(rows, names)))
            return out
    by_rep: dict[str, tuple[list[tuple[int, int]], list[FactRow]]] = {}
    for mi, rows_of_month in enumerate(per_month):
        for i, row in enumerate(rows_of_month):
            at, rows_of_rep = by_rep.setdefault(row.rep_id, ([], []))
            at.append((mi, i))
            rows_of_rep.append(row)
    return [
        (rep_id, tuple(at), tuple(rows_of_rep), _quarter_notes(rows_of_rep, names))
        for rep_id in sorted(by_rep)
        for at, rows_of_rep in [by_rep[rep_id]]
    ]


def _aligned(facts: FactSet, quarter: Quarter) -> bool:
    """Whether every month of the quarter has the same reps (then rep k's lines are line k of each)."""
    first, *others = ([r.rep_id for r in facts.for_month(m)] for m in quarter.months)
    return all(ids == first for ids in others)


def _quarter_notes(rows: Sequence[FactRow], names: list[str]) -> tuple[str, ...]:
    notes: tuple[str, ...] = ()
    if len(rows) < 3:
        have = {str(r.period) for r in rows}
        notes += tuple(f"no facts for {name}" for name in names if name not in have)
    last = rows[-1].region
    if any(r.region != last for r in rows):
        notes += ("region changed within the quarter: " + " -> ".join(str(r.region) for r in rows),)
    return notes


def number_columns(policy: Policy, facts: FactSet) -> tuple[str, ...]:
    """The number columns a quarter line sums: the standard ones and those the policy reads."""
    wanted = set(STANDARD_NUMBER_COLUMNS) | set(policy.numeric_columns)
    return tuple(c for c in (*STANDARD_NUMBER_COLUMNS, *sorted(policy.numeric_columns)) if c in wanted)
