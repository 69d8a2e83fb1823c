"""The cross-line phase of an evaluation: group awards, rank awards and eligibility.

After the per-line passes, a period's lines are decided on what crosses them: a group award on
the group's summed facts, a rank award or an eligibility rule on the rep's team-wide rank. Each
is a separate pass over whole columns (group sums, placings, condition values) followed by the
rule engine's decision per distinct comparison key. The summaries go through `engine.crossline`
so that a partition of the reps (`runtime.partitions`) decides exactly as the whole team would.
"""

from __future__ import annotations

import decimal
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, cast

from engine import explain
from engine.awards import in_rank_order, leaders
from engine.compiler import NONE, CompiledPolicy
from engine.crossline import Combined, Partial, Ranking, Sums, combine
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
_SUM_START = Decimal(0)  # sums start here, as `engine.crossline.add_to` does
GroupSums = tuple[list[str | None], dict[str, Sums], bool]  # each line's group, each group's sums, rounded?


Placing = tuple[list[int], list[int], int]  # per line its rank and tie size; how many were ranked


def _group_totals(sums: dict[str, GroupSums]) -> dict[str, dict[str, tuple[Sums, int]]]:
    """Per group award, per group: its sums and member count (one partition's, or the team's)."""
    out = {}
    for award_id, (keys, by_key, _) in sums.items():
        counts = Counter(keys)
        out[award_id] = {key: (s, counts[key]) for key, s in by_key.items()}
    return out


def _members(keys: list[str | None]) -> tuple[list[int], dict[str, list[int]]]:
    """The lines in no group, and each group's lines (groups sorted), by index."""
    outside: list[int] = []
    where: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is None:
            outside.append(i)
        else:
            where.setdefault(key, []).append(i)
    return outside, {key: where[key] for key in sorted(where)}


def _placed(vals: list[Any], depth: int | None, fills: list[tuple[int, int, int]], ranked: int) -> Placing:
    """Each line's team-wide rank (0: no value; depth + 1: somewhere below depth) and tie size."""
    below = 0 if depth is None else depth + 1
    rank = [0 if v is None else below for v in vals]
    tied = [0 if v is None else 1 for v in vals]
    for index, r, t in fills:
        rank[index] = r
        tied[index] = t
    return rank, tied, ranked


class Stage:
    """One period's lines between the per-line passes and the cross-line phase, with the columns
    the cross-line phase reads (`Plan.cross_columns`, `Plan.cross_metrics`) in line order."""

    def __init__(self, plan: Plan, period: str) -> None:
        self.plan = plan
        self.period = period
        self.lines: list[Line] = []
        self.columns: dict[str, list[Decimal | None]] = {c: [] for c in plan.cross_columns}
        self.metrics: dict[str, list[Ratio | None]] = {m: [] for m in plan.cross_metrics}

    def add(
        self, lines: list[Line], columns: Mapping[str, list[Decimal | None]], metrics: Mapping[str, list[Ratio | None]]
    ) -> None:
        """A chunk of lines, decided on their own, with what the cross-line phase will read of them
        (a column's or a metric's values, per line)."""
        self.lines.extend(lines)
        for name, column in self.columns.items():
            column.extend(columns[name])
        for name, values in self.metrics.items():
            values.extend(metrics[name])


