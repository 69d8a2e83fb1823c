"""The service's only door into `engine/`: parsing, loading, evaluating, diffing, acceptance.

durable_rules is not thread-safe; `engine.rules` serialises every call into it with its own
process-wide lock, held only while the rule engine decides (once per distinct key). So the
service needs no process-wide evaluation lock: `engine_lock(period)` is one lock per period,
so that two requests for the same period (a double click, a retried job) evaluate one after
the other and the second finds the first's run, while runs, simulations and sweeps of different
periods proceed side by side (in threads: they interleave under the GIL, and none waits for
another's whole evaluation). Parsing and loading are pure Python and run unlocked. No business
rule lives here: every number comes from the engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from engine.diff import diff_policies
from engine.evaluation import evaluate
from engine.facts import FactSet, load_facts
from engine.frontend import parse_policy
from engine.periods import months_of, parse_period
from engine.policy import Policy, PolicyLibrary
from engine.problems import Problem
from engine.results import CreditNotes, PayoutLine
from engine.tiers import money_text
from service.metrics import EVALUATION_SECONDS, REP_MONTHS
from service.runs.scope import line_regions

_PERIOD_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()

__all__ = [
    "EvaluatedRun",
    "FactSet",
    "Policy",
    "PolicyLibrary",
    "acceptance_problems",
    "diff_policies",
    "engine_lock",
    "evaluate_run",
    "load_facts",
    "money_text",
    "parse_policy",
]


@dataclass(frozen=True)
class Rep:
    rep_id: str
    name: str | None
    region: str | None
    total: Decimal


@dataclass(frozen=True)
class EvaluatedRun:
    """What the service stores of an evaluation: plain values, detached from the engine objects."""

    policy: Policy
    results_json: bytes
    results_csv: str
    total_payout: Decimal
    reps: list[Rep]
    lines: list[PayoutLine]  # the engine's own, plain values
    regions: dict[tuple[str, str], str | None]  # (rep_id, period) -> that result line's own region


class ProgressSink(Protocol):
    """Where an evaluation's progress goes (a background job's row: `service.jobs.progress`)."""

    def begin(self, total: int) -> Callable[[int], None]: ...


_PROGRESS: ContextVar[ProgressSink | None] = ContextVar("merit_progress", default=None)


@contextmanager
def reporting(sink: ProgressSink) -> Iterator[None]:
    """Evaluations run by this thread (or task) meanwhile report their progress to `sink`."""
    token = _PROGRESS.set(sink)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def engine_lock(period: str) -> threading.Lock:
    """The lock of one period's evaluations (one per period spelling: a handful per process)."""
    with _LOCKS_GUARD:
        return _PERIOD_LOCKS.setdefault(str(period), threading.Lock())


def evaluate_run(
    policy: Policy,
    facts: FactSet,
    period: str,
    credits: CreditNotes | None = None,
    *,
    enforce_effective: bool = True,
) -> EvaluatedRun:
    """Evaluate under the period's lock and copy out everything the service persists; `credits`
    (facts credited from deals) makes each JSON line say which deals credited it; a shadow, a
    version not yet in force, is evaluated with `enforce_effective=False`."""
    rep_months = sum(len(facts.for_month(m)) for m in months_of(parse_period(period)))
    sink = _PROGRESS.get()
    progress = sink.begin(rep_months) if sink is not None else None
    with engine_lock(period):
        started = time.perf_counter()
        ev = evaluate(policy, facts, period, enforce_effective=enforce_effective, progress=progress)
        if credits is not None:
            ev = ev.with_credits(credits)
        results_json = ev.to_json_bytes()
        results_csv = ev.to_csv_text()
        reps = [Rep(r.rep_id, r.name, r.region, r.total) for r in ev.results]
        lines = ev.payout_lines()
        regions = line_regions(ev.results)
        REP_MONTHS.inc(rep_months)
        EVALUATION_SECONDS.inc(time.perf_counter() - started)
    return EvaluatedRun(policy, results_json, results_csv, ev.total_payout, reps, lines, regions)


def acceptance_problems(policy: Policy) -> list[Problem]:
    """HR's acceptance scenarios for this policy id, run against this version ([] = all pass)."""
    from service.acceptance import run_acceptance  # runs pytest-bdd in a child process: no engine lock

    return list(run_acceptance(policy))
