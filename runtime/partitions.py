"""A worker's side of a partitioned evaluation: one partition of the reps, advanced task by task.

`runtime.dask_executor` splits the reps into ranges of rep_id (`split_points`, from a sample of
the file: only the balance depends on it); a rep's months always fall in the same partition. On
its worker, a partition

1. reads the whole file but checks and builds only its reps' rows (`load_partition`);
2. evaluates them with the ordinary `Evaluator` in a thread of the worker, which stops at every
   cross-line barrier (one per period: `engine.crossline`) with its `Partial`: each
   `step_partition` task hands in the `Combined` of the previous barrier and returns the next
   `Partial` (or, after the last, the partition's `Summary`). Every decision is still taken by
   the worker's own rule tables (durable_rules), on the keys a single process would compute;
3. renders its lines into chunks kept on the worker, compressed (`render_partition`), which the
   client fetches in order (`take_chunk`): the bytes one process writes.

The state between tasks lives in this module (`_RUNS`, per run token and partition): it is a
worker process's, never the client's. A step that finds its partition missing or at another
barrier (a worker restarted, a task re-run after a loss) raises `PartitionLost`: a run is
redone from the start, never patched up.
"""

from __future__ import annotations

import csv
import mmap
import queue
import threading
import traceback
import zlib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import Any

from engine.crossline import Combined, Partial
from engine.evaluation import Evaluator, require_columns
from engine.facts import FactSet, load_facts
from engine.lines import ZERO, Line
from engine.periods import Month, months_of, parse_period
from engine.policy import Policy
from engine.problems import MeritInputError
from engine.results import Evaluation, WarningSummary, json_result_lines, warning_summary
from engine.totals import TotalsPart, totals_part
from runtime.gcpause import gc_paused

_SAMPLE = 4096  # rows sampled to place the split points
LINES_PER_CHUNK = 2000  # lines per rendered chunk fetched by the client


class PartitionLost(RuntimeError):
    """A partition's state is gone or out of step (its worker restarted, or a task ran twice)."""


def split_points(data: bytes | mmap.mmap, parts: int) -> list[str] | None:
    """Rep ids that cut the team into `parts` ranges of about the same size (None: no rep_id column).

    Read from a few thousand rows picked at even distances through the file. A misread sample
    (a quoted line break, say) only makes the ranges less even: every partition decides which
    rows are its own by comparing the rep_id it reads properly with these same points.
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
    """Which partition a rep belongs to: the range of `split_points` its id falls in (blank: 0)."""
    return bisect_right(splits, rep_id)


@dataclass
class Summary:
    """What the client learns of an evaluated partition (small; the lines stay on the worker)."""

    results: int
    payout: Decimal
    inexact: bool
    warnings: WarningSummary
    totals: TotalsPart
    previous_actual: Decimal | None  # the partition's reps' sales in the month before (a month run)


class _Stopped(Exception):
    """The run was forgotten while its evaluator waited at a barrier."""


class _Partition:
    """One partition's evaluator, run in a thread that stops at each barrier."""

    def __init__(self, policy: Policy, rows: FactSet, period: str) -> None:
        self.policy, self.rows, self.period = policy, rows, parse_period(period)
        self.barrier = 0
        self.inbox: queue.Queue[Combined | None] = queue.Queue()
        self.outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.evaluation: Evaluation | None = None
        self.chunks: dict[int, Any] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _exchange(self, partial: Partial) -> Combined:
        self.outbox.put(("partial", _packed(partial)))
        combined = self.inbox.get()
        if combined is None:
            raise _Stopped
        return combined

    def _run(self) -> None:
        try:
            per = self.period
            ev = Evaluator(self.policy, self.rows, exchange=self._exchange)
            with gc_paused(freeze=False):
                lines = ev.month(per) if isinstance(per, Month) else ev.quarter(per)
            previous = self.rows.for_month(per.previous()) if isinstance(per, Month) else ()
            before = sum((r.actual for r in previous), Decimal(0)) if previous else None
            self.evaluation = Evaluation(self.policy, str(per), self.rows.sha256, lines, before)
            self.outbox.put(("evaluated", self._summary(self.evaluation.results, before)))
        except _Stopped:
            return
        except BaseException:
            self.outbox.put(("error", traceback.format_exc()))

    def _summary(self, results: list[Line], before: Decimal | None) -> Summary:
        context = Context()
        payout = ZERO
        for line in results:
            payout = context.add(payout, line.total)
        totals = totals_part(self.policy, results)
        return Summary(len(results), payout, bool(context.flags[Inexact]), warning_summary(results), totals, before)

    def step(self, barrier: int, combined: Combined | None) -> tuple[str, Any]:
        if barrier != self.barrier:
            raise PartitionLost(f"partition at barrier {self.barrier} was asked for barrier {barrier}")
        self.barrier += 1
        if combined is None:
            self.thread.start()
        else:
            self.inbox.put(combined)
        kind, value = self.outbox.get()
        if kind == "error":
            lines = [ln for ln in value.strip().splitlines() if ln.strip()]
            error = RuntimeError(f"in a worker process: {lines[-1] if lines else 'failed'}")
            error.add_note(value)
            raise error
        return kind, value


