"""Evaluate a policy against facts for a month or a quarter: the one code that decides.

`evaluate` is used by everything that needs a decision: `merit evaluate`, the service's runs, HR's
acceptance scenarios, the Dask workers of `runtime.partitions`, and the what-if simulator and
sweeps (`engine.simulation`, `engine.sweep`), which call it with a shared `FactsCache` and
without explanations.

The flow per period is a sequence of passes over whole columns (docs/architecture.md,
"Performance"), the shape a columnar engine would take:

1. facts -> numbers -> metric values -> comparison keys, per line: they depend only on the facts
   and on definitions, so `engine.factcache` remembers them between evaluations of the same facts;
2. decisions per line by lookup: for a one-slot question (light, tier, rating) durable_rules has
   decided every comparison key once (`CompiledPolicy.table`), and a line indexes that table with
   its key; money is exact arithmetic on the decision (`engine.tiers`);
3. the cross-line decisions (group sums, ranks, eligibility) as separate passes (`engine.across`).

A quarter evaluates its three months, then rolls them up: quarterly totals, quarterly rank
awards and eligibility. A `Line` (`engine.lines`) keeps what was decided and the rules that
fired; the words are written by `engine.explain` only when output reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine import explain as words
from engine.across import CrossLine, Numbers, Stage
from engine.colmoney import flat_commissions
from engine.colnum import Columns, Frame
from engine.colscore import score_keys
from engine.columns import number_columns, quarter_groups
from engine.compiler import NONE, CompiledPolicy, compiled
from engine.crossline import Combined, Partial
from engine.decisions import Decided, decided
from engine.factcache import FactsCache, cache_for
from engine.facts import FactSet
from engine.linecolumns import LineColumns
from engine.lines import NO_FLAGS, ZERO, AwardLine, Context, Fired, Line, Render, sum_rows
from engine.metrics import format_ratio
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.plan import Plan
from engine.policy import Policy, PolicyLibrary, Tier
from engine.problems import MeritInputError, Problem
from engine.results import Evaluation
from engine.rules import Rule
from engine.tiers import commission_for, flat_payer

NO_FLAGS_ITEMS: tuple[tuple[str, bool], ...] = ()  # keeps NO_FLAGS (and its id) among the flags
CHUNK = 8192  # lines decided together by an evaluation that keeps no columns
Progress = Callable[[int], None]  # called with the number of rep-months evaluated so far


class Evaluator(CrossLine, LineColumns):
    """One evaluation: a compiled policy, the facts, and what is decided period by period."""

    def __init__(
        self,
        policy: Policy,
        facts: FactSet,
        progress: Progress | None = None,
        exchange: Callable[[Partial], Combined] | None = None,
        *,
        cache: FactsCache | None = None,
        explain: bool = True,
    ) -> None:
        """`exchange` is how a partition of the reps (runtime.partitions, on Dask) learns the team-wide group
        totals and ranks; without it the facts are the whole team. `cache` shares what depends
        only on the facts with other evaluations of them; `explain=False` records no reasons and
        no scores (see `evaluate`)."""
        self.progress = progress
        self.exchange = exchange
        self.explain = explain
        self.done = 0
        self.policy = policy
        self.cp: CompiledPolicy = compiled(policy)
        self.facts = facts
        self.cache = cache_for(facts, cache)
        self.columns = number_columns(policy, facts)
        self.context = Context(policy, self.columns)
        self.plans = {kind: Plan(policy, self.cp, kind, scored=explain) for kind in ("month", "quarter")}
        self._whys: dict[tuple[Fired, ...], tuple[Fired, ...]] = {}
        self._flags: dict[tuple[tuple[str, bool], ...], Mapping[str, bool]] = {NO_FLAGS_ITEMS: NO_FLAGS}
        self._flag_steps: dict[tuple[int, str, bool], Mapping[str, bool]] = {}
        p = policy
        self._tiers = {t.id: t for t in p.commission.tiers} if p.commission is not None else {}
        self._bonus = {t.id: p.money(t.bonus) for t in self._tiers.values()}
        self._light = self._question("light", words.light) if p.warning is not None else None
        self._tier = self._question("tier", words.tier, self._tier_of) if p.commission is not None else None
        self._rating = self._question("rating", words.rating) if p.scorecard is not None else None
        self._flat_pay = flat_payer(p)
        self._last: Frame | None = None
        self._months: dict[str, Columns] = {}  # each month's columns, converted once (its chunks, the quarter)

    def _question(self, question: str, render: Render, arg: Callable[[Rule], Any] = lambda rule: None) -> Decided:
        return decided(self.cp, question, render, arg)

    def _tier_of(self, rule: Rule) -> Tier | None:
        return None if rule.outcome == NONE else self._tiers[str(rule.outcome)]

    def _intern(self, why: tuple[Fired, ...]) -> tuple[Fired, ...]:
        """One tuple per distinct sequence of shared records (most lines repeat a handful)."""
        return self._whys.setdefault(why, why)

    # ------------------------------------------------------------ per-line decisions
    def _lights(self, period: str, lines: list[Line], items: Sequence[Any]) -> list[Fired | None]:
        decided = self._light
        if decided is None:
            return [None] * len(lines)
        metric = self.policy.warning.metric  # type: ignore[union-attr]
        out: list[Fired | None] = []
        records, outcomes = decided.records, decided.outcomes
        keys = self._metric_keys(period, metric, decided.scale, items)
        for i, (line, key) in enumerate(zip(lines, keys, strict=True)):
            if key is None:
                out.append(None)
                continue
            light = outcomes[key]
            if light is None:
                v = self._ratios(metric, items[i : i + 1])[0]
                line.warn(f"{metric} {format_ratio(v)} is outside every warning band")  # type: ignore[arg-type]
            else:
                line.light = light
            out.append(records[key])
        return out

    def _commissions(self, period: str, lines: list[Line], items: Sequence[Any]) -> list[Fired | None]:
        c, decided = self.policy.commission, self._tier
        if c is None or decided is None:
            return [None] * len(lines)
        keys = self._metric_keys(period, c.basis, decided.scale, items)
        present = self._frame(items).column(c.base).present.tolist()
        policy, records, flat, bonuses = self.policy, decided.records, c.mode == "flat", self._bonus
        out: list[Fired | None] = []
        paid: list[int] = []
        rates: list[Decimal] = []
        for i, (line, key) in enumerate(zip(lines, keys, strict=True)):
            if key is None or not present[i]:
                line.warn(f"no commission: {c.basis if key is None else c.base} not available")
                out.append(None)
                continue
            record = records[key]
            out.append(record)
            tier: Tier | None = record.arg
            if tier is None:
                continue  # no tier reached: no commission, no bonus
            line.tier = tier.id
            if flat:
                line.bonus = bonuses[tier.id]
                paid.append(i)
                rates.append(tier.rate)
            else:
                base, basis = self._numbers(items[i]).get(c.base), self._ratios(c.basis, items[i : i + 1])[0]
                line.commission, line.bonus, _ = commission_for(policy, tier, base, basis)  # type: ignore[arg-type]
        if paid:
            amounts = flat_commissions(policy, self._frame(items).column(c.base), paid, rates)
            for i, rate, amount in zip(paid, rates, amounts, strict=True):
                if amount is None:  # left to the per-line way (a base not above 0)
                    amount = self._flat_pay(rate, self._numbers(items[i])[c.base])  # type: ignore[arg-type]
                lines[i].commission = amount
        return out

    def _ratings(self, plan: Plan, period: str, lines: list[Line], items: Sequence[Any]) -> list[Fired | None]:
        """Score lines of the scorecard's own period only: monthly KPI targets are not quarterly ones."""
        scoring, decided = plan.scoring, self._rating
        if scoring is None or decided is None:
            return [None] * len(lines)
        scale = decided.scale

        def compute(todo: list[Any]) -> list[int | None]:
            def per_line(i: int) -> int | None:
                score = scoring.value(self.context.metrics_of(self._numbers(todo[i])))
                return None if score is None else scale.key(score)

            return score_keys(self._frame(todo), scoring.card, self.policy.metrics, scale, per_line)

        keys = self.cache.columns(("score-keys", period, scoring.card, scale.thresholds), items, compute)
        out: list[Fired | None] = []
        records, outcomes = decided.records, decided.outcomes
        for line, key in zip(lines, keys, strict=True):
            if key is None:
                line.warn("score not computed: a scorecard metric is not available")
                out.append(None)
                continue
            line.rating = outcomes[key]
            out.append(records[key])
        return out

    def _reasons(self, lines: list[Line], *records: list[Fired | None]) -> None:
        if not self.explain:
            return
        seen: dict[tuple[Fired | None, ...], tuple[Fired, ...]] = {}
        for line, fired in zip(lines, zip(*records, strict=True), strict=True):
            why = seen.get(fired)
            if why is None:
                why = seen[fired] = self._intern(tuple(f for f in fired if f is not None))
            line.why = why

    def _report(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done)

    # ------------------------------------------------------------ periods
    def _chunks(self, count: int) -> list[tuple[int, int]]:
        """The ranges of lines decided together: all at once when the cache keeps the columns
        (a simulation's), else `CHUNK` at a time so that no period holds every line's columns."""
        step = max(count, 1) if self.cache.keep else CHUNK
        return [(start, min(start + step, count)) for start in range(0, count, step)]

    def month(self, month: Month) -> list[Line]:
        """Every rep's line for one month, decided (per line, then across lines)."""
        period, plan, context = str(month), self.plans["month"], self.context
        rows = self.facts.for_month(month)
        previous = self.cache.memo(
            ("previous", period), lambda: {r.rep_id: r.actual for r in self.facts.for_month(month.previous())}
        )
        stage = Stage(plan, period)
        whole = self._months[period] = Columns(rows)
        for start, end in self._chunks(len(rows)):
            part = rows[start:end]
            self._last = Frame(part, self.columns, ((whole, start),))
            lines = []
            for row, warnings in zip(part, self._warnings(plan, period, part), strict=True):
                line = Line(row.rep_id, row.name, row.region, row.product_line, row.manager_id, period, context, row)
                line.warnings = warnings
                line.previous_actual = previous.get(row.rep_id)
                lines.append(line)
            lights = self._lights(period, lines, part)
            tiers = self._commissions(period, lines, part)
            ratings = self._ratings(plan, period, lines, part)
            self._reasons(lines, lights, tiers, ratings)
            self._staged(stage, lines, part)
            self._report(len(lines))
        self._cross(stage)
        return stage.lines

    def quarter(self, quarter: Quarter) -> list[Line]:
        """Every rep's quarter line: its months evaluated, rolled up, then the quarter's decisions."""
        per_month = [self.month(m) for m in quarter.months]
        period, plan, context = str(quarter), self.plans["quarter"], self.context
        base = self.cache.from_base(("quarter", period))
        base_facts = None if base is None else self.cache.base.facts  # type: ignore[union-attr]
        groups = self.cache.memo(("quarter", period), lambda: quarter_groups(self.facts, quarter, base_facts, base))
        # each rep's month lines: when every month has every rep (no positions kept), side by side
        aligned = bool(groups) and not groups[0][1]
        by_rep = list(
            zip(*per_month, strict=True) if aligned else (tuple(per_month[mi][i] for mi, i in g[1]) for g in groups)
        )
        columns, keep = self.columns, self.cache.keep
        stage = Stage(plan, period)
        for start, end in self._chunks(len(groups)):
            part = groups[start:end]
            items = [g[2] for g in part]
            sources = [(self._months[str(m)], start) for m in quarter.months] if aligned else []
            self._last = Frame(items, columns, sources)
            numbers: Sequence[Numbers | None] = (
                self.cache.column(("numbers", period, columns), items, lambda rows: sum_rows(rows, columns))
                if keep
                else [None] * len(part)
            )
            lines = []
            for (rep_id, _, _, notes), warnings, totals, months in zip(
                part, self._warnings(plan, period, items), numbers, by_rep[start:end], strict=True
            ):
                last = months[-1]
                line = Line(
                    rep_id, last.name, last.region, last.product_line, last.manager_id, period, context,
                    months=months, totals=totals,
                )  # fmt: skip
                line.warnings = notes + warnings if notes else warnings
                commission = bonus = ZERO
                awards: tuple[AwardLine, ...] = ()
                for m in months:
                    commission += m.commission
                    bonus += m.bonus
                    if m.awards:
                        awards += m.awards
                line.commission, line.bonus, line.awards = commission, bonus, awards
                lines.append(line)
            lights = self._lights(period, lines, items)
            ratings = self._ratings(plan, period, lines, items)
            self._reasons(lines, lights, ratings)
            self._staged(stage, lines, items)
        self._cross(stage)
        return stage.lines


