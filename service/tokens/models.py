"""The api_tokens table: one row per bearer token (only its sha256 is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, UTCDateTime


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    regions: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of region names
    rep_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # None: never
    #: When a request last presented the token, to the minute (`service.tokens.usage.TOUCH_EVERY`).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
