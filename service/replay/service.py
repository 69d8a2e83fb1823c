"""Replay: evaluate a stored run again from its stored policy text and facts bytes, and prove it.

The proof is the results hash: the replay's canonical results JSON has the same sha256 as the one
stored when the run was evaluated (`identical: true`). When it does not (an engine upgrade changed
a number or a sentence, or the stored bytes were altered), the answer says exactly what differs:
per result line (rep and period) and field, the stored and the replayed value, the first
`MAX_DIFFERENCES` of them and how many there are. The inputs are checked first: the stored policy
text must still hash to the run's policy hash and the facts bytes to its facts hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from service.engine_gate import evaluate_run
from service.facts.service import import_for
from service.periods.service import close_sources, combined_facts
from service.policies.service import load_policy
from service.runs.service import evaluate_import, get_run, snapshot

MAX_DIFFERENCES = 200


def replay(db: Session, run_id: int) -> dict[str, Any]:
    """The replay report of one run (404 when there is no such run)."""
    run = get_run(db, run_id)
    policy = load_policy(db, run.policy_sha256)  # parsed again from the stored text
    sources = close_sources(db, run)  # a quarter's close: its finalized months' facts, combined
    if sources is not None:
        combined = combined_facts(sources, policy)
        facts_sha256 = combined.sha256
        replayed = evaluate_run(policy, combined, run.period).results_json
    else:
        facts = snapshot(import_for(db, run.fact_import_id))
        facts_sha256 = hashlib.sha256(facts.data).hexdigest()
        replayed = evaluate_import(policy, facts, run.period).results_json
    inputs = {
        "policy_sha256": {"stored": run.policy_sha256, "replayed": policy.sha256},
        "facts_sha256": {"stored": run.facts_sha256, "replayed": facts_sha256},
    }
    stored = bytes(run.results_json)
    new_sha = hashlib.sha256(replayed).hexdigest()
    report: dict[str, Any] = {
        "run_id": run.id,
        "period": run.period,
        "inputs_identical": all(v["stored"] == v["replayed"] for v in inputs.values()),
        "inputs": inputs,
        "results_sha256": {"stored": run.results_sha256, "replayed": new_sha},
        "identical": new_sha == run.results_sha256 and hashlib.sha256(stored).hexdigest() == run.results_sha256,
    }
    if not report["identical"]:
        found = list(differences(json.loads(stored), json.loads(replayed)))
        report["difference_count"] = len(found)
        report["differences"] = found[:MAX_DIFFERENCES]
    return report


def differences(stored: dict[str, Any], replayed: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Field-level differences between two results documents: per result line (rep, period), then
    the document's other keys (totals, policy, ...)."""
    before, after = _lines(stored), _lines(replayed)
    for key in sorted(set(before) | set(after)):
        old, new = _flat(before.get(key, {})), _flat(after.get(key, {}))
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                yield {
                    "rep_id": key[0],
                    "period": key[1],
                    "field": field,
                    "stored": old.get(field),
                    "replayed": new.get(field),
                }
    rest_old = _flat({k: v for k, v in stored.items() if k != "results"})
    rest_new = _flat({k: v for k, v in replayed.items() if k != "results"})
    for field in sorted(set(rest_old) | set(rest_new)):
        if rest_old.get(field) != rest_new.get(field):
            yield {
                "rep_id": None,
                "period": None,
                "field": field,
                "stored": rest_old.get(field),
                "replayed": rest_new.get(field),
            }


def _lines(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(r.get("rep_id")), str(r.get("period"))): r for r in doc.get("results", [])}


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "awards": [{"id": "x", "amount": 2}]}` -> `{"a.b": 1, "awards[x].amount": 2}`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v for v in value):
        out = {}
        for v in value:
            out.update(_flat({k: x for k, x in v.items() if k != "id"}, f"{prefix}[{v['id']}]"))
        return out
    return {prefix: value}
