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
from engine.policy import Policy, PolicyLibrary, parse_policy
from engine.problems import Problem

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
    "parse_policy",
]


@dataclass(frozen=True)
class Line:
    rep_id: str
    period: str
    component: str
    label: str
    amount: Decimal


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
    lines: list[Line]


def evaluate_run(policy: Policy, facts: FactSet, period: str) -> EvaluatedRun:
    """Evaluate under the engine lock and copy out everything the service persists."""
    with ENGINE_LOCK:
        ev = evaluate(policy, facts, period)
        results_json = ev.to_json_bytes()
        results_csv = ev.to_csv_text()
        total = Decimal(ev.total_payout)
        reps = [
            Rep(
                str(r.rep_id),
                _opt(getattr(r, "name", None)),
                _opt(getattr(r, "region", None)),
                Decimal(r.total),
            )
            for r in ev.results
        ]
        lines = [
            Line(str(p.rep_id), str(p.period), str(p.component), str(p.label), Decimal(p.amount))
            for p in ev.payout_lines()
        ]
    return EvaluatedRun(policy, results_json, results_csv, total, reps, lines)


def acceptance_problems(policy: Policy) -> list[Problem]:
    """HR's acceptance scenarios for this policy id, run against this version ([] = all pass)."""
    from service.acceptance import run_acceptance  # runs pytest-bdd in a child process: no engine lock

    return list(run_acceptance(policy))


def _opt(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def money(value: Decimal) -> str:
    """Money as the API shows it: a decimal string with two places, never a float."""
    return f"{value.quantize(Decimal('0.01')):f}"
