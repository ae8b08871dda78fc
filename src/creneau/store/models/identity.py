"""Researchers and how they sign in: passwords, API tokens, failed attempts for rate limiting."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creneau.store.models.base import Base, now_utc
from creneau.store.types import UTCDateTime

if TYPE_CHECKING:
    from creneau.store.models.calendars import CalendarAccount


class Researcher(Base):
    __tablename__ = "researchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    accounts: Mapped[list[CalendarAccount]] = relationship(
        back_populates="researcher", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class LoginAttempt(Base):
    """Failed sign-ins, for rate limiting across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)  # "email:<address>" or "ip:<address>"
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)


class SignInSession(Base):
    """A signed-in browser. The cookie carries a random id; only its SHA-256 is stored, so a copy of the
    database does not let anyone sign in. Deleting the row ends the session (sign out, password change)."""

    __tablename__ = "signin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"), index=True)
    id_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
