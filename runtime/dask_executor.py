"""Evaluate a large fact file on Dask (dask.distributed), with output byte-identical to one process.

The executor is a `LocalCluster` (one single-threaded worker process per core, on 127.0.0.1, no
dashboard) or an existing cluster (`--scheduler tcp://HOST:8786` or `MERIT_SCHEDULER`). The reps
are cut into one partition per worker (`runtime.partitions`), and the evaluation is a task graph:

    load(k) -> step(k, 0) -> combine -> step(k, 1) -> combine -> ... -> step(k, B) = Summary(k)
                 partials      (engine.crossline)      decisions, per partition
    -> render(k) -> chunk(k, 0), chunk(k, 1), ...  fetched partition after partition, in order

with one barrier per period (a month: 1; a quarter: its 3 months and the quarter). A partition's
tasks are pinned to its worker, where its evaluator waits between barriers; `combine` runs
anywhere. The client writes the header (CSV) or head and totals block (JSON, from the merged
`TotalsPart`s) around the partitions' texts: the bytes one process writes.

When this path cannot vouch for identical output it steps aside (`None`) and the caller runs the
single-process path: any problem with the input (which one process then reports exactly, all
problems at once), a period without facts, a policy not in force, a sum needing more than 28
digits (then splitting could round differently). A worker that fails or leaves mid-run is a
`WorkerError`, raised before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.crossline import Combined, InexactSum, combine
from engine.lines import ZERO, Line
from engine.periods import Month, months_of, parse_period
from engine.policy import Policy
from engine.problems import MeritInputError
from engine.results import Evaluation, WarningSummary, json_head, json_tail, merge_warning_summaries
from engine.totals import merge_totals, totals_dict
from runtime import partitions
from runtime.partitions import Summary

if TYPE_CHECKING:
    from distributed import Client, Future

#: From this many bytes of CSV facts a LocalCluster is quicker than one process, per output
#: format; None: never by default (docs/status.md, issue 14, has the measurements). Starting the
#: cluster costs 4-12 s on the shared 2-core machine and every worker parses the whole file, so
#: plain CSV output came out slower at 0.1M and 1M rep-months (x0.3-0.7); JSON and the table
#: render explanations per line, which the workers share out (x1.6 at 0.1M rep-months with a
#: core to spare, x0.5 at 10k). Only with an idle core, too (`worth_distributing`).
MIN_BYTES: dict[str, int | None] = {"csv": None, "json": 4 << 20, "table": 4 << 20}
_WINDOW = 8  # rendered chunks in flight while the output is written


class WorkerError(RuntimeError):
    """A Dask worker failed or left mid-run (a bug or a lost machine, not bad input)."""


def scheduler_address(given: str | None) -> str | None:
    """The cluster to use: `--scheduler`, else `MERIT_SCHEDULER`, else None (a LocalCluster)."""
    address = (given or os.environ.get("MERIT_SCHEDULER", "")).strip()
    return address or None


def local_workers() -> int:
    """Worker processes of a LocalCluster: `MERIT_WORKERS` (0 or 1: none), else one per core."""
    forced = os.environ.get("MERIT_WORKERS", "").strip()
    if forced.isascii() and forced.isdigit():  # not "²", which isdigit() but int() refuses
        return int(forced)
    if forced:
        raise MeritInputError.at("MERIT_WORKERS", forced, "give a whole number of worker processes (0 or 1: none)")
    return len(os.sched_getaffinity(0))


def worth_distributing(filename: str, size: int, address: str | None, fmt: str = "csv") -> bool:
    """Whether a fact file goes to the executor: CSV only (rows are sampled from the text); on a
    named cluster always; locally when `MERIT_WORKERS` asks for 2 or more, else from MIN_BYTES
    for the output format `fmt` when the machine has a core to spare (1-minute load average)."""
    if not filename.lower().endswith(".csv"):
        return False
    if address is not None:
        return True
    forced = os.environ.get("MERIT_WORKERS", "").strip()
    if forced:
        return local_workers() >= 2
    threshold = MIN_BYTES.get(fmt)
    if threshold is None or size < threshold or local_workers() < 2:
        return False
    # two workers need two cores: on a machine already busy (the same JSON run measured x1.6 at a
    # load average of 5 on 2 cores, x0.56 at 14) one process is quicker
    return os.getloadavg()[0] <= len(os.sched_getaffinity(0)) - 1


@contextlib.contextmanager
def dask_client(address: str | None) -> Iterator[Client]:
    """A client of the named scheduler, or of a LocalCluster on loopback torn down afterwards."""
    from distributed import Client, LocalCluster

    if address is not None:
        try:
            client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise MeritInputError.at("--scheduler", address, f"cannot reach the Dask scheduler: {exc}") from None
        with client:
            yield client
        return
    n = max(local_workers(), 1)
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):  # fmt: skip
        yield client


def worker_addresses(client: Client) -> list[str]:
    """Every worker of the cluster, sorted, asked of the scheduler now.

    Not `client.scheduler_info()`: the client refreshes that cached answer every few seconds
    without the workers, and the refresh can land between the call and its return.
    """
    scheduler = client.scheduler
    if scheduler is None:
        raise WorkerError("the client lost its Dask scheduler")
    info = client.sync(scheduler.identity)  # every worker, in every version of `distributed`
    return sorted(info["workers"])


def results(client: Client, futures: Sequence[Future], workers: Sequence[str] = ()) -> list[Any]:
    """The futures' results, once all are done; a `WorkerError` as soon as one fails or one of
    `workers` (those holding partitions) leaves the cluster."""
    checked = time.monotonic()
    while True:
        failed = [f for f in futures if f.status in ("error", "cancelled", "lost")]
        if failed:
            f = failed[0]
            exc = f.exception() if f.status == "error" else None
            if isinstance(exc, InexactSum):
                raise exc
            raise WorkerError(f"in a Dask worker: {type(exc).__name__}: {exc}" if exc else f"a task was {f.status}")
        if all(f.status == "finished" for f in futures):
            return list(client.gather(list(futures)))
        if workers and time.monotonic() - checked > 0.5:
            checked = time.monotonic()
            present = set(worker_addresses(client))
            gone = [w for w in workers if w not in present]
            if gone:
                raise WorkerError(f"the Dask worker {gone[0]} left the cluster during the evaluation")
        time.sleep(0.02)


@dataclass
class PartitionedRun:
    """An evaluation done on Dask; `chunks(fmt)` streams its CSV or JSON (once)."""

    results: int
    total_payout: Decimal
    warnings: WarningSummary
    policy: Policy
    period: str
    facts_sha256: str
    _client: Client
    _token: str
    _workers: list[str]
    _summaries: list[Summary]

    def chunks(self, fmt: str) -> Iterator[str]:
        """The document one process writes: CSV header, or JSON head, then every partition's
        lines, partition after partition, then (JSON) the totals block."""
        try:
            totals = self.totals() if fmt == "json" else {}
            yield Evaluation.csv_header() if fmt == "csv" else json_head(self.policy, self.period, self.facts_sha256)
            for chunk in self._pieces(fmt):
                yield partitions.unpacked_text(chunk)
            if fmt == "json":
                yield json_tail(totals)
        finally:
            self.close()

    def rows(self, row: Callable[[Line], Any]) -> Iterator[Any]:
        """`row(line)` of every result, in result order (computed on the workers; a table's rows)."""
        try:
            for chunk in self._pieces("rows", row):
                yield from chunk
        finally:
            self.close()

    def totals(self) -> dict[str, Any]:
        """The totals block one process computes (`Evaluation.totals()`), from the partitions' parts."""
        totals = merge_totals(s.totals for s in self._summaries)
        before = [s.previous_actual for s in self._summaries if s.previous_actual is not None]
        return totals_dict(self.policy, totals, sum(before, Decimal(0)) if before else None)

    def _pieces(self, fmt: str, row: Callable[[Line], Any] | None = None) -> Iterator[Any]:
        client, token, workers = self._client, self._token, self._workers
        seen = [sum(s.results for s in self._summaries[:k]) > 0 for k in range(len(workers))]
        rendered = [
            client.submit(partitions.render_partition, token, k, fmt, not seen[k], row, workers=[w],
                          allow_other_workers=False, pure=False)
            for k, w in enumerate(workers)
        ]  # fmt: skip
        counts = results(client, rendered, workers)
        todo = [(k, j) for k, n in enumerate(counts) for j in range(n)]
        flight: list[Future] = []
        for i in range(len(todo) + _WINDOW):
            if i < len(todo):
                k, j = todo[i]
                flight.append(
                    client.submit(partitions.take_chunk, token, k, j, workers=[workers[k]],
                                  allow_other_workers=False, pure=False)
                )  # fmt: skip
            if i >= _WINDOW and flight:
                done = flight.pop(0)
                yield results(client, [done], workers)[0]
                done.release()

    def close(self) -> None:
        """Free the partitions on the workers (idempotent)."""
        with contextlib.suppress(Exception):
            self._client.run(partitions.forget, self._token)


def _combine(*messages: tuple[str, Any]) -> list[Combined]:
    """Task: the partitions' partials of one barrier -> what each gets back (InexactSum: step aside)."""
    if any(kind != "partial" for kind, _ in messages):
        raise WorkerError(f"partitions out of step: {sorted({kind for kind, _ in messages})}")
    parts = [partitions.unpacked(p) for _, p in messages]
    if any(p.inexact for p in parts):
        raise InexactSum("a group sum needs more than 28 digits")
    return combine(parts)


def _lines(*messages: tuple[str, Any]) -> int:
    """Task: rep-months the partitions evaluated in this barrier's period (for progress)."""
    return sum(p.lines for _, p in messages)


def _pick(combined: list[Combined], k: int) -> Combined:
    return combined[k]


def evaluate_partitioned(
    client: Client,
    policy: Policy,
    facts: Path,
    filename: str,
    period: str,
    *,
    ship: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PartitionedRun | None:
    """Evaluate `period` on the cluster; None when the single-process path must do it.

    `policy` is the version in force for the period. Each worker reads `facts` itself, or with
    `ship=True` (a cluster that may not share this file system) gets its bytes from here.
    `progress(done, total)` hears of the rep-months evaluated, month by month.
    """
    try:
        per = parse_period(period)
    except ValueError:
        return None
    if not all(policy.in_force(m) for m in months_of(per)):
        return None
    workers = worker_addresses(client)
    if not workers:
        raise WorkerError("the Dask cluster has no workers")
    try:
        with facts.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            splits = partitions.split_points(data, len(workers))
    except (OSError, ValueError):  # unreadable, or empty (which mmap refuses)
        return None
    if splits is None:
        return None
    workers = workers[: len(splits) + 1]
    source: Any = client.scatter(facts.read_bytes(), broadcast=True, hash=False) if ship else str(facts)
    token = uuid.uuid4().hex
    futures: list[Future] = [source] if ship else []  # released at the end, with the tasks'

    def pinned(k: int, func: Callable[..., Any], *args: Any) -> Future:
        future = client.submit(func, token, k, *args, workers=[workers[k]], allow_other_workers=False, pure=False)
        futures.append(future)
        return future

    try:
        loaded = results(client, [pinned(k, partitions.load_partition, policy, source, filename, period, splits)
                                  for k in range(len(workers))], workers)  # fmt: skip
        if any(m[0] == "refused" for m in loaded) or not any(m[1] for m in loaded):
            return _aside(client, token)  # a problem in the input, or no facts for the period
        if len({m[2] for m in loaded}) > 1:
            return _aside(client, token)  # the workers read different bytes: the file changed under us
        total = sum(m[1] for m in loaded)
        barriers = len(months_of(per)) + (0 if isinstance(per, Month) else 1)
        given: list[Any] = [None] * len(workers)
        counted: list[Future] = []
        for b in range(barriers + 1):
            steps = [pinned(k, partitions.step_partition, b, given[k]) for k in range(len(workers))]
            if b == barriers:
                break
            combined = client.submit(_combine, *steps, pure=False)
            if b < len(months_of(per)):
                counted.append(client.submit(_lines, *steps, pure=False))
            given = [client.submit(_pick, combined, k, pure=False) for k in range(len(workers))]
            futures += [combined, *given]
        if progress is not None:
            progress(0, total)
            done = 0
            for c in counted:
                done += results(client, [c], workers)[0]
                progress(done, total)
        summaries: list[Summary] = [m[1] for m in results(client, steps, workers)]
    except InexactSum:
        return _aside(client, token)
    except BaseException:
        client.cancel(futures)
        _aside(client, token)
        raise
    context = Context()
    payout = ZERO
    for s in summaries:
        payout = context.add(payout, s.payout)
    if context.flags[Inexact] or any(s.inexact for s in summaries):
        return _aside(client, token)
    try:
        merge_totals(s.totals for s in summaries)
    except InexactSum:
        return _aside(client, token)
    warnings = merge_warning_summaries(s.warnings for s in summaries)
    run = PartitionedRun(
        sum(s.results for s in summaries), payout, warnings, policy, str(per), loaded[0][2], client, token,
        workers, summaries,
    )  # fmt: skip
    client.cancel(futures)  # the loads' and steps' results are all in `summaries` now
    return run


def _aside(client: Client, token: str) -> PartitionedRun | None:
    """Free the run's partitions; None: the single-process path evaluates instead."""
    with contextlib.suppress(Exception):
        client.run(partitions.forget, token)
    return None
