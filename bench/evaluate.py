"""Benchmark: a synthetic quarter through the real CLI, in one process and on Dask, against a plain-Python reference.

    python bench/evaluate.py --reps 33334              # ~100,000 rep-months
    python bench/evaluate.py --reps 333334 --formats csv   # ~1,000,000 rep-months
    python bench/evaluate.py --reps 33334 --no-dask --before /work/main   # one process, before/after

For each format (CSV; JSON with explanations) it runs `merit evaluate` three times in the same
run: in one process (`MERIT_WORKERS=1`), on a LocalCluster (`MERIT_WORKERS=N`, one worker
process per core by default), and the plain-Python Decimal reference (bench/reference.py, which
writes CSV only; its figure is the same yardstick for both formats). It prints one JSON line per
format: seconds and rep-months/s of each, the ratios to the reference (the machine is shared and
noisy: compare ratios, not seconds), whether the one-process and Dask outputs are byte-identical,
whether the payout agrees with the reference's, and peak RSS (the whole process tree, sampled
every 0.1 s: the client plus its Dask scheduler, nannies and workers). `--no-dask` leaves the
cluster out; `--before CHECKOUT` also runs another checkout's `merit evaluate` in one process on
the same file, in the same run (before/after a change), and says whether its output is the same
bytes. CPU seconds (user + system of the process) are given beside wall seconds: on a shared
machine they move less.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import resource
import subprocess
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


def _cpu() -> float:
    """CPU seconds of the children waited for so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _merit(facts: str, out: str, fmt: str, workers: str, checkout: Path = ROOT) -> tuple[float, float]:
    """Run `merit evaluate` as its own process; (seconds, peak RSS of its process tree in MiB)."""
    import psutil

    env = {k: v for k, v in os.environ.items() if k != "MERIT_SCHEDULER"}
    env |= {"MERIT_WORKERS": workers, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-m", "service.cli", "evaluate", "--policy", str(checkout / "policies/sales-incentive"),
               "--facts", facts, "--period", "2026-Q3", "--format", fmt, "--output", out]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=checkout, env=env, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"merit evaluate failed ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
    return elapsed, peak


def _run_reference(facts: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from reference import evaluate_quarter

    start = time.perf_counter()
    data = Path(facts).read_bytes()
    text, total = evaluate_quarter(data, MONTHS)
    Path(facts + ".reference.csv").write_text(text, encoding="utf-8")
    used = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((time.perf_counter() - start, str(total), used.ru_utime + used.ru_stime))


def _reference(facts: str) -> tuple[float, str, float]:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.get_context("fork").Process(target=_run_reference, args=(facts, queue))
    proc.start()
    result: tuple[float, str, float] = queue.get()
    proc.join()
    return result


def _payout(out: str, fmt: str) -> str:
    if fmt == "json":
        with open(out, encoding="utf-8") as fh:
            return str(json.load(fh)["totals"]["payout"])
    with open(out, encoding="utf-8") as fh:
        return str(sum((Decimal(r["total"]) for r in csv.DictReader(fh)), Decimal("0.00")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10000)
    parser.add_argument("--formats", default="csv,json", help="csv,json (default) or one of them")
    parser.add_argument("--workers", default=str(len(os.sched_getaffinity(0))), help="Dask worker processes")
    parser.add_argument("--no-dask", action="store_true", help="one process and the reference only")
    parser.add_argument("--before", type=Path, help="another checkout, also run in one process (before/after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        facts = str(Path(tmp) / "facts.csv")
        write_facts(Path(facts), args.reps, MONTHS)
        rep_months = args.reps * len(MONTHS)
        ref_s, ref_total, ref_cpu = _reference(facts)
        for fmt in args.formats.split(","):
            one_out, dask_out = str(Path(tmp) / f"one.{fmt}"), str(Path(tmp) / f"dask.{fmt}")
            cpu = _cpu()
            one_s, one_rss = _merit(facts, one_out, fmt, "1")
            one_cpu = _cpu() - cpu
            if args.no_dask or args.before:
                line = {"format": fmt, "rep_months": rep_months, "one_process_s": round(one_s, 2)}
                line |= {"one_process_cpu_s": round(one_cpu, 2), "reference_s": round(ref_s, 2)}
                line |= {"reference_cpu_s": round(ref_cpu, 2), "one_process_vs_reference": round(ref_s / one_s, 3)}
                line |= {"one_process_vs_reference_cpu": round(ref_cpu / one_cpu, 3)}
                line |= {"payout_agrees": _payout(one_out, fmt) == ref_total, "peak_rss_mb_one_process": round(one_rss)}
                if args.before:
                    before_out = str(Path(tmp) / f"before.{fmt}")
                    cpu = _cpu()
                    before_s, _ = _merit(facts, before_out, fmt, "1", args.before.resolve())
                    before_cpu = _cpu() - cpu
                    line |= {"before_s": round(before_s, 2), "before_cpu_s": round(before_cpu, 2)}
                    line |= {"before_vs_reference": round(ref_s / before_s, 3)}
                    line |= {"before_vs_reference_cpu": round(ref_cpu / before_cpu, 3)}
                    line |= {"identical_to_before": Path(one_out).read_bytes() == Path(before_out).read_bytes()}
                    Path(before_out).unlink()
                Path(one_out).unlink()
                if args.no_dask:
                    print(json.dumps(line), flush=True)
                    continue
            try:
                dask_s, dask_rss = _merit(facts, dask_out, fmt, args.workers)
            except RuntimeError as exc:  # the one-process and reference figures still count
                failed = {"format": fmt, "rep_months": rep_months, "one_process_s": round(one_s, 2)}
                failed |= {"reference_s": round(ref_s, 2), "dask_error": str(exc).strip()}
                print(json.dumps(failed), flush=True)
                continue
            identical = Path(one_out).read_bytes() == Path(dask_out).read_bytes()
            payout = _payout(one_out, fmt)
            Path(one_out).unlink()
            Path(dask_out).unlink()
            print(
                json.dumps(
                    {
                        "format": fmt,
                        "rep_months": rep_months,
                        "one_process_s": round(one_s, 2),
                        "dask_s": round(dask_s, 2),
                        "reference_s": round(ref_s, 2),
                        "one_process_rep_months_per_s": round(rep_months / one_s),
                        "dask_rep_months_per_s": round(rep_months / dask_s),
                        "reference_rep_months_per_s": round(rep_months / ref_s),
                        "one_process_vs_reference": round(ref_s / one_s, 3),
                        "dask_vs_reference": round(ref_s / dask_s, 3),
                        "dask_vs_one_process": round(one_s / dask_s, 3),
                        "dask_workers": int(args.workers),
                        "identical": identical,
                        "payout_agrees": payout == ref_total,
                        "payout": payout,
                        "peak_rss_mb_one_process": round(one_rss),
                        "peak_rss_mb_dask": round(dask_rss),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
