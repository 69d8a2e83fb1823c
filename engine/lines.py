"""Result lines: what an evaluation decided for each rep, and what can be derived again from it.

Kept apart from the evaluator so that the output contract (`engine.results`), the explanation
text (`engine.explain`) and the simulator read lines without importing the code that decides.

A `Line` stores decisions (light, tier, money, awards, rating, flags, warnings, the rules that
fired) and a reference to its facts; numbers, metric values, score, explanation text and
month-on-month change are recomputed on demand by the same functions that decided, so a line
costs a few hundred bytes (docs/architecture.md, "Performance").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from engine.facts import FactRow
from engine.metrics import Ratio, format_ratio, metric_value
from engine.policy import Metric, Policy
from engine.rules import Rule
from engine.scorecard import Score, score_of
from engine.tiers import money_text

ZERO = Decimal("0.00")
_SUM_START = Decimal(0)  # sums start here, as `sum(values, Decimal(0))` does
NO_FLAGS: Mapping[str, bool] = MappingProxyType({})


@dataclass(slots=True)
class AwardLine:
    """One award a line receives: payroll pays `amount` for `period` (an honour pays nothing)."""

    id: str
    label: str
    amount: Decimal
    period: str
    honour: bool = False


class Payout:
    """What a result line pays: commission + bonus + awards, summed the one way every output sums."""

    __slots__ = ()
    commission: Decimal
    bonus: Decimal
    awards: Sequence[AwardLine]

    @property
    def award_total(self) -> Decimal:
        """The line's awards in money (honours count 0)."""
        return sum((a.amount for a in self.awards), ZERO)

    @property
    def total(self) -> Decimal:
        """Commission + bonus + awards: the amount the rep is paid for the line."""
        return self.commission + self.bonus + self.award_total


Render = Callable[["Derived", Rule, Any], str]


class Fired:
    """A rule that fired for a line, and how to say why (the words are made only when read).

    `render(derived, rule, arg)` writes the explanation from what the line derives again (its
    metric values, score, commission); `render=None` means `arg` already is the text (a group
    award's sentence, shared by every member). Records without a per-line argument are shared
    between lines, so a decision costs a line one reference.
    """

    __slots__ = ("arg", "render", "rule")

    def __init__(self, rule: Rule, render: Render | None, arg: Any = None) -> None:
        self.rule = rule
        self.render = render
        self.arg = arg

    def text(self, derived: Derived) -> str:
        """The explanation line: `[rule id] sentence`."""
        body = self.arg if self.render is None else self.render(derived, self.rule, self.arg)
        return f"[{self.rule.id}] {body}"


class Context:
    """What every line of one evaluation derives its descriptive fields with."""

    def __init__(self, policy: Policy, columns: tuple[str, ...]) -> None:
        self.policy = policy
        self.columns = columns
        self.metric_items: tuple[tuple[str, Metric], ...] = tuple(policy.metrics.items())

    def metrics_of(self, numbers: Mapping[str, Decimal | None]) -> dict[str, Ratio | None]:
        """Every metric of the policy on these numbers (None: not available)."""
        return {name: metric_value(m, numbers) for name, m in self.metric_items}


