"""Outcomes: the money-relevant decisions of a period for every rep, fast, for what-if comparisons.

Why not call `engine.evaluation.evaluate` twice: an evaluation writes an explanation for every
decision and scores every scorecard, which is what a published run needs and what makes it cost
seconds per thousand reps. A simulation of 10,000 reps x 3 months, or 20 of them in a sweep, needs
only the decisions that carry money and people: lights, tiers, commission, bonus, awards and
eligibility flags. `_Lean` makes exactly those decisions, with the same compiled policy (the same
durable_rules ruleset answers every question), the same metric ratios, the same ranking and the
same rounding as the evaluator, and skips the words. tests/test_simulation.py checks, rep by rep,
that it agrees with `evaluate` on the shipped policy, a marginal-commission policy, split ties and
quarterly group awards; an unchanged scenario equals an evaluation's totals to the cent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any

from engine.awards import ranks, sum_columns
from engine.compiler import NONE, CompiledPolicy, compiled
from engine.evaluation import ZERO, AwardLine, Payout
from engine.facts import FactRow, FactSet
from engine.metrics import Ratio, metric_value
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.policy import GroupAward, Policy, RankAward
from engine.problems import MeritInputError, Problem
from engine.tiers import commission_for


@dataclass(slots=True)
class SimLine(Payout):
    """One rep's money-relevant outcome for a month or a quarter (a quarter holds its months)."""

    rep_id: str
    name: str | None
    region: str | None
    product_line: str | None
    period: str
    numbers: dict[str, Decimal | None]
    metrics: dict[str, Ratio | None] = field(default_factory=dict)
    light: str | None = None
    tier: str | None = None
    commission: Decimal = ZERO
    bonus: Decimal = ZERO
    awards: list[AwardLine] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
    months: list[SimLine] = field(default_factory=list)

    @property
    def month_lines(self) -> list[SimLine]:
        return self.months or [self]


RowsByMonth = dict[Month, tuple[FactRow, ...]]
_EXACT = Context(prec=200)  # as engine.metrics: products of fact-sized decimals never round


def rows_by_month(facts: FactSet) -> RowsByMonth:
    """Each month's rows sorted by rep (what `FactSet.for_month` gives), computed once."""
    out: dict[Month, list[FactRow]] = defaultdict(list)
    for r in facts.rows:
        out[r.period].append(r)
    return {m: tuple(sorted(rs, key=lambda r: r.rep_id)) for m, rs in out.items()}


class Prepared:
    """Facts grouped by month, plus what depends only on facts and metric definitions.

    A sweep evaluates the same facts under many policies; numbers per line, metric values,
    comparison keys on a given threshold scale and rank placings do not change between its
    points unless the definitions they come from do, so they are remembered here, keyed by those
    definitions. Values are shared read-only between the points' lines.
    """

    def __init__(self, facts: FactSet, base: Prepared | None = None) -> None:
        self.facts = facts
        self.rows = rows_by_month(facts)
        self._memo: dict[Hashable, Any] = {}
        self.base: Prepared | None = None
        self.changed: frozenset[str] = frozenset()
        self.changed_reps: frozenset[str] = frozenset()
        if base is not None:
            changed = _changed_columns(base.rows, self.rows)
            if changed is not None:
                self.base, (self.changed, self.changed_reps) = base, changed

    def memo(self, key: Hashable, make: Callable[[], Any], columns: Iterable[str] | None = None) -> Any:
        """`make()` once per key; from `base` when this differs from it only in other columns.

        A scenario with changed quotas differs from its baseline only in `target`: the quarter's
        ranking by actual sales is the baseline's, so it is taken from there, not sorted again.
        """
        if self.base is not None and columns is not None and self.changed.isdisjoint(columns):
            return self.base.memo(key, make, columns)
        hit = self._memo.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._memo[key] = make()
        return hit

    def has(self, key: Hashable) -> bool:
        return key in self._memo


