"""Benchmark: facts credited from deals (issue 12), against a plain-Python reference.

    python bench/crediting.py --deals 100000

Writes a synthetic deals/payments/targets set (reps of 20 deals a quarter, 1-4 payments each),
then times, in this process: reading both files and the targets (`load_deal_book`,
`load_targets`), the crediting (`credit_deals`: keys, the rule engine's event correlation, splits)
and the facts (`credited_facts`). The reference computes the same credited month per deal in
plain Python (first payment whose running total reaches 30%, with Fraction) over the already
read deals, with no rule engine; both must agree on every deal's month and on the total credited.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import resource
import sys
import time
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.crediting import credit_deals, credited_facts  # noqa: E402
from engine.deals import load_deal_book, load_targets  # noqa: E402
from engine.policy import Crediting  # noqa: E402


def synth(deals: int, seed: int = 12) -> tuple[bytes, bytes, bytes]:
    rnd = random.Random(seed)
    reps = max(1, deals // 20)
    d_lines, p_lines = ["deal_id,rep_id,signed_on,amount,shares"], ["deal_id,paid_on,amount"]
    for i in range(deals):
        rep = f"R{i % reps:06d}"
        signed = datetime.date(2026, 7, 1) + datetime.timedelta(days=rnd.randint(0, 80))
        cents = rnd.randint(1_000_000, 50_000_000)
        share = f'"{rep}:60%;R{(i + 1) % reps:06d}:40%"' if rnd.random() < 0.1 and reps > 1 else ""
        d_lines.append(f"D{i},{rep},{signed},{cents // 100}.{cents % 100:02d},{share}")
        day, paid = signed, 0
        for _ in range(rnd.randint(1, 4)):
            day += datetime.timedelta(days=rnd.randint(0, 20))
            part = min(cents - paid, cents * rnd.randint(5, 35) // 100)
            if part <= 0:
                break
            paid += part
            p_lines.append(f"D{i},{day},{part // 100}.{part % 100:02d}")
    t_lines = ["rep_id,period,target"] + [
        f"R{r:06d},2026-{m:02d},500000.00" for r in range(reps) for m in (7, 8, 9, 10, 11, 12)
    ]
    return tuple(("\n".join(x) + "\n").encode() for x in (d_lines, p_lines, t_lines))  # type: ignore[return-value]


def reference(book_deals: tuple, payments: tuple) -> dict[str, str | None]:  # type: ignore[type-arg]
    paid = defaultdict(list)
    for p in payments:
        paid[p.deal_id].append(p)
    months: dict[str, str | None] = {}
    for d in book_deals:
        total, month = Fraction(0), None
        for p in paid[d.deal_id]:
            total += Fraction(p.amount)
            if total >= Fraction(3, 10) * Fraction(d.amount):
                month = f"{p.paid_on.year:04d}-{p.paid_on.month:02d}"
                break
        months[d.deal_id] = month
    return months


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    args = parser.parse_args()
    deals, payments, targets = synth(args.deals)
    t0 = time.perf_counter()
    book = load_deal_book(deals, "deals.csv", payments, "payments.csv")
    rows, sha, _ = load_targets(targets, "targets.csv")
    t1 = time.perf_counter()
    credited = credit_deals(Crediting(collected_at_least=Decimal("0.30"), shown="30%"), book)
    t2 = time.perf_counter()
    facts = credited_facts(credited, book, rows, ("targets.csv", sha))
    t3 = time.perf_counter()
    expected = reference(book.deals, book.payments)
    t4 = time.perf_counter()
    got = {c.deal_id: str(c.month) for c in credited.credits}
    agree = all(got.get(k) == v for k, v in expected.items()) and len(got) == sum(1 for v in expected.values() if v)
    print(
        json.dumps(
            {
                "deals": len(book.deals),
                "payments": len(book.payments),
                "credited_deals": len(got),
                "fact_rows": len(facts.rows),
                "read_s": round(t1 - t0, 2),
                "credit_s": round(t2 - t1, 2),
                "facts_s": round(t3 - t2, 2),
                "reference_credit_s": round(t4 - t3, 2),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                "agree": agree,
            }
        )
    )


if __name__ == "__main__":
    main()
