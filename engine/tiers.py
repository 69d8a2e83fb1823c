"""Commission money for a tier the rule engine chose.

The handbook pays the whole amount at the reached tier's rate (`flat`: 105% of target -> 2% of
all sales). `marginal` pays each slice of the basis at its own tier's rate, like tax brackets;
the slice of the base attributed to a tier is `base * (min(value, upper) - lower) / value`.
Rounding happens once, on the final commission, as the policy says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from engine.metrics import Ratio, percent
from engine.policy import Commission, Policy, Tier

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class CommissionResult:
    tier: Tier | None
    commission: Decimal
    bonus: Decimal
    how: Callable[[], str]

    def explanation(self) -> str:
        return self.how()


def money_text(amount: Decimal) -> str:
    """Money as a decimal string with at least two places."""
    text = format(amount, "f")
    dot = text.find(".")
    if dot < 0 or len(text) - dot < 3:  # fewer than two places (exponent > -2): show two
        return format(amount.quantize(_CENT), "f")
    return text


def round_fraction(value: Fraction, policy: Policy) -> Decimal:
    """Round an exact fraction to the policy's money rule without passing through a float."""
    q = policy.rounding.quantum
    scaled = value / Fraction(q)
    whole = scaled.numerator // scaled.denominator
    rest = scaled - whole
    mode = policy.rounding.mode
    if rest and (
        (mode == "up" and value > 0)
        or (mode == "half-up" and rest >= Fraction(1, 2))
        or (mode == "half-even" and (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1)))
    ):
        whole += 1
    return (Decimal(whole) * q).quantize(q)


def commission_for(policy: Policy, tier: Tier | None, base: Decimal, basis: Ratio) -> CommissionResult:
    c = policy.commission
    assert c is not None
    if tier is None:
        return CommissionResult(None, Decimal("0.00"), Decimal("0.00"), lambda: "no tier reached: no commission")
    bonus = policy.money(tier.bonus)
    parts: list[str] = []
    if c.mode == "marginal":
        raw, parts = _marginal(c, tier, base, basis)
        amount = round_fraction(raw, policy)
    else:
        amount = policy.money(base * tier.rate)
    uncapped = amount
    if c.cap is not None and amount > c.cap:
        amount = policy.money(c.cap)

    def how() -> str:
        if c.mode == "marginal":
            text = f"marginal: {' + '.join(parts)} = {money_text(uncapped)}"
        else:
            text = f"{percent(tier.rate)} of {money_text(base)} = {money_text(uncapped)}"
        if amount != uncapped:
            text += f", capped at {money_text(amount)}"
        return f"tier {tier.id} ({tier.label}): {text}, bonus {money_text(bonus)}"

    return CommissionResult(tier, amount, bonus, how)


def _marginal(c: Commission, reached: Tier, base: Decimal, basis: Ratio) -> tuple[Fraction, list[str]]:
    value = Fraction(basis.numerator) / Fraction(basis.denominator)
    total = Fraction(0)
    parts = []
    for i, tier in enumerate(c.tiers):
        upper = c.tier_upper(i)
        top = value if upper is None else min(value, Fraction(upper))
        if top <= tier.lower or value <= 0:
            continue
        slice_ = Fraction(base) * (top - Fraction(tier.lower)) / value
        total += slice_ * Fraction(tier.rate)
        parts.append(f"{percent(tier.rate)} of {money_text(Decimal(slice_.numerator) / Decimal(slice_.denominator))}")
        if tier is reached:
            break
    return total, parts
