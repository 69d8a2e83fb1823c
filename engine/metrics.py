"""Metric values as exact ratios, so a boundary written as 80% is exactly 80%.

`181071.36 / 226339.20` is 0.8 exactly, but 0.7999999... as a float. A `Ratio` keeps numerator
and denominator as `Decimal` and compares against a threshold by cross-multiplication under a
wide context, which is exact for every amount a fact file can hold. Its `value` (a 28-digit
quotient) is only for display and for arithmetic the policy rounds anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_DOWN, Context, Decimal

from engine.policy import Metric

EXACT = Context(prec=200)  # products of two fact-sized decimals never round here
_DISPLAY_PLACES = Decimal("1e-10")
_ONE = Decimal(1)
NEAR = Decimal("1e-18")  # see Ratio: below this distance only exact arithmetic decides


class Ratio:
    """numerator / denominator with denominator > 0, immutable.

    `value` is the 28-digit quotient. `compare` trusts it unless it lies within 1e-18 of the
    threshold (relative), where a rounded quotient could sit on the wrong side; there it decides
    by exact cross-multiplication. Fact amounts have at most ~17 significant digits, so two
    different ratios of them are never closer than that to a threshold without being on it.
    """

    __slots__ = ("denominator", "numerator", "value")

    def __init__(self, numerator: Decimal, denominator: Decimal = _ONE) -> None:
        self.numerator = numerator
        self.denominator = denominator
        self.value = numerator if denominator == _ONE else numerator / denominator

    def compare(self, threshold: Decimal) -> int:
        """-1, 0 or 1 as this ratio is below, equal to or above `threshold`, exactly."""
        diff = self.value - threshold
        if abs(diff) > NEAR * (abs(threshold) + _ONE):
            return 1 if diff > 0 else -1
        right = EXACT.multiply(threshold, self.denominator)
        if self.numerator < right:
            return -1
        return 1 if self.numerator > right else 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ratio) and EXACT.multiply(self.numerator, other.denominator) == EXACT.multiply(
            other.numerator, self.denominator
        )

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Ratio({self.numerator!r}, {self.denominator!r})"

    def __str__(self) -> str:
        return format_ratio(self)


def format_ratio(r: Ratio) -> str:
    """Exact when the quotient terminates within 10 decimals, else truncated (never rounded up)."""
    if r.denominator == _ONE:
        return _plain(r.numerator)
    text = _plain(r.value.quantize(_DISPLAY_PLACES, rounding=ROUND_DOWN))
    if "." not in text:
        return text + ".00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _plain(d: Decimal) -> str:
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(value: Decimal) -> str:
    """0.015 -> '1.5%', 1 -> '100%'."""
    return _plain((value * 100).normalize()) + "%"


def metric_value(metric: Metric, numbers: Mapping[str, Decimal | None]) -> Ratio | None:
    """The metric for one line of facts; None when a column it reads is blank or absent."""
    if metric.column is not None:
        v = numbers.get(metric.column)
        return None if v is None else Ratio(v)
    assert metric.numerator is not None and metric.denominator is not None
    num = numbers.get(metric.numerator)
    den_name = metric.denominator
    den = numbers.get(den_name) if den_name in numbers else _constant(den_name)
    if num is None or den is None:
        return None
    if den == 0:
        return None if metric.on_zero is None else Ratio(metric.on_zero)
    return Ratio(num, den)


Numbers = Mapping[str, Decimal | None]


def metric_function(metric: Metric) -> Callable[[Numbers], Ratio | None]:
    """`metric_value(metric, numbers)` specialised to one metric, for a loop over many lines."""
    col = metric.column
    if col is not None:

        def column_value(numbers: Numbers) -> Ratio | None:
            v = numbers.get(col)
            return None if v is None else Ratio(v)

        return column_value
    assert metric.numerator is not None and metric.denominator is not None
    num_name, den_name, on_zero = metric.numerator, metric.denominator, metric.on_zero
    constant = _constant(den_name)

    def ratio_value(numbers: Numbers) -> Ratio | None:
        num = numbers.get(num_name)
        den = numbers.get(den_name) if den_name in numbers else constant
        if num is None or den is None:
            return None
        if den == 0:
            return None if on_zero is None else Ratio(on_zero)
        return Ratio(num, den)

    return ratio_value


def metric_available(metric: Metric) -> Callable[[Numbers], bool]:
    """Whether `metric_value(metric, numbers)` is not None, without computing the ratio."""
    col = metric.column
    if col is not None:
        return lambda numbers: numbers.get(col) is not None
    assert metric.numerator is not None and metric.denominator is not None
    num_name, den_name, on_zero = metric.numerator, metric.denominator, metric.on_zero
    constant = _constant(den_name)

    def available(numbers: Numbers) -> bool:
        den = numbers.get(den_name) if den_name in numbers else constant
        if numbers.get(num_name) is None or den is None:
            return False
        return on_zero is not None or den != 0

    return available


def missing_lines(metric: Metric, numbers: Sequence[Numbers]) -> list[int]:
    """The lines (by index) on which `metric_available(metric)` is false, a whole column at once."""
    col = metric.column
    if col is not None:
        return [i for i, n in enumerate(numbers) if n.get(col) is None]
    assert metric.numerator is not None and metric.denominator is not None
    num, den, on_zero = metric.numerator, metric.denominator, metric.on_zero
    constant = _constant(den)  # `numbers.get(den, constant)`: the column when present, else the literal
    if on_zero is None:
        return [i for i, n in enumerate(numbers) if n.get(num) is None or (d := n.get(den, constant)) is None or d == 0]
    return [i for i, n in enumerate(numbers) if n.get(num) is None or n.get(den, constant) is None]


def _constant(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
