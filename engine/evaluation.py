"""Evaluate a policy against facts for a month or a quarter.

The flow per month: Python computes metric values (exact ratios) and turns them into comparison
keys; the compiled policy's rule engine decides light, tier, awards, rating and eligibility;
Python computes the money those decisions imply and writes down why. A quarter evaluates its
three months, then rolls them up: quarterly totals, quarterly rank awards and eligibility.

Built for a million rep-months in a minute and well under 2 GiB (docs/architecture.md,
"Performance"):

* Decisions come from tables the rule engine filled: for a one-slot question (light, tier, rating,
  award reached, prize position) `CompiledPolicy.table` has durable_rules decide every comparison
  key once, and the hot loop indexes that table with the key Python computed. Multi-slot
  questions (eligibility) go through `RuleBook.decide`, which asks the engine once per distinct keys.
* A `Line` keeps what was *decided* (light, tier, money, awards, rating, flags, warnings and the
  rules that fired) and a reference to the facts it was computed from. What can be *derived*
  again from those (numbers, metric values, score, explanation text, month-on-month change) is
  recomputed on demand by the same functions that decided, so the output is the same while a line
  costs a few hundred bytes instead of tens of kilobytes.
* A period is evaluated in two phases: every line on its own (metrics, light, tier, commission,
  score), collecting the few values that cross lines; then the cross-line decisions (group awards
  over group sums, rank awards and eligibility over ranks), in the policy's order.
"""

from __future__ import annotations

import decimal
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from engine.awards import in_rank_order, leaders
from engine.compiler import NONE, CompiledPolicy, compiled
from engine.crossline import Combined, Partial, Ranking, Sums, add_to, combine
from engine.facts import STANDARD_NUMBER_COLUMNS, FactRow, FactSet
from engine.gcpause import gc_paused
from engine.metrics import Ratio, format_ratio, metric_available, metric_function, metric_value
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.policy import EligibilityRule, GroupAward, Metric, Policy, PolicyLibrary, RankAward, Tier
from engine.problems import MeritInputError, Problem
from engine.rules import Rule, Scale
from engine.scorecard import Score, Scoring, score_of
from engine.tiers import commission_for, money_text

if TYPE_CHECKING:
    from engine.results import Evaluation

ZERO = Decimal("0.00")
LIGHTS_ORDER = ("red", "yellow", "green")
_SUM_START = Decimal(0)  # sums start here, as `sum(values, Decimal(0))` does
_NO_FLAGS: Mapping[str, bool] = MappingProxyType({})


@dataclass(slots=True)
class AwardLine:
    id: str
    label: str
    amount: Decimal
    period: str
    honour: bool = False


class Payout:
    """What a result line pays: commission + bonus + awards (shared by `Line` and the simulator's line)."""

    __slots__ = ()
    commission: Decimal
    bonus: Decimal
    awards: Sequence[AwardLine]

    @property
    def award_total(self) -> Decimal:
        return sum((a.amount for a in self.awards), ZERO)

    @property
    def total(self) -> Decimal:
        return self.commission + self.bonus + self.award_total


Render = Callable[["Derived", Rule, Any], str]


class Fired:
    """A rule that fired for a line, and how to say why (the words are made only when read).

    `render(derived, rule, arg)` writes the explanation from what the line derives again (its
    metric values, score, commission); `render=None` means `arg` already is the text (a group
    award's sentence, shared by every member). Records without a per-line argument are shared
    between lines, so a decision costs a line one reference.
    """

    __slots__ = ("arg", "render", "rule")

    def __init__(self, rule: Rule, render: Render | None, arg: Any = None) -> None:
        self.rule = rule
        self.render = render
        self.arg = arg

    def text(self, derived: Derived) -> str:
        body = self.arg if self.render is None else self.render(derived, self.rule, self.arg)
        return f"[{self.rule.id}] {body}"


