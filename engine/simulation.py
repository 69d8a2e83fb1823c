"""What-if simulation: a baseline and a scenario over the same facts, and what changes between them.

A simulation never stores anything: it is a pure function of two policies and the facts (the
scenario's facts may carry changed targets, see `engine.quota`). It answers the manager's
question "what would Q3 have cost, and who would have moved tier, if tier 2 paid 1.8% and East's
quotas were 5% higher?": totals and their delta (per component and per region), payout as a share
of sales, per-rep differences with their reasons, the tier migration matrix, the light
distribution and promotion eligibility before and after, winners and losers.

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

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from engine.awards import ranks, sum_columns
from engine.compiler import NONE, CompiledPolicy, compiled
from engine.evaluation import ZERO, AwardLine, Payout
from engine.facts import FactRow, FactSet
from engine.gcpause import gc_paused
from engine.metrics import Ratio, format_ratio, metric_value
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.policy import GroupAward, Policy, RankAward
from engine.problems import MeritInputError, Problem
from engine.tiers import commission_for, money_text

MAX_SWEEP_POINTS = 100
NO_TIER = "none"
COMPONENTS = ("commission", "bonus", "awards")


# ------------------------------------------------------------------------ lean evaluation
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
    per = _period(period)
    prep = facts if isinstance(facts, Prepared) else Prepared(facts)
    _check_inputs(policy, prep.facts, per)
    return _Lean(policy, prep).run(per)


def _period(period: Period | str) -> Period:
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


# ------------------------------------------------------------------------ summaries
def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


def _share(payout: Decimal, sales: Decimal) -> str | None:
    return format_ratio(Ratio(payout, sales)) if sales > 0 else None


def _counts(values: Iterable[str | None]) -> dict[str, int]:
    c = Counter(v for v in values if v is not None)
    return {k: c[k] for k in sorted(c)}


def _tier_order(policy: Policy) -> list[str]:
    return [t.id for t in policy.commission.tiers] if policy.commission else []


def _bsd(b: Decimal, s: Decimal) -> dict[str, str]:
    return {"baseline": money_text(b), "scenario": money_text(s), "delta": money_text(s - b)}


@dataclass(frozen=True)
class RepDifference:
    rep_id: str
    name: str | None
    region: str | None
    product_line: str | None
    baseline: Decimal
    scenario: Decimal
    reasons: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        return self.scenario - self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "name": self.name,
            "region": self.region,
            "product_line": self.product_line,
            "baseline": money_text(self.baseline),
            "scenario": money_text(self.scenario),
            "delta": money_text(self.delta),
            "reasons": list(self.reasons),
        }


def _awards_by_key(line: SimLine) -> dict[tuple[str, str], AwardLine]:
    out: dict[tuple[str, str], AwardLine] = {}
    for a in line.awards:
        key = (a.id, a.period)
        if key in out:  # not expected (one award per id per period); keep amounts exact anyway
            prev = out[key]
            out[key] = AwardLine(a.id, a.label, prev.amount + a.amount, a.period, a.honour)
        else:
            out[key] = a
    return out


def _reasons(b: SimLine | None, s: SimLine | None, labels: Mapping[str, str], quarter: bool) -> list[str]:
    """Why a rep's result differs, in the order: targets, months (tier, money, light), awards, flags."""
    out: list[str] = []
    if b is None or s is None:
        out.append("only in the scenario's facts" if b is None else "not in the scenario's facts")
        return out
    bm = {m.period: m for m in b.month_lines}
    sm = {m.period: m for m in s.month_lines}
    for period in sorted(set(bm) | set(sm)):
        x, y = bm.get(period), sm.get(period)
        pre = f"{period}: " if quarter else ""
        if x is None or y is None:
            out.append(f"{pre}{'no facts in the baseline' if x is None else 'no facts in the scenario'}")
            continue
        tx, ty = x.numbers.get("target"), y.numbers.get("target")
        if tx != ty:
            out.append(f"{pre}target {money_text(tx or ZERO)} -> {money_text(ty or ZERO)}")
        if x.tier != y.tier:
            out.append(f"{pre}tier moved {x.tier or NO_TIER} -> {y.tier or NO_TIER}")
        else:
            if x.commission != y.commission:
                out.append(
                    f"{pre}commission {money_text(x.commission)} -> {money_text(y.commission)}"
                    f" (tier {x.tier or NO_TIER})"
                )
            if x.bonus != y.bonus:
                out.append(f"{pre}bonus {money_text(x.bonus)} -> {money_text(y.bonus)} (tier {x.tier or NO_TIER})")
        if x.light != y.light:
            out.append(f"{pre}light changed {x.light or 'none'} -> {y.light or 'none'}")
    if quarter and b.light != s.light:
        out.append(f"{b.period}: light changed {b.light or 'none'} -> {s.light or 'none'}")
    ba, sa = _awards_by_key(b), _awards_by_key(s)
    for key in sorted(set(ba) | set(sa)):
        x_a, y_a = ba.get(key), sa.get(key)
        if x_a is None and y_a is not None:
            what = "honour gained" if y_a.honour else "award gained"
            amount = "" if y_a.honour else f" {money_text(y_a.amount)}"
            out.append(f"{what}: {y_a.label}{amount} ({y_a.period})")
        elif y_a is None and x_a is not None:
            what = "honour lost" if x_a.honour else "award lost"
            amount = "" if x_a.honour else f" {money_text(x_a.amount)}"
            out.append(f"{what}: {x_a.label}{amount} ({x_a.period})")
        elif x_a is not None and y_a is not None and x_a.amount != y_a.amount:
            out.append(
                f"award changed: {y_a.label} {money_text(x_a.amount)} -> {money_text(y_a.amount)} ({y_a.period})"
            )
    for fid in sorted(set(b.flags) | set(s.flags)):
        fx, fy = b.flags.get(fid, False), s.flags.get(fid, False)
        if fx != fy:
            label = labels.get(fid, fid)
            out.append(f"{label}: {'eligible' if fx else 'not eligible'} -> {'eligible' if fy else 'not eligible'}")
    return out


