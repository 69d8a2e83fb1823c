"""A plain-Python evaluation of the shipped sales-incentive policy, for the benchmark's ratio.

Hard-codes the handbook (2026-Q3 version): no rule engine, no policy interpretation, no
explanations, the same exact Decimal arithmetic and the same CSV output columns for the money.
It is what a careful spreadsheet-replacement script would do, and the yardstick Merit is held to.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
D = Decimal
TIERS = ((D("1.20"), D("0.03"), D("3000"), "sprint"), (D("1.00"), D("0.02"), D("1000"), "advanced"),
         (D("0.80"), D("0.015"), D("0"), "basic"))  # fmt: skip
KPIS = (("ach", D("1.00"), D("0.50"), D("1.50")), ("col", D("0.90"), D("0.20"), D("1.20")),
        ("new", D("5"), D("0.20"), D("1.50")), ("fup", D("40"), D("0.10"), D("1.20")))  # fmt: skip
RATINGS = ((D("110"), "A"), (D("90"), "B"), (D("70"), "C"), (D("0"), "D"))
PRIZES = (D("5000"), D("3000"), D("1000"))


def _ge(num: Decimal, den: Decimal, threshold: Decimal) -> bool:
    return num >= threshold * den


def evaluate_quarter(data: bytes, months: tuple[str, str, str]) -> tuple[str, Decimal]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    by_month: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        if r["period"] in months:
            by_month[r["period"]].append(
                {"rep": r["rep_id"], "name": r["name"], "region": r["region"], "t": D(r["target"]),
                 "a": D(r["actual"]), "c": D(r["collected"]), "n": D(r["new_customers"]),
                 "f": D(r["follow_ups"])}
            )  # fmt: skip
    reps: dict[str, dict[str, object]] = {}
    for month in months:
        lines = by_month[month]
        region_t: dict[str, Decimal] = defaultdict(Decimal)
        region_a: dict[str, Decimal] = defaultdict(Decimal)
        for ln in lines:
            region_t[ln["region"]] += ln["t"]  # type: ignore[index]
            region_a[ln["region"]] += ln["a"]  # type: ignore[index]
        for ln in lines:
            t, a = ln["t"], ln["a"]
            light = "red" if not _ge(a, t, D("0.80")) else ("green" if a > t else "yellow")  # type: ignore[operator,arg-type]
            commission = bonus = D("0.00")
            for lower, rate, b, _name in TIERS:
                if _ge(a, t, lower):  # type: ignore[arg-type]
                    commission = (a * rate).quantize(CENT, ROUND_HALF_UP)  # type: ignore[operator]
                    bonus = b.quantize(CENT)
                    break
            award = D("500.00") if _ge(region_a[ln["region"]], region_t[ln["region"]], D("1.10")) else D("0.00")  # type: ignore[index]
            score = D(0)
            for key, value in (
                ("ach", a / t),
                ("col", ln["c"] / a if a else None),
                ("new", ln["n"]),
                ("fup", ln["f"]),
            ):  # type: ignore[operator]
                kpi = next(k for k in KPIS if k[0] == key)
                if value is None:
                    score = None  # type: ignore[assignment]
                    break
                score += kpi[2] * min(value / kpi[1], kpi[3])  # type: ignore[operator]
            rep = reps.setdefault(ln["rep"], {"name": ln["name"], "region": ln["region"], "t": D(0), "a": D(0),  # type: ignore[arg-type]
                                              "pay": D("0.00"), "red": 0})  # fmt: skip
            rep["t"] += t  # type: ignore[operator]
            rep["a"] += a  # type: ignore[operator]
            rep["pay"] += commission + bonus + award  # type: ignore[operator]
            rep["red"] += light == "red"  # type: ignore[operator]
            rep["rating"] = None if score is None else next(r for lo, r in RATINGS if score * 100 >= lo)
    ordered = sorted(reps, key=lambda r: reps[r]["a"], reverse=True)  # type: ignore[arg-type,return-value]
    rank, prev = 0, None
    for i, rep_id in enumerate(ordered):
        rep = reps[rep_id]
        if rep["a"] != prev:
            rank, prev = i + 1, rep["a"]
        if rank <= 3:
            rep["pay"] += PRIZES[rank - 1]  # type: ignore[operator]
        rep["promo"] = rank <= 10 and rep["red"] == 0
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("rep_id", "name", "region", "target", "actual", "total", "promotion_review"))
    total = D("0.00")
    for rep_id in sorted(reps):
        rep = reps[rep_id]
        total += rep["pay"]  # type: ignore[operator]
        w.writerow((rep_id, rep["name"], rep["region"], rep["t"], rep["a"], rep["pay"], rep["promo"]))
    return out.getvalue(), total
