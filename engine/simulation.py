"""What-if simulation: a baseline and a scenario over the same facts, and what changes between them.

A simulation never stores anything: it is a pure function of two policies and the facts (the
scenario's facts may carry changed targets, see `engine.quota`). It answers the manager's
question "what would Q3 have cost, and who would have moved tier, if tier 2 paid 1.8% and East's
quotas were 5% higher?": totals and their delta (per component and per region), payout as a share
of sales, per-rep differences with their reasons, the tier migration matrix, the light
distribution and promotion eligibility before and after, winners and losers.

The lines compared come from `engine.evaluation.evaluate` itself (`costed`: the same decisions,
with a facts cache shared between the two sides and no explanations); sweeps of one parameter
are in `engine.sweep`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.evaluation import evaluate, period_of
from engine.factcache import FactsCache
from engine.facts import FactSet
from engine.labels import Labels, both_labels
from engine.lines import ZERO, AwardLine, Line
from engine.metrics import Ratio, format_ratio
from engine.periods import Period
from engine.policy import Policy
from engine.tiers import money_text

NO_TIER = "none"
COMPONENTS = ("commission", "bonus", "awards")


def total_of(values: Iterable[Decimal]) -> Decimal:
    """Money summed as every total is: from 0.00, exactly."""
    return sum(values, ZERO)


def share_of_sales(payout: Decimal, sales: Decimal) -> str | None:
    """Payout as a ratio of sales (None without sales), as the result shows it."""
    return format_ratio(Ratio(payout, sales)) if sales > 0 else None


def costed(policy: Policy, cache: FactsCache, period: Period) -> list[Line]:
    """The policy's result lines on the cache's facts: `evaluate`'s decisions, without the words.

    Effective dates are not checked (a scenario is costed on any period's facts); inputs are, as
    `evaluate` checks them.
    """
    return evaluate(policy, cache.facts, period, enforce_effective=False, cache=cache, explain=False).results


def _counts(values: Iterable[str | None]) -> dict[str, int]:
    c = Counter(v for v in values if v is not None)
    return {k: c[k] for k in sorted(c)}


def tier_order(policy: Policy) -> list[str]:
    """The policy's tier ids in the handbook's order (rows and columns of the migration matrix)."""
    return [t.id for t in policy.commission.tiers] if policy.commission else []


def _bsd(b: Decimal, s: Decimal) -> dict[str, str]:
    return {"baseline": money_text(b), "scenario": money_text(s), "delta": money_text(s - b)}


@dataclass(frozen=True)
class RepDifference:
    """One rep whose pay differs between baseline and scenario, with the reasons in words."""

    rep_id: str
    name: str | None
    region: str | None
    product_line: str | None
    baseline: Decimal
    scenario: Decimal
    reasons: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        """Scenario minus baseline: what the rep gains (negative: loses)."""
        return self.scenario - self.baseline

    def as_dict(self) -> dict[str, Any]:
        """The difference as the result document shows it (money as text)."""
        return {
            "rep_id": self.rep_id,
            "name": self.name,
            "region": self.region,
            "product_line": self.product_line,
            "baseline": money_text(self.baseline),
            "scenario": money_text(self.scenario),
            "delta": money_text(self.delta),
            "reasons": list(self.reasons),
        }


def _awards_by_key(line: Line) -> dict[tuple[str, str], AwardLine]:
    out: dict[tuple[str, str], AwardLine] = {}
    for a in line.awards:
        key = (a.id, a.period)
        if key in out:  # not expected (one award per id per period); keep amounts exact anyway
            prev = out[key]
            out[key] = AwardLine(a.id, a.label, prev.amount + a.amount, a.period, a.honour)
        else:
            out[key] = a
    return out


def _reasons(
    b: Line | None, s: Line | None, labels: Labels, flag_labels: Mapping[str, str], quarter: bool
) -> list[str]:
    """Why a rep's result differs, in the order: targets, months (tier, money, light), awards, flags;
    tiers, lights, awards and flags named by the policy's labels (进阶激励奖, 绿灯), as people read them."""
    out: list[str] = []
    if b is None or s is None:
        out.append("only in the scenario's facts" if b is None else "not in the scenario's facts")
        return out
    bm = {m.period: m for m in b.month_lines}
    sm = {m.period: m for m in s.month_lines}
    for period in sorted(set(bm) | set(sm)):
        x, y = bm.get(period), sm.get(period)
        pre = f"{period}: " if quarter else ""
        if x is None or y is None:
            out.append(f"{pre}{'no facts in the baseline' if x is None else 'no facts in the scenario'}")
            continue
        tx, ty = x.number("target"), y.number("target")
        if tx != ty:
            out.append(f"{pre}target {money_text(tx or ZERO)} -> {money_text(ty or ZERO)}")
        if x.tier != y.tier:
            out.append(f"{pre}tier moved {labels.tier(x.tier) or NO_TIER} -> {labels.tier(y.tier) or NO_TIER}")
        else:
            if x.commission != y.commission:
                out.append(
                    f"{pre}commission {money_text(x.commission)} -> {money_text(y.commission)}"
                    f" (tier {labels.tier(x.tier) or NO_TIER})"
                )
            if x.bonus != y.bonus:
                tier = labels.tier(x.tier) or NO_TIER
                out.append(f"{pre}bonus {money_text(x.bonus)} -> {money_text(y.bonus)} (tier {tier})")
        if x.light != y.light:
            out.append(f"{pre}light changed {labels.light(x.light) or 'none'} -> {labels.light(y.light) or 'none'}")
    if quarter and b.light != s.light:
        out.append(f"{b.period}: light changed {labels.light(b.light) or 'none'} -> {labels.light(s.light) or 'none'}")
    ba, sa = _awards_by_key(b), _awards_by_key(s)
    for key in sorted(set(ba) | set(sa)):
        x_a, y_a = ba.get(key), sa.get(key)
        if x_a is None and y_a is not None:
            what = "honour gained" if y_a.honour else "award gained"
            amount = "" if y_a.honour else f" {money_text(y_a.amount)}"
            out.append(f"{what}: {y_a.label}{amount} ({y_a.period})")
        elif y_a is None and x_a is not None:
            what = "honour lost" if x_a.honour else "award lost"
            amount = "" if x_a.honour else f" {money_text(x_a.amount)}"
            out.append(f"{what}: {x_a.label}{amount} ({x_a.period})")
        elif x_a is not None and y_a is not None and x_a.amount != y_a.amount:
            out.append(
                f"award changed: {y_a.label} {money_text(x_a.amount)} -> {money_text(y_a.amount)} ({y_a.period})"
            )
    for fid in sorted(set(b.flags) | set(s.flags)):
        fx, fy = b.flags.get(fid, False), s.flags.get(fid, False)
        if fx != fy:
            label = flag_labels.get(fid, fid)
            out.append(f"{label}: {'eligible' if fx else 'not eligible'} -> {'eligible' if fy else 'not eligible'}")
    return out


@dataclass
class SimulationResult:
    """A baseline and a scenario compared: what `merit simulate` prints and the API stores (`as_dict`)."""

    period: str
    baseline_policy: Policy
    scenario_policy: Policy
    baseline: list[Line]
    scenario: list[Line]
    edits: tuple[str, ...] = ()
    quotas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._b = {ln.rep_id: ln for ln in self.baseline}
        self._s = {ln.rep_id: ln for ln in self.scenario}
        labels = {e.id: e.label for e in self.baseline_policy.eligibility}
        labels.update({e.id: e.label for e in self.scenario_policy.eligibility})
        self.flag_labels = labels
        self.labels = both_labels(self.baseline_policy, self.scenario_policy)
        quarter = "Q" in self.period
        diffs = []
        for rep in sorted(set(self._b) | set(self._s)):
            b, s = self._b.get(rep), self._s.get(rep)
            ref = s or b
            assert ref is not None
            reasons = _reasons(b, s, self.labels, labels, quarter)
            bt = b.total if b else ZERO
            st = s.total if s else ZERO
            if reasons or bt != st:
                diffs.append(RepDifference(rep, ref.name, ref.region, ref.product_line, bt, st, tuple(reasons)))
        self.differences = sorted(diffs, key=lambda d: (-abs(d.delta), d.rep_id))

    # ------------------------------------------------------------ the numbers
    @property
    def baseline_total(self) -> Decimal:
        """The baseline's payout over the reported reps."""
        return total_of(ln.total for ln in self.baseline)

    @property
    def scenario_total(self) -> Decimal:
        """The scenario's payout over the reported reps."""
        return total_of(ln.total for ln in self.scenario)

    @property
    def delta(self) -> Decimal:
        """What the scenario costs more (negative: saves)."""
        return self.scenario_total - self.baseline_total

    @staticmethod
    def _component(lines: Sequence[Line], name: str) -> Decimal:
        if name == "awards":
            return total_of(ln.award_total for ln in lines)
        return total_of(getattr(ln, name) for ln in lines)

    def tier_migration(self) -> dict[str, Any]:
        """Counts of month lines by (baseline tier, scenario tier), 'none' for no tier."""
        order = tier_order(self.baseline_policy)
        order += [t for t in tier_order(self.scenario_policy) if t not in order]
        order.append(NO_TIER)
        counts: Counter[tuple[str, str]] = Counter()
        for rep in sorted(set(self._b) | set(self._s)):
            b, s = self._b.get(rep), self._s.get(rep)
            bm = {m.period: m for m in b.month_lines} if b else {}
            sm = {m.period: m for m in s.month_lines} if s else {}
            for period in set(bm) & set(sm):
                counts[(bm[period].tier or NO_TIER, sm[period].tier or NO_TIER)] += 1
        matrix = {f: {t: counts[(f, t)] for t in order} for f in order}
        moved = [
            {"from": f, "to": t, "count": counts[(f, t)]} for f in order for t in order if f != t and counts[(f, t)]
        ]
        return {"tiers": order, "matrix": matrix, "moved": moved}

    def moved(self, from_tier: str, to_tier: str) -> int:
        """How many month lines moved from one tier to another."""
        return int(self.tier_migration()["matrix"].get(from_tier, {}).get(to_tier, 0))

    def eligible_counts(self) -> dict[str, dict[str, int]]:
        """Reps flagged per eligibility rule, before and after."""
        b = eligible_counts(self.baseline_policy, self.baseline, self.period)
        s = eligible_counts(self.scenario_policy, self.scenario, self.period)
        return {i: {"baseline": b.get(i, 0), "scenario": s.get(i, 0)} for i in [*b, *(i for i in s if i not in b)]}

    def _side(self, lines: Sequence[Line]) -> dict[str, Decimal]:
        return {
            "actual": total_of(ln.number("actual") or ZERO for ln in lines),
            "target": total_of(ln.number("target") or ZERO for ln in lines),
        }

    def winners_losers(self, top: int = 10) -> dict[str, Any]:
        """Who gains, who loses (the `top` largest each), and how many are unchanged."""
        win = [d for d in self.differences if d.delta > 0]
        lose = [d for d in self.differences if d.delta < 0]

        def part(ds: list[RepDifference]) -> dict[str, Any]:
            return {
                "count": len(ds),
                "total": money_text(total_of(d.delta for d in ds)),
                "top": [{"rep_id": d.rep_id, "name": d.name, "delta": money_text(d.delta)} for d in ds[:top]],
            }

        reps = len(set(self._b) | set(self._s))
        return {"winners": part(win), "losers": part(lose), "unchanged": reps - len(win) - len(lose)}

    def as_dict(self) -> dict[str, Any]:
        """The whole result as one document (the CLI's JSON and the API's `result`), keys in a fixed order."""
        b_side, s_side = self._side(self.baseline), self._side(self.scenario)
        bt, st = self.baseline_total, self.scenario_total
        regions = sorted({ln.region or "(none)" for ln in (*self.baseline, *self.scenario)})
        by_region = {}
        for r in regions:
            bl = [ln for ln in self.baseline if (ln.region or "(none)") == r]
            sl = [ln for ln in self.scenario if (ln.region or "(none)") == r]
            by_region[r] = {
                **_bsd(total_of(x.total for x in bl), total_of(x.total for x in sl)),
                "reps": len(sl or bl),
            }
        bshare, sshare = share_of_sales(bt, b_side["actual"]), share_of_sales(st, s_side["actual"])
        wl = self.winners_losers()
        return {
            "period": self.period,
            "currency": self.scenario_policy.currency,
            "baseline": {**self.baseline_policy.ref, "title": self.baseline_policy.title},
            "scenario": {**self.scenario_policy.ref, "title": self.scenario_policy.title},
            "changes": {"edits": list(self.edits), "quotas": list(self.quotas)},
            "reps": len(set(self._b) | set(self._s)),
            "totals": _bsd(bt, st),
            "components": {
                c: _bsd(self._component(self.baseline, c), self._component(self.scenario, c)) for c in COMPONENTS
            },
            "by_region": by_region,
            "sales": {
                "actual": _bsd(b_side["actual"], s_side["actual"]),
                "target": _bsd(b_side["target"], s_side["target"]),
            },
            "payout_share_of_sales": {"baseline": bshare, "scenario": sshare},
            "tier_migration": self.tier_migration(),
            "lights": {
                "baseline": _counts(ln.light for ln in self.baseline),
                "scenario": _counts(ln.light for ln in self.scenario),
            },
            "eligible": self.eligible_counts(),
            "winners": wl["winners"],
            "losers": wl["losers"],
            "unchanged_reps": wl["unchanged"],
            "differences": [d.as_dict() for d in self.differences],
        }


def simulate(
    baseline: Policy,
    scenario: Policy,
    facts: FactSet,
    period: str | Period,
    scenario_facts: FactSet | None = None,
    *,
    edits: Sequence[str] = (),
    quotas: Sequence[str] = (),
    prepared: FactsCache | None = None,
    regions: Collection[str] | None = None,
) -> SimulationResult:
    """Baseline policy on `facts` against scenario policy on `scenario_facts` (default: the same).

    `prepared` (a `FactsCache` of `facts`) lets a caller reuse what depends only on the facts
    across simulations.
    `regions` restricts the *report* to those regions' reps (a manager's view); the evaluation
    still runs over every rep, because a TOP 3 or a promotion rank is a company-wide ranking.
    """
    per = period_of(period)
    cache = prepared if prepared is not None and prepared.facts is facts else FactsCache(facts)
    b = costed(baseline, cache, per)
    if scenario_facts is None or scenario_facts is facts:
        s = b if scenario is baseline else costed(scenario, cache, per)
    else:
        s = costed(scenario, FactsCache(scenario_facts, base=cache), per)
    b, s = within_regions(b, regions), within_regions(s, regions)
    return SimulationResult(str(per), baseline, scenario, b, s, tuple(edits), tuple(quotas))


def within_regions(lines: list[Line], regions: Collection[str] | None) -> list[Line]:
    """The lines a manager's view reports (all of them without `regions`)."""
    return lines if regions is None else [ln for ln in lines if ln.region in regions]


def eligible_counts(policy: Policy, lines: Sequence[Line], period: str) -> dict[str, int]:
    """Reps flagged per eligibility rule, counted on the lines of the rule's own period (as an
    evaluation's `totals.flags`); a quarterly rule is not decided by a month, so not counted there."""
    quarter = "Q" in period
    months = [m for ln in lines for m in ln.month_lines] if quarter else lines
    return {
        e.id: sum(1 for ln in (months if e.period == "month" else lines) if ln.flags.get(e.id))
        for e in policy.eligibility
        if quarter or e.period == "month"
    }
