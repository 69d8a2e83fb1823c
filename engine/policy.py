"""The policy model: what HR wrote in YAML, as typed, immutable Python values, and the library of
versions that picks the one in force for a period.

Model only: the text becomes a `Policy` in `engine.frontend` (yaml -> schema -> lint -> build),
and files and folders are read by `runtime.policies`. Every value here has passed those gates, so
the evaluator can trust every field; thresholds, rates and amounts are `Decimal`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from engine.periods import Month, Period, months_of, parse_period
from engine.problems import MeritInputError, Problem

ROUNDING_MODES = {
    "half-up": ROUND_HALF_UP,
    "half-even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}


@dataclass(frozen=True)
class Rounding:
    quantum: Decimal
    mode: str

    def apply(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.quantum, rounding=ROUNDING_MODES[self.mode])


@dataclass(frozen=True)
class Clawback:
    """How money paid but no longer owed (a negative adjustment) is recovered: from each later
    payout at most `max_share` of it (rounded by the policy's `rounding`), the rest carried as the
    rep's balance. Without a `clawback` block the whole balance is taken from the next payout."""

    max_share: Decimal = Decimal(1)


@dataclass(frozen=True)
class Metric:
    """A named quantity: a ratio of two fact columns (or a column over a constant), or one column."""

    name: str
    label: str
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None  # a column name, or a decimal constant written as a string
    on_zero: Decimal | None = None  # value when the denominator is zero; None: metric not available

    @property
    def is_ratio(self) -> bool:
        return self.column is None

    @property
    def columns(self) -> tuple[str, ...]:
        if self.column is not None:
            return (self.column,)
        cols = [self.numerator or ""]
        if self.denominator is not None and not _is_number(self.denominator):
            cols.append(self.denominator)
        return tuple(cols)


@dataclass(frozen=True)
class Bound:
    """One end of an interval: `value` and whether the interval includes it."""

    value: Decimal
    inclusive: bool


@dataclass(frozen=True)
class Band:
    light: str
    label: str
    lower: Bound | None  # None: unbounded below
    upper: Bound | None  # None: unbounded above


@dataclass(frozen=True)
class Warning_:
    metric: str
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Tier:
    id: str
    label: str
    lower: Decimal  # inclusive
    upper: Decimal | None  # exclusive; None: up to the next tier (or unbounded for the last)
    rate: Decimal
    bonus: Decimal


@dataclass(frozen=True)
class Commission:
    basis: str  # metric that selects the tier
    base: str  # fact column the rate applies to
    mode: str  # "flat" | "marginal"
    tiers: tuple[Tier, ...]
    cap: Decimal | None

    def tier_upper(self, index: int) -> Decimal | None:
        """Exclusive upper end of tier `index`: its own `to`, else the next tier's `from`."""
        tier = self.tiers[index]
        if tier.upper is not None:
            return tier.upper
        return self.tiers[index + 1].lower if index + 1 < len(self.tiers) else None


@dataclass(frozen=True)
class GroupAward:
    id: str
    label: str
    period: str  # "month" | "quarter"
    group_by: str  # "region" | "product_line"
    metric: str
    threshold: Bound
    amount: Decimal  # per member


@dataclass(frozen=True)
class RankAward:
    """Money (or, with no prizes, an honour) for the best `len(prizes)` or `top` reps."""

    id: str
    label: str
    period: str
    rank_by: str  # a fact column (summed over the period) or a metric
    order: str  # "desc" | "asc"
    prizes: tuple[Decimal, ...]  # empty for an honour
    top: int
    ties: str  # "same_rank" | "split"

    @property
    def is_honour(self) -> bool:
        return not self.prizes


@dataclass(frozen=True)
class Kpi:
    metric: str
    label: str
    target: Decimal
    weight: Decimal
    cap: Decimal | None


@dataclass(frozen=True)
class RatingBand:
    rating: str
    lower: Decimal  # inclusive score


@dataclass(frozen=True)
class Scorecard:
    period: str
    kpis: tuple[Kpi, ...]
    ratings: tuple[RatingBand, ...]  # sorted by lower, descending


@dataclass(frozen=True)
class Condition:
    value: str  # "rank", "red_months", "yellow_months", "green_months", "months", or a metric name
    op: str  # "<", "<=", "==", "!=", ">=", ">"
    than: Decimal


@dataclass(frozen=True)
class EligibilityRule:
    id: str
    label: str
    period: str
    rank_by: str | None
    order: str
    conditions: tuple[Condition, ...]


Award = GroupAward | RankAward


@dataclass(frozen=True)
class Crediting:
    """When a deal credits its contract amount (`crediting:`): once signed and at least
    `collected_at_least` of the amount (an exact fraction, 0.30 for "30%") is collected, to the
    month of the event at which that first holds, split by the deal's shares."""

    collected_at_least: Decimal
    shown: str  # as HR wrote it ("30%"), for explanations

    @property
    def fraction(self) -> tuple[int, int]:
        """The threshold as an exact integer ratio (3, 10): keys compare whole cents with it."""
        return self.collected_at_least.as_integer_ratio()


@dataclass(frozen=True)
class Policy:
    id: str
    version: str
    title: str
    effective_from: Month
    effective_to: Month | None
    currency: str
    rounding: Rounding
    metrics: Mapping[str, Metric]
    warning: Warning_ | None
    commission: Commission | None
    awards: tuple[Award, ...]
    scorecard: Scorecard | None
    eligibility: tuple[EligibilityRule, ...]
    objection_days: int
    sha256: str
    source: str
    text: str
    data: Mapping[str, Any]  # the validated document, for diffs and simulation edits
    clawback: Clawback = Clawback()
    crediting: Crediting | None = None  # how deals credit months; None: facts come as monthly totals

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """Fact columns beyond the standard ones that this policy's metrics read."""
        from engine.facts import STANDARD_NUMBER_COLUMNS

        cols = {c for m in self.metrics.values() for c in m.columns}
        return tuple(sorted(cols - set(STANDARD_NUMBER_COLUMNS)))

    def in_force(self, month: Month) -> bool:
        return self.effective_from <= month and (self.effective_to is None or month <= self.effective_to)

    @property
    def ref(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    def money(self, amount: Decimal) -> Decimal:
        return self.rounding.apply(amount)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


class PolicyLibrary:
    """The versions of one or more policies; picks the version in force for a period."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(sorted(policies, key=lambda p: (p.id, p.effective_from, p.version)))

    @classmethod
    def checked(cls, policies: Iterable[Policy], problems: Iterable[Problem] = ()) -> PolicyLibrary:
        """The library of `policies`, or MeritInputError with `problems` (those the caller met
        reading and compiling the versions) and every pair of versions a period could not choose
        between: all problems of all files at once, so HR fixes a library in one go."""
        versions = list(policies)
        found = [*problems, *_conflicts(versions)]
        if found:
            raise MeritInputError(found, kind="invalid-policy")
        return cls(versions)

    def for_period(self, period: Period | str) -> Policy:
        """The single version in force for every month of `period`."""
        per = parse_period(period) if isinstance(period, str) else period
        chosen: list[Policy] = []
        for month in months_of(per):
            in_force = [p for p in self.policies if p.in_force(month)]
            ids = {p.id for p in in_force}
            if not in_force:
                known = "; ".join(f"{p.version} ({_span(p)}, {p.source})" for p in self.policies)
                raise MeritInputError(
                    [Problem("policy", None, None, "", f"no policy version is in force for {month}; there is {known}")]
                )
            if len(in_force) > 1:
                names = ", ".join(f"{p.id} {p.version} ({p.source})" for p in in_force)
                detail = "several policies" if len(ids) > 1 else "overlapping versions"
                raise MeritInputError([Problem("policy", None, None, "", f"{detail} in force for {month}: {names}")])
            chosen.append(in_force[0])
        if len({p.sha256 for p in chosen}) > 1:
            names = ", ".join(f"{m}: {p.version}" for m, p in zip(months_of(per), chosen, strict=True))
            raise MeritInputError(
                [Problem("policy", None, None, "", f"the policy version changes within {per} ({names})")]
            )
        return chosen[0]


def _span(p: Policy) -> str:
    return f"{p.effective_from}..{p.effective_to}" if p.effective_to else f"from {p.effective_from}"


def _conflicts(policies: Sequence[Policy]) -> list[Problem]:
    """Versions of one policy that a period could not choose between: the same version twice, or
    date ranges that overlap (a version without effective_to runs on until a later one's start)."""
    problems: list[Problem] = []
    by_id: dict[str, list[Policy]] = {}
    for p in sorted(policies, key=lambda p: (p.id, p.effective_from, p.source)):
        by_id.setdefault(p.id, []).append(p)
    for versions in by_id.values():
        for i, later in enumerate(versions):
            for earlier in versions[:i]:
                if earlier.version == later.version:
                    why = f"version {later.version} is also {earlier.source}"
                    problems.append(Problem(later.source, None, None, "version", why))
                elif earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                    why = (
                        f"{later.version} ({_span(later)}) overlaps {earlier.version} ({_span(earlier)}, "
                        f"{earlier.source}): give {earlier.version} an effective_to before {later.effective_from}"
                    )
                    problems.append(Problem(later.source, None, None, "effective_from", why))
    return problems
