"""Shadow evaluation inside run creation: the draft version that shadows a policy, evaluated on the
run's own facts and period, stored beside the run (never as payout lines).

`runs.service.create_run` calls `shadow_policy` before it releases the database, `evaluate_shadow`
while evaluating, and `store_shadow` in its writing transaction. A shadow that cannot evaluate (a
column the draft needs is missing) stores why, and never stops the run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.facts import ReadOptions
from engine.problems import MeritInputError
from service.engine_gate import EvaluatedRun, Policy, evaluate_run, load_facts, money_text
from service.policies.models import PolicyVersion
from service.policies.service import load_policy
from service.replay.models import PolicyShadow, ShadowResult


@dataclass(frozen=True)
class ShadowOutcome:
    policy: Policy
    evaluated: EvaluatedRun | None
    error: str | None


def shadow_policy(db: Session, active: Policy) -> Policy | None:
    """The draft version shadowing `active`'s policy, unless it is `active` itself."""
    row = db.get(PolicyShadow, active.id)
    if row is None:
        return None
    # the version as stored now: a draft may be edited while it shadows
    sha = db.scalar(
        select(PolicyVersion.sha256).where(
            PolicyVersion.policy_id == row.policy_id, PolicyVersion.version == row.version
        )
    )
    if sha is None or sha == active.sha256:
        return None
    return load_policy(db, sha)


def evaluate_shadow(
    shadow: Policy | None, data: bytes, filename: str, options: ReadOptions, period: str
) -> ShadowOutcome | None:
    """Evaluate the shadow on the run's facts, ignoring its effective dates (it is not in force yet)."""
    if shadow is None:
        return None
    try:
        facts = load_facts(data, filename, shadow.numeric_columns, options=options)
        return ShadowOutcome(shadow, evaluate_run(shadow, facts, period, enforce_effective=False), None)
    except MeritInputError as err:
        return ShadowOutcome(shadow, None, "; ".join(str(p) for p in err.problems[:20]))


def store_shadow(db: Session, run_id: int, outcome: ShadowOutcome | None) -> None:
    """Keep the shadow's results beside the run (flushes, does not commit)."""
    if outcome is None:
        return
    ev = outcome.evaluated
    db.add(
        ShadowResult(
            run_id=run_id,
            policy_version=outcome.policy.version,
            policy_sha256=outcome.policy.sha256,
            results_json=ev.results_json if ev else None,
            results_sha256=hashlib.sha256(ev.results_json).hexdigest() if ev else None,
            total_payout=money_text(ev.total_payout) if ev else None,
            error=outcome.error,
        )
    )
    db.flush()
