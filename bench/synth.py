"""Synthetic fact files for benchmarks: N reps x 3 months, deterministic for a given seed."""

from __future__ import annotations

import random
from pathlib import Path

REGIONS = ("East", "South", "North", "West")
LINES = ("A", "B", "C")
FACTORS = (62, 79, 80, 93, 100, 104, 110, 120, 131)
HEADER = (
    "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers,leads,follow_ups,deals\n"
)


def write_facts(
    path: Path, reps: int, months: tuple[str, ...] = ("2026-07", "2026-08", "2026-09"), seed: int = 7
) -> None:
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for month in months:
            for i in range(reps):
                target = rnd.choice((250000, 300000, 400000, 500000, 800000))
                actual = target * rnd.choice(FACTORS) // 100 + rnd.randint(0, 99) / 100
                collected = actual * rnd.choice((80, 90, 95, 100)) // 100
                fh.write(
                    f"R{i:07d},rep {i},{REGIONS[i % 4]},{LINES[i % 3]},M{i % 50:03d},{month},{target}.00,"
                    f"{actual:.2f},{collected:.2f},{rnd.randint(0, 9)},{rnd.randint(10, 60)},"
                    f"{rnd.randint(10, 60)},{rnd.randint(1, 10)}\n"
                )