def _changed_columns(old: RowsByMonth, new: RowsByMonth) -> tuple[frozenset[str], frozenset[str]] | None:
    """The number columns and the reps in which `new` differs from `old`.

    None unless both hold the same reps with the same labels, month by month, in the same order.
    """
    if old.keys() != new.keys():
        return None
    changed: set[str] = set()
    reps: set[str] = set()
    for month, rows in old.items():
        other = new[month]
        if len(rows) != len(other):
            return None
        for a, b in zip(rows, other, strict=True):
            if a is b:
                continue
            if (a.rep_id, a.name, a.region, a.product_line) != (b.rep_id, b.name, b.region, b.product_line):
                return None
            reps.add(a.rep_id)
            if a.target != b.target:
                changed.add("target")
            if a.actual != b.actual:
                changed.add("actual")
            if a.numbers != b.numbers:
                changed.update(c for c in a.numbers.keys() | b.numbers.keys() if a.numbers.get(c) != b.numbers.get(c))
    return frozenset(changed), frozenset(reps)


_MISSING = object()


def scale_key(thresholds: tuple[Decimal, ...], value: Ratio) -> int:
    """`engine.rules.Scale.key` for one ratio: 2 x (thresholds below) + 1 when equal to one."""
    num, den = value.numerator, value.denominator
    if den == 1:  # a plain amount or a rank: compare it directly, thresholds are ascending
        i = bisect_left(thresholds, num)
        return 2 * i + (1 if i < len(thresholds) and thresholds[i] == num else 0)
    k = 0
    for t in thresholds:
        right = _EXACT.multiply(t, den)
        if num > right:
            k += 2
        elif num == right:
            return k + 1
        else:
            break
    return k


