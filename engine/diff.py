"""What changed between two policy versions, said the way HR would say it.

A text diff of two YAML files shows moved lines, re-quoted numbers and edited comments; a
reviewer approving a new version needs to know that "commission tier advanced: rate 2% -> 1.8%"
and nothing else. So the two built `Policy` models are compared field by field, items are matched
by their ids (tiers, awards, eligibility rules), lights (warning bands), metric names (metrics,
KPIs) and rating names, never by position, and numbers are compared as `Decimal`s ("0.80" equals
0.8). Ratios are shown as percentages, money and counts as plain numbers. Output order is fixed
(the order of the policy format, items in the new version's order, removals first) so the same two
versions always give the same lines; an empty list means the versions mean the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from engine.policy import (
    Band,
    Bound,
    Commission,
    Condition,
    EligibilityRule,
    GroupAward,
    Kpi,
    Metric,
    Policy,
    RankAward,
    Scorecard,
    Tier,
    Warning_,
)

T = TypeVar("T")
Award = GroupAward | RankAward


def diff_policies(old: Policy, new: Policy) -> list[str]:
    """Human-readable lines, one per change, from `old` to `new`; [] if they mean the same."""
    return _Differ(old, new).run()


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def _pct(value: Decimal) -> str:
    return f"{_num(value * 100)}%"


def _change(what: str, before: str, after: str) -> list[str]:
    return [] if before == after else [f"{what} {before} -> {after}"]


def _matched(old: Sequence[T], new: Sequence[T], key: Callable[[T], str]) -> tuple[list[T], list[tuple[T | None, T]]]:
    """Items only in `old` (old order), then every item of `new` with its old match (new order)."""
    old_by_key = {key(o): o for o in old}
    new_keys = {key(n) for n in new}
    removed = [o for o in old if key(o) not in new_keys]
    return removed, [(old_by_key.get(key(n)), n) for n in new]


class _Differ:
    def __init__(self, old: Policy, new: Policy) -> None:
        self.old, self.new = old, new

    def ratio(self, metric: str) -> bool:
        m = self.new.metrics.get(metric) or self.old.metrics.get(metric)
        return m is not None and m.is_ratio

    def value(self, metric: str, value: Decimal) -> str:
        """A threshold on `metric`: a percentage for ratios, a plain number for counts."""
        return _pct(value) if self.ratio(metric) else _num(value)

    def run(self) -> list[str]:
        lines: list[str] = []
        for step in (
            self.header,
            self.metrics,
            self.warning,
            self.commission,
            self.awards,
            self.scorecard,
            self.eligibility,
        ):
            lines.extend(step())
        lines.extend(_change("objection_days", str(self.old.objection_days), str(self.new.objection_days)))
        old_share, new_share = self.old.clawback.max_share, self.new.clawback.max_share
        lines.extend(_change("clawback max_share_of_payout", _pct(old_share), _pct(new_share)))
        lines.extend(_change("crediting", _crediting_text(self.old), _crediting_text(self.new)))
        return lines

    def header(self) -> list[str]:
        o, n = self.old, self.new
        lines = _change("id", o.id, n.id)
        lines += _change("version", o.version, n.version)
        lines += _change("title", repr(o.title), repr(n.title))
        lines += _change("effective_from", str(o.effective_from), str(n.effective_from))
        lines += _change("effective_to", str(o.effective_to or "none"), str(n.effective_to or "none"))
        lines += _change("currency", o.currency, n.currency)
        lines += _change(
            "rounding",
            f"{_num(o.rounding.quantum)} {o.rounding.mode}",
            f"{_num(n.rounding.quantum)} {n.rounding.mode}",
        )
        old_cols = ", ".join(o.data.get("columns") or []) or "none"
        new_cols = ", ".join(n.data.get("columns") or []) or "none"
        lines += _change("extra columns", old_cols, new_cols)
        return lines

    # -- metrics ---------------------------------------------------------------------------------

    @staticmethod
    def formula(m: Metric) -> str:
        if m.column is not None:
            return f"column {m.column}"
        denominator = m.denominator or ""
        shown = _num(Decimal(denominator)) if _is_number(denominator) else denominator
        text = f"{m.numerator} / {shown}"
        if m.on_zero is not None:
            text += f" ({_num(m.on_zero)} when {shown} is 0)"
        return text

    def metrics(self) -> list[str]:
        removed, pairs = _matched(list(self.old.metrics.values()), list(self.new.metrics.values()), _name)
        lines = [f"metric {m.name} removed" for m in removed]
        for before, after in pairs:
            if before is None:
                lines.append(f"metric {after.name} added: {self.formula(after)}")
                continue
            lines += _change(f"metric {after.name}:", self.formula(before), self.formula(after))
            lines += _change(f"metric {after.name}: label", repr(before.label), repr(after.label))
        return lines

    # -- warning ---------------------------------------------------------------------------------

    def band_text(self, metric: str, band: Band) -> str:
        parts = [self.lower_text(metric, band.lower), self.upper_text(metric, band.upper)]
        return ", ".join(p for p in parts if p != "unbounded") or "everything"

    def lower_text(self, metric: str, bound: Bound | None) -> str:
        if bound is None:
            return "unbounded"
        return f"{'from' if bound.inclusive else 'above'} {self.value(metric, bound.value)}"

    def upper_text(self, metric: str, bound: Bound | None) -> str:
        if bound is None:
            return "unbounded"
        return f"{'to' if bound.inclusive else 'below'} {self.value(metric, bound.value)}"

    def bound_change(self, what: str, before: str, after: str) -> list[str]:
        """`from 80% -> 85%` when only the number moved, else both sides in full."""
        if before == after:
            return []
        b_word, _, b_rest = before.partition(" ")
        a_word, _, a_rest = after.partition(" ")
        if b_word == a_word and b_rest and a_rest:
            return [f"{what}: {b_word} {b_rest} -> {a_rest}"]
        return [f"{what}: {before} -> {after}"]

    def warning(self) -> list[str]:
        o, n = self.old.warning, self.new.warning
        if o is None and n is None:
            return []
        if o is None or n is None:
            return ["warning bands removed"] if n is None else [f"warning bands added: {self.bands_text(n)}"]
        lines = _change("warning metric", o.metric, n.metric)
        removed, pairs = _matched(o.bands, n.bands, lambda b: b.light)
        lines += [f"warning band {b.light} removed" for b in removed]
        for before, after in pairs:
            what = f"warning band {after.light}"
            if before is None:
                lines.append(f"{what} added: {self.band_text(n.metric, after)}")
                continue
            lines += self.bound_change(
                what, self.lower_text(o.metric, before.lower), self.lower_text(n.metric, after.lower)
            )
            lines += self.bound_change(
                what, self.upper_text(o.metric, before.upper), self.upper_text(n.metric, after.upper)
            )
            lines += _change(f"{what}: label", repr(before.label), repr(after.label))
        return lines

    def bands_text(self, w: Warning_) -> str:
        return f"{w.metric}: " + "; ".join(f"{b.light} {self.band_text(w.metric, b)}" for b in w.bands)

    # -- commission ------------------------------------------------------------------------------

    def tier_text(self, basis: str, t: Tier) -> str:
        text = f"from {self.value(basis, t.lower)}"
        if t.upper is not None:
            text += f", to {self.value(basis, t.upper)}"
        text += f", rate {_pct(t.rate)}"
        if t.bonus:
            text += f", bonus {_num(t.bonus)}"
        return text

    def commission(self) -> list[str]:
        o, n = self.old.commission, self.new.commission
        if o is None and n is None:
            return []
        if o is None or n is None:
            if n is None:
                return ["commission removed"]
            return [f"commission added: {self.commission_text(n)}"]
        lines = _change("commission basis", o.basis, n.basis)
        lines += _change("commission base", o.base, n.base)
        lines += _change("commission mode", o.mode, n.mode)
        lines += _change("commission cap", _opt(o.cap), _opt(n.cap))
        removed, pairs = _matched(o.tiers, n.tiers, lambda t: t.id)
        lines += [f"commission tier {t.id} removed" for t in removed]
        for before, after in pairs:
            what = f"commission tier {after.id}:"
            if before is None:
                lines.append(f"commission tier {after.id} added: {self.tier_text(n.basis, after)}")
                continue
            lines += _change(f"{what} from", self.value(o.basis, before.lower), self.value(n.basis, after.lower))
            lines += _change(f"{what} to", self.opt_value(o.basis, before.upper), self.opt_value(n.basis, after.upper))
            lines += _change(f"{what} rate", _pct(before.rate), _pct(after.rate))
            lines += _change(f"{what} bonus", _num(before.bonus), _num(after.bonus))
            lines += _change(f"{what} label", repr(before.label), repr(after.label))
        return lines

    def opt_value(self, metric: str, value: Decimal | None) -> str:
        return "next tier" if value is None else self.value(metric, value)

    def commission_text(self, c: Commission) -> str:
        tiers = "; ".join(f"{t.id} {self.tier_text(c.basis, t)}" for t in c.tiers)
        return f"{c.mode} on {c.base} by {c.basis}: {tiers}"

    # -- awards ----------------------------------------------------------------------------------

    def award_fields(self, a: Award) -> list[tuple[str, str]]:
        fields = [("kind", _kind(a)), ("period", a.period)]
        if isinstance(a, GroupAward):
            threshold = self.value(a.metric, a.threshold.value)
            fields += [
                ("group_by", a.group_by),
                ("metric", a.metric),
                ("threshold", threshold if a.threshold.inclusive else f"above {threshold}"),
                ("amount", _num(a.amount)),
            ]
        else:
            fields += [("rank_by", a.rank_by), ("order", a.order)]
            if a.is_honour:
                fields.append(("top", str(a.top)))
            else:
                fields.append(("prizes", "/".join(_num(p) for p in a.prizes)))
            fields.append(("ties", a.ties))
        return [*fields, ("label", repr(a.label))]

    def awards(self) -> list[str]:
        removed, pairs = _matched(self.old.awards, self.new.awards, lambda a: a.id)
        lines = [f"award {a.id} removed" for a in removed]
        for before, after in pairs:
            after_fields = self.award_fields(after)
            if before is None:
                shown = ", ".join(f"{k} {v}" for k, v in after_fields if k != "label")
                lines.append(f"award {after.id} added: {shown}")
                continue
            before_fields = dict(self.award_fields(before))
            if before_fields["kind"] != _kind(after):
                shown = ", ".join(f"{k} {v}" for k, v in after_fields if k != "label")
                lines.append(f"award {after.id} replaced: {shown}")
                continue
            for key, value in after_fields:
                lines += _change(f"award {after.id}: {key}", before_fields.get(key, "none"), value)
        return lines

    # -- scorecard -------------------------------------------------------------------------------

    @staticmethod
    def kpi_fields(k: Kpi) -> list[tuple[str, str]]:
        return [
            ("weight", _pct(k.weight)),
            ("target", _num(k.target)),
            ("cap", "none" if k.cap is None else _pct(k.cap)),
            ("label", repr(k.label)),
        ]

    def scorecard(self) -> list[str]:
        o, n = self.old.scorecard, self.new.scorecard
        if o is None and n is None:
            return []
        if o is None or n is None:
            return ["scorecard removed"] if n is None else [f"scorecard added: {_scorecard_text(n)}"]
        lines = _change("scorecard period", o.period, n.period)
        removed, pairs = _matched(o.kpis, n.kpis, lambda k: k.metric)
        lines += [f"scorecard kpi {k.metric} removed" for k in removed]
        for before, after in pairs:
            if before is None:
                shown = ", ".join(f"{k} {v}" for k, v in self.kpi_fields(after) if k != "label" and v != "none")
                lines.append(f"scorecard kpi {after.metric} added: {shown}")
                continue
            old_fields = dict(self.kpi_fields(before))
            for key, value in self.kpi_fields(after):
                lines += _change(f"scorecard kpi {after.metric}: {key}", old_fields[key], value)
        old_ratings = sorted(o.ratings, key=lambda r: r.lower, reverse=True)
        new_ratings = sorted(n.ratings, key=lambda r: r.lower, reverse=True)
        removed_r, pairs_r = _matched(old_ratings, new_ratings, lambda r: r.rating)
        lines += [f"scorecard rating {r.rating} removed" for r in removed_r]
        for before_r, after_r in pairs_r:
            if before_r is None:
                lines.append(f"scorecard rating {after_r.rating} added: from {_num(after_r.lower)}")
                continue
            lines += _change(f"scorecard rating {after_r.rating}: from", _num(before_r.lower), _num(after_r.lower))
        return lines

    # -- eligibility -----------------------------------------------------------------------------

    def condition_text(self, c: Condition) -> str:
        return f"{c.value} {c.op} {self.value(c.value, c.than)}"

    def conditions_text(self, conditions: Iterable[Condition]) -> str:
        return " and ".join(self.condition_text(c) for c in conditions)

    def eligibility(self) -> list[str]:
        removed, pairs = _matched(self.old.eligibility, self.new.eligibility, lambda e: e.id)
        lines = [f"eligibility {e.id} removed" for e in removed]
        for before, after in pairs:
            what = f"eligibility {after.id}"
            if before is None:
                lines.append(f"{what} added: {self.rule_text(after)}")
                continue
            if len(before.conditions) == len(after.conditions):
                for old_c, new_c in zip(before.conditions, after.conditions, strict=True):
                    lines += _change(f"{what}:", self.condition_text(old_c), self.condition_text(new_c))
            else:
                lines += _change(
                    f"{what}:",
                    self.conditions_text(before.conditions),
                    self.conditions_text(after.conditions),
                )
            lines += _change(f"{what}: period", before.period, after.period)
            lines += _change(f"{what}: rank_by", before.rank_by or "none", after.rank_by or "none")
            lines += _change(f"{what}: order", before.order, after.order)
            lines += _change(f"{what}: label", repr(before.label), repr(after.label))
        return lines

    def rule_text(self, e: EligibilityRule) -> str:
        text = f"{self.conditions_text(e.conditions)} per {e.period}"
        return text + (f", ranked by {e.rank_by} {e.order}" if e.rank_by else "")


def _name(m: Metric) -> str:
    return m.name


def _kind(a: Any) -> str:
    if isinstance(a, GroupAward):
        return "group"
    return "honour" if a.is_honour else "rank"


def _opt(value: Decimal | None) -> str:
    return "none" if value is None else _num(value)


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except ArithmeticError:
        return False


def _scorecard_text(s: Scorecard) -> str:
    kpis = ", ".join(f"{k.metric} {_pct(k.weight)}" for k in s.kpis)
    ratings = ", ".join(f"{r.rating} from {_num(r.lower)}" for r in s.ratings)
    return f"{s.period}: {kpis}; ratings {ratings}"


def _crediting_text(p: Policy) -> str:
    """When a deal credits (`crediting:`), as a diff line shows it."""
    c = p.crediting
    return "none (monthly totals)" if c is None else f"signed and collected >= {_pct(c.collected_at_least)}"