class Line(Payout):
    """One rep's result for one period (a quarter line holds its month lines).

    Stored: identity, the decisions and the money. Derived on demand (same functions, same
    values as when the decisions were taken): `numbers`, `metrics`, `score`, `explanation`,
    `rules`, `mom`. A month line derives from its `row`, a quarter line from its `months`.
    """

    __slots__ = (
        "awards", "bonus", "commission", "context", "flags", "light", "manager_id", "months", "name",
        "period", "previous_actual", "product_line", "rating", "region", "rep_id", "row", "tier", "warnings", "why",
    )  # fmt: skip

    def __init__(
        self,
        rep_id: str,
        name: str | None,
        region: str | None,
        product_line: str | None,
        manager_id: str | None,
        period: str,
        context: Context,
        row: FactRow | None = None,
        months: tuple[Line, ...] = (),
    ) -> None:
        self.rep_id = rep_id
        self.name = name
        self.region = region
        self.product_line = product_line
        self.manager_id = manager_id
        self.period = period
        self.context = context
        self.row = row
        self.months = months
        self.light: str | None = None
        self.tier: str | None = None
        self.commission = ZERO
        self.bonus = ZERO
        self.awards: tuple[AwardLine, ...] = ()
        self.rating: str | None = None
        self.flags: Mapping[str, bool] = _NO_FLAGS
        self.warnings: tuple[str, ...] = ()
        self.why: tuple[Fired, ...] = ()
        self.previous_actual: Decimal | None = None

    def __repr__(self) -> str:
        return f"Line({self.rep_id!r}, {self.period!r}, light={self.light!r}, tier={self.tier!r}, total={self.total})"

    # ------------------------------------------------------------------ decided
    @property
    def rules(self) -> list[str]:
        """Ids of the rules that decided something for this line, in the order they fired."""
        return [f.rule.id for f in self.why]

    def warn(self, text: str) -> None:
        self.warnings += (text,)

    # ------------------------------------------------------------------ derived
    @property
    def numbers(self) -> dict[str, Decimal | None]:
        """The facts the line was evaluated on (a quarter: its months' column totals)."""
        if self.row is not None:
            return row_numbers(self.row)
        return sum_rows([m.row for m in self.months], self.context.columns)  # type: ignore[misc]

    @property
    def metrics(self) -> dict[str, Ratio | None]:
        return self.context.metrics_of(self.numbers)

    def numbers_of(self, columns: Sequence[str | None]) -> dict[str, Decimal | None]:
        """`numbers` as far as these columns go: a quarter line sums only them (month lines have
        them all at hand)."""
        if self.row is not None:
            return row_numbers(self.row)
        have = self.context.columns
        return sum_rows([m.row for m in self.months], [c for c in columns if c is not None and c in have])  # type: ignore[misc]

    def number(self, column: str) -> Decimal | None:
        """One of `numbers`."""
        return self.numbers_of((column,)).get(column)

    def metric(self, name: str) -> Ratio | None:
        """One metric's value (None when the policy has no such metric or it is not available)."""
        m = self.context.policy.metrics.get(name)
        return None if m is None else metric_value(m, self.numbers_of(metric_reads(m)))

    @property
    def score(self) -> Score | None:
        card = self.context.policy.scorecard
        if card is None or card.period != ("quarter" if self.months else "month"):
            return None
        return score_of(card, self.metrics)

    @property
    def explanation(self) -> list[str]:
        return Derived(self).explanation()

    @property
    def mom(self) -> dict[str, str] | None:
        """Month-on-month change of actual, on month lines that have a previous month."""
        if self.previous_actual is None or self.row is None:
            return None
        return _change(self.previous_actual, self.row.actual)


class Derived:
    """One line's derived values, each computed at most once: what writing the line out reads."""

    __slots__ = ("_metrics", "_numbers", "_score", "line")

    def __init__(self, line: Line) -> None:
        self.line = line
        self._numbers: dict[str, Decimal | None] | None = None
        self._metrics: dict[str, Ratio | None] | None = None
        self._score: tuple[Score | None] | None = None

    @property
    def numbers(self) -> dict[str, Decimal | None]:
        if self._numbers is None:
            self._numbers = self.line.numbers
        return self._numbers

    @property
    def metrics(self) -> dict[str, Ratio | None]:
        if self._metrics is None:
            self._metrics = self.line.context.metrics_of(self.numbers)
        return self._metrics

    @property
    def score(self) -> Score | None:
        if self._score is None:
            card = self.line.context.policy.scorecard
            kind = "quarter" if self.line.months else "month"
            self._score = (None if card is None or card.period != kind else score_of(card, self.metrics),)
        return self._score[0]

    def explanation(self) -> list[str]:
        return [f.text(self) for f in self.line.why]


