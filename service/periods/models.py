"""The period close table: one row per closed period (a quarter), naming the month runs it was
evaluated from.

Its primary key is what makes a period closed at most once, also when two HR users close it at
the same moment: the second insert fails and becomes a 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class PeriodClose(Base):
    __tablename__ = "period_closes"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-Q3
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    month_runs: Mapped[Any] = mapped_column(JSON)  # [[month, run_id], ...] in month order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
