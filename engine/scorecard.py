"""The balanced scorecard: weighted KPI attainment as a score, and the score's rating.

score = sum(weight * min(metric / kpi target, cap)) * 100, so a rep exactly on every KPI target
scores 100. The score is computed with the default 28-digit context; only when it lies within 1e-18 of a
rating bound is it recomputed as an exact fraction, so a sum of thirds that is exactly 90 is 90.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from engine.metrics import Ratio, format_ratio, percent
from engine.policy import Scorecard

_NEAR = Decimal("1e-18")  # far above the 28-digit context's error on scores of a few hundred
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Score:
    value: Ratio  # exact enough to be compared with rating bounds by the rule engine
    display: Decimal  # two places, truncated
    card: Scorecard
    values: tuple[Ratio, ...]

    def parts(self) -> str:
        """The sum in words, for the explanation."""
        return " + ".join(
            f"{kpi.metric} {format_ratio(v)}/{kpi.target} x {percent(kpi.weight)}"
            for kpi, v in zip(self.card.kpis, self.values, strict=True)
        )


def score_of(card: Scorecard, metrics: Mapping[str, Ratio | None]) -> Score | None:
    """None when a KPI's metric is not available for this line."""
    values = []
    for kpi in card.kpis:
        v = metrics.get(kpi.metric)
        if v is None:
            return None
        values.append(v)
    total = Decimal(0)
    for kpi, v in zip(card.kpis, values, strict=True):
        attainment = v.value / kpi.target
        if kpi.cap is not None and attainment > kpi.cap:
            attainment = kpi.cap
        total += kpi.weight * attainment
    total *= _HUNDRED
    value = Ratio(total)
    if any(abs(total - r.lower) <= _NEAR for r in card.ratings):
        exact = _exact_score(card, values)
        value = Ratio(Decimal(exact.numerator), Decimal(exact.denominator))
    display = (value.numerator / value.denominator).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return Score(value, display, card, tuple(values))


def _exact_score(card: Scorecard, values: list[Ratio]) -> Fraction:
    total = Fraction(0)
    for kpi, v in zip(card.kpis, values, strict=True):
        attainment = Fraction(v.numerator) / Fraction(v.denominator) / Fraction(kpi.target)
        if kpi.cap is not None:
            attainment = min(attainment, Fraction(kpi.cap))
        total += Fraction(kpi.weight) * attainment
    return total * 100