class Context:
    """What every line of one evaluation derives its descriptive fields with."""

    def __init__(self, policy: Policy, columns: tuple[str, ...]) -> None:
        self.policy = policy
        self.columns = columns
        self.metric_items: tuple[tuple[str, Metric], ...] = tuple(policy.metrics.items())

    def metrics_of(self, numbers: Mapping[str, Decimal | None]) -> dict[str, Ratio | None]:
        return {name: metric_value(m, numbers) for name, m in self.metric_items}


def metric_reads(m: Metric) -> tuple[str | None, ...]:
    """The names `metric_value(m, numbers)` looks up in `numbers`."""
    return (m.column, m.numerator, m.denominator)


def row_numbers(row: FactRow) -> dict[str, Decimal | None]:
    """A month's numbers as metrics read them: target, actual and every other number column."""
    numbers: dict[str, Decimal | None] = {"target": row.target, "actual": row.actual}
    numbers.update(row.numbers)
    return numbers


def sum_rows(rows: Sequence[FactRow], columns: Sequence[str]) -> dict[str, Decimal | None]:
    """`sum_columns` of the rows' numbers (blank in every row stays None), without building each
    row's dict first: a quarter line's numbers are its months' rows summed."""
    out: dict[str, Decimal | None] = {}
    for col in columns:
        if col == "target":
            values = [r.target for r in rows]
        elif col == "actual":
            values = [r.actual for r in rows]
        else:
            values = [v for r in rows if (v := r.numbers.get(col)) is not None]
        out[col] = sum(values, _SUM_START) if values else None
    return out


def _with_value(rule: Rule, subject: str, value: str) -> str:
    """'achievement >= 0.80 and < 1.00' -> 'achievement 0.95 >= 0.80 and < 1.00'."""
    if rule.text.startswith(subject + " "):
        return f"{subject} {value}{rule.text[len(subject) :]}"
    return f"{subject} {value}: {rule.text}"


# ------------------------------------------------------------------------ explanations
# Each renders one decision's sentence from what the line derives again; see `Fired`.
def _explain_light(d: Derived, rule: Rule, _: object) -> str:
    metric = d.line.context.policy.warning.metric  # type: ignore[union-attr]
    v = d.metrics[metric]
    verdict = f"light {d.line.light}" if d.line.light else "no light (outside every band)"
    return f"{_with_value(rule, metric, format_ratio(v))} -> {verdict}"  # type: ignore[arg-type]


def _explain_tier(d: Derived, rule: Rule, tier: Tier | None) -> str:
    policy = d.line.context.policy
    c = policy.commission
    assert c is not None
    basis = d.metrics[c.basis]
    result = commission_for(policy, tier, d.numbers[c.base], basis)  # type: ignore[arg-type]
    return f"{_with_value(rule, c.basis, format_ratio(basis))} -> {result.explanation()}"  # type: ignore[arg-type]


def _explain_rating(d: Derived, rule: Rule, _: object) -> str:
    score = d.score
    assert score is not None
    return f"score {score.display} = ({score.parts()}) x 100; {rule.text} -> rating {d.line.rating or 'none'}"


def _explain_eligibility(_: Derived, rule: Rule, arg: tuple[EligibilityRule, tuple[object, ...]]) -> str:
    rule_def, values = arg
    shown = ", ".join(f"{cond.value} {v}" for cond, v in zip(rule_def.conditions, values, strict=True))
    verdict = rule_def.label if rule.outcome else f"not {rule_def.label}"
    return f"{shown}: {rule.text} -> {verdict}"


# ------------------------------------------------------------------------ the evaluator
Numbers = Mapping[str, Decimal | None]
Metrics = Mapping[str, Ratio | None]


class _Decided(NamedTuple):
    """A one-slot question of the per-line phase, decided for every key: its scale, and per key
    the record of the rule the rule engine fires for it (shared by every line with that key)."""

    scale: Scale
    records: tuple[Fired, ...]

    def __call__(self, value: Ratio) -> Fired:
        return self.records[self.scale.key(value)]


