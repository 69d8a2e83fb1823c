"""The cross-line phase of an evaluation: group awards, rank awards and eligibility.

After the per-line passes, a period's lines are decided on what crosses them: a group award on
the group's summed facts, a rank award or an eligibility rule on the rep's team-wide rank. Each
is a separate pass over whole columns (group sums, placings, condition values) followed by the
rule engine's decision per distinct comparison key. The summaries go through `engine.crossline`
so that a partition of the reps (`runtime.parallel`) decides exactly as the whole team would.
"""

from __future__ import annotations

import decimal
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, cast

from engine import explain
from engine.awards import in_rank_order, leaders
from engine.compiler import NONE, CompiledPolicy
from engine.crossline import Combined, Partial, Ranking, Sums, add_to, combine
from engine.decisions import Decider, key_table
from engine.factcache import FactsCache
from engine.lines import ZERO, AwardLine, Fired, Line
from engine.metrics import Ratio, metric_value
from engine.plan import Plan
from engine.policy import EligibilityRule, GroupAward, Policy, RankAward
from engine.rules import Rule
from engine.tiers import money_text

Numbers = Mapping[str, Decimal | None]
Metrics = Mapping[str, Ratio | None]
GroupSums = tuple[list[str | None], dict[str, Sums], bool]  # each line's group, each group's sums, rounded?


class Stage:
    """One period's lines between the per-line passes and the cross-line phase, as columns."""

    def __init__(
        self, plan: Plan, period: str, lines: list[Line], numbers: Sequence[Numbers], metrics: Sequence[Metrics]
    ) -> None:
        self.plan = plan
        self.period = period
        self.lines = lines
        self.numbers = numbers
        self.metrics = metrics


