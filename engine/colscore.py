"""The scorecard's rating keys over whole columns, by exact rational arithmetic.

score = 100 * sum(weight * min(metric / kpi target, cap)) (`engine.scorecard`). Per line each
term is an exact fraction of integers (the metric's `engine.colnum.Parts`), the terms are summed
as fractions (Python integers in numpy `object` arrays: they outgrow int64) and the sum is
compared with every rating bound by cross-multiplication. That is exactly the comparison
`Scoring.value` + `Scale.key` make (28 digits, exact near a bound), without a Decimal per line.
A line whose metric the columns cannot speak for (`odd`, or a zero denominator with `on_zero`)
is scored the per-line way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from engine.colnum import Array, Frame, Parts
from engine.policy import Metric, Scorecard
from engine.rules import Scale


def score_keys(
    frame: Frame, card: Scorecard, metrics: Mapping[str, Metric], scale: Scale, per_line: Callable[[int], int | None]
) -> list[int | None]:
    """Each line's rating key: its exact score's position among `scale`'s bounds (None: a KPI's
    metric is not available); `per_line(i)` for the lines the columns leave to it."""
    n = frame.size
    none = np.zeros(n, bool)
    odd = np.zeros(n, bool)
    total_num: Array = np.zeros(n, dtype=object)
    total_den: Array = np.ones(n, dtype=object)
    for kpi in card.kpis:
        metric = metrics.get(kpi.metric)
        target_num, target_den = kpi.target.as_integer_ratio()
        if metric is None or target_num <= 0:
            return [per_line(i) for i in range(n)]
        parts = Parts(frame, metric)
        none |= parts.none
        odd |= parts.odd | parts.zero
        # attainment = (num / den) / target = num * target_den / (den * target_num)
        top = parts.num.astype(object) * target_den
        bottom = parts.den.astype(object) * target_num
        if kpi.cap is not None:
            cap_num, cap_den = kpi.cap.as_integer_ratio()
            over = top * cap_den > bottom * cap_num
            top = np.where(over, cap_num, top)
            bottom = np.where(over, cap_den, bottom)
        weight_num, weight_den = kpi.weight.as_integer_ratio()
        term_num, term_den = top * (100 * weight_num), bottom * weight_den
        total_num = total_num * term_den + term_num * total_den
        total_den = total_den * term_den
    keys = np.zeros(n, dtype=np.int64)
    for bound in scale.thresholds:
        a, b = bound.as_integer_ratio()
        left, right = total_num * b, total_den * a
        keys += 2 * (left > right).astype(np.int64) + (left == right).astype(np.int64)
    out: list[int | None] = [*keys.tolist()]
    for i in np.flatnonzero(none).tolist():
        out[i] = None
    for i in np.flatnonzero(odd).tolist():
        out[i] = per_line(i)
    return out
