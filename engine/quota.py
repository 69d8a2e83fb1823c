"""Quota changes and top-down target decomposition (目标分解) on fact sets.

Quota changes set or scale the `target` of the fact rows they select:

    region=East:+5%        every East row's target x 1.05
    product_line=A:-10%    every line-A row's target x 0.90
    rep=R001:=900000       R001's target set to 900000 (in every month selected)
    rep=R001,R002:+3%      several values: any of them
    all:+3%                every row

A scaled target is money, so it is rounded to the cent (half-up), as a target typed into the
spreadsheet would be. Changes apply in the order given, to the months asked for (all by default).

Decomposition splits a whole into parts with exact Decimal arithmetic: each part gets its share
rounded *down* to the cent, and the cents left over go one each to the parts with the largest
dropped remainders (ties: the part listed first, i.e. by name), the largest-remainder method. The
parts therefore always add up to the whole exactly, and no part is ever more than one cent away
from its exact share. Team -> region (or product line) uses explicit shares, which must add up
to exactly 100%, or else the groups' actuals of the previous period; group -> rep uses explicit
shares the same way or the reps' previous-period actuals; a rep's quarterly target is spread over
the quarter's months in proportion to the rep's current monthly targets (equally when those are 0).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from engine.facts import FactRow, FactSet
from engine.factsources import MAX_WHOLE_DIGITS
from engine.numbers import bounded_decimal
from engine.periods import Month, Period, Quarter, months_of, parse_period
from engine.problems import MeritInputError, Problem
from engine.tiers import money_text

CENT = Decimal("0.01")
_TOO_LARGE = Decimal(10) ** MAX_WHOLE_DIGITS
_LIMITS = f"a target must stay above zero and below {MAX_WHOLE_DIGITS} digits"
SELECTORS = {
    "region": "region",
    "product_line": "product_line",
    "line": "product_line",
    "rep": "rep_id",
    "rep_id": "rep_id",
}
_CHANGE = re.compile(
    r"^\s*(?:(?P<key>[a-z_]+)\s*=\s*(?P<values>[^:]+?)|(?P<all>all))\s*:\s*(?P<op>[+\-=*])?\s*(?P<num>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?P<pct>%)?\s*$"
)


@dataclass(frozen=True)
class QuotaChange:
    """Which rows (`field` in `values`, or all when field is None) and what happens to their target."""

    text: str
    field: str | None
    values: tuple[str, ...]
    op: str  # "scale" | "set"
    amount: Decimal  # factor for scale, target for set

    def selects(self, row: FactRow) -> bool:
        """Whether the change applies to this rep's row."""
        return self.field is None or getattr(row, self.field) in self.values

    def new_target(self, target: Decimal) -> Decimal:
        """The target after the change, rounded to the cent (half-up)."""
        if self.op == "set":
            return self.amount
        return (target * self.amount).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_quota(text: str, source: str = "--quota") -> QuotaChange:
    """One `--quota` change (`region=East:+5%`), or a located problem saying how to write it."""
    m = _CHANGE.match(text)
    if not m:
        raise MeritInputError.at(
            source, text, "write a quota change like region=East:+5%, product_line=A:-10%, rep=R001:=900000 or all:+3%"
        )
    field = None
    values: tuple[str, ...] = ()
    if not m.group("all"):
        key = m.group("key")
        if key not in SELECTORS:
            raise MeritInputError.at(
                source, text, f"select rows by {', '.join(sorted(set(SELECTORS)))} or all, not {key!r}"
            )
        field = SELECTORS[key]
        values = tuple(v.strip() for v in m.group("values").split(",") if v.strip())
    num = Decimal(m.group("num").replace(",", ""))
    op, pct = m.group("op"), m.group("pct")
    if num.adjusted() >= MAX_WHOLE_DIGITS:
        raise MeritInputError.at(source, text, f"{num:f} is beyond any target (at most {MAX_WHOLE_DIGITS} digits)")
    if op == "=":
        if pct:
            raise MeritInputError.at(source, text, "=N sets the target to an amount; use +N% or -N% to scale it")
        change = QuotaChange(text, field, values, "set", num)
    elif op == "*":
        change = QuotaChange(text, field, values, "scale", num / 100 if pct else num)
    elif not pct or op is None:
        raise MeritInputError.at(source, text, "give a change as +N%, -N%, *FACTOR or =AMOUNT")
    else:
        change = QuotaChange(text, field, values, "scale", 1 + (num / 100 if op == "+" else -num / 100))
    if change.amount <= 0:
        raise MeritInputError.at(source, text, f"a target must stay above zero ({_ABOVE_ZERO})")
    return change