def evaluate(
    policy: Policy | PolicyLibrary,
    facts: FactSet,
    period: str | Period,
    *,
    enforce_effective: bool = True,
    progress: Progress | None = None,
    cache: FactsCache | None = None,
    explain: bool = True,
) -> Evaluation:
    """The results of `period` ("2026-08" or "2026-Q3") under the policy version in force.

    With a single `Policy` and `enforce_effective=False` its effective dates are not checked:
    that is how a candidate version is tried against HR's scenarios, and a what-if scenario is
    costed. `cache` (a `FactsCache` of these facts) reuses what earlier evaluations of the same
    facts computed.

    `explain=False` is what a simulation, which compares money and people, asks for: the same
    decisions on lights, tiers, commission, bonus, awards and eligibility, the same warnings, but
    no reasons (lines have no explanation) and no scorecard (its rating pays nothing and decides
    nothing else, so lines have no rating). Output of such lines is for comparisons, not for a run.
    """
    per = period_of(period)
    chosen = policy.for_period(per) if isinstance(policy, PolicyLibrary) else policy
    if isinstance(policy, Policy) and enforce_effective:
        outside = [str(m) for m in months_of(per) if not policy.in_force(m)]
        if outside:
            raise MeritInputError.at(
                policy.source, "", f"{policy.id} {policy.version} is not in force for {', '.join(outside)}"
            )
    check_inputs(chosen, facts, per)
    ev = Evaluator(chosen, facts, progress, cache=cache, explain=explain)
    lines = ev.month(per) if isinstance(per, Month) else ev.quarter(per)
    previous = facts.for_month(per.previous()) if isinstance(per, Month) else ()
    previous_actual = sum((r.actual for r in previous), Decimal(0)) if previous else None
    return Evaluation(chosen, str(per), facts.sha256, lines, previous_actual)


def period_of(period: Period | str) -> Period:
    """A period given as text or as a Period; a located problem when the text is not one."""
    if not isinstance(period, str):
        return period
    try:
        return parse_period(period)
    except ValueError as exc:
        raise MeritInputError.at("period", "", str(exc)) from None


def check_inputs(policy: Policy, facts: FactSet, per: Period) -> None:
    """The facts can be evaluated for the period: every column the policy reads, some facts."""
    require_columns(policy, facts)
    if not any(facts.for_month(m) for m in months_of(per)):
        raise MeritInputError.at(facts.source, "period", f"no facts for {per}")


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
