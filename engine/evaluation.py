"""Evaluate a policy against facts for a month or a quarter.

The flow per month: Python computes metric values (exact ratios) and turns them into comparison
keys; the compiled policy's rule engine decides light, tier, awards, rating and eligibility;
Python computes the money those decisions imply and writes down why. A quarter evaluates its
three months, then rolls them up: quarterly totals, quarterly rank awards and eligibility.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.awards import place, sum_columns
from engine.compiler import NONE, CompiledPolicy, compiled
from engine.facts import FactRow, FactSet
from engine.gcpause import gc_paused
from engine.metrics import Ratio, format_ratio, metric_value
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.policy import GroupAward, Policy, PolicyLibrary, RankAward
from engine.problems import MeritInputError, Problem
from engine.rules import Rule
from engine.scorecard import Score, score_of

if TYPE_CHECKING:
    from engine.results import Evaluation
from engine.tiers import commission_for, money_text

ZERO = Decimal("0.00")
LIGHTS_ORDER = ("red", "yellow", "green")


@dataclass(slots=True)
class AwardLine:
    id: str
    label: str
    amount: Decimal
    period: str
    honour: bool = False


@dataclass(slots=True)
class Line:
    """One rep's result for one period (a quarter line holds its month lines)."""

    rep_id: str
    name: str | None
    region: str | None
    product_line: str | None
    manager_id: str | None
    period: str
    numbers: dict[str, Decimal | None]
    metrics: dict[str, Ratio | None] = field(default_factory=dict)
    light: str | None = None
    tier: str | None = None
    commission: Decimal = ZERO
    bonus: Decimal = ZERO
    awards: list[AwardLine] = field(default_factory=list)
    score: Score | None = None
    rating: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    explained: list[str | Callable[[], str]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    months: list[Line] = field(default_factory=list)
    mom: dict[str, str] | None = None

    @property
    def award_total(self) -> Decimal:
        return sum((a.amount for a in self.awards), ZERO)

    @property
    def total(self) -> Decimal:
        return self.commission + self.bonus + self.award_total

    def fired(self, rule: Rule, text: str | Callable[[], str]) -> None:
        """Record a rule that fired; the text may be a thunk, rendered only when someone reads it."""
        self.rules.append(rule.id)
        self.explained.append(f"[{rule.id}] {text}" if isinstance(text, str) else lambda: f"[{rule.id}] {text()}")

    @property
    def explanation(self) -> list[str]:
        return [e if isinstance(e, str) else e() for e in self.explained]


def _with_value(rule: Rule, subject: str, value: str) -> str:
    """'achievement >= 0.80 and < 1.00' -> 'achievement 0.95 >= 0.80 and < 1.00'."""
    if rule.text.startswith(subject + " "):
        return f"{subject} {value}{rule.text[len(subject) :]}"
    return f"{subject} {value}: {rule.text}"


class Evaluator:
    """One evaluation: a compiled policy, the facts, and the period asked for."""

    def __init__(self, policy: Policy, facts: FactSet, progress: Progress | None = None) -> None:
        self.progress = progress
        self.done = 0
        self.policy = policy
        self.cp: CompiledPolicy = compiled(policy)
        self.facts = facts
        self.columns = _number_columns(policy, facts)

    # ---------------------------------------------------------------- per line
    def _numbers(self, row: FactRow) -> dict[str, Decimal | None]:
        numbers: dict[str, Decimal | None] = {"target": row.target, "actual": row.actual}
        numbers.update(row.numbers)
        return numbers

    def _line(self, row: FactRow) -> Line:
        return Line(
            row.rep_id,
            row.name,
            row.region,
            row.product_line,
            row.manager_id,
            str(row.period),
            self._numbers(row),
        )

    def _measure(self, line: Line) -> None:
        """Metrics, light and scorecard: what every line (month or quarter) has."""
        p, book = self.policy, self.cp.book
        line.metrics = {name: metric_value(m, line.numbers) for name, m in p.metrics.items()}
        for name, m in p.metrics.items():
            if line.metrics[name] is None:
                missing = [c for c in m.columns if line.numbers.get(c) is None]
                why = f"{', '.join(missing)} blank or absent" if missing else f"{m.denominator} is 0"
                line.warnings.append(f"{name} not available: {why}")
        if p.warning is not None:
            metric = p.warning.metric
            v = line.metrics.get(metric)
            if v is not None:
                rule = book.decide("light", self.cp.keys("light", v))
                line.light = None if rule.outcome == NONE else str(rule.outcome)
                verdict = f"light {line.light}" if line.light else "no light (outside every band)"
                line.fired(rule, lambda: f"{_with_value(rule, metric, format_ratio(v))} -> {verdict}")
                if line.light is None:
                    line.warnings.append(f"{metric} {format_ratio(v)} is outside every warning band")

    def _pay_commission(self, line: Line) -> None:
        c = self.policy.commission
        if c is None:
            return
        basis = line.metrics.get(c.basis)
        base = line.numbers.get(c.base)
        if basis is None or base is None:
            line.warnings.append(f"no commission: {c.basis if basis is None else c.base} not available")
            return
        rule = self.cp.book.decide("tier", self.cp.keys("tier", basis))
        tier = None if rule.outcome == NONE else next(t for t in c.tiers if t.id == rule.outcome)
        result = commission_for(self.policy, tier, base, basis)
        line.tier = tier.id if tier else None
        line.commission, line.bonus = result.commission, result.bonus
        line.fired(rule, lambda: f"{_with_value(rule, c.basis, format_ratio(basis))} -> {result.explanation()}")

    def _score(self, line: Line, period_kind: str) -> None:
        """Score a line of the scorecard's own period only: monthly KPI targets are not quarterly ones."""
        p, book = self.policy, self.cp.book
        if p.scorecard is None or p.scorecard.period != period_kind:
            return
        score = score_of(p.scorecard, line.metrics)
        if score is None:
            line.warnings.append("score not computed: a scorecard metric is not available")
            return
        line.score = score
        rule = book.decide("rating", self.cp.keys("rating", score.value))
        line.rating = None if rule.outcome == NONE else str(rule.outcome)
        rating = line.rating or "none"
        line.fired(rule, lambda: f"score {score.display} = ({score.parts()}) x 100; {rule.text} -> rating {rating}")

    # ---------------------------------------------------------- across lines
    def _value(self, line: Line, name: str) -> Ratio | None:
        if name in self.policy.metrics:
            return line.metrics.get(name)
        v = line.numbers.get(name)
        return None if v is None else Ratio(v)

    def _awards(self, lines: Sequence[Line], period_kind: str, period: str) -> None:
        for award in self.policy.awards:
            if award.period != period_kind:
                continue
            if isinstance(award, GroupAward):
                self._group_award(award, lines, period)
            else:
                self._rank_award(award, lines, period)

    def _group_award(self, award: GroupAward, lines: Sequence[Line], period: str) -> None:
        metric = self.policy.metrics[award.metric]
        groups: dict[str, list[Line]] = defaultdict(list)
        for line in lines:
            key = getattr(line, award.group_by)
            if key is None:
                line.warnings.append(f"{award.id}: no {award.group_by}, not in any group")
            else:
                groups[key].append(line)
        q = f"award:{award.id}"
        for key in sorted(groups):
            members = groups[key]
            sums = sum_columns([m.numbers for m in members], metric.columns)
            value = metric_value(metric, sums)
            if value is None:
                for m in members:
                    m.warnings.append(f"{award.id}: {award.metric} of {award.group_by} {key} not available")
                continue
            rule = self.cp.book.decide(q, self.cp.keys(q, value))
            reached = rule.outcome != NONE
            amount = self.policy.money(award.amount)
            sums_text = ", ".join(f"{c} {money_text(v)}" for c, v in sums.items() if v is not None)
            what = f"{award.label} {money_text(amount)} each" if reached else f"no {award.label}"
            text = (
                f"{award.group_by} {key} ({len(members)} reps, {sums_text}): "
                f"{_with_value(rule, award.metric, format_ratio(value))} -> {what}"
            )
            for m in members:
                m.fired(rule, text)
                if reached:
                    m.awards.append(AwardLine(award.id, award.label, amount, period))

    def _rank_award(self, award: RankAward, lines: Sequence[Line], period: str) -> None:
        q = f"award:{award.id}"
        placings = place(lines, lambda ln: self._value(ln, award.rank_by), award.order)
        for i, line in enumerate(lines):
            pl = placings.get(i)
            if pl is None:
                line.warnings.append(f"{award.id}: {award.rank_by} not available, not ranked")
                continue
            rule = self.cp.book.decide(q, self.cp.keys(q, pl.rank))
            tie = f" (tied with {pl.tied - 1} other{'s' if pl.tied > 2 else ''})" if pl.tied > 1 else ""
            head = f"rank {pl.rank} of {len(placings)} by {award.rank_by} {format_ratio(pl.value)}{tie}"
            if award.is_honour:
                if rule.outcome != NONE:
                    line.awards.append(AwardLine(award.id, award.label, ZERO, period, honour=True))
                    line.fired(rule, f"{head}: {rule.text} -> honour {award.label}")
                continue
            if award.ties == "split" and pl.tied > 1:
                pool = Decimal(0)
                for pos in range(pl.rank, pl.rank + pl.tied):
                    r = self.cp.book.decide(q, self.cp.keys(q, pos))
                    if r.outcome != NONE:
                        pool += award.prizes[int(r.outcome) - 1]  # type: ignore[call-overload]
                amount = self.policy.money(pool / pl.tied)
                how = f"positions {pl.rank}-{pl.rank + pl.tied - 1} pool {money_text(pool)} split {pl.tied} ways"
            else:
                amount = ZERO if rule.outcome == NONE else self.policy.money(award.prizes[int(rule.outcome) - 1])  # type: ignore[call-overload]
                how = f"{rule.text}"
            if amount > 0:
                line.awards.append(AwardLine(award.id, award.label, amount, period))
                line.fired(rule, f"{head}: {how} -> {award.label} {money_text(amount)}")
            elif pl.rank <= max(len(award.prizes), 1) * 3:
                line.fired(rule, f"{head}: {how} -> no {award.label}")

    def _eligibility(self, lines: Sequence[Line], period_kind: str) -> None:
        for rule_def in self.policy.eligibility:
            if rule_def.period != period_kind:
                continue
            q = f"eligibility:{rule_def.id}"
            ranks = {}
            if rule_def.rank_by is not None:
                by = rule_def.rank_by
                ranks = place(lines, lambda ln, by=by: self._value(ln, by), rule_def.order)  # type: ignore[misc]
            for i, line in enumerate(lines):
                values: list[Decimal] = []
                shown = []
                for cond in rule_def.conditions:
                    v = self._condition_value(cond.value, line, ranks.get(i).rank if i in ranks else None)  # type: ignore[union-attr]
                    if v is None:
                        break
                    values.append(v)
                    shown.append(f"{cond.value} {v}")
                if len(values) != len(rule_def.conditions):
                    line.flags[rule_def.id] = False
                    line.warnings.append(f"{rule_def.id}: a condition's value is not available; not eligible")
                    continue
                rule = self.cp.book.decide(q, self.cp.keys(q, *values))
                line.flags[rule_def.id] = bool(rule.outcome)
                verdict = rule_def.label if rule.outcome else f"not {rule_def.label}"
                line.fired(rule, f"{', '.join(shown)}: {rule.text} -> {verdict}")

    def _condition_value(self, name: str, line: Line, rank: int | None) -> Decimal | None:
        if name == "rank":
            return None if rank is None else Decimal(rank)
        if name.endswith("_months"):
            light = name[: -len("_months")]
            months = line.months or [line]
            return Decimal(sum(1 for m in months if m.light == light))
        if name == "months":
            return Decimal(len(line.months or [line]))
        v = self._value(line, name)
        return None if v is None else v.value

    # --------------------------------------------------------------- periods
    def month(self, month: Month) -> list[Line]:
        lines = [self._line(row) for row in self.facts.for_month(month)]
        for i, line in enumerate(lines):
            self._measure(line)
            self._pay_commission(line)
            self._score(line, "month")
            if self.progress is not None and i % 2000 == 1999:
                self.progress(self.done + i + 1)
        self.done += len(lines)
        if self.progress is not None:
            self.progress(self.done)
        self._awards(lines, "month", str(month))
        self._eligibility(lines, "month")
        previous = {r.rep_id: r for r in self.facts.for_month(month.previous())}
        for line in lines:
            prev = previous.get(line.rep_id)
            actual = line.numbers.get("actual")
            if prev is not None and actual is not None:
                line.mom = _change(prev.actual, actual)
        return lines

    def quarter(self, quarter: Quarter) -> list[Line]:
        by_rep: dict[str, list[Line]] = defaultdict(list)
        for month in quarter.months:
            for line in self.month(month):
                by_rep[line.rep_id].append(line)
        lines = []
        for rep_id in sorted(by_rep):
            months = by_rep[rep_id]
            last = months[-1]
            line = Line(
                rep_id,
                last.name,
                last.region,
                last.product_line,
                last.manager_id,
                str(quarter),
                sum_columns([m.numbers for m in months], self.columns),
                months=months,
            )
            have = {m.period for m in months}
            for month in quarter.months:
                if str(month) not in have:
                    line.warnings.append(f"no facts for {month}")
            if len({m.region for m in months}) > 1:
                line.warnings.append("region changed within the quarter: " + " -> ".join(str(m.region) for m in months))
            self._measure(line)
            self._score(line, "quarter")
            line.commission = sum((m.commission for m in months), ZERO)
            line.bonus = sum((m.bonus for m in months), ZERO)
            for m in months:
                line.awards.extend(m.awards)
            lines.append(line)
        self._awards(lines, "quarter", str(quarter))
        self._eligibility(lines, "quarter")
        return lines


def _change(previous: Decimal, current: Decimal) -> dict[str, str]:
    out = {"previous_actual": money_text(previous), "change": money_text(current - previous)}
    if previous != 0:
        out["change_ratio"] = format_ratio(Ratio(current - previous, previous))
    return out


def _number_columns(policy: Policy, facts: FactSet) -> tuple[str, ...]:
    from engine.facts import STANDARD_NUMBER_COLUMNS

    wanted = set(STANDARD_NUMBER_COLUMNS) | set(policy.numeric_columns)
    return tuple(c for c in (*STANDARD_NUMBER_COLUMNS, *sorted(policy.numeric_columns)) if c in wanted)


Progress = Callable[[int], None]  # called with the number of rep-months evaluated so far


def evaluate(
    policy: Policy | PolicyLibrary,
    facts: FactSet,
    period: str | Period,
    *,
    enforce_effective: bool = True,
    progress: Progress | None = None,
) -> Evaluation:
    """The results of `period` ("2026-08" or "2026-Q3") under the policy version in force.

    With a single `Policy` and `enforce_effective=False` its effective dates are not checked:
    that is how a candidate version is tried against HR's scenarios before it is adopted.
    """
    from engine.results import Evaluation

    try:
        per = parse_period(period) if isinstance(period, str) else period
    except ValueError as exc:
        raise MeritInputError([Problem("period", None, None, "", str(exc))]) from None
    chosen = policy.for_period(per) if isinstance(policy, PolicyLibrary) else policy
    if isinstance(policy, Policy) and enforce_effective:
        outside = [str(m) for m in months_of(per) if not policy.in_force(m)]
        if outside:
            raise MeritInputError(
                [
                    Problem(
                        policy.source,
                        None,
                        None,
                        "",
                        f"{policy.id} {policy.version} is not in force for {', '.join(outside)}",
                    )
                ]
            )
    _require_columns(chosen, facts)
    if not any(facts.for_month(m) for m in months_of(per)):
        raise MeritInputError([Problem(facts.source, None, None, "period", f"no facts for {per}")])
    ev = Evaluator(chosen, facts, progress)
    with gc_paused():
        lines = ev.month(per) if isinstance(per, Month) else ev.quarter(per)
    previous = facts.for_month(per.previous()) if isinstance(per, Month) else ()
    previous_actual = sum((r.actual for r in previous), Decimal(0)) if previous else None
    return Evaluation(chosen, str(per), facts.sha256, lines, previous_actual)


def _require_columns(policy: Policy, facts: FactSet) -> None:
    missing = [c for c in policy.numeric_columns if not facts.has_column(c)]
    if missing:
        raise MeritInputError(
            [
                Problem(facts.source, 1, None, c, f"column required by policy {policy.id} {policy.version}")
                for c in missing
            ]
        )
