"""A sweep's points as Dask tasks: one contiguous share of the points per worker, in order.

Every point of a sweep (engine.sweep) is a scenario costed on the same facts, independently of
the others, so the points are cut into one share per worker; a task reads the facts (the bytes
are scattered to the workers once), costs its share serially on one `FactsCache` (so what
depends only on the facts is computed once per worker, as `sweep_points` does in one process)
and returns its `SweepPoint`s. The shares are concatenated in order: the points one process
finds, so the sweep's output is byte-identical.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.factcache import FactsCache
from engine.facts import ReadOptions, load_facts
from engine.periods import Period
from engine.policy import Policy
from engine.sweep import PointsRunner, SweepPoint, sweep_points
from runtime.dask_executor import results, worker_addresses
from runtime.gcpause import gc_paused

if TYPE_CHECKING:
    from distributed import Client

#: Below this many rep-months x points one process is quicker than starting a LocalCluster
#: (measured in docs/status.md, issue 14).
MIN_SWEEP_WORK = 600_000


def cost_share(
    data: bytes,
    filename: str,
    options: ReadOptions,
    columns: Sequence[str],
    policies: Sequence[Policy],
    values: Sequence[Decimal],
    period: Period,
    regions: Collection[str] | None,
) -> list[SweepPoint]:
    """Task: read the facts as the client read them, cost this share of the points in order."""
    facts = load_facts(data, filename, columns, options=options)
    with gc_paused(freeze=False):
        return sweep_points(policies, values, FactsCache(facts), period, regions)


def points_on_dask(
    client: Client,
    data: bytes,
    filename: str,
    options: ReadOptions,
    columns: Sequence[str],
    period: Period,
    regions: Collection[str] | None = None,
) -> PointsRunner:
    """A `PointsRunner` for `engine.sweep.sweep` that costs the points on the cluster's workers.

    `data`, `filename`, `options`, `columns`: the fact file as the client loaded it (its bytes,
    name, read options and the policy's numeric columns)."""

    def run(policies: Sequence[Policy], values: Sequence[Decimal]) -> list[SweepPoint]:
        workers = worker_addresses(client)
        n = max(1, min(len(workers), len(policies)))
        shared: Any = client.scatter(data, broadcast=True, hash=False)
        cuts = [len(policies) * k // n for k in range(n + 1)]
        futures = [
            client.submit(
                cost_share, shared, filename, options, list(columns), list(policies[a:b]), list(values[a:b]),
                period, regions, pure=False,
            )
            for a, b in itertools.pairwise(cuts)
        ]  # fmt: skip
        try:
            shares = results(client, futures)
        finally:
            client.cancel([*futures, shared])
        return [point for share in shares for point in share]

    return run
