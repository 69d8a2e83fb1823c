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

from engine.metrics import EXACT, Ratio, format_ratio, percent
from engine.policy import Scorecard

_NEAR = Decimal("1e-18")  # far above the 28-digit context's error on scores of a few hundred
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Score:
    """A line's score with the parts its explanation shows (derived again when output asks)."""

    value: Ratio  # exact enough to be compared with rating bounds by the rule engine
    display: Decimal  # two places, truncated
    card: Scorecard
    values: tuple[Ratio, ...]

    def parts(self, texts: Mapping[str, str | None] | None = None) -> str:
        """The sum in words, for the explanation; a capped KPI says so, or the sum would not add up.
        `texts`: the metrics' values already formatted (`format_ratio`), by metric name."""
        words = []
        for (metric, over, bound, capped, weight), v in zip(_scoring(self.card).words, self.values, strict=True):
            shown = None if texts is None else texts.get(metric)
            part = f"{metric} {format_ratio(v) if shown is None else shown}{over}"
            if bound is not None and v.compare(bound) > 0:
                part += capped
            words.append(part + weight)
        return " + ".join(words)


def score_of(card: Scorecard, metrics: Mapping[str, Ratio | None]) -> Score | None:
    """None when a KPI's metric is not available for this line."""
    value = score_value(card, metrics)
    if value is None:
        return None
    values = tuple(metrics[kpi.metric] for kpi in card.kpis)
    display = (value.numerator / value.denominator).quantize(_CENT, rounding=ROUND_DOWN)
    return Score(value, display, card, values)  # type: ignore[arg-type]


def score_value(card: Scorecard, metrics: Mapping[str, Ratio | None]) -> Ratio | None:
    """The score the rating is decided on; None when a KPI's metric is not available."""
    return _scoring(card).value(metrics)


def _scoring(card: Scorecard) -> Scoring:
    scoring = _SCORINGS.get(id(card))
    if scoring is None or scoring.card is not card:
        if len(_SCORINGS) > 64:  # a process that has seen many policy versions
            _SCORINGS.clear()
        scoring = _SCORINGS[id(card)] = Scoring(card)
    return scoring


_SCORINGS: dict[int, Scoring] = {}  # by id: the Scoring keeps its card alive, so the id stays its


class Scoring:
    """A scorecard prepared for scoring many lines: what the evaluator's per-line loop calls.

    Only the score's value (what the rating is decided on): the display and the explanation's
    parts are `score_of`'s, made when a line is output.
    """

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.kpis = tuple((k.metric, k.target, k.weight, k.cap) for k in card.kpis)
        self.lowers = tuple(r.lower for r in card.ratings)
        #: per KPI, the constant words of `Score.parts`: metric, "/target", cap bound, " capped at ...", " x weight"
        self.words = tuple(
            (
                k.metric,
                f"/{k.target}",
                None if k.cap is None else EXACT.multiply(k.cap, k.target),
                "" if k.cap is None else f" capped at {percent(k.cap)}",
                f" x {percent(k.weight)}",
            )
            for k in card.kpis
        )

    def value(self, metrics: Mapping[str, Ratio | None]) -> Ratio | None:
        """The score's value for one line's metrics (None: a KPI metric not available); exact near a rating bound."""
        total = Decimal(0)
        for metric, target, weight, cap in self.kpis:
            v = metrics.get(metric)
            if v is None:
                return None
            attainment = v.value / target
            if cap is not None and attainment > cap:
                attainment = cap
            total += weight * attainment
        total *= _HUNDRED
        for lower in self.lowers:
            if abs(total - lower) <= _NEAR:  # too close to a rating bound for 28 digits: exactly
                exact = _exact_score(self.card, [metrics[kpi.metric] for kpi in self.card.kpis])  # type: ignore[misc]
                return Ratio(Decimal(exact.numerator), Decimal(exact.denominator))
        return Ratio(total)


def _exact_score(card: Scorecard, values: list[Ratio]) -> Fraction:
    total = Fraction(0)
    for kpi, v in zip(card.kpis, values, strict=True):
        attainment = Fraction(v.numerator) / Fraction(v.denominator) / Fraction(kpi.target)
        if kpi.cap is not None:
            attainment = min(attainment, Fraction(kpi.cap))
        total += Fraction(kpi.weight) * attainment
    return total * 100
