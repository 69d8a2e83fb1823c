"""Publication: the objections table and the request bodies of publication's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.api.inputs import Id, Input
from service.db.base import Base, UTCDateTime


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    original_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    rep_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open | accepted | rejected
    raised_by: Mapped[str] = mapped_column(String(200))
    raised_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    fact_import_id: Mapped[int | None] = mapped_column(ForeignKey("fact_imports.id"), nullable=True)
    new_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)


class ObjectionRequest(Input):
    rep_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=4000)


class ResolveRequest(Input):
    decision: Literal["accepted", "rejected"]
    note: str = Field(default="", max_length=4000)
    fact_import_id: Id | None = None
