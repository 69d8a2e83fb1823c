"""Evaluate a large fact file in worker processes, with output byte-identical to one process.

The reps are split between N forked workers into ranges of rep_id (`split_points`, from a sample
of the file: only the balance depends on it); a rep's months always go to the same worker. Each
worker

1. reads the whole file but checks and builds only its reps' rows (`load_facts(reps=...)`), so
   loading is shared out too and no process ever holds all the rows;
2. evaluates its reps with the ordinary `Evaluator`, whose cross-line step (group sums, ranks:
   `engine.crossline`) goes through the parent: at the end of each period's per-line phase every
   worker sends its `Partial`, the parent `combine`s them exactly as a single process combines its
   one partial, and sends each worker its `Combined` back. Every decision is still taken by the
   worker's own rule tables (durable_rules), on the same keys a single process would compute;
3. renders its results (sorted by rep_id, as a single process sorts them); the parent writes the
   workers' texts one range after the other: the bytes a single process writes.

When the parallel path cannot vouch for identical output it steps aside (`None`) and the caller
runs the single-process path: any problem with the input (which the single process then reports
exactly, all problems at once), a period without facts, a policy not in force, a group sum or the
payout needing more than 28 digits (then splitting could round differently), no `fork`.
"""

from __future__ import annotations

import contextlib
import csv
import mmap
import multiprocessing as mp
import os
import traceback
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.crossline import Combined, InexactSum, Partial, combine
from engine.evaluation import Evaluator, require_columns
from engine.facts import RepFilter, load_facts
from engine.lines import ZERO
from engine.periods import Month, months_of, parse_period
from engine.policy import Policy
from engine.problems import MeritInputError
from engine.results import WarningSummary, merge_warning_summaries
from runtime.gcpause import gc_paused

#: Below this many bytes of facts one process is quicker than starting workers.
MIN_BYTES = 1 << 20
MAX_WORKERS = 4
_SAMPLE = 4096  # rows sampled to place the split points