_ABOVE_ZERO = "achievement is actual / target"


def _months(period: Period | str | None) -> set[Month] | None:
    if period is None:
        return None
    per = parse_period(period) if isinstance(period, str) else period
    return set(months_of(per))


def _derived(facts: FactSet, rows: Sequence[FactRow], what: str) -> FactSet:
    digest = hashlib.sha256(f"{facts.sha256}\n{what}".encode()).hexdigest()
    return FactSet(f"{facts.source} ({what})", tuple(rows), facts.columns, digest)


def apply_quota_changes(
    facts: FactSet,
    changes: Iterable[QuotaChange | str],
    period: Period | str | None = None,
    source: str = "--quota",
) -> FactSet:
    """A new FactSet with the targets changed; an error names a change that selects no row."""
    parsed: list[QuotaChange] = []
    problems: list[Problem] = []
    for c in changes:  # every unreadable change at once
        try:
            parsed.append(c if isinstance(c, QuotaChange) else parse_quota(c, source))
        except MeritInputError as err:
            problems += err.problems
    if problems:
        raise MeritInputError(problems)
    if not parsed:
        return facts
    months = _months(period)
    rows = list(facts.rows)
    for change in parsed:
        hit, bad = 0, None
        for i, row in enumerate(rows):
            if not ((months is None or row.period in months) and change.selects(row)):
                continue
            try:
                target = change.new_target(row.target)
            except ArithmeticError:  # beyond the 28-digit context: far beyond any target
                target = _TOO_LARGE
            if not 0 < target < _TOO_LARGE:
                shown = "too large" if target >= _TOO_LARGE else money_text(target)
                bad = f"would change {row.rep_id}'s {row.period} target {money_text(row.target)} to {shown}: {_LIMITS}"
                break
            rows[i] = dataclasses.replace(row, target=target)
            hit += 1
        if bad is not None:
            problems.append(Problem(source, None, None, change.text, bad))
        elif not hit:
            where = f" in {period}" if period is not None else ""
            problems.append(Problem(source, None, None, change.text, f"selects no fact row{where}"))
    if problems:
        raise MeritInputError(problems)
    return _derived(facts, rows, "quota " + "; ".join(c.text for c in parsed))


# --------------------------------------------------------------------- decomposition
def previous_period(per: Period) -> Period:
    """The month before a month, the quarter before a quarter."""
    if isinstance(per, Month):
        return per.previous()
    return Quarter(per.year - 1, 4) if per.number == 1 else Quarter(per.year, per.number - 1)


def split_exact(whole: Decimal, weights: Mapping[str, Decimal], quantum: Decimal = CENT) -> dict[str, Decimal]:
    """`whole` split in proportion to `weights`, to the quantum, parts summing to `whole` exactly.

    Largest remainder: every part is rounded down, then the quanta left over go, one each, to the
    parts with the largest remainders (ties: by name). Weights must be >= 0 and not all 0.
    """
    if any(w < 0 for w in weights.values()):
        raise ValueError("a share must not be negative")
    total_w = sum(weights.values(), Decimal(0))
    if total_w <= 0:
        raise ValueError("the shares add up to 0; nothing to split by")
    whole = whole.quantize(quantum, rounding=ROUND_HALF_UP)
    names = sorted(weights)
    parts: dict[str, Decimal] = {}
    remainders: dict[str, Decimal] = {}
    for name in names:
        exact = whole * weights[name] / total_w  # 28 digits: the remainder order is what matters
        down = exact.quantize(quantum, rounding=ROUND_DOWN)
        parts[name] = down
        remainders[name] = exact - down
    left = int(((whole - sum(parts.values(), Decimal(0))) / quantum).to_integral_value())
    for name in sorted(names, key=lambda n: (-remainders[n], n))[:left]:
        parts[name] += quantum
    return parts


