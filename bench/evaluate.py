"""Benchmark: evaluate a synthetic quarter through the real CLI path, against a plain-Python reference.

    python bench/evaluate.py --reps 333334          # ~1,000,000 rep-months

Prints one JSON line: merit_rep_months_per_s, reference_rep_months_per_s, ratio, peak_rss_mb
(of the Merit run, measured in its own child process), and whether both agree on the payout.
Targets on the 2-core reference machine: 1,000,000 rep-months <= 60 s, peak RSS <= 2 GiB,
ratio >= 0.25.

Merit evaluates a big file in worker processes (runtime.parallel; `MERIT_WORKERS=1` keeps it in
one). peak_rss_mb then counts them all: the parent's peak plus, for each worker, the largest
worker's peak (an upper bound: pages a worker shares with the parent are counted twice).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import write_facts  # noqa: E402

MONTHS = ("2026-07", "2026-08", "2026-09")


def _run_merit(facts: str, out: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from runtime.parallel import worker_count
    from service.cli import main

    start = time.perf_counter()
    code = main(["evaluate", "--policy", str(ROOT / "policies/sales-incentive"), "--facts", facts,
                 "--period", "2026-Q3", "--format", "csv", "--output", out])  # fmt: skip
    elapsed = time.perf_counter() - start
    workers = worker_count(facts, Path(facts).stat().st_size)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers > 1 else 0.0
    queue.put((code, elapsed, parent + workers * worker, workers))


def _run_reference(facts: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from reference import evaluate_quarter

    start = time.perf_counter()
    data = Path(facts).read_bytes()
    text, total = evaluate_quarter(data, MONTHS)
    Path(facts + ".reference.csv").write_text(text, encoding="utf-8")
    queue.put((time.perf_counter() - start, str(total)))


def _child(target, *args):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.get_context("fork").Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        facts = str(Path(tmp) / "facts.csv")
        out = str(Path(tmp) / "merit.csv")
        write_facts(Path(facts), args.reps, MONTHS)
        rep_months = args.reps * len(MONTHS)
        code, merit_s, rss, workers = _child(_run_merit, facts, out)
        if code != 0:
            raise SystemExit(f"merit evaluate failed with exit status {code}")
        ref_s, ref_total = _child(_run_reference, facts)
        with open(out, encoding="utf-8") as fh:
            merit_total = sum((Decimal(r["total"]) for r in csv.DictReader(fh)), Decimal("0.00"))
    print(
        json.dumps(
            {
                "reps": args.reps,
                "rep_months": rep_months,
                "merit_s": round(merit_s, 2),
                "merit_rep_months_per_s": round(rep_months / merit_s),
                "reference_rep_months_per_s": round(rep_months / ref_s),
                "ratio": round(ref_s / merit_s, 3),
                "peak_rss_mb": round(rss),
                "workers": workers,
                "payout_agrees": str(merit_total) == ref_total,
                "payout": str(merit_total),
            }
        )
    )


if __name__ == "__main__":
    main()