@dataclass
class SimulationResult:
    period: str
    baseline_policy: Policy
    scenario_policy: Policy
    baseline: list[SimLine]
    scenario: list[SimLine]
    edits: tuple[str, ...] = ()
    quotas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._b = {ln.rep_id: ln for ln in self.baseline}
        self._s = {ln.rep_id: ln for ln in self.scenario}
        labels = {e.id: e.label for e in self.baseline_policy.eligibility}
        labels.update({e.id: e.label for e in self.scenario_policy.eligibility})
        self.flag_labels = labels
        quarter = "Q" in self.period
        diffs = []
        for rep in sorted(set(self._b) | set(self._s)):
            b, s = self._b.get(rep), self._s.get(rep)
            ref = s or b
            assert ref is not None
            reasons = _reasons(b, s, labels, quarter)
            bt = b.total if b else ZERO
            st = s.total if s else ZERO
            if reasons or bt != st:
                diffs.append(RepDifference(rep, ref.name, ref.region, ref.product_line, bt, st, tuple(reasons)))
        self.differences = sorted(diffs, key=lambda d: (-abs(d.delta), d.rep_id))

    # ------------------------------------------------------------ the numbers
    @property
    def baseline_total(self) -> Decimal:
        return _sum(ln.total for ln in self.baseline)

    @property
    def scenario_total(self) -> Decimal:
        return _sum(ln.total for ln in self.scenario)

    @property
    def delta(self) -> Decimal:
        return self.scenario_total - self.baseline_total

    @staticmethod
    def _component(lines: Sequence[SimLine], name: str) -> Decimal:
        if name == "awards":
            return _sum(ln.award_total for ln in lines)
        return _sum(getattr(ln, name) for ln in lines)

    def tier_migration(self) -> dict[str, Any]:
        """Counts of month lines by (baseline tier, scenario tier), 'none' for no tier."""
        order = _tier_order(self.baseline_policy)
        order += [t for t in _tier_order(self.scenario_policy) if t not in order]
        order.append(NO_TIER)
        counts: Counter[tuple[str, str]] = Counter()
        for rep in sorted(set(self._b) | set(self._s)):
            b, s = self._b.get(rep), self._s.get(rep)
            bm = {m.period: m for m in b.month_lines} if b else {}
            sm = {m.period: m for m in s.month_lines} if s else {}
            for period in set(bm) & set(sm):
                counts[(bm[period].tier or NO_TIER, sm[period].tier or NO_TIER)] += 1
        matrix = {f: {t: counts[(f, t)] for t in order} for f in order}
        moved = [
            {"from": f, "to": t, "count": counts[(f, t)]} for f in order for t in order if f != t and counts[(f, t)]
        ]
        return {"tiers": order, "matrix": matrix, "moved": moved}

    def moved(self, from_tier: str, to_tier: str) -> int:
        return int(self.tier_migration()["matrix"].get(from_tier, {}).get(to_tier, 0))

    def eligible_counts(self) -> dict[str, dict[str, int]]:
        b = eligible_counts(self.baseline_policy, self.baseline, self.period)
        s = eligible_counts(self.scenario_policy, self.scenario, self.period)
        return {i: {"baseline": b.get(i, 0), "scenario": s.get(i, 0)} for i in [*b, *(i for i in s if i not in b)]}

    def _side(self, lines: Sequence[SimLine]) -> dict[str, Decimal]:
        return {
            "actual": _sum(ln.numbers.get("actual") or ZERO for ln in lines),
            "target": _sum(ln.numbers.get("target") or ZERO for ln in lines),
        }

    def winners_losers(self, top: int = 10) -> dict[str, Any]:
        win = [d for d in self.differences if d.delta > 0]
        lose = [d for d in self.differences if d.delta < 0]

        def part(ds: list[RepDifference]) -> dict[str, Any]:
            return {
                "count": len(ds),
                "total": money_text(_sum(d.delta for d in ds)),
                "top": [{"rep_id": d.rep_id, "name": d.name, "delta": money_text(d.delta)} for d in ds[:top]],
            }

        reps = len(set(self._b) | set(self._s))
        return {"winners": part(win), "losers": part(lose), "unchanged": reps - len(win) - len(lose)}

    def as_dict(self) -> dict[str, Any]:
        b_side, s_side = self._side(self.baseline), self._side(self.scenario)
        bt, st = self.baseline_total, self.scenario_total
        regions = sorted({ln.region or "(none)" for ln in (*self.baseline, *self.scenario)})
        by_region = {}
        for r in regions:
            bl = [ln for ln in self.baseline if (ln.region or "(none)") == r]
            sl = [ln for ln in self.scenario if (ln.region or "(none)") == r]
            by_region[r] = {
                **_bsd(_sum(x.total for x in bl), _sum(x.total for x in sl)),
                "reps": len(sl or bl),
            }
        bshare, sshare = _share(bt, b_side["actual"]), _share(st, s_side["actual"])
        wl = self.winners_losers()
        return {
            "period": self.period,
            "currency": self.scenario_policy.currency,
            "baseline": {**self.baseline_policy.ref, "title": self.baseline_policy.title},
            "scenario": {**self.scenario_policy.ref, "title": self.scenario_policy.title},
            "changes": {"edits": list(self.edits), "quotas": list(self.quotas)},
            "reps": len(set(self._b) | set(self._s)),
            "totals": _bsd(bt, st),
            "components": {
                c: _bsd(self._component(self.baseline, c), self._component(self.scenario, c)) for c in COMPONENTS
            },
            "by_region": by_region,
            "sales": {
                "actual": _bsd(b_side["actual"], s_side["actual"]),
                "target": _bsd(b_side["target"], s_side["target"]),
            },
            "payout_share_of_sales": {"baseline": bshare, "scenario": sshare},
            "tier_migration": self.tier_migration(),
            "lights": {
                "baseline": _counts(ln.light for ln in self.baseline),
                "scenario": _counts(ln.light for ln in self.scenario),
            },
            "eligible": self.eligible_counts(),
            "winners": wl["winners"],
            "losers": wl["losers"],
            "unchanged_reps": wl["unchanged"],
            "differences": [d.as_dict() for d in self.differences],
        }


