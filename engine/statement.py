"""A rep's statement (提成确认单) as data: what one result line decided, in the parts a rep reads.

Built from the `Line`s `engine.evaluation.evaluate` returns (with explanations): the light, tier,
money, awards, rating and flags are the line's own decisions, the arithmetic is shown by the same
functions that paid it (`engine.tiers.commission_for`, `engine.scorecard.score_of` through
`Line.score`), and nothing is decided again. The one thing computed here is how far the rep is
from the next tier and the next light: the exact amount of the basis metric's numerator that
reaches the next threshold of the policy, rounded up to the column's unit (a cent for money, 1 for
counts), so "再完成 ¥12,000.00" is the least amount that gets there.

No words here beyond the policy's own labels and the engine's rule records: the language is the
renderer's (`service.statements`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from engine.lines import Fired, Line
from engine.metrics import EXACT, Ratio
from engine.policy import Band, Policy, RankAward, Tier
from engine.tiers import commission_for, marginal_slices

MONEY_COLUMNS = frozenset({"target", "actual", "collected"})
"""Fact columns that hold money (a cent is their unit); other number columns count things."""
_CENT = Decimal("0.01")
_ONE = Decimal(1)


@dataclass(frozen=True)
class LightPart:
    """The warning light: its id and the policy's label (绿灯), and the metric it was read on."""

    id: str
    label: str
    metric: str
    metric_label: str
    value: Ratio | None


@dataclass(frozen=True)
class Slice:
    """`marginal` mode: the part of the base a tier pays on (to the cent, for reading: the commission
    is computed on the exact slices, `engine.tiers.commission_for`) and that tier's rate."""

    tier_label: str
    amount: Decimal
    rate: Decimal


@dataclass(frozen=True)
class CommissionPart:
    """The tier reached and the commission arithmetic: `rate` x `base` = `uncapped` (capped to
    `commission` when the cap bites), plus the tier's `bonus`."""

    tier_id: str | None
    tier_label: str | None
    basis: str
    basis_label: str
    basis_value: Ratio | None
    lower: Decimal | None  # the reached tier's threshold (inclusive)
    upper: Decimal | None  # the next tier's threshold (exclusive); None: the top tier
    mode: str
    rate: Decimal | None
    base_column: str
    base: Decimal | None
    uncapped: Decimal
    commission: Decimal
    bonus: Decimal
    slices: tuple[Slice, ...] = ()  # `marginal` mode: each tier's slice of the base and its rate


@dataclass(frozen=True)
class AwardPart:
    """An award or honour on the line: money (0 for an honour), the period it is for, and the
    position a rank award's rule gave (1 for 季度TOP3's first prize; None for group awards)."""

    id: str
    label: str
    amount: Decimal
    period: str
    honour: bool
    position: int | None  # None: a group award, or an honour shared by the top n (no position said)


@dataclass(frozen=True)
class KpiPart:
    """One scorecard KPI: the rep's value against its target, its weight, and whether its cap bit."""

    metric: str
    label: str
    value: Ratio
    target: Decimal
    weight: Decimal
    cap: Decimal | None
    capped: bool
    ratio: bool  # a ratio metric (shown as a percentage), else a count


@dataclass(frozen=True)
class ScorePart:
    """The scorecard score (two places, truncated as the results show it) and the rating it got."""

    score: Decimal
    rating: str | None
    kpis: tuple[KpiPart, ...]


@dataclass(frozen=True)
class EligibilityPart:
    """An eligibility rule (晋升答辩优先): True/False when this period decided it, None when it is
    decided over another period (a quarterly rule on a month statement)."""

    id: str
    label: str
    period: str
    eligible: bool | None


@dataclass(frozen=True)
class NextStep:
    """How far the next tier or light is: `gap` more of `column` reaches it (None: not reachable
    by that column alone, e.g. a metric without a column numerator). `rate` and `bonus` for a tier."""

    kind: str  # "tier" | "light"
    id: str
    label: str
    column: str
    money: bool
    gap: Decimal
    threshold: Decimal
    inclusive: bool
    rate: Decimal | None = None
    bonus: Decimal | None = None


@dataclass(frozen=True)
class Statement:
    """One rep's statement for one period; a quarter's has its months' statements in `months`."""

    rep_id: str
    name: str | None
    region: str | None
    product_line: str | None
    period: str
    policy_id: str
    policy_version: str
    policy_title: str
    policy_sha256: str
    currency: str
    target: Decimal | None
    actual: Decimal | None
    over_target: Decimal | None  # actual - target (negative: short of it)
    light: LightPart | None
    commission: CommissionPart | None
    awards: tuple[AwardPart, ...]
    score: ScorePart | None
    eligibility: tuple[EligibilityPart, ...]
    next_steps: tuple[NextStep, ...]
    commission_total: Decimal
    bonus_total: Decimal
    award_total: Decimal
    total: Decimal
    rules: tuple[str, ...]  # the engine's explanation, one `[rule id] sentence` per rule that fired
    warnings: tuple[str, ...]
    months: tuple[Statement, ...] = ()


