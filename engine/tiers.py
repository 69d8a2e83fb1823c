"""Commission money for a tier the rule engine chose (money only: the words are `engine.explain`'s).

The handbook pays the whole amount at the reached tier's rate (`flat`: 105% of target -> 2% of
all sales). `marginal` pays each slice of the basis at its own tier's rate, like tax brackets;
the slice of the base attributed to a tier is `base * (min(value, upper) - lower) / value`.
Rounding happens once, on the final commission, as the policy says; the cap applies after it.
This module is the one place those rules are written.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from engine.metrics import Ratio
from engine.policy import Commission, Policy, Tier

_CENT = Decimal("0.01")


class CommissionMoney(NamedTuple):
    """What a tier pays a line: commission (rounded, capped), bonus, and the amount before the cap
    (the explanation shows both when the cap bites)."""

    commission: Decimal
    bonus: Decimal
    uncapped: Decimal


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


def capped(policy: Policy, amount: Decimal) -> Decimal:
    """The commission after the policy's cap (the cap itself rounded as money)."""
    cap = policy.commission.cap if policy.commission is not None else None
    return policy.money(cap) if cap is not None and amount > cap else amount


def flat_payer(policy: Policy) -> Callable[[Decimal, Decimal], Decimal]:
    """`flat` mode (the whole base at the reached tier's rate, rounded, capped) as a function of
    (rate, base), with the policy's rounding and cap looked up once: what the evaluator calls per line."""
    money = policy.money
    cap = policy.commission.cap if policy.commission is not None else None
    if cap is None:
        return lambda rate, base: money(base * rate)
    capped_amount = money(cap)

    def pay(rate: Decimal, base: Decimal) -> Decimal:
        amount = money(base * rate)
        return capped_amount if amount > cap else amount

    return pay


def commission_for(policy: Policy, tier: Tier, base: Decimal, basis: Ratio) -> CommissionMoney:
    """The money a reached tier pays on `base` (the commission base) at `basis` (its metric)."""
    c = policy.commission
    assert c is not None
    if c.mode == "marginal":
        amount = round_fraction(
            sum((s * Fraction(t.rate) for t, s in marginal_slices(c, tier, base, basis)), Fraction(0)), policy
        )
    else:
        amount = policy.money(base * tier.rate)
    return CommissionMoney(capped(policy, amount), policy.money(tier.bonus), amount)


def marginal_slices(c: Commission, reached: Tier, base: Decimal, basis: Ratio) -> list[tuple[Tier, Fraction]]:
    """`marginal` mode: each tier up to the reached one with the slice of the base it pays on."""
    value = Fraction(basis.numerator) / Fraction(basis.denominator)
    out = []
    for i, tier in enumerate(c.tiers):
        upper = c.tier_upper(i)
        top = value if upper is None else min(value, Fraction(upper))
        if top <= tier.lower or value <= 0:
            continue
        out.append((tier, Fraction(base) * (top - Fraction(tier.lower)) / value))
        if tier is reached:
            break
    return out
