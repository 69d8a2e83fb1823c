"""The meaning check: a schema-valid policy that would still pay or rank the wrong people.

The schema can say "rate is a decimal"; it cannot say "tier sprint starts below tier advanced, so
it can never be reached", "no light is shown for exactly 80%", "the KPI weights add up to 95%" or
"the scorecard uses a metric nobody defined". Those mistakes would not crash the evaluator, they
would quietly pay the wrong amount, so they are caught here before a policy is accepted. Every
rule runs and every problem is returned at once, each located at the value HR has to change.
Runs only on documents the schema accepted, so shapes and types can be trusted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.build import bounds_of
from engine.problems import Problem
from engine.yamlsource import YamlDocument

STANDARD_COLUMNS = ("target", "actual", "collected", "new_customers", "leads", "follow_ups", "deals")
RANK_VALUE = "rank"
MONTHS_SUFFIX = "_months"

Path = tuple[str | int, ...]


def lint_document(doc: YamlDocument) -> list[Problem]:
    """Every meaning problem in a schema-valid policy document, located."""
    linter = _Linter(doc)
    linter.run()
    return sorted(dict.fromkeys(linter.problems), key=lambda p: (p.line or 0, p.column or 0, p.field, p.message))


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


_show = str  # a value in a message, as written


@dataclass(frozen=True)
class _End:
    """A bound on the number line; `value None` is -inf (as a lower) or +inf (as an upper)."""

    value: Decimal | None
    inclusive: bool


def _lower_key(end: _End) -> tuple[int, Decimal, int]:
    """Sort key of lower bounds: -inf first; at one value the inclusive bound starts earlier."""
    if end.value is None:
        return (0, Decimal(0), 0)
    return (1, end.value, 0 if end.inclusive else 1)


def _upper_key(end: _End) -> tuple[int, Decimal, int]:
    """Sort key of upper bounds: +inf last; at one value the inclusive bound reaches further."""
    if end.value is None:
        return (2, Decimal(0), 0)
    return (1, end.value, 1 if end.inclusive else 0)


def _end_text(end: _End) -> str:
    if end.value is None:
        return "infinity"
    return f"{_show(end.value)} ({'inclusive' if end.inclusive else 'exclusive'})"


class _Linter:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.data: Mapping[str, Any] = doc.data
        self.problems: list[Problem] = []
        extra = self.data.get("columns") or []
        self.columns = set(STANDARD_COLUMNS) | {str(c) for c in extra}
        self.metrics: Mapping[str, Any] = self.data.get("metrics") or {}
        warning = self.data.get("warning") or {}
        self.lights = [str(b["light"]) for b in warning.get("bands", [])]

    def add(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def run(self) -> None:
        self.header()
        self.metric_columns()
        self.warning()
        self.commission()
        self.awards()
        self.scorecard()
        self.eligibility()

    # -- references ------------------------------------------------------------------------------

    def known_metric(self, path: Path, name: str, what: str) -> None:
        if name not in self.metrics:
            self.add(path, f"{what} {name!r} is not defined under metrics{self._known_metrics()}")

    def _known_metrics(self) -> str:
        return f" (defined: {', '.join(self.metrics)})" if self.metrics else " (no metrics are defined)"

    def known_column(self, path: Path, name: str) -> None:
        if name not in self.columns:
            self.add(
                path,
                f"unknown fact column {name!r}: use one of {', '.join(sorted(self.columns))}, "
                "or declare it under top-level 'columns'",
            )

    def rank_by(self, path: Path, name: str) -> None:
        if name not in self.columns and name not in self.metrics:
            self.add(path, f"ranks by {name!r}, which is neither a fact column nor a metric")

    # -- blocks ----------------------------------------------------------------------------------

    def header(self) -> None:
        start, end = self.data.get("effective_from"), self.data.get("effective_to")
        if start is not None and end is not None and str(end) < str(start):
            self.add(("effective_to",), f"effective_to {end} is before effective_from {start}")
        days = (self.data.get("publication") or {}).get("objection_days")
        if days is not None and days < 0:
            self.add(("publication", "objection_days"), f"must not be negative (got {days})")
        if not 0 < _dec(share := (self.data.get("clawback") or {}).get("max_share_of_payout", 1)) <= 1:
            self.add(("clawback", "max_share_of_payout"), f"must be above 0 and at most 1 (= 100%), got {share}")
        for i, name in enumerate(self.data.get("columns") or []):
            if name in STANDARD_COLUMNS:
                self.add(("columns", i), f"{name!r} is a standard column already; do not declare it")

    def metric_columns(self) -> None:
        for name, m in self.metrics.items():
            path: Path = ("metrics", name)
            if "column" in m:
                self.known_column((*path, "column"), str(m["column"]))
                continue
            self.known_column((*path, "numerator"), str(m["numerator"]))
            denominator = m["denominator"]
            if isinstance(denominator, str) and not _is_decimal_text(denominator):
                self.known_column((*path, "denominator"), denominator)
            elif _dec(denominator) == 0:
                self.add((*path, "denominator"), "a constant denominator of 0 divides by zero")

    def warning(self) -> None:
        warning = self.data.get("warning")
        if not warning:
            return
        self.known_metric(("warning", "metric"), str(warning["metric"]), "warning metric")
        bands = warning["bands"]
        seen: dict[str, int] = {}
        for i, band in enumerate(bands):
            light = str(band["light"])
            if light in seen:
                self.add(("warning", "bands", i, "light"), f"light {light!r} is already used by band {seen[light]}")
            else:
                seen[light] = i
        self.band_coverage(bands)

    def band_coverage(self, bands: list[Mapping[str, Any]]) -> None:
        """Bands must cover 0..infinity exactly once (metrics are never negative)."""
        zero = _End(Decimal(0), True)
        clipped: list[tuple[int, _End, _End]] = []
        for i, band in enumerate(bands):
            lower, upper = _band_ends(band)
            if _lower_key(lower) < _lower_key(zero):
                lower = zero
            if not _nonempty(lower, upper):
                self.add(
                    ("warning", "bands", i),
                    f"band {band['light']!r} contains no value from 0 upwards, so it can never apply",
                )
                continue
            clipped.append((i, lower, upper))
        for a in range(len(clipped)):
            for b in range(a + 1, len(clipped)):
                ia, la, ua = clipped[a]
                ib, lb, ub = clipped[b]
                lo = max(la, lb, key=_lower_key)
                hi = min(ua, ub, key=_upper_key)
                if _nonempty(lo, hi):
                    where = (
                        f"at {_show(lo.value)}" if lo.value == hi.value else f"from {_end_text(lo)} to {_end_text(hi)}"
                    )
                    self.add(
                        ("warning", "bands", ib, _bound_key(bands[ib], lower=lo is lb)),
                        f"bands {bands[ia]['light']!r} and {bands[ib]['light']!r} overlap {where}",
                    )
        reach = _End(Decimal(0), False)  # covered so far: nothing, up to 0 exclusive
        reach_path: Path = ("warning", "bands")
        for i, lower, upper in sorted(clipped, key=lambda c: _lower_key(c[1])):
            if reach.value is None:
                break
            assert lower.value is not None
            if reach.value < lower.value or (
                reach.value == lower.value and not reach.inclusive and not lower.inclusive
            ):
                self.add(
                    ("warning", "bands", i, _bound_key(bands[i], lower=True)),
                    f"no band covers {_gap_text(reach, lower)}",
                )
            if _upper_key(upper) > _upper_key(reach):
                reach = upper
                reach_path = ("warning", "bands", i, _bound_key(bands[i], lower=False))
        if reach.value is not None:
            after = "above" if reach.inclusive else "from"
            self.add(reach_path, f"no band covers values {after} {_show(reach.value)}")

    def commission(self) -> None:
        c = self.data.get("commission")
        if not c:
            return
        self.known_metric(("commission", "basis"), str(c["basis"]), "commission basis")
        if "base" in c:
            self.known_column(("commission", "base"), str(c["base"]))
        if "cap" in c and _dec(c["cap"]) < 0:
            self.add(("commission", "cap"), f"a cap must not be negative (got {_show(c['cap'])})")
        tiers = c["tiers"]
        ids: dict[str, int] = {}
        for i, t in enumerate(tiers):
            path: Path = ("commission", "tiers", i)
            tid = str(t["id"])
            if tid in ids:
                self.add((*path, "id"), f"tier id {tid!r} is already used by tier {ids[tid]}")
            ids.setdefault(tid, i)
            lower = _dec(t["from"])
            if i > 0:
                prev = tiers[i - 1]
                if lower <= _dec(prev["from"]):
                    self.add(
                        (*path, "from"),
                        f"tier {tid!r} starts at {_show(t['from'])}, not above tier {prev['id']!r} "
                        f"(from {_show(prev['from'])}): tiers must be in increasing order of 'from', "
                        "otherwise they overlap or cannot be reached",
                    )
            if "to" in t:
                upper = _dec(t["to"])
                if upper <= lower:
                    self.add((*path, "to"), f"tier {tid!r} ends at {_show(t['to'])}, not above its start")
                elif i + 1 < len(tiers):
                    nxt = tiers[i + 1]
                    nxt_from = _dec(nxt["from"])
                    if upper < nxt_from:
                        self.add(
                            (*path, "to"),
                            f"gap: tier {tid!r} ends at {_show(t['to'])} but the next tier {nxt['id']!r} "
                            f"starts at {_show(nxt['from'])}",
                        )
                    elif upper > nxt_from:
                        self.add(
                            (*path, "to"),
                            f"overlap: tier {tid!r} runs to {_show(t['to'])} but the next tier "
                            f"{nxt['id']!r} starts at {_show(nxt['from'])}",
                        )
            rate = _dec(t["rate"])
            if not Decimal(0) <= rate <= Decimal(1):
                self.add((*path, "rate"), f"a rate must be between 0 and 1, e.g. 0.015 for 1.5% (got {t['rate']})")
            if "bonus" in t and _dec(t["bonus"]) < 0:
                self.add((*path, "bonus"), f"a bonus must not be negative (got {_show(t['bonus'])})")

    def awards(self) -> None:
        ids: dict[str, int] = {}
        for i, a in enumerate(self.data.get("awards") or []):
            path: Path = ("awards", i)
            aid = str(a["id"])
            if aid in ids:
                self.add((*path, "id"), f"award id {aid!r} is already used by awards[{ids[aid]}]")
            ids.setdefault(aid, i)
            if a["kind"] == "group":
                self.known_metric((*path, "metric"), str(a["metric"]), "award metric")
                if _dec(a["amount"]) < 0:
                    self.add((*path, "amount"), f"an award amount must not be negative (got {_show(a['amount'])})")
                continue
            self.rank_by((*path, "rank_by"), str(a["rank_by"]))
            prizes = a.get("prizes") or []
            for j, prize in enumerate(prizes):
                if _dec(prize) < 0:
                    self.add((*path, "prizes", j), f"a prize must not be negative (got {_show(prize)})")
                elif j > 0 and _dec(prize) > _dec(prizes[j - 1]):
                    self.add(
                        (*path, "prizes", j),
                        f"place {j + 1} gets {_show(prize)}, more than place {j} ({_show(prizes[j - 1])}): "
                        "prizes must not increase down the ranking",
                    )

    def scorecard(self) -> None:
        s = self.data.get("scorecard")
        if not s:
            return
        total = Decimal(0)
        seen: dict[str, int] = {}
        for i, k in enumerate(s["kpis"]):
            path: Path = ("scorecard", "kpis", i)
            name = str(k["metric"])
            self.known_metric((*path, "metric"), name, "KPI metric")
            if name in seen:
                self.add((*path, "metric"), f"metric {name!r} is already a KPI (kpis[{seen[name]}])")
            seen.setdefault(name, i)
            if _dec(k["target"]) <= 0:
                self.add((*path, "target"), f"a KPI target must be above 0 (got {_show(k['target'])})")
            weight = _dec(k["weight"])
            if weight < 0:
                self.add((*path, "weight"), f"a weight must not be negative (got {_show(k['weight'])})")
            if "cap" in k and _dec(k["cap"]) <= 0:
                self.add((*path, "cap"), f"a cap must be above 0 (got {_show(k['cap'])})")
            total += weight
        if total != 1:
            self.add(
                ("scorecard", "kpis"),
                f"KPI weights add up to {_show(total.normalize())} ({_percent(total)}); "
                "they must add up to exactly 1 (100%)",
            )
        froms: dict[Decimal, int] = {}
        for i, r in enumerate(s["ratings"]):
            lower = _dec(r["from"])
            if lower in froms:
                self.add(
                    ("scorecard", "ratings", i, "from"),
                    f"rating {r['rating']!r} starts at {_show(r['from'])}, like ratings[{froms[lower]}]",
                )
            froms.setdefault(lower, i)
        lowest = min(froms)
        if lowest > 0:
            self.add(
                ("scorecard", "ratings"),
                f"no rating for scores below {_show(lowest)}: the lowest rating must start at 0",
            )

    def eligibility(self) -> None:
        ids: dict[str, int] = {}
        for i, e in enumerate(self.data.get("eligibility") or []):
            path: Path = ("eligibility", i)
            eid = str(e["id"])
            if eid in ids:
                self.add((*path, "id"), f"eligibility id {eid!r} is already used by eligibility[{ids[eid]}]")
            ids.setdefault(eid, i)
            if "rank_by" in e:
                self.rank_by((*path, "rank_by"), str(e["rank_by"]))
            for j, cond in enumerate(e["all"]):
                for problem in self.condition_value((*path, "all", j, "value"), str(cond["value"]), e):
                    self.add((*path, "all", j, "value"), problem)

    def condition_value(self, path: Path, value: str, rule: Mapping[str, Any]) -> Iterator[str]:
        if value in self.metrics or value == "months":
            return
        if value == RANK_VALUE:
            if "rank_by" not in rule:
                yield "conditions on 'rank' need 'rank_by' on the rule (what the rank is by)"
            return
        if value.endswith(MONTHS_SUFFIX):
            light = value[: -len(MONTHS_SUFFIX)]
            if light not in self.lights:
                defined = ", ".join(self.lights) if self.lights else "none: there is no warning block"
                yield (f"counts months with light {light!r}, which the warning bands do not define (lights: {defined})")
            return
        yield (
            f"unknown value {value!r}: use 'rank', '<light>_months' (e.g. red_months) "
            f"or a metric{self._known_metrics()}"
        )


def _is_decimal_text(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except ArithmeticError:
        return False


def _band_ends(band: Mapping[str, Any]) -> tuple[_End, _End]:
    lower, upper = bounds_of(band)
    return (
        _End(None, False) if lower is None else _End(lower.value, lower.inclusive),
        _End(None, False) if upper is None else _End(upper.value, upper.inclusive),
    )


def _bound_key(band: Mapping[str, Any], *, lower: bool) -> str:
    for key in ("from", "above") if lower else ("to", "below"):
        if key in band:
            return key
    return "light"


def _nonempty(lower: _End, upper: _End) -> bool:
    if lower.value is None or upper.value is None:
        return True
    if lower.value < upper.value:
        return True
    return lower.value == upper.value and lower.inclusive and upper.inclusive


def _gap_text(reach: _End, lower: _End) -> str:
    assert reach.value is not None and lower.value is not None
    if reach.value == lower.value:
        return f"exactly {_show(lower.value)}"
    start = "from" if not reach.inclusive else "above"
    end = "up to and including" if not lower.inclusive else "below"
    return f"values {start} {_show(reach.value)} {end} {_show(lower.value)}"


def _percent(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"
