"""Benchmark the what-if simulator: 10,000 synthetic reps x 3 months.

One scenario (baseline + scenario with tier 2 at 1.8% and East +5%; target < 2 s) and a 20-point
sweep of the advanced tier's rate (target < 20 s), reusing the parsed facts and, per content hash,
the compiled policies. Both run as `merit simulate`/`merit sweep` run them: with the cyclic GC
paused (`runtime.gcpause`, which the CLI applies and the server never does). Prints one JSON line:
{"reps": 10000, "scenario_s": ..., "sweep_points": 20, "sweep_s": ...}

    .venv/bin/python bench/simulate.py [--reps N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synth import write_facts
from engine.edits import apply_edits
from engine.facts import load_facts
from engine.quota import apply_quota_changes
from engine.simulation import simulate
from engine.sweep import sweep
from runtime.gcpause import gc_paused
from runtime.policies import load_library

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=20)
    args = ap.parse_args()
    policy = load_library(ROOT / "policies" / "sales-incentive").for_period("2026-Q3")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts.csv"
        write_facts(path, args.reps)
        facts = load_facts(path.read_bytes(), path.name, policy.numeric_columns)
    period = "2026-Q3"

    t0 = time.perf_counter()
    with gc_paused(freeze=False):
        scenario = apply_edits(policy, ["commission.tiers[advanced].rate=0.018"])
        sfacts = apply_quota_changes(facts, ["region=East:+5%"], period)
        result = simulate(policy, scenario, facts, period, sfacts)
        result.as_dict()
    scenario_s = time.perf_counter() - t0

    values = [Decimal("0.0150") + Decimal("0.0005") * i for i in range(args.points)]
    t1 = time.perf_counter()
    with gc_paused(freeze=False):
        sw = sweep(policy, "commission.tiers[advanced].rate", values, facts, period)
        sw.as_dict()
    sweep_s = time.perf_counter() - t1
    print(
        json.dumps(
            {
                "reps": args.reps,
                "scenario_s": round(scenario_s, 3),
                "sweep_points": len(values),
                "sweep_s": round(sweep_s, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
