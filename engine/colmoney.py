"""Money over whole columns: `amount * rate` rounded as the policy's `Rounding` rounds, exactly.

`Rounding.apply` is `Decimal.quantize(quantum, mode)`: it rounds to the quantum's exponent (0.01:
whole cents) by the mode (half-up, half-even, down, up; each symmetric about zero, as Decimal's).
`round_quotients` does the same on integer quotients `num / den` a column at a time: the whole
part and the remainder by integer division, the mode decided on `2 * remainder` against `den`.
No float is involved; columns that could overflow int64 are Python integers (`engine.colnum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from engine.colnum import LIMIT, Array, Column, widen
from engine.policy import Policy

MODES = ("half-up", "half-even", "down", "up")


def round_quotients(num: Array, den: Array, mode: str) -> Array:
    """round(num / den) to a whole number by `mode`, for den > 0 (integer arrays, any sign of num)."""
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}")
    negative = num < 0
    magnitude = np.where(negative, -num, num)
    whole = magnitude // den  # floor_divide: numpy has no divmod for Python integers
    rest = magnitude - whole * den
    if mode == "up":
        whole = whole + (rest > 0)
    elif mode == "half-up":
        whole = whole + (2 * rest >= den)
    elif mode == "half-even":
        twice = 2 * rest
        whole = whole + ((twice > den) | ((twice == den) & (whole % 2 == 1)))
    return np.where(negative, -whole, whole)


def quantum_exponent(quantum: Decimal) -> int:
    """The exponent `Decimal.quantize(quantum)` rounds to (0.01 -> -2, 1 -> 0, 0.05 -> -2)."""
    exponent = quantum.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


def money_products(ints: Array, scale: int, bound: int, rates: Sequence[Decimal], quantum: Decimal, mode: str) -> Array:
    """round((ints[i] / 10**scale) * rates[i]) in units of the quantum's exponent, by `mode`.

    Per line: amount * rate = ints * a / (10**scale * b) with rate = a / b; in units of 10**e
    (e = the quantum's exponent) that is ints * a * 10**-e / (10**scale * b), rounded."""
    e = quantum_exponent(quantum)
    pairs = [r.as_integer_ratio() for r in rates]
    up = 10 ** max(-e, 0)
    down = 10 ** max(e, 0)
    nums = [a * up for a, _ in pairs]
    dens = [b * 10**scale * down for _, b in pairs]
    num_bound = bound * max((abs(n) for n in nums), default=1)
    den_bound = max(dens, default=1)
    top = max(num_bound, 2 * den_bound)
    wide = top >= LIMIT
    a = np.array(nums, dtype=object if wide else np.int64)
    b = np.array(dens, dtype=object if wide else np.int64)
    return round_quotients(widen(ints, top) * a, b, mode)


def as_money(units: Array, quantum: Decimal) -> list[Decimal]:
    """Integers in units of the quantum's exponent as the Decimals `quantize` returns (4800.01, 0.00)."""
    e = quantum_exponent(quantum)
    return [Decimal(k).scaleb(e) for k in units.tolist()]


def flat_commissions(policy: Policy, base: Column, lines: list[int], rates: list[Decimal]) -> list[Decimal | None]:
    """`engine.tiers.flat_payer(policy)(rate, base)` for the given lines of a base column: the whole
    base at the line's rate, rounded as the policy rounds, capped. None where a line is left to the
    per-line way (a base not above 0 or a negative rate, where Decimal could round to -0.00)."""
    rounding = policy.rounding
    index = np.array(lines, dtype=np.intp)
    ints = base.ints[index]
    units = money_products(ints, base.scale, base.bound, rates, rounding.quantum, rounding.mode)
    amounts: list[Decimal | None] = list(as_money(units, rounding.quantum))
    cap = policy.commission.cap if policy.commission is not None else None
    if cap is not None:
        capped = policy.money(cap)
        amounts = [capped if a is not None and a > cap else a for a in amounts]
    for j in np.flatnonzero(ints <= 0).tolist():
        amounts[j] = None
    for j, rate in enumerate(rates):
        if rate < 0:
            amounts[j] = None
    return amounts
