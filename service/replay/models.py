"""Shadow tables: which draft version shadows a policy, and each run's shadow evaluation.

A shadow result belongs to one run (same facts, same period) and is never a payout: it has no
`run_lines`, so nothing of it can reach the payroll feed. Money is a decimal string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class PolicyShadow(Base):
    """The draft version evaluated beside every run of `policy_id` while it is set."""

    __tablename__ = "policy_shadows"

    policy_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(ForeignKey("policy_contents.sha256"))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


def shadow_dict(row: PolicyShadow) -> dict[str, Any]:
    """The shadow setting as the API shows it; its canonical hash is what the audit log records."""
    return {
        "policy_id": row.policy_id,
        "version": row.version,
        "sha256": row.sha256,
        "set_by": row.set_by,
        "set_at": row.set_at.astimezone(UTC).isoformat(),
    }


class ShadowResult(Base):
    """The shadow version's evaluation of a run's facts and period (or why it could not evaluate)."""

    __tablename__ = "shadow_results"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    policy_version: Mapped[str] = mapped_column(String(100))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    results_json: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    results_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    total_payout: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