def simulate(
    baseline: Policy,
    scenario: Policy,
    facts: FactSet,
    period: str | Period,
    scenario_facts: FactSet | None = None,
    *,
    edits: Sequence[str] = (),
    quotas: Sequence[str] = (),
    prepared: Prepared | None = None,
    regions: Collection[str] | None = None,
) -> SimulationResult:
    """Baseline policy on `facts` against scenario policy on `scenario_facts` (default: the same).

    `prepared` (from `prepare(facts)`) lets a caller reuse the grouped facts across simulations.
    `regions` restricts the *report* to those regions' reps (a manager's view); the evaluation
    still runs over every rep, because a TOP 3 or a promotion rank is a company-wide ranking.
    """
    per = _period(period)
    with gc_paused(freeze=False):  # see engine.gcpause: half the time went to rescanning the lines
        prep = prepared if prepared is not None and prepared.facts is facts else Prepared(facts)
        b = outcome_lines(baseline, prep, per)
        if scenario_facts is None or scenario_facts is facts:
            s = b if scenario is baseline else outcome_lines(scenario, prep, per)
        else:
            s = outcome_lines(scenario, Prepared(scenario_facts, base=prep), per)
        b, s = _within(b, regions), _within(s, regions)
        return SimulationResult(str(per), baseline, scenario, b, s, tuple(edits), tuple(quotas))


