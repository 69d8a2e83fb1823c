"""Adjustment tables: what makes a run an adjustment run, and the clawback ledger per rep.

An adjustment run is an ordinary `runs` row (so it goes through the same publish / objection /
finalize states) whose payout lines are *deltas* against what was paid for its period. The
`adjustments` row says what it corrects; `(period, seq)` is unique, so of two concurrent attempts
to adjust one period exactly one inserts sequence number n + 1. `balance_entries` is the clawback
ledger: money owed (a negative adjustment settled against the balance) and money recovered (a
deduction from a later payout); a rep's balance is their sum. Money is a decimal string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class Adjustment(Base):
    __tablename__ = "adjustments"
    __table_args__ = (UniqueConstraint("period", "seq", name="uq_adjustments_period_seq"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per period, in the order they were made
    original_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    original_policy_sha256: Mapped[str] = mapped_column(String(64))
    original_facts_sha256: Mapped[str] = mapped_column(String(64))
    pay_period: Mapped[str] = mapped_column(String(7))  # the month whose payroll pays it
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # who finalized it
    month_runs: Mapped[Any] = mapped_column(JSON, nullable=True)  # a re-close: [[month, facts run id], ...]


class BalanceEntry(Base):
    """One movement of a rep's clawback balance: `owed` (+, a negative adjustment) or `recovered` (-)."""

    __tablename__ = "balance_entries"
    __table_args__ = (UniqueConstraint("run_id", "rep_id", "kind", name="uq_balance_entries"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(100), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))  # the adjustment, or the run paid from
    kind: Mapped[str] = mapped_column(String(20))  # "owed" | "recovered"
    amount: Mapped[str] = mapped_column(String(40))  # signed decimal string: owed > 0, recovered < 0
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LateCredit(Base):
    """A payments import that credits an already finalized month late (issue 12).

    The service never rewrites the month: it derives the month's corrected facts from the deal set
    with the payments merged in (`credited_import_id`) and asks for an adjustment of the month at
    once. `adjustment_run_id` is that adjustment; while it is null the late credit is *pending*
    (another adjustment of the month was open, or the adjustment was refused) and the period's
    state says so until an adjustment of the month reads those facts.
    """

    __tablename__ = "late_credits"
    # one late credit per payments import and month: a follow-up run again after a crash adds none
    __table_args__ = (Index("uq_late_credits_import_period", "payment_import_id", "period", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # the month credited late
    payment_import_id: Mapped[int] = mapped_column(ForeignKey("fact_imports.id"))  # the import that did it
    credited_import_id: Mapped[int] = mapped_column(ForeignKey("fact_imports.id"))  # the corrected facts
    original_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))  # the run that paid the month last
    deals: Mapped[str] = mapped_column(Text)  # the late deal ids, comma-separated, sorted
    reason: Mapped[str] = mapped_column(Text)
    adjustment_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)  # why no adjustment yet (pending)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class LateFollowUp(Base):
    """A payments import whose late credits are still to be followed (`service.adjustments.follow`).

    Stored in the transaction that stores the payments import and deleted once its follow-up has
    recorded every late credit it makes, so a crash in between leaves it here: the next start, the
    next payments import or `GET /payroll/periods/{period}` follows it again. `owner` is the
    process following it (host:pid, as a job's); another live process's marker is left to it.
    """

    __tablename__ = "late_follow_ups"

    payment_import_id: Mapped[int] = mapped_column(ForeignKey("fact_imports.id"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int] = mapped_column(Integer)  # who imported it: the adjustment is asked for in their name
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
