"""Shadow runs as use cases: set or clear the draft version that shadows a policy, and compare a
run with its shadow (per rep what would change, and the cost delta).

Shadows are evaluated when a run is created (`service.replay.shadow`) and stored beside it; they
have no payout lines, so they never reach payroll. A shadow must be a draft: a version some
published run used is in force, not a plan being tried.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit
from service.engine_gate import money_text
from service.policies.service import get_version
from service.replay.models import PolicyShadow, ShadowResult, shadow_dict
from service.replay.service import differences
from service.runs.service import get_run

NOT_COMPARED = ("explanation", "rules_fired", "name", "region", "product_line", "target", "actual")
"""Result fields a shadow does not change (the facts') or that only say why (the sentences)."""


def set_shadow(db: Session, who: Principal, at: datetime, policy_id: str, version: str) -> dict[str, Any]:
    """Make `version` the shadow of `policy_id` (replacing any other): every new run evaluates it too."""
    v = get_version(db, policy_id, version)
    if v.locked:
        raise ApiError(
            409, "version-in-use", f"{policy_id} {version} was used by a published run; only a draft version can shadow"
        )
    row = db.get(PolicyShadow, policy_id)
    before = audit.state_hash(shadow_dict(row)) if row else None
    if row is None:
        row = PolicyShadow(policy_id=policy_id, version=version, sha256=v.sha256, set_by=who.name, set_at=at)
        db.add(row)
    else:
        row.version, row.sha256, row.set_by, row.set_at = version, v.sha256, who.name, at
    db.flush()
    audit.record(
        db,
        who,
        at,
        "policy.shadow",
        f"policy:{policy_id}",
        before=before,
        after=audit.state_hash(shadow_dict(row)),
        version=version,
    )
    commit(db)
    return shadow_dict(row)


def clear_shadow(db: Session, who: Principal, at: datetime, policy_id: str) -> None:
    """Stop shadowing `policy_id` (404 when no shadow is set); runs already made keep theirs."""
    row = db.get(PolicyShadow, policy_id)
    if row is None:
        raise ApiError(404, "shadow-not-found", f"no version shadows {policy_id!r}")
    before = audit.state_hash(shadow_dict(row))
    db.delete(row)
    audit.record(db, who, at, "policy.unshadow", f"policy:{policy_id}", before=before)
    commit(db)


def _per_line(doc: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    return {(str(r["rep_id"]), str(r["period"])): Decimal(r["total"]) for r in doc.get("results", [])}


def compare(db: Session, run_id: int) -> dict[str, Any]:
    """The run beside its shadow: per rep active and shadow totals, the fields that change, the cost delta."""
    run = get_run(db, run_id)
    found = db.get(ShadowResult, run.id)
    if found is None:
        raise ApiError(404, "shadow-not-found", f"run {run.id} was evaluated without a shadow version")
    body: dict[str, Any] = {
        "run_id": run.id,
        "period": run.period,
        "active": {"version": run.policy_version, "sha256": run.policy_sha256},
        "shadow": {"version": found.policy_version, "sha256": found.policy_sha256},
        "reaches_payroll": False,
    }
    if found.results_json is None:
        return {**body, "error": found.error}
    active_doc, shadow_doc = json.loads(run.results_json), json.loads(found.results_json)
    active, shadow = _per_line(active_doc), _per_line(shadow_doc)
    changes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for d in differences(active_doc, shadow_doc):
        if d["rep_id"] is not None and not d["field"].startswith(NOT_COMPARED):
            changes[(d["rep_id"], d["period"])].append(
                {"field": d["field"], "active": d["stored"], "shadow": d["replayed"]}
            )
    reps = []
    for key in sorted(set(active) | set(shadow)):
        a, s = active.get(key, Decimal(0)), shadow.get(key, Decimal(0))
        if a != s or changes.get(key):
            reps.append(
                {
                    "rep_id": key[0],
                    "period": key[1],
                    "active": money_text(a),
                    "shadow": money_text(s),
                    "delta": money_text(s - a),
                    "changes": changes.get(key, []),
                }
            )
    cost_active, cost_shadow = sum(active.values(), Decimal(0)), sum(shadow.values(), Decimal(0))
    return {
        **body,
        "cost": {
            "active": money_text(cost_active),
            "shadow": money_text(cost_shadow),
            "delta": money_text(cost_shadow - cost_active),
        },
        "reps": reps,
    }