class Line(Payout):
    """One rep's result for one period (a quarter line holds its month lines).

    Stored: identity, the decisions and the money. Derived on demand (same functions, same
    values as when the decisions were taken): `numbers`, `metrics`, `score`, `explanation`,
    `rules`, `mom`. A month line derives from its `row`, a quarter line from its `months`.
    """

    __slots__ = (
        "awards", "bonus", "commission", "context", "flags", "light", "manager_id", "months", "name",
        "period", "previous_actual", "product_line", "rating", "region", "rep_id", "row", "tier", "totals", "warnings",
        "why",
    )  # fmt: skip

    def __init__(
        self,
        rep_id: str,
        name: str | None,
        region: str | None,
        product_line: str | None,
        manager_id: str | None,
        period: str,
        context: Context,
        row: FactRow | None = None,
        months: tuple[Line, ...] = (),
        totals: Mapping[str, Decimal | None] | None = None,
    ) -> None:
        """`totals`: a quarter line's numbers as the evaluator summed them (shared, read-only)."""
        self.rep_id = rep_id
        self.name = name
        self.region = region
        self.product_line = product_line
        self.manager_id = manager_id
        self.period = period
        self.context = context
        self.row = row
        self.months = months
        self.totals = totals
        self.light: str | None = None
        self.tier: str | None = None
        self.commission = ZERO
        self.bonus = ZERO
        self.awards: tuple[AwardLine, ...] = ()
        self.rating: str | None = None
        self.flags: Mapping[str, bool] = NO_FLAGS
        self.warnings: tuple[str, ...] = ()
        self.why: tuple[Fired, ...] = ()
        self.previous_actual: Decimal | None = None

    def __repr__(self) -> str:
        return f"Line({self.rep_id!r}, {self.period!r}, light={self.light!r}, tier={self.tier!r}, total={self.total})"

    # ------------------------------------------------------------------ decided
    @property
    def rules(self) -> list[str]:
        """Ids of the rules that decided something for this line, in the order they fired."""
        return [f.rule.id for f in self.why]

    @property
    def month_lines(self) -> Sequence[Line]:
        """The month lines a result stands for: a quarter's months, or the month line itself."""
        return self.months or (self,)

    def warn(self, text: str) -> None:
        """Note what could not be decided (output as the line's warnings)."""
        self.warnings += (text,)

    # ------------------------------------------------------------------ derived
    @property
    def numbers(self) -> dict[str, Decimal | None]:
        """The facts the line was evaluated on (a quarter: its months' column totals)."""
        if self.row is not None:
            return row_numbers(self.row)
        if self.totals is not None:
            return dict(self.totals)
        return sum_rows([m.row for m in self.months], self.context.columns)  # type: ignore[misc]

    @property
    def metrics(self) -> dict[str, Ratio | None]:
        """Every metric's value on the line's numbers."""
        return self.context.metrics_of(self.numbers)

    def numbers_of(self, columns: Sequence[str | None]) -> dict[str, Decimal | None]:
        """`numbers` as far as these columns go: a quarter line sums only them (month lines have
        them all at hand)."""
        if self.row is not None:
            return row_numbers(self.row)
        have = self.context.columns
        if self.totals is not None:
            return {c: self.totals.get(c) for c in columns if c is not None and c in have}
        return sum_rows([m.row for m in self.months], [c for c in columns if c is not None and c in have])  # type: ignore[misc]

    def number(self, column: str) -> Decimal | None:
        """One of `numbers` (target and actual without building the others)."""
        row = self.row
        if row is not None and (column == "target" or column == "actual"):
            return row.target if column == "target" else row.actual
        if self.totals is not None:
            return self.totals.get(column)
        return self.numbers_of((column,)).get(column)

    def metric(self, name: str) -> Ratio | None:
        """One metric's value (None when the policy has no such metric or it is not available)."""
        m = self.context.policy.metrics.get(name)
        return None if m is None else metric_value(m, self.numbers_of(metric_reads(m)))

    @property
    def score(self) -> Score | None:
        """The scorecard's score, on lines of the scorecard's own period."""
        card = self.context.policy.scorecard
        if card is None or card.period != ("quarter" if self.months else "month"):
            return None
        return score_of(card, self.metrics)

    @property
    def explanation(self) -> list[str]:
        """Why, one sentence per rule that fired (empty when evaluated without explanations)."""
        return Derived(self).explanation()

    @property
    def mom(self) -> dict[str, str] | None:
        """Month-on-month change of actual, on month lines that have a previous month."""
        if self.previous_actual is None or self.row is None:
            return None
        return change(self.previous_actual, self.row.actual)


class Derived:
    """One line's derived values, each computed at most once: what writing the line out reads."""

    __slots__ = ("_metrics", "_numbers", "_score", "line")

    def __init__(self, line: Line) -> None:
        self.line = line
        self._numbers: dict[str, Decimal | None] | None = None
        self._metrics: dict[str, Ratio | None] | None = None
        self._score: tuple[Score | None] | None = None

    @property
    def numbers(self) -> dict[str, Decimal | None]:
        """`Line.numbers`, once."""
        if self._numbers is None:
            self._numbers = self.line.numbers
        return self._numbers

    @property
    def metrics(self) -> dict[str, Ratio | None]:
        """`Line.metrics`, once."""
        if self._metrics is None:
            self._metrics = self.line.context.metrics_of(self.numbers)
        return self._metrics

    @property
    def score(self) -> Score | None:
        """`Line.score`, once."""
        if self._score is None:
            card = self.line.context.policy.scorecard
            kind = "quarter" if self.line.months else "month"
            self._score = (None if card is None or card.period != kind else score_of(card, self.metrics),)
        return self._score[0]

    def explanation(self) -> list[str]:
        """Every fired rule's sentence, in firing order."""
        return [f.text(self) for f in self.line.why]


def metric_reads(m: Metric) -> tuple[str | None, ...]:
    """The names `metric_value(m, numbers)` looks up in `numbers`."""
    return (m.column, m.numerator, m.denominator)


def row_numbers(row: FactRow) -> dict[str, Decimal | None]:
    """A month's numbers as metrics read them: target, actual and every other number column."""
    numbers: dict[str, Decimal | None] = {"target": row.target, "actual": row.actual}
    numbers.update(row.numbers)
    return numbers


def sum_rows(rows: Sequence[FactRow], columns: Sequence[str]) -> dict[str, Decimal | None]:
    """Column totals of the rows' numbers (blank in every row stays None), without building each
    row's dict first: a quarter line's numbers are its months' rows summed."""
    out: dict[str, Decimal | None] = {}
    if not rows:
        return dict.fromkeys(columns)
    numbers = [r.numbers for r in rows]
    for col in columns:
        if col == "target":
            out[col] = sum([r.target for r in rows], _SUM_START)
        elif col == "actual":
            out[col] = sum([r.actual for r in rows], _SUM_START)
        else:
            values = [v for n in numbers if (v := n.get(col)) is not None]
            out[col] = sum(values, _SUM_START) if values else None
    return out


def change(previous: Decimal, current: Decimal) -> dict[str, str]:
    """Month-on-month change as output shows it (`mom`)."""
    out = {"previous_actual": money_text(previous), "change": money_text(current - previous)}
    if previous != 0:
        out["change_ratio"] = format_ratio(Ratio(current - previous, previous))
    return out
