"""Policy tables: content-addressed policy texts and the named versions HR edits.

Policy texts live in a content-addressed table so a run can always recover the exact policy it
was evaluated with, even after an unpublished version is edited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class PolicyContent(Base):
    __tablename__ = "policy_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_versions_id_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(ForeignKey("policy_contents.sha256"))  # the engine's content hash
    text: Mapped[str] = mapped_column(Text)  # the YAML exactly as HR last stored it (comments too)
    text_sha256: Mapped[str] = mapped_column(String(64))  # sha256 of `text`: the ETag
    effective_from: Mapped[str | None] = mapped_column(String(7), nullable=True)
    effective_to: Mapped[str | None] = mapped_column(String(7), nullable=True)
    objection_days: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # a published run used it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
