"""The explanation text: every sentence a result line says about why it was decided so.

A renderer over decisions: the evaluator stores which rule fired (`engine.lines.Fired`) and
these functions write the words only when output asks for them (JSON, the table), from what the
line derives again by the same functions that decided. Evaluations made without explanations
(the simulator's) never call anything here. Tier money comes from `engine.tiers`; its wording
lives here with the rest.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from engine.lines import Derived, Line
from engine.metrics import Ratio, format_ratio, percent
from engine.policy import EligibilityRule, GroupAward, Policy, RankAward, Tier
from engine.rules import Rule
from engine.tiers import commission_for, marginal_slices, money_text

_percent = lru_cache(maxsize=1024)(percent)  # a tier's rate: the same few for every line


class Shown(Derived):
    """`Derived` for writing a line out: each metric's text is formatted once and shared by the
    line's `metrics` and its explanation (the light, tier and score sentences show the same values)."""

    __slots__ = ("_texts",)

    def __init__(self, line: Line) -> None:
        super().__init__(line)
        self._texts: dict[str, str | None] | None = None

    def metric_texts(self) -> dict[str, str | None]:
        """Every metric's value as output writes it (None: not available)."""
        if self._texts is None:
            self._texts = {k: None if v is None else format_ratio(v) for k, v in self.metrics.items()}
        return self._texts


def ratio_text(d: Derived, name: str) -> str:
    """`format_ratio(d.metrics[name])`, formatted once per line when `d` is `Shown`."""
    text = d.metric_texts().get(name) if isinstance(d, Shown) else None
    return format_ratio(d.metrics[name]) if text is None else text  # type: ignore[arg-type]


def with_value(rule: Rule, subject: str, value: str) -> str:
    """'achievement >= 0.80 and < 1.00' -> 'achievement 0.95 >= 0.80 and < 1.00'."""
    if rule.text.startswith(subject + " "):
        return f"{subject} {value}{rule.text[len(subject) :]}"
    return f"{subject} {value}: {rule.text}"


def light(d: Derived, rule: Rule, _: object) -> str:
    """Which warning band the line's metric fell in."""
    metric = d.line.context.policy.warning.metric  # type: ignore[union-attr]
    verdict = f"light {d.line.light}" if d.line.light else "no light (outside every band)"
    return f"{with_value(rule, metric, ratio_text(d, metric))} -> {verdict}"


def tier(d: Derived, rule: Rule, reached: Tier | None) -> str:
    """Which tier the basis reached, and the commission and bonus it pays."""
    policy = d.line.context.policy
    c = policy.commission
    assert c is not None
    basis = d.metrics[c.basis]
    how = commission_text(policy, reached, d.numbers[c.base], basis)  # type: ignore[arg-type]
    return f"{with_value(rule, c.basis, ratio_text(d, c.basis))} -> {how}"


def commission_text(policy: Policy, reached: Tier | None, base: Decimal, basis: Ratio) -> str:
    """How the commission was computed, as the handbook would say it."""
    if reached is None:
        return "no tier reached: no commission"
    c = policy.commission
    assert c is not None
    money = commission_for(policy, reached, base, basis)
    if c.mode == "marginal":
        parts = [
            f"{_percent(t.rate)} of {money_text(Decimal(s.numerator) / Decimal(s.denominator))}"
            for t, s in marginal_slices(c, reached, base, basis)
        ]
        text = f"marginal: {' + '.join(parts)} = {money_text(money.uncapped)}"
    else:
        text = f"{_percent(reached.rate)} of {money_text(base)} = {money_text(money.uncapped)}"
    if money.commission != money.uncapped:
        text += f", capped at {money_text(money.commission)}"
    return f"tier {reached.id} ({reached.label}): {text}, bonus {money_text(money.bonus)}"


def rating(d: Derived, rule: Rule, _: object) -> str:
    """The score, how it adds up, and the rating band it fell in."""
    score = d.score
    assert score is not None
    texts = d.metric_texts() if isinstance(d, Shown) else None
    return f"score {score.display} = ({score.parts(texts)}) x 100; {rule.text} -> rating {d.line.rating or 'none'}"


def eligibility(_: Derived, rule: Rule, arg: tuple[EligibilityRule, tuple[object, ...]]) -> str:
    """The conditions' values and whether they make the rep eligible."""
    rule_def, values = arg
    shown = ", ".join(f"{cond.value} {v}" for cond, v in zip(rule_def.conditions, values, strict=True))
    verdict = rule_def.label if rule.outcome else f"not {rule_def.label}"
    return f"{shown}: {rule.text} -> {verdict}"


def group_award(
    award: GroupAward,
    key: str,
    count: int,
    sums: dict[str, Decimal | None],
    rule: Rule,
    value: Ratio,
    amount: Decimal | None,
) -> str:
    """One sentence for a whole group: its sums, its metric and whether it reached the award."""
    sums_text = ", ".join(f"{c} {money_text(v)}" for c, v in sums.items() if v is not None)
    what = f"{award.label} {money_text(amount)} each" if amount is not None else f"no {award.label}"
    return (
        f"{award.group_by} {key} ({count} reps, {sums_text}): "
        f"{with_value(rule, award.metric, format_ratio(value))} -> {what}"
    )


def rank_head(award: RankAward, rank: int, tied: int, ranked: int, value: Ratio | Decimal | None) -> str:
    """'rank 2 of 12 by actual 181071.36 (tied with 1 other)'."""
    shown = format_ratio(value if isinstance(value, Ratio) else Ratio(value))  # type: ignore[arg-type]
    tie = f" (tied with {tied - 1} other{'s' if tied > 2 else ''})" if tied > 1 else ""
    return f"rank {rank} of {ranked} by {award.rank_by} {shown}{tie}"


def split_pool(rank: int, tied: int, pool: Decimal) -> str:
    """How tied reps share the prizes of the positions they occupy."""
    return f"positions {rank}-{rank + tied - 1} pool {money_text(pool)} split {tied} ways"


def metric_missing(name: str, missing: list[str], denominator: str | None) -> str:
    """The warning for a metric that could not be computed."""
    why = f"{', '.join(missing)} blank or absent" if missing else f"{denominator} is 0"
    return f"{name} not available: {why}"