_RUNS: dict[tuple[str, int], _Partition] = {}
_LOCK = threading.Lock()


def _run_of(token: str, k: int) -> _Partition:
    with _LOCK:
        run = _RUNS.get((token, k))
    if run is None:
        raise PartitionLost(f"partition {k} of run {token} is not on this worker (it restarted, or left)")
    return run


def load_partition(
    token: str, k: int, policy: Policy, facts: bytes | str, filename: str, period: str, splits: list[str]
) -> tuple[str, int, str]:
    """Task: read the facts (`facts`: the content, or a path this worker can read), keep partition
    k's reps. ("refused", 0, "") when the input has a problem (one process then reports it all)."""
    try:
        data = Path(facts).read_bytes() if isinstance(facts, str) else facts
        with gc_paused(freeze=False):  # millions of small objects without cycles, as in one process
            rows = load_facts(data, filename, policy.numeric_columns, reps=lambda r: range_of(splits, r) == k)
        del data
        require_columns(policy, rows)
    except (MeritInputError, OSError):
        return ("refused", 0, "")
    with _LOCK:
        _RUNS[(token, k)] = _Partition(policy, rows, period)
    return ("loaded", sum(len(rows.for_month(m)) for m in months_of(parse_period(period))), rows.sha256)


def step_partition(token: str, k: int, barrier: int, combined: Combined | None) -> tuple[str, Any]:
    """Task: advance partition k past `barrier` (0: start it) -> ("partial", Partial) or ("evaluated", Summary)."""
    return _run_of(token, k).step(barrier, combined)


def render_partition(token: str, k: int, fmt: str, first: bool, row: Callable[[Line], Any] | None = None) -> int:
    """Task: render partition k's lines, kept here in chunks; -> the chunk count.

    `fmt`: "csv" or "json" (result lines as text; `first`: no results precede this partition's,
    so its first JSON line takes no comma), or "rows": a chunk is a list of `row(line)`."""
    run = _run_of(token, k)
    ev = run.evaluation
    if ev is None:
        raise PartitionLost(f"partition {k} of run {token} was not evaluated")
    with gc_paused(freeze=False):
        return _render(run, ev, fmt, first, row)


def _render(run: _Partition, ev: Evaluation, fmt: str, first: bool, row: Callable[[Line], Any] | None) -> int:
    if fmt == "rows" and row is not None:
        rows = [row(ln) for ln in ev.results]
        run.chunks = {j: rows[i : i + LINES_PER_CHUNK] for j, i in enumerate(range(0, len(rows), LINES_PER_CHUNK))}
        return len(run.chunks)
    texts = ev.csv_lines() if fmt == "csv" else json_result_lines(ev.results, first)
    batch: list[str] = []
    count = 0
    for text in texts:
        batch.append(text)
        if len(batch) == LINES_PER_CHUNK:
            run.chunks[count] = _packed_text(batch)
            count += 1
            batch.clear()
    if batch:
        run.chunks[count] = _packed_text(batch)
        count += 1
    return count


def _packed_text(batch: list[str]) -> bytes:
    """Rendered lines kept compressed until fetched: a million JSON results with explanations are
    gigabytes of text, about a tenth of that compressed (zlib's fastest level)."""
    return zlib.compress("".join(batch).encode("utf-8"), 1)


def unpacked_text(chunk: bytes) -> str:
    """`_packed_text` undone (on the client)."""
    return zlib.decompress(chunk).decode("utf-8")


def take_chunk(token: str, k: int, j: int) -> Any:
    """Task: chunk j of partition k's rendered text (handed over once, then freed)."""
    try:
        return _run_of(token, k).chunks.pop(j)
    except KeyError:
        raise PartitionLost(f"chunk {j} of partition {k} of run {token} is gone") from None


def forget(token: str) -> None:
    """Drop every partition of run `token` on this worker (runs on every worker at the end)."""
    with _LOCK:
        runs = [run for key, run in list(_RUNS.items()) if key[0] == token]
        for key in [key for key in _RUNS if key[0] == token]:
            del _RUNS[key]
    for run in runs:
        run.inbox.put(None)  # an evaluator waiting at a barrier stops


def _packed(partial: Partial) -> Partial:
    """Ranked Decimals travel as text: pickling a Decimal costs several times its `str`."""
    rankings: dict[Any, Any] = {}
    for ranking, (indices, values, count) in partial.rankings.items():
        if all(type(v) is Decimal for v in values):
            rankings[ranking] = (indices, [str(v) for v in values], count)
        else:
            rankings[ranking] = (indices, values, count)
    return Partial(partial.groups, rankings, partial.depths, partial.inexact, partial.lines)


def unpacked(partial: Partial) -> Partial:
    """`_packed` undone: `Decimal(str(d))` is `d`, digits and exponent."""
    for ranking, (indices, values, count) in partial.rankings.items():
        if values and type(values[0]) is str:
            partial.rankings[ranking] = (indices, [Decimal(v) for v in values], count)
    return partial