def statement_of(policy: Policy, line: Line) -> Statement:
    """The statement of one result line (a month's, or a quarter's with its months)."""
    numbers = line.numbers
    metrics = line.metrics
    months = tuple(statement_of(policy, m) for m in line.months)
    return Statement(
        rep_id=line.rep_id,
        name=line.name,
        region=line.region,
        product_line=line.product_line,
        period=line.period,
        policy_id=policy.id,
        policy_version=policy.version,
        policy_title=policy.title,
        policy_sha256=policy.sha256,
        currency=policy.currency,
        target=numbers.get("target"),
        actual=numbers.get("actual"),
        over_target=_difference(numbers.get("actual"), numbers.get("target")),
        light=_light(policy, line, metrics),
        commission=None if line.months else _commission(policy, line, numbers, metrics),
        awards=award_parts(policy, line),
        score=_score(policy, line),
        eligibility=_eligibility(policy, line),
        next_steps=next_steps(policy, line, numbers, metrics),
        commission_total=line.commission,
        bonus_total=line.bonus,
        award_total=line.award_total,
        total=line.total,
        rules=tuple(line.explanation),
        warnings=line.warnings,
        months=months,
    )


def _difference(actual: Decimal | None, target: Decimal | None) -> Decimal | None:
    return None if actual is None or target is None else actual - target


def _light(policy: Policy, line: Line, metrics: dict[str, Ratio | None]) -> LightPart | None:
    w = policy.warning
    if w is None or line.light is None:
        return None
    band = next(b for b in w.bands if b.light == line.light)
    return LightPart(band.light, band.label, w.metric, policy.metrics[w.metric].label, metrics.get(w.metric))


def _commission(
    policy: Policy, line: Line, numbers: dict[str, Decimal | None], metrics: dict[str, Ratio | None]
) -> CommissionPart | None:
    c = policy.commission
    if c is None:
        return None
    basis, base = metrics.get(c.basis), numbers.get(c.base)
    tier = next((t for t in c.tiers if t.id == line.tier), None)
    label = policy.metrics[c.basis].label
    if tier is None or basis is None or base is None:
        return CommissionPart(
            None, None, c.basis, label, basis, None, None, c.mode, None, c.base, base, line.commission,
            line.commission, line.bonus,
        )  # fmt: skip
    money = commission_for(policy, tier, base, basis)
    index = c.tiers.index(tier)
    slices: tuple[Slice, ...] = ()
    if c.mode == "marginal":
        slices = tuple(
            Slice(t.label, (Decimal(f.numerator) / Decimal(f.denominator)).quantize(_CENT, ROUND_HALF_UP), t.rate)
            for t, f in marginal_slices(c, tier, base, basis)
        )
    return CommissionPart(
        tier.id, tier.label, c.basis, label, basis, tier.lower, c.tier_upper(index), c.mode,
        tier.rate, c.base, base, money.uncapped, line.commission, line.bonus, slices,
    )  # fmt: skip


def award_parts(policy: Policy, line: Line) -> tuple[AwardPart, ...]:
    """The line's awards and honours with their positions (what the notice's honour roll lists)."""
    return tuple(_award(policy, line, a.id, a.label, a.amount, a.period, a.honour) for a in line.awards)


def _award(
    policy: Policy, line: Line, award_id: str, label: str, amount: Decimal, period: str, honour: bool
) -> AwardPart:
    """The award with the position its rule gave, read from the rule that fired (`award:<id>.<n>`);
    an honour's rule says only that the rep is within its top n, so a position is said for a top 1 only."""
    if honour:
        award = next((a for a in policy.awards if a.id == award_id), None)
        position = 1 if isinstance(award, RankAward) and award.top == 1 else None
        return AwardPart(award_id, label, amount, period, honour, position)
    position = None
    for fired in _why_of(line, period):
        rule = fired.rule
        if rule.question == f"award:{award_id}" and str(rule.outcome).isdigit():
            position = int(str(rule.outcome))  # a prize's index is the position it is paid for
            break
    return AwardPart(award_id, label, amount, period, honour, position)