def parse_shares(text: str, source: str = "--shares") -> dict[str, Decimal]:
    """'East:40%,South:30%,North:30%' (or 0.4) -> {East: 0.4, ...}."""
    out: dict[str, Decimal] = {}
    for item in text.split(","):
        name, sep, value = item.partition(":")
        value = value.strip()
        try:
            if not sep or not name.strip():
                raise ValueError
            share = bounded_decimal(value[:-1]) / 100 if value.endswith("%") else bounded_decimal(value)
        except (ValueError, ArithmeticError):
            raise MeritInputError.at(source, item.strip(), "write shares like East:40%,South:30% or East:0.4") from None
        if share <= 0:
            raise MeritInputError.at(source, item.strip(), "a share must be above 0% (every group needs a target)")
        if name.strip() in out:
            raise MeritInputError.at(source, item.strip(), f"{name.strip()} is given more than once")
        out[name.strip()] = share
    total = sum(out.values(), Decimal(0))
    if total != 1:
        raise MeritInputError.at(source, text, f"shares add up to {total * 100:f}%; they must add up to exactly 100%")
    return out


def parse_target_plan(
    team_target: str, shares: str | None, *, prefix: str = "--"
) -> tuple[Decimal, dict[str, Decimal] | None]:
    """The team target and the group shares of a plan, every problem with both reported at once."""
    problems: list[Problem] = []
    try:
        total = Decimal(team_target.replace(",", ""))
    except ArithmeticError:
        total = Decimal(-1)
    if not total.is_finite() or total <= 0 or total.adjusted() >= MAX_WHOLE_DIGITS or total != total.quantize(CENT):
        why = f"give the team target as an amount above 0, in cents, at most {MAX_WHOLE_DIGITS} digits"
        problems.append(Problem(f"{prefix}team-target", None, None, team_target, why))
    group_shares = None
    if shares:
        try:
            group_shares = parse_shares(shares, f"{prefix}shares")
        except MeritInputError as err:
            problems += err.problems
    if problems:
        raise MeritInputError(problems)
    return total, group_shares


def _check_shares(shares: Mapping[str, Decimal], level: str) -> None:
    total = sum(shares.values(), Decimal(0))
    if total != 1:
        raise MeritInputError.at(
            "shares", level, f"shares add up to {total * 100:f}%; they must add up to exactly 100%"
        )


@dataclass(frozen=True)
class TargetPlan:
    """The decomposition, level by level, and the facts with the new targets."""

    total: Decimal
    by_group: dict[str, Decimal]
    by_rep: dict[str, Decimal]
    by_rep_month: dict[tuple[str, str], Decimal]
    facts: FactSet
    split_by: str = "region"
    weights: str = "previous actual"  # or "current targets", when the facts hold no previous period

    def as_dict(self) -> dict[str, object]:
        """The plan as the simulation result shows it (`target_plan`)."""
        return {
            "total": money_text(self.total),
            "split_by": self.split_by,
            "weights": self.weights,
            "by_group": {g: money_text(v) for g, v in sorted(self.by_group.items())},
            "by_rep": {r: money_text(v) for r, v in sorted(self.by_rep.items())},
        }