def _within(lines: list[SimLine], regions: Collection[str] | None) -> list[SimLine]:
    return lines if regions is None else [ln for ln in lines if ln.region in regions]


# ------------------------------------------------------------------------------ sweeps
_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def parse_values(values: str | None = None, range_: str | None = None) -> list[Decimal]:
    """'0.015,0.016' or 'start:stop:step' (stop included when reached exactly) -> Decimals."""
    try:
        if range_:
            m = _RANGE.match(range_)
            if not m:
                raise ValueError("write a range as start:stop:step, e.g. 0.015:0.025:0.0005")
            start, stop, step = (Decimal(m.group(i).strip()) for i in (1, 2, 3))
            if step <= 0 or stop < start:
                raise ValueError("a range needs step > 0 and stop >= start")
            count = int((stop - start) / step) + 1
            if count > MAX_SWEEP_POINTS:
                raise ValueError(f"{count} points; a sweep has at most {MAX_SWEEP_POINTS}")
            out = [start + i * step for i in range(count)]
        else:
            items = (values or "").split(",")
            bad = [v.strip() for v in items if not _is_decimal(v.strip())] if values and values.strip() else []
            if bad:
                raise MeritInputError(
                    [Problem("--values", None, None, v or "(empty)", "not a decimal number") for v in bad]
                )
            out = [Decimal(v.strip()) for v in items if v.strip()]
    except (InvalidOperation, ValueError) as exc:
        msg = str(exc) if isinstance(exc, ValueError) and str(exc) else "values must be decimal numbers"
        raise MeritInputError.at("--range" if range_ else "--values", range_ or values or "", msg) from None
    if not out:
        raise MeritInputError.at("--values", "", "give at least one value")
    if len(out) > MAX_SWEEP_POINTS:
        raise MeritInputError.at("--values", "", f"a sweep has at most {MAX_SWEEP_POINTS} points")
    return out


@dataclass(frozen=True)
class SweepPoint:
    value: Decimal
    sha256: str
    payout: Decimal
    commission: Decimal
    bonus: Decimal
    awards: Decimal
    sales: Decimal
    tiers: dict[str, int]
    eligible: dict[str, int]

    @property
    def share_of_sales(self) -> str | None:
        return _share(self.payout, self.sales)

    def as_dict(self, baseline_payout: Decimal) -> dict[str, Any]:
        return {
            "value": format(self.value, "f"),
            "policy_sha256": self.sha256,
            "payout": money_text(self.payout),
            "delta": money_text(self.payout - baseline_payout),
            "commission": money_text(self.commission),
            "bonus": money_text(self.bonus),
            "awards": money_text(self.awards),
            "share_of_sales": self.share_of_sales,
            "tiers": self.tiers,
            "eligible": self.eligible,
        }


