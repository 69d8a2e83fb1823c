"""The policy model: what HR wrote in YAML, as typed, immutable Python values.

A policy file passes three gates before it is a `Policy`: safe YAML with source positions
(`yamlsource`), the JSON Schema in `schemas/policy.schema.json` (shape), and the linter
(`lint`, meaning). Only then is it built here, so the evaluator can trust every field. Each
threshold, rate and amount is a `Decimal` read from the text, never from a float, and the content
hash is taken over a canonical form so reformatting a file does not change its identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

from engine.periods import Month, Period, months_of, parse_month, parse_period
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


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def canonical_sha256(data: Mapping[str, Any]) -> str:
    """Hash of the document's meaning: key order, comments and YAML layout do not count."""
    canonical = json.dumps(_scalars_as_text(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _scalars_as_text(value: Any) -> Any:
    """`bonus: 1000` and `bonus: "1000"` mean the same, so they hash the same."""
    if isinstance(value, Mapping):
        return {str(k): _scalars_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scalars_as_text(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return str(value)


def bounds_of(item: Mapping[str, Any]) -> tuple[Bound | None, Bound | None]:
    """The lower and upper ends a band or award writes as from/above and to/below (None: open)."""
    lower = upper = None
    if "from" in item:
        lower = Bound(_dec(item["from"]), True)
    elif "above" in item:
        lower = Bound(_dec(item["above"]), False)
    if "to" in item:
        upper = Bound(_dec(item["to"]), True)
    elif "below" in item:
        upper = Bound(_dec(item["below"]), False)
    return lower, upper


def build_policy(data: Mapping[str, Any], source: str, text: str) -> Policy:
    """Build the model from a schema-valid document (see `parse_policy` for the checked path)."""
    metrics = {
        name: Metric(
            name=name,
            label=str(m.get("label", name)),
            column=m.get("column"),
            numerator=m.get("numerator"),
            denominator=None if m.get("denominator") is None else str(m["denominator"]),
            on_zero=None if m.get("on_zero") is None else _dec(m["on_zero"]),
        )
        for name, m in (data.get("metrics") or {}).items()
    }
    warning = None
    if data.get("warning"):
        w = data["warning"]
        bands = []
        for b in w["bands"]:
            lower, upper = bounds_of(b)
            bands.append(Band(str(b["light"]), str(b.get("label", b["light"])), lower, upper))
        warning = Warning_(str(w["metric"]), tuple(bands))
    commission = None
    if data.get("commission"):
        c = data["commission"]
        tiers = tuple(
            Tier(
                id=str(t["id"]),
                label=str(t.get("label", t["id"])),
                lower=_dec(t["from"]),
                upper=None if t.get("to") is None else _dec(t["to"]),
                rate=_dec(t["rate"]),
                bonus=_dec(t.get("bonus", "0")),
            )
            for t in c["tiers"]
        )
        commission = Commission(
            basis=str(c["basis"]),
            base=str(c.get("base", "actual")),
            mode=str(c.get("mode", "flat")),
            tiers=tiers,
            cap=None if c.get("cap") is None else _dec(c["cap"]),
        )
    awards: list[Award] = []
    for a in data.get("awards") or []:
        if a["kind"] == "group":
            lower, _ = bounds_of(a)
            assert lower is not None  # the schema requires from/above
            awards.append(
                GroupAward(
                    id=str(a["id"]),
                    label=str(a.get("label", a["id"])),
                    period=str(a.get("period", "month")),
                    group_by=str(a.get("group_by", "region")),
                    metric=str(a["metric"]),
                    threshold=lower,
                    amount=_dec(a["amount"]),
                )
            )
        else:
            prizes = tuple(_dec(p) for p in a.get("prizes") or ())
            awards.append(
                RankAward(
                    id=str(a["id"]),
                    label=str(a.get("label", a["id"])),
                    period=str(a.get("period", "month")),
                    rank_by=str(a["rank_by"]),
                    order=str(a.get("order", "desc")),
                    prizes=prizes if a["kind"] == "rank" else (),
                    top=int(a.get("top", len(prizes))),
                    ties=str(a.get("ties", "same_rank")),
                )
            )
    scorecard = None
    if data.get("scorecard"):
        s = data["scorecard"]
        scorecard = Scorecard(
            period=str(s.get("period", "month")),
            kpis=tuple(
                Kpi(
                    metric=str(k["metric"]),
                    label=str(k.get("label", k["metric"])),
                    target=_dec(k["target"]),
                    weight=_dec(k["weight"]),
                    cap=None if k.get("cap") is None else _dec(k["cap"]),
                )
                for k in s["kpis"]
            ),
            ratings=tuple(
                sorted(
                    (RatingBand(str(r["rating"]), _dec(r["from"])) for r in s["ratings"]),
                    key=lambda r: r.lower,
                    reverse=True,
                )
            ),
        )
    eligibility = tuple(
        EligibilityRule(
            id=str(e["id"]),
            label=str(e.get("label", e["id"])),
            period=str(e.get("period", "quarter")),
            rank_by=None if e.get("rank_by") is None else str(e["rank_by"]),
            order=str(e.get("order", "desc")),
            conditions=tuple(Condition(str(c["value"]), str(c["op"]), _dec(c["than"])) for c in e["all"]),
        )
        for e in data.get("eligibility") or []
    )
    rounding = data.get("rounding") or {}
    return Policy(
        id=str(data["id"]),
        version=str(data["version"]),
        title=str(data.get("title", data["id"])),
        effective_from=parse_month(str(data["effective_from"])),
        effective_to=None if data.get("effective_to") is None else parse_month(str(data["effective_to"])),
        currency=str(data.get("currency", "CNY")),
        rounding=Rounding(_dec(rounding.get("quantum", "0.01")), str(rounding.get("mode", "half-up"))),
        metrics=metrics,
        warning=warning,
        commission=commission,
        awards=tuple(awards),
        scorecard=scorecard,
        eligibility=eligibility,
        objection_days=int((data.get("publication") or {}).get("objection_days", 3)),
        sha256=canonical_sha256(data),
        source=source,
        text=text,
        data=data,
    )


def parse_policy(text: str, source: str) -> Policy:
    """YAML text -> Policy, or MeritInputError with every schema and lint problem located."""
    from engine.lint import lint_document
    from engine.schema import schema_problems
    from engine.yamlsource import load_yaml_document

    doc = load_yaml_document(text, source)  # raises MeritInputError on bad YAML
    problems = schema_problems(doc)
    if not problems:
        problems = lint_document(doc)
    if problems:
        raise MeritInputError(problems, kind="invalid-policy")
    return build_policy(doc.data, source, text)


def load_policy_file(path: str | Path) -> Policy:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise MeritInputError([Problem(str(p), None, None, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise MeritInputError([Problem(str(p), None, None, "", f"not UTF-8 text: {exc.reason}")]) from None
    return parse_policy(text, str(p))


class PolicyLibrary:
    """The versions of one or more policies; picks the version in force for a period."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(sorted(policies, key=lambda p: (p.id, p.effective_from, p.version)))

    @classmethod
    def load(cls, path: str | Path) -> PolicyLibrary:
        """A folder of `*.yaml` versions, or a single file. All problems of all files at once."""
        p = Path(path)
        if p.is_dir():
            files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not files:
                raise MeritInputError([Problem(str(p), None, None, "", "no policy files (*.yaml) in folder")])
        elif p.exists():
            files = [p]
        else:
            raise MeritInputError([Problem(str(p), None, None, "", "no such file or folder")])
        policies, problems = [], []
        for f in files:
            try:
                policies.append(load_policy_file(f))
            except MeritInputError as exc:
                problems.extend(exc.problems)
        problems += _conflicts(policies)
        if problems:
            raise MeritInputError(problems, kind="invalid-policy")
        return cls(policies)

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