def decompose_targets(
    facts: FactSet,
    period: Period | str,
    total: Decimal,
    *,
    group_by: str = "region",
    group_shares: Mapping[str, Decimal] | None = None,
    rep_shares: Mapping[str, Mapping[str, Decimal]] | None = None,
) -> TargetPlan:
    """Team target -> groups -> reps -> months of `period`, exact to the cent at every level.

    `group_shares` (e.g. {East: 0.4, South: 0.3, North: 0.3}) must add up to 1; without them the
    groups' previous-period actuals are the weights. `rep_shares[group]` likewise for the reps of
    a group; without them the reps' previous-period actuals. When the facts hold no actuals of the
    previous period at all, the current targets are the weights instead (the plan keeps today's
    proportions and changes the level); `TargetPlan.weights` says which. A rep belongs to the group
    of their last row in the period.
    """
    per = parse_period(period) if isinstance(period, str) else period
    months = months_of(per)
    field = SELECTORS.get(group_by)
    if field is None or field not in ("region", "product_line"):
        raise MeritInputError.at("group_by", group_by, "decompose by region or product_line")
    rows = [r for m in months for r in facts.for_month(m)]
    if not rows:
        raise MeritInputError.at(facts.source, "period", f"no facts for {per}")
    group_of: dict[str, str] = {}
    for r in rows:
        group_of[r.rep_id] = getattr(r, field) or "(none)"
    members: dict[str, list[str]] = defaultdict(list)
    for rep in sorted(group_of):
        members[group_of[rep]].append(rep)
    prev_months = months_of(previous_period(per))
    prev_actual: dict[str, Decimal] = defaultdict(Decimal)
    for m in prev_months:
        for r in facts.for_month(m):
            prev_actual[r.rep_id] += r.actual
    basis = "previous actual"
    if not any(prev_actual.values()):
        basis = "current targets"
        for r in rows:
            prev_actual[r.rep_id] += r.target
    if group_shares is not None:
        _check_shares(group_shares, group_by)
        unknown = sorted(set(group_shares) - set(members))
        missing = sorted(set(members) - set(group_shares))
        if unknown or missing:
            msg = "; ".join(
                x
                for x in (
                    f"no reps in {', '.join(unknown)}" if unknown else "",
                    f"no share for {', '.join(missing)}" if missing else "",
                )
                if x
            )
            raise MeritInputError.at("shares", group_by, msg)
        gw = dict(group_shares)
    else:
        gw = {g: sum((prev_actual[r] for r in reps), Decimal(0)) for g, reps in members.items()}
    try:
        by_group = split_exact(total, gw)
    except ValueError as exc:
        raise MeritInputError.at("shares", group_by, f"{exc} (no previous-period actuals: give shares)") from None
    by_rep: dict[str, Decimal] = {}
    for g, reps in sorted(members.items()):
        if rep_shares is not None and g in rep_shares:
            _check_shares(rep_shares[g], f"{g} reps")
            if set(rep_shares[g]) != set(reps):
                raise MeritInputError.at(
                    "shares", f"{g} reps", f"give a share for exactly these reps: {', '.join(reps)}"
                )
            rw = dict(rep_shares[g])
        else:
            rw = {r: prev_actual[r] for r in reps}
        try:
            by_rep.update(split_exact(by_group[g], rw))
        except ValueError as exc:
            raise MeritInputError.at(
                "shares", f"{g} reps", f"{exc} (no previous-period actuals in {g}: give rep shares)"
            ) from None
    current: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in rows:
        current[r.rep_id][str(r.period)] = r.target
    by_rep_month: dict[tuple[str, str], Decimal] = {}
    for rep, target in by_rep.items():
        weights = current[rep]
        if sum(weights.values(), Decimal(0)) <= 0:
            weights = dict.fromkeys(weights, Decimal(1))
        for month, amount in split_exact(target, weights).items():
            by_rep_month[(rep, month)] = amount
    new_rows = [
        dataclasses.replace(r, target=by_rep_month[(r.rep_id, str(r.period))])
        if (r.rep_id, str(r.period)) in by_rep_month
        else r
        for r in facts.rows
    ]
    what = f"targets {per} {total:f} by {field}"
    return TargetPlan(total, by_group, by_rep, by_rep_month, _derived(facts, new_rows, what), field, basis)