class CrossLine:
    """The cross-line decisions of `engine.evaluation.Evaluator` (its state, these passes)."""

    policy: Policy
    cp: CompiledPolicy
    cache: FactsCache
    explain: bool
    exchange: Callable[[Partial], Combined] | None
    _flags: dict[tuple[tuple[str, bool], ...], Mapping[str, bool]]
    _flag_steps: dict[tuple[int, str, bool], Mapping[str, bool]]
    _intern: Callable[[tuple[Fired, ...]], tuple[Fired, ...]]

    # ------------------------------------------------------------ summaries
    def _group_sums(self, stage: Stage, award: GroupAward) -> GroupSums:
        """Per line its group (None: not in one), per group the summed columns the metric reads."""
        columns = self.policy.metrics[award.metric].columns

        def make() -> GroupSums:
            keys: list[str | None] = [getattr(line, award.group_by) for line in stage.lines]
            _, where = self._members(stage, award, keys)
            context = decimal.getcontext().copy()
            context.clear_flags()
            groups: dict[str, Sums] = {}
            with decimal.localcontext(context):  # sums as `add_to` adds them; the flags tell if one rounded
                for key, indices in where.items():
                    sums: Sums = {}
                    for col in columns:
                        values = stage.columns[col]
                        present = [v for i in indices if (v := values[i]) is not None]
                        sums[col] = sum(present, _SUM_START) if present else None
                    groups[key] = sums
            return keys, groups, bool(context.flags[decimal.Inexact])

        return self.cache.memo(("groups", stage.period, award.group_by, columns), make)

    def _members(
        self, stage: Stage, award: GroupAward, keys: list[str | None]
    ) -> tuple[list[int], dict[str, list[int]]]:
        return self.cache.memo(("members", stage.period, award.group_by), lambda: _members(keys))

    def _values(self, stage: Stage, name: str, is_metric: bool) -> list[Any]:
        """Each line's value of a ranked metric or column."""
        return stage.metrics[name] if is_metric else stage.columns[name]

    def _candidates(
        self, vals: list[Any], order: str, depth: int | None
    ) -> tuple[list[int], list[Ratio | Decimal], int]:
        """A ranking's values that can matter in this partition (see engine.crossline.Partial)."""
        chosen = leaders(vals, order, depth) if depth is not None else range(len(vals))
        indices = [i for i in chosen if vals[i] is not None]
        ranked = cast(list[Ratio | Decimal], [vals[i] for i in indices])
        if depth is None and self.exchange is not None:  # every rep: each partition sorts its own share
            indices, ranked = in_rank_order(indices, ranked, order)
        return indices, ranked, len(vals) - vals.count(None)

    def _partial(self, stage: Stage, sums: dict[str, GroupSums], values: dict[str, list[Any]]) -> Partial:
        """This partition's share of the cross-line decisions (see engine.crossline)."""
        rankings = {
            (name, order): self._candidates(values[name], order, depth)
            for (name, order), depth in stage.plan.depths.items()
        }
        return Partial(
            _group_totals(sums), rankings, stage.plan.depths, any(s[2] for s in sums.values()), len(stage.lines)
        )

    # ------------------------------------------------------------ decisions
    def _cross(self, stage: Stage) -> None:
        """Group awards, rank awards and eligibility, in the policy's order."""
        plan = stage.plan
        sums = {a.id: self._group_sums(stage, a) for a in plan.groups}
        values = {name: self._values(stage, name, is_metric) for name, is_metric in plan.ranked}
        if self.exchange is None:  # the whole team: group totals are the sums, ranks are over all
            totals = _group_totals(sums)
            placings = {r: self._placing(stage, r, depth, values[r[0]]) for r, depth in plan.depths.items()}
        else:
            combined = self.exchange(self._partial(stage, sums, values))
            totals = combined.groups
            placings = {r: _placed(values[r[0]], depth, *combined.rankings[r]) for r, depth in plan.depths.items()}
        for award in plan.awards:
            if isinstance(award, GroupAward):
                self._group_award(award, stage, sums[award.id][0], totals.get(award.id, {}))
            else:
                self._rank_award(award, stage, values[award.rank_by], *placings[(award.rank_by, award.order)])
        for rule_def in plan.eligibility:
            rank = placings[(rule_def.rank_by, rule_def.order)][0] if rule_def.rank_by is not None else None
            self._eligibility(rule_def, stage, rank)

    def _placing(self, stage: Stage, ranking: Ranking, depth: int | None, vals: list[Any]) -> Placing:
        """One ranking over the whole team, remembered while its values are the very same."""

        def make() -> Placing:
            partial = Partial({}, {ranking: self._candidates(vals, ranking[1], depth)}, {ranking: depth})
            return _placed(vals, depth, *combine([partial])[0].rankings[ranking])

        key = ("placing", stage.period, ranking, depth, self.policy.metrics.get(ranking[0]))
        return self.cache.over(key, vals, make)

    def _group_award(
        self, award: GroupAward, stage: Stage, keys: list[str | None], totals: Mapping[str, tuple[Sums, int]]
    ) -> None:
        lines = stage.lines
        outside, where = self._members(stage, award, keys)
        for i in outside:
            lines[i].warn(f"{award.id}: no {award.group_by}, not in any group")
        members = {key: [lines[i] for i in indices] for key, indices in where.items()}
        metric = self.policy.metrics[award.metric]
        table = key_table(self.cp, f"award:{award.id}")
        amount = self.policy.money(award.amount)
        for key, group in members.items():
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
        limit = int(table.scale.thresholds[-1]) if award.is_honour else max(int(table.scale.thresholds[-1]), near)
        if table.rules[-1].outcome == NONE:  # past the last threshold (and the near misses) nothing happens
            todo = [i for i, r in enumerate(rank) if r <= limit]
        else:
            todo = list(range(len(lines)))
        for i in todo:
            line, r = lines[i], rank[i]
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
        question = f"eligibility:{rule_def.id}"
        scales = self.cp.questions[question].scales
        decider = Decider(self.cp, question, [self.cache.memo(("slot-keys", s), dict) for s in scales])
        columns = [self._condition_column(c.value, stage, rank) for c in rule_def.conditions]
        flag = rule_def.id
        rules = decider.rules_for(columns)
        for line, rule, values in zip(stage.lines, rules, zip(*columns, strict=True), strict=True):
            if rule is None:
                line.flags = self._flag(line.flags, flag, False)
                line.warn(f"{flag}: a condition's value is not available; not eligible")
                continue
            line.flags = self._flag(line.flags, flag, bool(rule.outcome))
            if self.explain:
                line.why += (Fired(rule, explain.eligibility, (rule_def, values)),)

    def _condition_column(self, name: str, stage: Stage, rank: list[int] | None) -> list[Decimal | int | None]:
        """Each line's value of one eligibility condition (None: not available)."""
        if name == "rank":
            return [r or None for r in rank] if rank is not None else [None] * len(stage.lines)
        if name.endswith("_months"):
            light = name[: -len("_months")]
            return [sum(1 for m in line.month_lines if m.light == light) for line in stage.lines]
        if name == "months":
            return [len(line.month_lines) for line in stage.lines]
        if name in self.policy.metrics:
            return [None if v is None else v.value for v in stage.metrics[name]]
        return stage.columns[name]  # type: ignore[return-value]

    def _flag(self, flags: Mapping[str, bool], flag: str, value: bool) -> Mapping[str, bool]:
        """Flags are shared, read-only mappings: a team has only a few distinct combinations."""
        step = (id(flags), flag, value)  # the flags objects are kept alive by `_flags`
        hit = self._flag_steps.get(step)
        if hit is None:
            items = (*flags.items(), (flag, value))
            hit = self._flags.get(items)
            if hit is None:
                hit = self._flags[items] = MappingProxyType(dict(items))
            self._flag_steps[step] = hit
        return hit