def _why_of(line: Line, period: str) -> tuple[Fired, ...]:
    """The fired records of the line that decided an award of `period` (a quarter's month, or itself)."""
    for m in line.months:
        if m.period == period:
            return m.why
    return line.why


def _score(policy: Policy, line: Line) -> ScorePart | None:
    score = line.score
    if score is None:
        return None
    kpis = tuple(
        KpiPart(
            k.metric,
            k.label,
            v,
            k.target,
            k.weight,
            k.cap,
            k.cap is not None and v.compare(EXACT.multiply(k.cap, k.target)) > 0,
            policy.metrics[k.metric].is_ratio,
        )
        for k, v in zip(score.card.kpis, score.values, strict=True)
    )
    return ScorePart(score.display, line.rating, kpis)


def _eligibility(policy: Policy, line: Line) -> tuple[EligibilityPart, ...]:
    kind = "quarter" if line.months else "month"
    return tuple(
        EligibilityPart(e.id, e.label, e.period, line.flags.get(e.id, False) if e.period == kind else None)
        for e in policy.eligibility
    )


# ------------------------------------------------------------------ distance to the next step
def next_steps(
    policy: Policy, line: Line, numbers: dict[str, Decimal | None], metrics: dict[str, Ratio | None]
) -> tuple[NextStep, ...]:
    """The next tier (month lines: tiers are decided per month) and the next light above the
    line's own, each with the least amount of the metric's numerator column that reaches it."""
    steps: list[NextStep] = []
    c = policy.commission
    basis = metrics.get(c.basis) if c is not None else None
    if c is not None and not line.months and basis is not None:
        # the first tier above the reached one that the basis is still short of (tiers may have gaps)
        reached = next((i for i, t in enumerate(c.tiers) if t.id == line.tier), -1)
        tier = next((t for t in c.tiers[reached + 1 :] if basis.compare(t.lower) < 0), None)
        if tier is not None:
            step = _gap(policy, c.basis, numbers, tier.lower, inclusive=True)
            if step is not None:
                column, money, gap = step
                steps.append(
                    NextStep("tier", tier.id, tier.label, column, money, gap, tier.lower, True, tier.rate, tier.bonus)
                )
    w = policy.warning
    if w is not None and line.light is not None and metrics.get(w.metric) is not None:
        above = _band_above(w.bands, line.light)
        if above is not None and above.lower is not None:
            step = _gap(policy, w.metric, numbers, above.lower.value, inclusive=above.lower.inclusive)
            if step is not None:
                column, money, gap = step
                steps.append(
                    NextStep(
                        "light", above.light, above.label, column, money, gap, above.lower.value, above.lower.inclusive
                    )
                )
    return tuple(steps)


def _band_above(bands: tuple[Band, ...], light: str) -> Band | None:
    """The band whose lower end is the nearest above the current band's (None at the top)."""
    current = next((b for b in bands if b.light == light), None)
    if current is None or current.upper is None:
        return None
    higher = [b for b in bands if b.lower is not None and b.lower.value >= current.upper.value and b is not current]
    return min(higher, key=lambda b: (b.lower.value, not b.lower.inclusive), default=None)  # type: ignore[union-attr]


def _gap(
    policy: Policy, metric_name: str, numbers: dict[str, Decimal | None], threshold: Decimal, *, inclusive: bool
) -> tuple[str, bool, Decimal] | None:
    """(column, is money, least more of it) that brings `numerator / denominator` to the threshold:
    numerator' >= denominator x threshold (or > when the bound is exclusive), in the column's unit."""
    m = policy.metrics[metric_name]
    if m.column is not None:
        column, denominator = m.column, _ONE
    else:
        if m.numerator is None or m.denominator is None:
            return None
        column = m.numerator
        denominator_value = numbers.get(m.denominator) if not _is_constant(m.denominator) else Decimal(m.denominator)
        if denominator_value is None or denominator_value <= 0:
            return None
        denominator = denominator_value
    current = numbers.get(column)
    if current is None:
        return None
    money = column in MONEY_COLUMNS
    unit = _CENT if money else _ONE
    needed = EXACT.multiply(denominator, threshold)
    if inclusive:
        least = (needed / unit).to_integral_value(rounding=ROUND_CEILING) * unit
    else:
        least = ((needed / unit).to_integral_value(rounding=ROUND_FLOOR) + 1) * unit
    gap = least - current
    return (column, money, gap.quantize(unit)) if gap > 0 else None


def _is_constant(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def tier_of(policy: Policy, tier_id: str | None) -> Tier | None:
    """The policy's tier with this id (None for no tier)."""
    c = policy.commission
    return None if c is None or tier_id is None else next((t for t in c.tiers if t.id == tier_id), None)