class _Plan:
    """What the per-line phase computes and notes for one kind of line ("month" or "quarter").

    Worked out once per evaluation from the policy, so the loop over lines does no policy
    lookups: which metrics a decision reads (the others are only checked for availability, to
    warn), and which values the cross-line phase will need (group sums, ranked values, the
    eligibility conditions' values).
    """

    def __init__(self, policy: Policy, cp: CompiledPolicy, kind: str) -> None:
        self.kind = kind
        card = policy.scorecard
        self.scoring = Scoring(card) if card is not None and card.period == kind else None
        self.awards = tuple(a for a in policy.awards if a.period == kind)
        self.groups = tuple(a for a in self.awards if isinstance(a, GroupAward))
        self.eligibility = tuple(e for e in policy.eligibility if e.period == kind)
        ranked = [a.rank_by for a in self.awards if isinstance(a, RankAward)]
        ranked += [e.rank_by for e in self.eligibility if e.rank_by is not None]
        self.ranked = tuple((name, name in policy.metrics) for name in dict.fromkeys(ranked))
        # how deep each ranking needs exact ranks (None: all of them); below, every rep is alike
        self.depths: dict[Ranking, int | None] = {}
        for a in self.awards:
            if isinstance(a, RankAward):
                # down to the last position the award's rules tell apart and, for prizes, to the
                # near misses `_rank_award` still explains (3 x the prizes)
                last = int(cp.scale(f"award:{a.id}").thresholds[-1])
                depth = last if a.is_honour else max(last, 3 * max(len(a.prizes), 1))
                self.depths[(a.rank_by, a.order)] = max(depth, self.depths.get((a.rank_by, a.order)) or 0)
        for e in self.eligibility:
            if e.rank_by is not None:  # its explanation shows every rep's rank
                self.depths[(e.rank_by, e.order)] = None
        read: set[str] = set(ranked)
        if policy.warning is not None:
            read.add(policy.warning.metric)
        if policy.commission is not None and kind == "month":
            read.add(policy.commission.basis)
        if self.scoring is not None:
            read.update(k.metric for k in self.scoring.card.kpis)
        for e in self.eligibility:
            read.update(c.value for c in e.conditions if not _counts_months(c.value))
        self.metrics = tuple(
            (name, m, metric_function(m) if name in read else None, metric_available(m))
            for name, m in policy.metrics.items()
        )


def _counts_months(name: str) -> bool:
    """Condition values taken from the line's months, not from a metric or a column."""
    return name == "rank" or name == "months" or name.endswith("_months")


class _Period:
    """One period's lines between the two phases, and what the cross-line phase needs of them."""

    def __init__(self, plan: _Plan, period: str, partitioned: bool) -> None:
        self.plan = plan
        self.partitioned = partitioned  # one of several partitions of the reps (engine.parallel)
        self.kind = plan.kind
        self.period = period
        self.lines: list[Line] = []
        # per group award: each line's group, and each group's running column sums
        self.group_keys: dict[str, list[str | None]] = {a.id: [] for a in plan.groups}
        self.group_sums: dict[str, dict[str, Sums]] = {a.id: {} for a in plan.groups}
        # per ranked value (a metric or a column): each line's value
        self.values: dict[str, list[Ratio | Decimal | None]] = {name: [] for name, _ in plan.ranked}
        # per eligibility rule: each line's condition values (rank filled in by the cross-line phase)
        self.conditions: dict[str, list[list[Any]]] = {e.id: [] for e in plan.eligibility}

    def partial(self, inexact: bool) -> Partial:
        """This partition's share of the cross-line decisions (see engine.crossline)."""
        groups = {
            award_id: {key: (sums, count) for key, sums in by_key.items() for count in [counts[key]]}
            for award_id, by_key in self.group_sums.items()
            for counts in [Counter(self.group_keys[award_id])]
        }
        rankings = {}
        for (name, order), depth in self.plan.depths.items():
            values = self.values[name]
            chosen = leaders(values, order, depth) if depth is not None else range(len(values))
            indices = [i for i in chosen if values[i] is not None]
            ranked = cast(list[Ratio | Decimal], [values[i] for i in indices])
            if depth is None and self.partitioned:  # every rep: each partition sorts its own share
                indices, ranked = in_rank_order(indices, ranked, order)
            rankings[(name, order)] = (indices, ranked, len(values) - values.count(None))
        return Partial(groups, rankings, self.plan.depths, inexact, len(self.lines))