def worker_count(filename: str, size: int) -> int:
    """How many workers to use for a fact file of `size` bytes (1: stay in this process).

    CSV files only (rows are sampled from the text). `MERIT_WORKERS` overrides the size rule
    (0 or 1: never; n: n workers, however small the file).
    """
    if not filename.lower().endswith(".csv") or "fork" not in mp.get_all_start_methods():
        return 1
    forced = os.environ.get("MERIT_WORKERS", "").strip()
    if forced.isdigit():
        return max(int(forced), 1)
    if forced:
        raise MeritInputError.at("MERIT_WORKERS", forced, "give a whole number of worker processes (0 or 1: none)")
    if size < MIN_BYTES:
        return 1
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def split_points(data: bytes | mmap.mmap, parts: int) -> list[str] | None:
    """Rep ids that cut the team into `parts` ranges of about the same size (None: no rep_id column).

    Read from a few thousand rows picked at even distances through the file. A misread sample
    (a quoted line break, say) only makes the ranges less even: every worker decides which rows
    are its own by comparing the rep_id it reads properly with these same points.
    """
    newline = data.find(b"\n")
    header = next(csv.reader([data[: newline if newline >= 0 else len(data)].decode("utf-8-sig", "replace")]), [])
    names = [h.strip().lower() for h in header]
    if "rep_id" not in names:
        return None
    col = names.index("rep_id")
    sample: list[str] = []
    for i in range(1, _SAMPLE + 1):
        start = data.find(b"\n", i * len(data) // (_SAMPLE + 1)) + 1
        if start <= newline:
            continue
        end = data.find(b"\n", start)
        try:
            record = next(csv.reader([data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")]), [])
        except csv.Error:
            continue
        if col < len(record) and record[col].strip():
            sample.append(record[col].strip())
    sample.sort()
    return sorted({sample[len(sample) * k // parts] for k in range(1, parts)}) if sample else []


def range_of(splits: list[str], rep_id: str) -> int:
    """Which worker a rep belongs to: the range of `split_points` its id falls in (blank: 0)."""
    return bisect_right(splits, rep_id)


@dataclass
class ParallelRun:
    """An evaluation done by workers; `csv_chunks` streams its CSV (once)."""

    results: int
    total_payout: Decimal
    _run: _Run
    warnings: WarningSummary

    def csv_chunks(self) -> Iterator[str]:
        """The CSV of every worker's lines, range after range: the single process's bytes."""
        return self._run.merged_csv()


def evaluate_csv(
    policy: Policy,
    facts: bytes | Path,
    filename: str,
    period: str,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> ParallelRun | None:
    """Evaluate `period` with `workers` processes; None when the single-process path must do it.

    The policy must be the version in force for the period (as `evaluate` would pick it). `facts`
    is the file's content, or its path: then each worker reads the file itself and frees it once
    its rows are built, and this process only samples it. `progress(done, total)` hears of the
    rep-months evaluated, month by month.
    """
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return None
    try:
        per = parse_period(period)
    except ValueError:
        return None
    if not all(policy.in_force(m) for m in months_of(per)):
        return None
    if isinstance(facts, Path):
        try:
            with facts.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                splits = split_points(data, workers)
        except (OSError, ValueError):  # unreadable, or empty (which mmap refuses)
            return None
    else:
        splits = split_points(facts, workers)
    if splits is None:
        return None
    run = _Run(policy, facts, filename, period, splits)
    try:
        outcome = run.evaluate(len(months_of(per)), progress)
    except BaseException:
        run.stop(now=True)
        raise
    if outcome is None:
        run.stop(now=True)
        return None
    results, payout, warnings = outcome
    return ParallelRun(results, payout, run, warnings)


class WorkerError(RuntimeError):
    """A worker failed (a bug, not bad input): the message is the worker's exception in one line;
    its traceback is attached as a note (shown only where tracebacks are, e.g. MERIT_DEBUG=1)."""


class _Run:
    """The parent's side: start the workers, combine at each barrier, merge their output."""

    def __init__(self, policy: Policy, facts: bytes | Path, filename: str, period: str, splits: list[str]) -> None:
        ctx = mp.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for k in range(len(splits) + 1):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(child_end, policy, facts, filename, period, splits, k), daemon=True
            )
            proc.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(proc)

    def _receive(self) -> list[tuple[Any, ...]]:
        return [self._message(conn) for conn in self.conns]

    def _send(self, messages: list[Any]) -> None:
        for conn, message in zip(self.conns, messages, strict=True):
            conn.send(message)

    def evaluate(
        self, months: int, progress: Callable[[int, int], None] | None
    ) -> tuple[int, Decimal, WarningSummary] | None:
        """Run every worker up to its rendering; (results, payout, warnings), or None to step aside.

        The first `months` barriers end the months (then a quarter's): what `progress` counts.
        """
        loaded = self._receive()
        if any(m[0] == "refused" for m in loaded) or not any(m[1] for m in loaded):
            return None  # a problem in the input, or no facts for the period: one process says it
        if len({m[2] for m in loaded}) > 1:
            return None  # the workers read different bytes: the file changed under us
        total, done, barriers = sum(m[1] for m in loaded), 0, 0
        if progress is not None:
            progress(done, total)
        self._send([("go",)] * len(self.conns))
        while True:
            messages = self._receive()
            kinds = {m[0] for m in messages}
            if kinds == {"partial"}:
                partials: list[Partial] = [_unpacked(m[1]) for m in messages]
                barriers += 1
                if progress is not None and barriers <= months:
                    done += sum(p.lines for p in partials)
                    progress(done, total)
                if any(p.inexact for p in partials):
                    return None
                try:
                    combined = combine(partials)
                except InexactSum:
                    return None
                self._send(combined)
            elif kinds == {"evaluated"}:
                break
            else:
                raise WorkerError(f"workers out of step: {sorted(kinds)}")
        context = Context()
        payout = ZERO
        for m in messages:
            payout = context.add(payout, m[2])
        if context.flags[Inexact] or any(m[3] for m in messages):
            return None
        return sum(m[1] for m in messages), payout, merge_warning_summaries(m[4] for m in messages)

    def merged_csv(self) -> Iterator[str]:
        """Header, then each worker's lines, range after range (each worker's are sorted)."""
        from engine.results import Evaluation

        self._send([("render",)] * len(self.conns))  # every worker renders at once
        try:
            yield Evaluation.csv_header()
            for conn in self.conns:
                conn.send(("send",))
                while True:
                    message = self._message(conn)
                    if message[0] == "done":
                        break
                    yield message[1]
        finally:
            self.stop()

    @staticmethod
    def _message(conn: Connection) -> tuple[Any, ...]:
        try:
            message: tuple[Any, ...] = conn.recv()
        except EOFError:
            raise WorkerError("a worker process ended unexpectedly") from None
        if message[0] == "error":
            lines = [ln for ln in message[1].strip().splitlines() if ln.strip()]
            error = WorkerError(f"in a worker process: {lines[-1] if lines else 'failed'}")
            error.add_note(message[1])
            raise error
        return message

    def stop(self, now: bool = False) -> None:
        """Close the pipes and reap the workers (`now`: without waiting for them to finish)."""
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            if now:
                proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _packed(partial: Partial) -> Partial:
    """Ranked Decimals travel as text: pickling a Decimal costs several times its `str`."""
    rankings: dict[Any, Any] = {}
    for ranking, (indices, values, count) in partial.rankings.items():
        if all(type(v) is Decimal for v in values):
            rankings[ranking] = (indices, [str(v) for v in values], count)
        else:
            rankings[ranking] = (indices, values, count)
    return Partial(partial.groups, rankings, partial.depths, partial.inexact, partial.lines)


def _unpacked(partial: Partial) -> Partial:
    """`_packed` undone: `Decimal(str(d))` is `d`, digits and exponent."""
    for ranking, (indices, values, count) in partial.rankings.items():
        if values and type(values[0]) is str:
            partial.rankings[ranking] = (indices, [Decimal(v) for v in values], count)
    return partial


def _worker(
    conn: Connection, policy: Policy, facts: bytes | Path, filename: str, period: str, splits: list[str], k: int
) -> None:
    """Worker k: load its reps, evaluate them (combining at each barrier), render, send."""
    try:
        _work(conn, policy, facts, filename, period, lambda rep_id: range_of(splits, rep_id) == k)
    except BaseException:
        with contextlib.suppress(OSError):  # the parent may be gone already
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _work(conn: Connection, policy: Policy, facts: bytes | Path, filename: str, period: str, mine: RepFilter) -> None:
    from engine.results import Evaluation, warning_summary

    per = parse_period(period)
    try:
        data = facts.read_bytes() if isinstance(facts, Path) else facts
        rows = load_facts(data, filename, policy.numeric_columns, reps=mine)
        del data  # this process's own copy, when it read the file
        require_columns(policy, rows)
    except (MeritInputError, OSError):
        conn.send(("refused",))
        return
    conn.send(("loaded", sum(len(rows.for_month(m)) for m in months_of(per)), rows.sha256))
    if conn.recv()[0] != "go":
        return

    def exchange(partial: Partial) -> Combined:
        conn.send(("partial", _packed(partial)))
        combined: Combined = conn.recv()
        return combined

    ev = Evaluator(policy, rows, exchange=exchange)
    with gc_paused():
        lines = ev.month(per) if isinstance(per, Month) else ev.quarter(per)
    evaluation = Evaluation(policy, str(per), rows.sha256, lines, None)
    context = Context()
    payout = ZERO
    for line in evaluation.results:
        payout = context.add(payout, line.total)
    conn.send(("evaluated", len(lines), payout, bool(context.flags[Inexact]), warning_summary(evaluation.results)))
    if conn.recv()[0] != "render":
        return
    chunks = list(evaluation.csv_chunks(header=False))  # rendered while the other workers render
    if conn.recv()[0] != "send":
        return
    for chunk in chunks:
        conn.send(("text", chunk))
    conn.send(("done",))