@dataclass
class SweepResult:
    period: str
    path: str
    baseline_policy: Policy
    baseline_payout: Decimal
    points: list[SweepPoint]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "parameter": self.path,
            "baseline": {**self.baseline_policy.ref, "payout": money_text(self.baseline_payout)},
            "currency": self.baseline_policy.currency,
            "points": [p.as_dict(self.baseline_payout) for p in self.points],
        }


def eligible_counts(policy: Policy, lines: Sequence[SimLine], period: str) -> dict[str, int]:
    """Reps flagged per eligibility rule, counted on the lines of the rule's own period (as an
    evaluation's `totals.flags`); a quarterly rule is not decided by a month, so not counted there."""
    quarter = "Q" in period
    months = [m for ln in lines for m in ln.month_lines] if quarter else lines
    return {
        e.id: sum(1 for ln in (months if e.period == "month" else lines) if ln.flags.get(e.id))
        for e in policy.eligibility
        if quarter or e.period == "month"
    }


def _point(value: Decimal, policy: Policy, lines: Sequence[SimLine], period: str) -> SweepPoint:
    months = [m for ln in lines for m in ln.month_lines]
    tier_counts = Counter(m.tier or NO_TIER for m in months)
    tiers = {t: tier_counts[t] for t in [*_tier_order(policy), NO_TIER]}
    return SweepPoint(
        value=value,
        sha256=policy.sha256,
        payout=_sum(ln.total for ln in lines),
        commission=_sum(ln.commission for ln in lines),
        bonus=_sum(ln.bonus for ln in lines),
        awards=_sum(ln.award_total for ln in lines),
        sales=_sum(ln.numbers.get("actual") or ZERO for ln in lines),
        tiers=tiers,
        eligible=eligible_counts(policy, lines, period),
    )


def _check_numeric_parameter(baseline: Policy, path: str) -> None:
    """A sweep draws a cost curve over numbers: its parameter must hold one in the baseline."""
    from engine.edits import resolve

    try:
        _, parent, last = resolve(baseline.data, path)
        current = parent[last] if isinstance(parent, list) or last in parent else None  # type: ignore[index]
    except ValueError as exc:
        raise MeritInputError.at("--param", path, str(exc)) from None
    # absent is fine (a cap the baseline does not set can be swept); the schema judges the name
    if current is not None and (isinstance(current, bool) or not _is_decimal(str(current))):
        raise MeritInputError.at("--param", path, f"holds {current!r}, not a number: a sweep varies a number")


def sweep(
    baseline: Policy,
    path: str,
    values: Sequence[Decimal | str],
    facts: FactSet,
    period: str | Period,
    scenario_facts: FactSet | None = None,
    *,
    regions: Collection[str] | None = None,
) -> SweepResult:
    """The cost curve of one parameter: every value is a scenario of `baseline` with `path=value`.

    `regions` restricts the reported costs to those regions' reps, as in `simulate`.

    Facts are grouped by month once; each distinct policy is compiled once (`compiled` caches by
    content hash, so a value equal to the baseline's reuses the baseline's ruleset).
    """
    from engine.edits import Edit, apply_edits

    per = _period(period)
    if len(values) > MAX_SWEEP_POINTS:
        raise MeritInputError.at("--values", "", f"a sweep has at most {MAX_SWEEP_POINTS} points")
    _check_numeric_parameter(baseline, path)
    policies = [apply_edits(baseline, [Edit(path, format(Decimal(str(v)), "f"))], "--param") for v in values]
    with gc_paused(freeze=False):
        prep = Prepared(facts)
        b = _within(outcome_lines(baseline, prep, per), regions)
        sprep = prep if scenario_facts is None or scenario_facts is facts else Prepared(scenario_facts, base=prep)
        points = [
            _point(Decimal(str(v)), pol, _within(outcome_lines(pol, sprep, per), regions), str(per))
            for v, pol in zip(values, policies, strict=True)
        ]
    return SweepResult(str(per), path, baseline, _sum(ln.total for ln in b), points)
