"""Every table of the service, gathered from the nouns that own them (`service/<noun>/models.py`).

Alembic's `env.py` and the migrations import this module, so every table is registered on
`Base.metadata` by importing it. Why the shapes are what they are is said beside each table.
The Alembic migrations create exactly this schema; a test compares the two.
"""

from __future__ import annotations

from service.adjustments.models import Adjustment, BalanceEntry, LateCredit, LateFollowUp
from service.audit.models import AuditEntry
from service.db.base import Base, UTCDateTime
from service.facts.models import FactImport
from service.jobs.models import Job
from service.periods.models import PeriodClose
from service.policies.models import PolicyContent, PolicyVersion
from service.publication.models import Objection
from service.replay.models import PolicyShadow, ShadowResult
from service.runs.models import PeriodClaim, Run, RunLine, RunRep
from service.simulations.models import Scenario, Simulation
from service.tokens.models import ApiToken

__all__ = [
    "Adjustment",
    "ApiToken",
    "AuditEntry",
    "BalanceEntry",
    "Base",
    "FactImport",
    "Job",
    "LateCredit",
    "LateFollowUp",
    "Objection",
    "PeriodClaim",
    "PeriodClose",
    "PolicyContent",
    "PolicyShadow",
    "PolicyVersion",
    "Run",
    "RunLine",
    "RunRep",
    "Scenario",
    "ShadowResult",
    "Simulation",
    "UTCDateTime",
]
