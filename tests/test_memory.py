"""A long-running server keeps the garbage collector as it is, and its memory stays flat.

The GC pause (`runtime.gcpause`) is for one-shot CLI processes only: inside a request it would
freeze every object alive at that moment forever. These run many evaluations and simulations
through the service's door to the engine (`service.engine_gate`, `engine.simulation`) in one
process and check that the collector is never disabled or frozen and that the allocated memory
blocks and tracked objects do not grow with the number of requests.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from engine.edits import apply_edits
from engine.facts import load_facts
from engine.simulation import simulate
from runtime.policies import load_library
from service.engine_gate import evaluate_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def inputs():
    policy = load_library(ROOT / "policies" / "sales-incentive").for_period("2026-08")
    data = (ROOT / "examples" / "facts-2026-Q3.csv").read_bytes()
    return policy, data


def _serve(policy, data, period):  # what one request does: load the upload, evaluate, copy out
    facts = load_facts(data, "facts.csv", policy.numeric_columns)
    run = evaluate_run(policy, facts, period)
    assert run.total_payout > 0


def test_service_evaluations_never_pause_or_freeze_the_collector(inputs, monkeypatch):
    policy, data = inputs
    calls: list[str] = []
    monkeypatch.setattr(gc, "disable", lambda: calls.append("disable"))
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    frozen = gc.get_freeze_count()
    for period in ("2026-08", "2026-Q3"):
        _serve(policy, data, period)
    scenario = apply_edits(policy, ["commission.tiers[advanced].rate=0.018"])
    facts = load_facts(data, "facts.csv", policy.numeric_columns)
    simulate(policy, scenario, facts, "2026-Q3").as_dict()
    assert calls == []
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_memory_stays_flat_over_a_thousand_service_evaluations(inputs):
    policy, data = inputs
    for _ in range(50):  # warm up: compiled rulesets, decided keys, interned texts
        _serve(policy, data, "2026-08")
    gc.collect()
    blocks, objects = sys.getallocatedblocks(), len(gc.get_objects())
    for _ in range(1000):
        _serve(policy, data, "2026-08")
    gc.collect()
    # a leak of even one object per request would show as a thousand here
    assert sys.getallocatedblocks() - blocks < 200
    assert len(gc.get_objects()) - objects < 100
