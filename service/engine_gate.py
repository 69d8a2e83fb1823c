"""The service's only door into `engine/`: parsing, loading, evaluating, diffing, acceptance.

durable_rules (inside engine.evaluation) is not thread-safe, and FastAPI runs sync endpoints on a
thread pool, so every call that may reach the rule engine - evaluation and the acceptance
scenarios - is serialised by one process-wide lock. Parsing and loading are pure Python and run
unlocked. No business rule lives here: every number comes from the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from engine.diff import diff_policies
from engine.evaluation import evaluate
from engine.facts import FactSet, load_facts
from engine.frontend import parse_policy
from engine.policy import Policy, PolicyLibrary
from engine.problems import Problem
from engine.results import CreditNotes, PayoutLine
from engine.tiers import money_text
from service.runs.scope import line_regions

ENGINE_LOCK = threading.Lock()

__all__ = [
    "ENGINE_LOCK",
    "EvaluatedRun",
    "FactSet",
    "Policy",
    "PolicyLibrary",
    "acceptance_problems",
    "diff_policies",
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


def evaluate_run(
    policy: Policy,
    facts: FactSet,
    period: str,
    credits: CreditNotes | None = None,
    *,
    enforce_effective: bool = True,
) -> EvaluatedRun:
    """Evaluate under the engine lock and copy out everything the service persists; `credits`
    (facts credited from deals) makes each JSON line say which deals credited it; a shadow, a
    version not yet in force, is evaluated with `enforce_effective=False`."""
    with ENGINE_LOCK:
        ev = evaluate(policy, facts, period, enforce_effective=enforce_effective)
        if credits is not None:
            ev = ev.with_credits(credits)
        results_json = ev.to_json_bytes()
        results_csv = ev.to_csv_text()
        reps = [Rep(r.rep_id, r.name, r.region, r.total) for r in ev.results]
        lines = ev.payout_lines()
        regions = line_regions(ev.results)
    return EvaluatedRun(policy, results_json, results_csv, ev.total_payout, reps, lines, regions)


def acceptance_problems(policy: Policy) -> list[Problem]:
    """HR's acceptance scenarios for this policy id, run against this version ([] = all pass)."""
    from service.acceptance import run_acceptance  # runs pytest-bdd in a child process: no engine lock

    return list(run_acceptance(policy))