class Evaluator:
    """One evaluation: a compiled policy, the facts, and the period asked for."""

    def __init__(
        self,
        policy: Policy,
        facts: FactSet,
        progress: Progress | None = None,
        exchange: Callable[[Partial], Combined] | None = None,
    ) -> None:
        """`exchange` is how a partition of the reps (engine.parallel) learns the team-wide group
        totals and ranks; without it the facts are the whole team."""
        self.progress = progress
        self.exchange = exchange
        self.sums = decimal.getcontext().copy()  # group sums; its flags tell if one was rounded
        self.sums.clear_flags()
        self.done = 0
        self.policy = policy
        self.cp: CompiledPolicy = compiled(policy)
        self.facts = facts
        self.columns = _number_columns(policy, facts)
        self.context = Context(policy, self.columns)
        self.plans = {kind: _Plan(policy, self.cp, kind) for kind in ("month", "quarter")}
        self._whys: dict[tuple[Fired, ...], tuple[Fired, ...]] = {}
        self._whys3: dict[tuple[Fired | None, ...], tuple[Fired, ...]] = {}  # a month line's three
        self._flags: dict[tuple[tuple[str, bool], ...], Mapping[str, bool]] = {}
        self._bonus: dict[str, Decimal] = {}
        p = policy
        # the one-slot questions of the per-line phase: their scale, the rule engine's decision for
        # each key, and one shared explanation record per key
        self._tiers = {t.id: t for t in p.commission.tiers} if p.commission is not None else {}
        self._light = self._question("light", _explain_light) if p.warning is not None else None
        self._tier = self._question("tier", _explain_tier, self._tier_of) if p.commission is not None else None
        self._rating = self._question("rating", _explain_rating) if p.scorecard is not None else None

    def _question(self, question: str, render: Render, arg: Callable[[Rule], Any] = lambda rule: None) -> _Decided:
        records: dict[str, Fired] = {}
        table = self.cp.table(question)  # the rule engine decides every key here, once
        return _Decided(
            self.cp.scale(question), tuple(records.setdefault(r.id, Fired(r, render, arg(r))) for r in table)
        )

    def _tier_of(self, rule: Rule) -> Tier | None:
        return None if rule.outcome == NONE else self._tiers[str(rule.outcome)]

    def _intern(self, why: tuple[Fired, ...]) -> tuple[Fired, ...]:
        """One tuple per distinct sequence of shared records (most lines repeat a handful)."""
        return self._whys.setdefault(why, why)

    # ---------------------------------------------------------------- per line
    def _measure(self, plan: _Plan, line: Line, numbers: Numbers) -> tuple[dict[str, Ratio | None], Fired | None]:
        """Metrics and light: what every line (month or quarter) has."""
        metrics: dict[str, Ratio | None] = {}
        for name, m, value_of, available in plan.metrics:
            if value_of is not None:
                v = metrics[name] = value_of(numbers)
                if v is not None:
                    continue
            elif available(numbers):
                continue
            missing = [c for c in m.columns if numbers.get(c) is None]
            why = f"{', '.join(missing)} blank or absent" if missing else f"{m.denominator} is 0"
            line.warn(f"{name} not available: {why}")
        if self._light is None:
            return metrics, None
        metric = self.policy.warning.metric  # type: ignore[union-attr]
        v = metrics.get(metric)
        if v is None:
            return metrics, None
        record = self._light(v)
        if record.rule.outcome == NONE:
            line.warn(f"{metric} {format_ratio(v)} is outside every warning band")
        else:
            line.light = str(record.rule.outcome)
        return metrics, record

    def _pay_commission(self, line: Line, numbers: Numbers, metrics: Metrics) -> Fired | None:
        c = self.policy.commission
        if c is None:
            return None
        basis = metrics.get(c.basis)
        base = numbers.get(c.base)
        if basis is None or base is None:
            line.warn(f"no commission: {c.basis if basis is None else c.base} not available")
            return None
        record = self._tier(basis)  # type: ignore[misc]
        tier: Tier | None = record.arg
        if tier is None:
            return record  # no tier reached: no commission, no bonus
        line.tier = tier.id
        if c.mode == "flat":  # the handbook's case, without building the explanation's closure
            amount = self.policy.money(base * tier.rate)
            if c.cap is not None and amount > c.cap:
                amount = self.policy.money(c.cap)
            line.commission = amount
            bonus = self._bonus.get(tier.id)
            if bonus is None:
                bonus = self._bonus[tier.id] = self.policy.money(tier.bonus)
            line.bonus = bonus
        else:
            result = commission_for(self.policy, tier, base, basis)
            line.commission, line.bonus = result.commission, result.bonus
        return record

    def _score(self, plan: _Plan, line: Line, metrics: Metrics) -> Fired | None:
        """Score a line of the scorecard's own period only: monthly KPI targets are not quarterly ones."""
        if plan.scoring is None:
            return None
        value = plan.scoring.value(metrics)
        if value is None:
            line.warn("score not computed: a scorecard metric is not available")
            return None
        record = self._rating(value)  # type: ignore[misc]
        line.rating = None if record.rule.outcome == NONE else str(record.rule.outcome)
        return record

    def _collect(self, stage: _Period, line: Line, numbers: Numbers, metrics: Metrics) -> None:
        """Note what the cross-line phase will need of this line, while its numbers are at hand."""
        plan = stage.plan
        for award in plan.groups:
            key = getattr(line, award.group_by)
            stage.group_keys[award.id].append(key)
            if key is not None:
                groups = stage.group_sums[award.id]
                sums = groups.get(key)
                if sums is None:
                    sums = groups[key] = dict.fromkeys(self.policy.metrics[award.metric].columns)
                for col in sums:
                    v = numbers.get(col)
                    if v is not None:
                        add_to(sums, col, v, self.sums)
        for name, is_metric in plan.ranked:
            stage.values[name].append(metrics.get(name) if is_metric else numbers.get(name))
        for rule_def in plan.eligibility:
            stage.conditions[rule_def.id].append(
                [
                    None if cond.value == "rank" else self._condition_value(cond.value, line, numbers, metrics)
                    for cond in rule_def.conditions
                ]
            )

    def _condition_value(self, name: str, line: Line, numbers: Numbers, metrics: Metrics) -> Decimal | int | None:
        if name.endswith("_months"):
            light = name[: -len("_months")]
            return sum(1 for m in line.months or [line] if m.light == light)
        if name == "months":
            return len(line.months or [line])
        if name in self.policy.metrics:
            v = metrics.get(name)
            return None if v is None else v.value
        return numbers.get(name)

    # ---------------------------------------------------------- across lines
    def _cross(self, stage: _Period) -> None:
        """Group awards, rank awards and eligibility, in the policy's order."""
        plan = stage.plan
        partial = stage.partial(bool(self.sums.flags[decimal.Inexact]))
        combined = combine([partial])[0] if self.exchange is None else self.exchange(partial)
        placings = {ranking: self._placing(stage, ranking, depth, combined) for ranking, depth in plan.depths.items()}
        for award in plan.awards:
            if isinstance(award, GroupAward):
                self._group_award(award, stage, combined.groups.get(award.id, {}))
            else:
                self._rank_award(award, stage, *placings[(award.rank_by, award.order)])
        for rule_def in plan.eligibility:
            rank = placings[(rule_def.rank_by, rule_def.order)][0] if rule_def.rank_by is not None else None
            self._eligibility(rule_def, stage, rank)

    @staticmethod
    def _placing(
        stage: _Period, ranking: Ranking, depth: int | None, combined: Combined
    ) -> tuple[list[int], list[int], int]:
        """Each line's team-wide rank (0: no value; depth + 1: somewhere below depth), tie size,
        and how many lines were ranked."""
        values = stage.values[ranking[0]]
        below = 0 if depth is None else depth + 1
        rank = [0 if v is None else below for v in values]
        tied = [0 if v is None else 1 for v in values]
        fills, ranked = combined.rankings[ranking]
        for index, r, t in fills:
            rank[index] = r
            tied[index] = t
        return rank, tied, ranked

    def _group_award(self, award: GroupAward, stage: _Period, totals: Mapping[str, tuple[Sums, int]]) -> None:
        lines, period = stage.lines, stage.period
        keys = stage.group_keys[award.id]
        members: dict[str, list[Line]] = {}
        for line, key in zip(lines, keys, strict=True):
            if key is None:
                line.warn(f"{award.id}: no {award.group_by}, not in any group")
            else:
                members.setdefault(key, []).append(line)
        metric = self.policy.metrics[award.metric]
        q = f"award:{award.id}"
        scale, table = self.cp.scale(q), self.cp.table(q)
        amount = self.policy.money(award.amount)
        for key in sorted(members):
            group = members[key]
            sums, count = totals[key]  # the whole group's, wherever its members are evaluated
            value = metric_value(metric, sums)
            if value is None:
                for m in group:
                    m.warn(f"{award.id}: {award.metric} of {award.group_by} {key} not available")
                continue
            rule = table[scale.key(value)]
            reached = rule.outcome != NONE
            sums_text = ", ".join(f"{c} {money_text(v)}" for c, v in sums.items() if v is not None)
            what = f"{award.label} {money_text(amount)} each" if reached else f"no {award.label}"
            text = (
                f"{award.group_by} {key} ({count} reps, {sums_text}): "
                f"{_with_value(rule, award.metric, format_ratio(value))} -> {what}"
            )
            record = Fired(rule, None, text)  # one sentence for the whole group
            shared: dict[int, tuple[Fired, ...]] = {}
            for m in group:
                why = shared.get(id(m.why))
                if why is None:
                    why = shared[id(m.why)] = self._intern((*m.why, record))
                m.why = why
                if reached:
                    m.awards += (AwardLine(award.id, award.label, amount, period),)

    def _rank_award(self, award: RankAward, stage: _Period, rank: list[int], tied: list[int], ranked: int) -> None:
        lines, period = stage.lines, stage.period
        q = f"award:{award.id}"
        scale, table = self.cp.scale(q), self.cp.table(q)
        values = stage.values[award.rank_by]
        near = max(len(award.prizes), 1) * 3  # below this rank a miss is still explained
        for i, line in enumerate(lines):
            r = rank[i]
            if not r:
                line.warn(f"{award.id}: {award.rank_by} not available, not ranked")
                continue
            rule = table[scale.key_of_int(r)]
            if award.is_honour:
                if rule.outcome != NONE:
                    line.awards += (AwardLine(award.id, award.label, ZERO, period, honour=True),)
                    head = self._rank_head(award, r, tied[i], ranked, values[i])
                    line.why += (Fired(rule, None, f"{head}: {rule.text} -> honour {award.label}"),)
                continue
            if award.ties == "split" and tied[i] > 1:
                pool = Decimal(0)
                for pos in range(r, r + tied[i]):
                    outcome = table[scale.key_of_int(pos)].outcome
                    if outcome != NONE:
                        pool += award.prizes[int(outcome) - 1]  # type: ignore[call-overload]
                amount = self.policy.money(pool / tied[i])
                how = f"positions {r}-{r + tied[i] - 1} pool {money_text(pool)} split {tied[i]} ways"
            elif rule.outcome == NONE:
                if r > near:
                    continue
                amount, how = ZERO, rule.text
            else:
                amount = self.policy.money(award.prizes[int(rule.outcome) - 1])  # type: ignore[call-overload]
                how = rule.text
            if amount > 0:
                line.awards += (AwardLine(award.id, award.label, amount, period),)
                head = self._rank_head(award, r, tied[i], ranked, values[i])
                line.why += (Fired(rule, None, f"{head}: {how} -> {award.label} {money_text(amount)}"),)
            elif r <= near:
                head = self._rank_head(award, r, tied[i], ranked, values[i])
                line.why += (Fired(rule, None, f"{head}: {how} -> no {award.label}"),)

    @staticmethod
    def _rank_head(award: RankAward, rank: int, tied: int, ranked: int, value: Ratio | Decimal | None) -> str:
        shown = format_ratio(value if isinstance(value, Ratio) else Ratio(value))  # type: ignore[arg-type]
        tie = f" (tied with {tied - 1} other{'s' if tied > 2 else ''})" if tied > 1 else ""
        return f"rank {rank} of {ranked} by {award.rank_by} {shown}{tie}"

    def _eligibility(self, rule_def: EligibilityRule, stage: _Period, rank: list[int] | None) -> None:
        q = f"eligibility:{rule_def.id}"
        scales = self.cp.questions[q].scales
        conditions = stage.conditions[rule_def.id]
        for i, line in enumerate(stage.lines):
            values = conditions[i]
            for j, cond in enumerate(rule_def.conditions):
                if cond.value == "rank":
                    values[j] = rank[i] if rank is not None and rank[i] else None
            if any(v is None for v in values):
                line.flags = self._flag(line.flags, rule_def.id, False)
                line.warn(f"{rule_def.id}: a condition's value is not available; not eligible")
                continue
            keys = tuple(
                s.key_of_int(v) if type(v) is int else s.key(Ratio(v)) for s, v in zip(scales, values, strict=True)
            )
            rule = self.cp.book.decide(q, keys)
            line.flags = self._flag(line.flags, rule_def.id, bool(rule.outcome))
            line.why += (Fired(rule, _explain_eligibility, (rule_def, tuple(values))),)

    def _flag(self, flags: Mapping[str, bool], flag: str, value: bool) -> Mapping[str, bool]:
        """Flags are shared, read-only mappings: a team has only a few distinct combinations."""
        items = (*flags.items(), (flag, value))
        hit = self._flags.get(items)
        if hit is None:
            hit = self._flags[items] = MappingProxyType(dict(items))
        return hit

    # --------------------------------------------------------------- periods
    def month(self, month: Month) -> list[Line]:
        period = str(month)
        plan = self.plans["month"]
        stage = _Period(plan, period, self.exchange is not None)
        lines = stage.lines
        previous = {r.rep_id: r.actual for r in self.facts.for_month(month.previous())}
        context, progress = self.context, self.progress
        for row in self.facts.for_month(month):
            line = Line(row.rep_id, row.name, row.region, row.product_line, row.manager_id, period, context, row)
            numbers = row_numbers(row)
            metrics, light = self._measure(plan, line, numbers)
            tier = self._pay_commission(line, numbers, metrics)
            rating = self._score(plan, line, metrics)
            why = self._whys3.get((light, tier, rating))
            if why is None:
                why = self._whys3[(light, tier, rating)] = self._intern(
                    tuple(f for f in (light, tier, rating) if f is not None)
                )
            line.why = why
            line.previous_actual = previous.get(row.rep_id)
            self._collect(stage, line, numbers, metrics)  # before the line joins `stage.lines`
            lines.append(line)
            if progress is not None and len(lines) % 2000 == 0:
                progress(self.done + len(lines))
        self.done += len(lines)
        if progress is not None:
            progress(self.done)
        self._cross(stage)
        return lines

    def quarter(self, quarter: Quarter) -> list[Line]:
        by_rep: dict[str, list[Line]] = {}
        for month in quarter.months:
            for line in self.month(month):
                by_rep.setdefault(line.rep_id, []).append(line)
        period = str(quarter)
        plan = self.plans["quarter"]
        stage = _Period(plan, period, self.exchange is not None)
        lines = stage.lines
        month_names = [str(m) for m in quarter.months]
        for rep_id in sorted(by_rep):
            months = tuple(by_rep.pop(rep_id))
            last = months[-1]
            line = Line(
                rep_id, last.name, last.region, last.product_line, last.manager_id, period, self.context, months=months
            )
            if len(months) < 3:
                have = {m.period for m in months}
                for name in month_names:
                    if name not in have:
                        line.warn(f"no facts for {name}")
            if any(m.region != last.region for m in months):
                line.warn("region changed within the quarter: " + " -> ".join(str(m.region) for m in months))
            numbers = sum_rows([m.row for m in months], self.columns)  # type: ignore[misc]
            metrics, light = self._measure(plan, line, numbers)
            rating = self._score(plan, line, metrics)
            line.why = self._intern(tuple(f for f in (light, rating) if f is not None))
            line.commission = sum((m.commission for m in months), ZERO)
            line.bonus = sum((m.bonus for m in months), ZERO)
            line.awards = tuple(a for m in months for a in m.awards)
            self._collect(stage, line, numbers, metrics)  # before the line joins `stage.lines`
            lines.append(line)
        self._cross(stage)
        return lines