class _Lean:
    """The evaluator's decisions that carry money and people, without explanations or scores."""

    def __init__(self, policy: Policy, prep: Prepared) -> None:
        self.policy = policy
        self.cp: CompiledPolicy = compiled(policy)
        self.prep = prep
        p = policy
        wanted: set[str] = set()
        if p.warning is not None:
            wanted.add(p.warning.metric)
        if p.commission is not None:
            wanted.add(p.commission.basis)
        names: set[str] = set()
        for a in p.awards:
            if isinstance(a, GroupAward):
                wanted.add(a.metric)
            else:
                names.add(a.rank_by)
        for e in p.eligibility:
            if e.rank_by is not None:
                names.add(e.rank_by)
            names.update(c.value for c in e.conditions)
        wanted.update(n for n in names if n in p.metrics)
        self.metrics = {n: p.metrics[n] for n in p.metrics if n in wanted}
        cols = {"target", "actual"}
        for m in self.metrics.values():
            cols.update(m.columns)
        if p.commission is not None:
            cols.add(p.commission.base)
        cols.update(
            n for n in names if n not in p.metrics and n != "rank" and n != "months" and not n.endswith("_months")
        )
        self.columns = tuple(sorted(cols))
        self.extra = tuple(c for c in self.columns if c not in ("target", "actual"))
        self.tiers = {t.id: t for t in p.commission.tiers} if p.commission else {}
        self.defs = (self.columns, tuple(sorted(self.metrics.items())))

    def _scale(self, question: str) -> tuple[Decimal, ...]:
        return self.cp.questions[question].scales[0].thresholds

    def _decide_by(self, question: str) -> Callable[[int], Any]:
        """key -> rule outcome for a one-slot question, each distinct key asked once."""
        book = self.cp.book
        seen: dict[int, Any] = {}

        def outcome(key: int) -> Any:
            hit = seen.get(key, _MISSING)
            if hit is _MISSING:
                hit = seen[key] = book.decide(question, (key,)).outcome
            return hit

        return outcome

    # ------------------------------------------------------------------ per line
    def _base(self, period: str, make: Callable[[], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        return self.prep.memo(("lines", period, self.defs), make)

    def _month_base(self, month: Month) -> list[tuple[Any, ...]]:
        key = ("lines", str(month), self.defs)
        base = self.prep.base

        def make() -> list[tuple[Any, ...]]:
            out = []
            text = str(month)
            # a row the scenario left unchanged (the same object) keeps the baseline's numbers
            same: Sequence[FactRow] = ()
            done: Sequence[tuple[Any, ...]] = ()
            if base is not None and base.has(key):
                same, done = base.rows.get(month, ()), base.memo(key, list)
            for i, row in enumerate(self.prep.rows.get(month, ())):
                if i < len(same) and same[i] is row:
                    out.append(done[i])
                    continue
                numbers: dict[str, Decimal | None] = {"target": row.target, "actual": row.actual}
                for c in self.extra:
                    numbers[c] = row.numbers.get(c)
                metrics = {n: metric_value(m, numbers) for n, m in self.metrics.items()}
                out.append((row.rep_id, row.name, row.region, row.product_line, text, numbers, metrics))
            return out

        return self._base(str(month), make)

    def _keys(
        self, period: str, metric: str, thresholds: tuple[Decimal, ...], lines: Sequence[SimLine]
    ) -> list[int | None]:
        key = ("keys", period, self.defs, metric, thresholds)
        base = self.prep.base

        def make() -> list[int | None]:
            if base is not None and base.has(key):  # lines align with the baseline's, rep by rep
                changed, done = self.prep.changed_reps, base.memo(key, list)
                return [
                    done[i]
                    if ln.rep_id not in changed
                    else (None if (v := ln.metrics.get(metric)) is None else scale_key(thresholds, v))
                    for i, ln in enumerate(lines)
                ]
            return [None if (v := ln.metrics.get(metric)) is None else scale_key(thresholds, v) for ln in lines]

        return self.prep.memo(key, make)

    def _measure(self, lines: Sequence[SimLine], period: str) -> None:
        w = self.policy.warning
        if w is None:
            return
        outcome = self._decide_by("light")
        for line, key in zip(lines, self._keys(period, w.metric, self._scale("light"), lines), strict=True):
            if key is not None:
                o = outcome(key)
                line.light = None if o == NONE else str(o)

    def _pay(self, lines: Sequence[SimLine], period: str) -> None:
        c = self.policy.commission
        if c is None:
            return
        outcome = self._decide_by("tier")
        money = self.policy.money
        for line, key in zip(lines, self._keys(period, c.basis, self._scale("tier"), lines), strict=True):
            base = line.numbers.get(c.base)
            if key is None or base is None:
                continue
            o = outcome(key)
            if o == NONE:
                continue
            tier = self.tiers[str(o)]
            line.tier = tier.id
            if c.mode == "flat":  # commission_for's flat branch, without composing its explanation
                amount = money(base * tier.rate)
                if c.cap is not None and amount > c.cap:
                    amount = money(c.cap)
                line.commission, line.bonus = amount, money(tier.bonus)
            else:
                basis = line.metrics[c.basis]
                assert basis is not None
                result = commission_for(self.policy, tier, base, basis)
                line.commission, line.bonus = result.commission, result.bonus

    def _value(self, line: SimLine, name: str) -> Ratio | None:
        if name in self.policy.metrics:
            return line.metrics.get(name)
        v = line.numbers.get(name)
        return None if v is None else Ratio(v)

    def _ranking(self, lines: Sequence[SimLine], period: str, by: str, order: str) -> tuple[list[int], list[int]]:
        """Per line: competition rank (0 = not ranked) and how many share it (`engine.awards.ranks`)."""

        def make() -> tuple[list[int], list[int]]:
            if by in self.policy.metrics:
                return ranks([ln.metrics.get(by) for ln in lines], order)
            return ranks([ln.numbers.get(by) for ln in lines], order)

        columns = self.policy.metrics[by].columns if by in self.policy.metrics else (by,)
        return self.prep.memo(("place", period, self.defs, by, order), make, columns)

    # -------------------------------------------------------------- across lines
    def _awards(self, lines: Sequence[SimLine], kind: str, period: str) -> None:
        for award in self.policy.awards:
            if award.period != kind:
                continue
            if isinstance(award, GroupAward):
                self._group(award, lines, period)
            else:
                self._rank(award, lines, period)

    def _group(self, award: GroupAward, lines: Sequence[SimLine], period: str) -> None:
        metric = self.policy.metrics[award.metric]

        def make() -> list[tuple[list[int], Ratio | None]]:
            groups: dict[str, list[int]] = defaultdict(list)
            for i, line in enumerate(lines):
                key = getattr(line, award.group_by)
                if key is not None:
                    groups[key].append(i)
            return [
                (
                    groups[k],
                    metric_value(metric, sum_columns([lines[i].numbers for i in groups[k]], metric.columns)),
                )
                for k in sorted(groups)
            ]

        grouped = self.prep.memo(("groups", period, self.defs, award.group_by, metric), make)
        q = f"award:{award.id}"
        amount = self.policy.money(award.amount)
        for members, value in grouped:
            if value is None:
                continue
            if self.cp.book.decide(q, self.cp.keys(q, value)).outcome != NONE:
                for i in members:
                    lines[i].awards.append(AwardLine(award.id, award.label, amount, period))

    def _rank(self, award: RankAward, lines: Sequence[SimLine], period: str) -> None:
        q = f"award:{award.id}"
        rank, tied = self._ranking(lines, period, award.rank_by, award.order)
        thresholds = self._scale(q)
        by_key = self._decide_by(q)
        decided: dict[int, Any] = {}

        def outcome(r: int) -> Any:
            hit = decided.get(r, _MISSING)
            if hit is _MISSING:
                hit = decided[r] = by_key(scale_key(thresholds, Ratio(Decimal(r))))
            return hit

        money = self.policy.money
        # past the last threshold every rank gets the same answer: usually none, so skip those
        last = thresholds[-1] if thresholds else Decimal(0)
        skip_past = by_key(2 * len(thresholds)) == NONE
        for i, r in enumerate(rank):
            if r == 0 or (skip_past and r > last):
                continue
            line = lines[i]
            o = outcome(r)
            if award.is_honour:
                if o != NONE:
                    line.awards.append(AwardLine(award.id, award.label, ZERO, period, honour=True))
                continue
            if award.ties == "split" and tied[i] > 1:
                pool = Decimal(0)
                for pos in range(r, r + tied[i]):
                    p = outcome(pos)
                    if p != NONE:
                        pool += award.prizes[int(p) - 1]
                amount = money(pool / tied[i])
            elif o == NONE:
                continue
            else:
                amount = money(award.prizes[int(o) - 1])
            if amount > 0:
                line.awards.append(AwardLine(award.id, award.label, amount, period))

    def _eligibility(self, lines: Sequence[SimLine], kind: str, period: str) -> None:
        for rule_def in self.policy.eligibility:
            if rule_def.period != kind:
                continue
            q = f"eligibility:{rule_def.id}"
            scales = [sc.thresholds for sc in self.cp.questions[q].scales]
            decided: dict[tuple[int, ...], bool] = {}
            rank: list[int] = []
            if rule_def.rank_by is not None:
                rank, _ = self._ranking(lines, period, rule_def.rank_by, rule_def.order)
            for i, line in enumerate(lines):
                values: list[Decimal] = []
                for cond in rule_def.conditions:
                    v = self._condition_value(cond.value, line, rank[i] or None if rank else None)
                    if v is None:
                        break
                    values.append(v)
                if len(values) != len(rule_def.conditions):
                    line.flags[rule_def.id] = False
                    continue
                keys = tuple(scale_key(t, Ratio(v)) for t, v in zip(scales, values, strict=True))
                hit = decided.get(keys)
                if hit is None:
                    hit = decided[keys] = bool(self.cp.book.decide(q, keys).outcome)
                line.flags[rule_def.id] = hit

    def _condition_value(self, name: str, line: SimLine, rank: int | None) -> Decimal | None:
        if name == "rank":
            return None if rank is None else Decimal(rank)
        if name.endswith("_months"):
            light = name[: -len("_months")]
            return Decimal(sum(1 for m in line.month_lines if m.light == light))
        if name == "months":
            return Decimal(len(line.month_lines))
        v = self._value(line, name)
        return None if v is None else v.value

    # ------------------------------------------------------------------ periods
    def month(self, month: Month) -> list[SimLine]:
        period = str(month)
        lines = [SimLine(*fields) for fields in self._month_base(month)]
        self._measure(lines, period)
        self._pay(lines, period)
        self._awards(lines, "month", period)
        self._eligibility(lines, "month", period)
        return lines

    def quarter(self, quarter: Quarter) -> list[SimLine]:
        period = str(quarter)
        by_rep: dict[str, list[SimLine]] = defaultdict(list)
        for month in quarter.months:
            for line in self.month(month):
                by_rep[line.rep_id].append(line)

        key = ("lines", period, self.defs)
        base = self.prep.base

        def make() -> list[tuple[Any, ...]]:
            done: dict[str, tuple[Any, ...]] = {}
            if base is not None and base.has(key):  # reps the scenario left unchanged keep their sums
                done = {t[0]: t for t in base.memo(key, list) if t[0] not in self.prep.changed_reps}
            out = []
            for rep_id in sorted(by_rep):
                if rep_id in done:
                    out.append(done[rep_id])
                    continue
                months = by_rep[rep_id]
                last = months[-1]
                numbers = sum_columns([m.numbers for m in months], self.columns)
                metrics = {n: metric_value(m, numbers) for n, m in self.metrics.items()}
                out.append((rep_id, last.name, last.region, last.product_line, period, numbers, metrics))
            return out

        lines = []
        for fields in self._base(period, make):
            line = SimLine(*fields)
            months = by_rep[line.rep_id]
            line.months = months
            line.commission = sum((m.commission for m in months), ZERO)
            line.bonus = sum((m.bonus for m in months), ZERO)
            for m in months:
                line.awards.extend(m.awards)
            lines.append(line)
        self._measure(lines, period)
        self._awards(lines, "quarter", period)
        self._eligibility(lines, "quarter", period)
        return lines

    def run(self, period: Period) -> list[SimLine]:
        lines = self.month(period) if isinstance(period, Month) else self.quarter(period)
        return sorted(lines, key=lambda ln: ln.rep_id)


def prepare(facts: FactSet) -> Prepared:
    return Prepared(facts)


def outcome_lines(policy: Policy, facts: FactSet | Prepared, period: Period | str) -> list[SimLine]:
    """The money-relevant result lines of `period` (inputs checked as `evaluate` checks them)."""
    per = period_of(period)
    prep = facts if isinstance(facts, Prepared) else Prepared(facts)
    _check_inputs(policy, prep.facts, per)
    return _Lean(policy, prep).run(per)


def period_of(period: Period | str) -> Period:
    """A period given as text or as a Period; a located problem when the text is not one."""
    if not isinstance(period, str):
        return period
    try:
        return parse_period(period)
    except ValueError as exc:
        raise MeritInputError.at("period", "", str(exc)) from None


def _check_inputs(policy: Policy, facts: FactSet, per: Period) -> None:
    missing = [c for c in policy.numeric_columns if not facts.has_column(c)]
    if missing:
        raise MeritInputError(
            [
                Problem(facts.source, 1, None, c, f"column required by policy {policy.id} {policy.version}")
                for c in missing
            ]
        )
    if not any(r.period in months_of(per) for r in facts.rows):
        raise MeritInputError.at(facts.source, "period", f"no facts for {per}")
