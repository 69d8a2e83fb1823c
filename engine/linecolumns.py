"""The per-line columns of `engine.evaluation.Evaluator`: what its decisions read, a chunk at a time.

Each pass takes a chunk of lines' facts (month rows, or a quarter's rows per rep) and returns a
column: comparison keys of a metric (`engine.colnum`, exact integer cross-multiplication), the
warnings for metrics not available, metric values where a cross-line pass or an explanation
needs them. `engine.factcache` remembers each column per fact rows, so a simulation's scenario
computes again only the lines whose rows it changed. A line the columns cannot speak for goes
the per-line way (`_numbers` and the functions in `engine.metrics`), which decides identically.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from engine.across import Numbers, Stage
from engine.colnum import Columns, Frame, decimals, metric_keys, ratios, unavailable
from engine.columns import measure
from engine.factcache import FactsCache
from engine.facts import FactRow
from engine.lines import Line, row_numbers, sum_rows
from engine.metrics import Ratio, metric_function
from engine.plan import Plan
from engine.policy import Policy
from engine.rules import Scale


class LineColumns:
    """The per-line column passes (the evaluator's state they read, these methods)."""

    policy: Policy
    cache: FactsCache
    columns: tuple[str, ...]
    _last: Frame | None
    _months: dict[str, Columns]

    def _frame(self, items: Sequence[Any]) -> Frame:
        """The exact number columns of these lines' facts (the last chunk's, while it is the same)."""
        f = self._last
        if f is None or f.size != len(items) or not all(map(operator.is_, f.items, items)):
            f = self._last = Frame(items, self.columns)
        return f

    def _numbers(self, item: FactRow | tuple[FactRow, ...]) -> Numbers:
        """One line's numbers the per-line way (a month's row, a quarter's rows summed)."""
        return sum_rows(item, self.columns) if type(item) is tuple else row_numbers(item)  # type: ignore[arg-type]

    def _metric_keys(self, period: str, name: str, scale: Scale, items: Sequence[Any]) -> list[int | None]:
        """Each line's comparison key of a metric on a question's scale (None: no value), a column at once."""
        metric = self.policy.metrics.get(name)
        if metric is None:
            return [None] * len(items)
        value_of = metric_function(metric)

        def compute(todo: list[Any]) -> list[int | None]:
            def per_line(i: int) -> int | None:
                v = value_of(self._numbers(todo[i]))
                return None if v is None else scale.key(v)

            return metric_keys(self._frame(todo), metric, scale, per_line)

        return self.cache.columns(("keys", period, (name, metric), scale.thresholds), items, compute)

    def _warnings(self, plan: Plan, period: str, items: Sequence[Any]) -> list[tuple[str, ...]]:
        """Each line's warnings for the metrics not available on it (`engine.columns.measure`)."""

        def compute(todo: list[Any]) -> list[tuple[str, ...]]:
            frame = self._frame(todo)
            lines: set[int] = set()
            for _, m, _, available in plan.metrics:
                lines.update(unavailable(frame, m, partial(self._lacks, available, todo)))
            out: list[tuple[str, ...]] = [()] * len(todo)
            for i in lines:
                out[i] = measure(plan, self._numbers(todo[i]))[1]
            return out

        return self.cache.columns(("warnings", period, plan.metrics_signature), items, compute)

    def _lacks(self, available: Callable[[Numbers], bool], items: Sequence[Any], i: int) -> bool:
        return not available(self._numbers(items[i]))

    def _ratios(self, name: str, items: Sequence[Any]) -> list[Ratio | None]:
        """Each line's value of a metric, as `metric_value` makes it (for ranks, conditions, scores)."""
        metric = self.policy.metrics.get(name)
        if metric is None:
            return [None] * len(items)
        value_of = metric_function(metric)
        return ratios(self._frame(items), metric, lambda i: value_of(self._numbers(items[i])))

    def _staged(self, stage: Stage, lines: list[Line], items: Sequence[Any]) -> None:
        """Lines handed to the cross-line phase with the columns it reads of them."""
        plan, frame = stage.plan, self._frame(items)
        columns = {name: decimals(frame, name) for name in plan.cross_columns}
        metrics = {name: self._ratios(name, items) for name in plan.cross_metrics}
        stage.add(lines, columns, metrics)