def _change(previous: Decimal, current: Decimal) -> dict[str, str]:
    out = {"previous_actual": money_text(previous), "change": money_text(current - previous)}
    if previous != 0:
        out["change_ratio"] = format_ratio(Ratio(current - previous, previous))
    return out


def _number_columns(policy: Policy, facts: FactSet) -> tuple[str, ...]:
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
    require_columns(chosen, facts)
    if not any(facts.for_month(m) for m in months_of(per)):
        raise MeritInputError([Problem(facts.source, None, None, "period", f"no facts for {per}")])
    ev = Evaluator(chosen, facts, progress)
    with gc_paused():
        lines = ev.month(per) if isinstance(per, Month) else ev.quarter(per)
    previous = facts.for_month(per.previous()) if isinstance(per, Month) else ()
    previous_actual = sum((r.actual for r in previous), Decimal(0)) if previous else None
    return Evaluation(chosen, str(per), facts.sha256, lines, previous_actual)


def require_columns(policy: Policy, facts: FactSet) -> None:
    """The facts have every column the policy's metrics read (else MeritInputError)."""
    missing = [c for c in policy.numeric_columns if not facts.has_column(c)]
    if missing:
        raise MeritInputError(
            [
                Problem(facts.source, 1, None, c, f"column required by policy {policy.id} {policy.version}")
                for c in missing
            ]
        )