class CrossLine:
    """The cross-line decisions of `engine.evaluation.Evaluator` (its state, these passes)."""

    policy: Policy
    cp: CompiledPolicy
    cache: FactsCache
    explain: bool
    exchange: Callable[[Partial], Combined] | None
    _flags: dict[tuple[tuple[str, bool], ...], Mapping[str, bool]]
    _intern: Callable[[tuple[Fired, ...]], tuple[Fired, ...]]

    # ------------------------------------------------------------ summaries
    def _group_sums(self, stage: Stage, award: GroupAward) -> GroupSums:
        """Per line its group (None: not in one), per group the summed columns the metric reads."""
        columns = self.policy.metrics[award.metric].columns

        def make() -> GroupSums:
            context = decimal.getcontext().copy()
            context.clear_flags()
            keys: list[str | None] = [getattr(line, award.group_by) for line in stage.lines]
            groups: dict[str, Sums] = {}
            for key, numbers in zip(keys, stage.numbers, strict=True):
                if key is None:
                    continue
                sums = groups.get(key)
                if sums is None:
                    sums = groups[key] = dict.fromkeys(columns)
                for col in sums:
                    v = numbers.get(col)
                    if v is not None:
                        add_to(sums, col, v, context)
            return keys, groups, bool(context.flags[decimal.Inexact])

        return self.cache.memo(("groups", stage.period, award.group_by, columns), make)

    def _values(self, stage: Stage, name: str, is_metric: bool) -> list[Ratio | Decimal | None]:
        """Each line's value of a ranked metric or column."""
        if is_metric:
            return self.cache.memo(
                ("ranked", stage.period, name, self.policy.metrics[name]), lambda: [m.get(name) for m in stage.metrics]
            )
        return self.cache.memo(("ranked", stage.period, name), lambda: [n.get(name) for n in stage.numbers])

    def _partial(self, stage: Stage, sums: dict[str, GroupSums], values: dict[str, list[Any]]) -> Partial:
        """This partition's share of the cross-line decisions (see engine.crossline)."""
        groups = {}
        inexact = False
        for award_id, (keys, by_key, rounded) in sums.items():
            counts = Counter(keys)
            groups[award_id] = {key: (s, counts[key]) for key, s in by_key.items()}
            inexact = inexact or rounded
        rankings = {}
        for (name, order), depth in stage.plan.depths.items():
            vals = values[name]
            chosen = leaders(vals, order, depth) if depth is not None else range(len(vals))
            indices = [i for i in chosen if vals[i] is not None]
            ranked = cast(list[Ratio | Decimal], [vals[i] for i in indices])
            if depth is None and self.exchange is not None:  # every rep: each partition sorts its own share
                indices, ranked = in_rank_order(indices, ranked, order)
            rankings[(name, order)] = (indices, ranked, len(vals) - vals.count(None))
        return Partial(groups, rankings, stage.plan.depths, inexact, len(stage.lines))

    # ------------------------------------------------------------ decisions
    def _cross(self, stage: Stage) -> None:
        """Group awards, rank awards and eligibility, in the policy's order."""
        plan = stage.plan
        sums = {a.id: self._group_sums(stage, a) for a in plan.groups}
        values = {name: self._values(stage, name, is_metric) for name, is_metric in plan.ranked}
        if self.exchange is None:  # the whole team: its summary depends on facts and definitions only
            combined, placings = self.cache.memo(
                ("combined", stage.period, plan.cross_signature), lambda: self._placings(stage, sums, values, None)
            )
        else:
            combined, placings = self._placings(stage, sums, values, self.exchange)
        for award in plan.awards:
            if isinstance(award, GroupAward):
                self._group_award(award, stage, sums[award.id][0], combined.groups.get(award.id, {}))
            else:
                self._rank_award(award, stage, values[award.rank_by], *placings[(award.rank_by, award.order)])
        for rule_def in plan.eligibility:
            rank = placings[(rule_def.rank_by, rule_def.order)][0] if rule_def.rank_by is not None else None
            self._eligibility(rule_def, stage, rank)

    def _placings(
        self,
        stage: Stage,
        sums: dict[str, GroupSums],
        values: dict[str, list[Any]],
        exchange: Callable[[Partial], Combined] | None,
    ) -> tuple[Combined, dict[Ranking, tuple[list[int], list[int], int]]]:
        partial = self._partial(stage, sums, values)
        combined = combine([partial])[0] if exchange is None else exchange(partial)
        placings = {}
        for ranking, depth in stage.plan.depths.items():
            # each line's team-wide rank (0: no value; depth + 1: somewhere below depth), tie size
            vals = values[ranking[0]]
            below = 0 if depth is None else depth + 1
            rank = [0 if v is None else below for v in vals]
            tied = [0 if v is None else 1 for v in vals]
            fills, ranked = combined.rankings[ranking]
            for index, r, t in fills:
                rank[index] = r
                tied[index] = t
            placings[ranking] = (rank, tied, ranked)
        return combined, placings

    def _group_award(
        self, award: GroupAward, stage: Stage, keys: list[str | None], totals: Mapping[str, tuple[Sums, int]]
    ) -> None:
        members: dict[str, list[Line]] = {}
        for line, key in zip(stage.lines, keys, strict=True):
            if key is None:
                line.warn(f"{award.id}: no {award.group_by}, not in any group")
            else:
                members.setdefault(key, []).append(line)
        metric = self.policy.metrics[award.metric]
        table = key_table(self.cp, f"award:{award.id}")
        amount = self.policy.money(award.amount)
        for key in sorted(members):
            group = members[key]
            sums, count = totals[key]  # the whole group's, wherever its members are evaluated
            value = metric_value(metric, sums)
            if value is None:
                for m in group:
                    m.warn(f"{award.id}: {award.metric} of {award.group_by} {key} not available")
                continue
            rule = table.rule_for(value)
            reached = rule.outcome != NONE
            if reached:
                award_line = AwardLine(award.id, award.label, amount, stage.period)
                for m in group:
                    m.awards += (award_line,)
            if not self.explain:
                continue
            text = explain.group_award(award, key, count, sums, rule, value, amount if reached else None)
            record = Fired(rule, None, text)  # one sentence for the whole group
            shared: dict[int, tuple[Fired, ...]] = {}
            for m in group:
                why = shared.get(id(m.why))
                if why is None:
                    why = shared[id(m.why)] = self._intern((*m.why, record))
                m.why = why

    def _rank_award(
        self, award: RankAward, stage: Stage, values: list[Any], rank: list[int], tied: list[int], ranked: int
    ) -> None:
        period, lines = stage.period, stage.lines
        table = key_table(self.cp, f"award:{award.id}")
        rules: dict[int, Rule] = {}

        def rule_at(position: int) -> Rule:
            hit = rules.get(position)
            if hit is None:
                hit = rules[position] = table.rule_at(position)
            return hit

        near = max(len(award.prizes), 1) * 3  # below this rank a miss is still explained
        for i, line in enumerate(lines):
            r = rank[i]
            if not r:
                line.warn(f"{award.id}: {award.rank_by} not available, not ranked")
                continue
            rule = rule_at(r)
            if award.is_honour:
                if rule.outcome != NONE:
                    line.awards += (AwardLine(award.id, award.label, ZERO, period, honour=True),)
                    if self.explain:
                        head = explain.rank_head(award, r, tied[i], ranked, values[i])
                        line.why += (Fired(rule, None, f"{head}: {rule.text} -> honour {award.label}"),)
                continue
            if award.ties == "split" and tied[i] > 1:
                pool = Decimal(0)
                for pos in range(r, r + tied[i]):
                    outcome = rule_at(pos).outcome
                    if outcome != NONE:
                        pool += award.prizes[int(outcome) - 1]  # type: ignore[call-overload]
                amount = self.policy.money(pool / tied[i])
                how = explain.split_pool(r, tied[i], pool) if self.explain else ""
            elif rule.outcome == NONE:
                if r > near:
                    continue
                amount, how = ZERO, rule.text
            else:
                amount = self.policy.money(award.prizes[int(rule.outcome) - 1])  # type: ignore[call-overload]
                how = rule.text
            if amount > 0:
                line.awards += (AwardLine(award.id, award.label, amount, period),)
                if self.explain:
                    head = explain.rank_head(award, r, tied[i], ranked, values[i])
                    line.why += (Fired(rule, None, f"{head}: {how} -> {award.label} {money_text(amount)}"),)
            elif r <= near and self.explain:
                head = explain.rank_head(award, r, tied[i], ranked, values[i])
                line.why += (Fired(rule, None, f"{head}: {how} -> no {award.label}"),)

    def _eligibility(self, rule_def: EligibilityRule, stage: Stage, rank: list[int] | None) -> None:
        decider = Decider(self.cp, f"eligibility:{rule_def.id}")
        for i, line in enumerate(stage.lines):
            values = self._condition_values(rule_def, line, stage.numbers[i], stage.metrics[i], rank[i] if rank else 0)
            if any(v is None for v in values):
                line.flags = self._flag(line.flags, rule_def.id, False)
                line.warn(f"{rule_def.id}: a condition's value is not available; not eligible")
                continue
            rule = decider.rule_for(values)
            line.flags = self._flag(line.flags, rule_def.id, bool(rule.outcome))
            if self.explain:
                line.why += (Fired(rule, explain.eligibility, (rule_def, values)),)

    def _condition_values(
        self, rule_def: EligibilityRule, line: Line, numbers: Numbers, metrics: Metrics, rank: int
    ) -> tuple[Decimal | int | None, ...]:
        out: list[Decimal | int | None] = []
        for cond in rule_def.conditions:
            name = cond.value
            if name == "rank":
                out.append(rank or None)
            elif name.endswith("_months"):
                light = name[: -len("_months")]
                out.append(sum(1 for m in line.month_lines if m.light == light))
            elif name == "months":
                out.append(len(line.month_lines))
            elif name in self.policy.metrics:
                v = metrics.get(name)
                out.append(None if v is None else v.value)
            else:
                out.append(numbers.get(name))
        return tuple(out)

    def _flag(self, flags: Mapping[str, bool], flag: str, value: bool) -> Mapping[str, bool]:
        """Flags are shared, read-only mappings: a team has only a few distinct combinations."""
        items = (*flags.items(), (flag, value))
        hit = self._flags.get(items)
        if hit is None:
            hit = self._flags[items] = MappingProxyType(dict(items))
        return hit
