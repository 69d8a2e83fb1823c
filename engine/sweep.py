"""Sweeps: one policy parameter over a range of values -> the cost curve (payout, share of sales,
reps per tier), every point a scenario of the baseline over the same prepared facts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.evaluation import period_of
from engine.factcache import FactsCache
from engine.facts import FactSet
from engine.lines import ZERO, Line
from engine.periods import Period
from engine.policy import Policy
from engine.problems import MeritInputError, Problem
from engine.simulation import NO_TIER, costed, eligible_counts, share_of_sales, tier_order, total_of, within_regions
from engine.tiers import money_text

MAX_SWEEP_POINTS = 100


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
    """One value of the swept parameter and what the policy with it costs (a point of the cost curve)."""

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
        """The point's payout as a share of sales."""
        return share_of_sales(self.payout, self.sales)

    def as_dict(self, baseline_payout: Decimal) -> dict[str, Any]:
        """The point as the result document shows it, with its delta to the baseline."""
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
    """The cost curve: every point of a sweep, against the baseline's payout."""

    period: str
    path: str
    baseline_policy: Policy
    baseline_payout: Decimal
    points: list[SweepPoint]

    def as_dict(self) -> dict[str, Any]:
        """The whole sweep as one document (the CLI's JSON and the API's `result`)."""
        return {
            "period": self.period,
            "parameter": self.path,
            "baseline": {**self.baseline_policy.ref, "payout": money_text(self.baseline_payout)},
            "currency": self.baseline_policy.currency,
            "points": [p.as_dict(self.baseline_payout) for p in self.points],
        }


def _point(value: Decimal, policy: Policy, lines: Sequence[Line], period: str, sales: Decimal) -> SweepPoint:
    months = [m for ln in lines for m in ln.month_lines]
    tier_counts = Counter(m.tier or NO_TIER for m in months)
    tiers = {t: tier_counts[t] for t in [*tier_order(policy), NO_TIER]}
    return SweepPoint(
        value=value,
        sha256=policy.sha256,
        payout=total_of(ln.total for ln in lines),
        commission=total_of(ln.commission for ln in lines),
        bonus=total_of(ln.bonus for ln in lines),
        awards=total_of(ln.award_total for ln in lines),
        sales=sales,
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


#: Costs the points of a sweep: (scenario policies, their values) -> one point per policy, in order.
PointsRunner = Callable[[Sequence[Policy], Sequence[Decimal]], list[SweepPoint]]


def sweep(
    baseline: Policy,
    path: str,
    values: Sequence[Decimal | str],
    facts: FactSet,
    period: str | Period,
    scenario_facts: FactSet | None = None,
    *,
    regions: Collection[str] | None = None,
    points: PointsRunner | None = None,
) -> SweepResult:
    """The cost curve of one parameter: every value is a scenario of `baseline` with `path=value`.

    `regions` restricts the reported costs to those regions' reps, as in `simulate`. `points`
    costs the scenarios elsewhere (runtime.dask_sweeps: a task per worker, each with its own
    facts and cache); without it they are costed here, one after the other. Either way each
    point is `sweep_points` of its own policy, so the result is the same.

    Facts are grouped by month once; each distinct policy is compiled once (`compiled` caches by
    content hash, so a value equal to the baseline's reuses the baseline's ruleset).
    """
    from engine.edits import Edit, apply_edits

    per = period_of(period)
    if len(values) > MAX_SWEEP_POINTS:
        raise MeritInputError.at("--values", "", f"a sweep has at most {MAX_SWEEP_POINTS} points")
    _check_numeric_parameter(baseline, path)
    policies = [apply_edits(baseline, [Edit(path, format(Decimal(str(v)), "f"))], "--param") for v in values]
    cache = FactsCache(facts)
    b = within_regions(costed(baseline, cache, per), regions)
    decimals = [Decimal(str(v)) for v in values]
    if points is not None:
        found = points(policies, decimals)
    else:
        scache = cache if scenario_facts is None or scenario_facts is facts else FactsCache(scenario_facts, base=cache)
        found = sweep_points(policies, decimals, scache, per, regions)
    return SweepResult(str(per), path, baseline, total_of(ln.total for ln in b), found)


def sweep_points(
    policies: Sequence[Policy],
    values: Sequence[Decimal],
    cache: FactsCache,
    period: Period,
    regions: Collection[str] | None = None,
) -> list[SweepPoint]:
    """The points of these scenario policies on the cache's facts, in order (serially)."""
    out = []
    sales: Decimal | None = None  # the same for every point: the facts' actual sales
    for value, pol in zip(values, policies, strict=True):
        lines = within_regions(costed(pol, cache, period), regions)
        if sales is None:
            sales = total_of(ln.number("actual") or ZERO for ln in lines)
        out.append(_point(value, pol, lines, str(period), sales))
    return out
