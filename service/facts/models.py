"""The fact_imports table: an uploaded fact file's bytes, hash, and how they were read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class FactImport(Base):
    __tablename__ = "fact_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer)
    periods: Mapped[list[str]] = mapped_column(JSON)  # "YYYY-MM", sorted
    columns: Mapped[list[str]] = mapped_column(JSON)  # column names, as in the file
    regions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # sorted; null before 0010
    rep_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # sorted; null before 0016
    #: facts (null), deals, payments, targets (files facts are credited from), or credited: the
    #: facts a run derived from a deal set, whose ids and threshold `credited_from` names.
    kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    credited_from: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: How the bytes were read (`ReadOptions.as_dict`: sheet, company column map, drop_totals);
    #: null when read as they are. Runs and simulations read the bytes again exactly so.
    read_options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class ImportOut(BaseModel):
    """An import as HR reads it; `notes` (what reading the file noticed) only on the upload's answer."""

    id: int
    filename: str
    sha256: str
    size: int
    rows: int
    periods: list[str]
    columns: list[str]
    created_at: str
    created_by: str
    kind: str | None = None  # deals, payments, targets or credited; facts when absent
    credited_from: dict[str, Any] | None = None  # a credited import: the deal set and threshold
    notes: list[str] | None = None
    late_credits: list[dict[str, Any]] | None = None  # a payments upload: paid months it credits late


class ImportsOut(BaseModel):
    """Every import, oldest first."""

    fact_imports: list[ImportOut]
