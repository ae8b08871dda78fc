"""Workspaces, studies, sessions and their bookings, and the outbox that carries bookings to calendars and
mailboxes.

A booking's row is the truth; the calendar event and the emails follow it through ``outbox`` rows written in
the same transaction, so a crash or a provider outage never loses a booking (calendars/writes.py,
scheduling/notify.py process them).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creneau.store.models.base import Base, now_utc
from creneau.store.types import UTCDateTime

if TYPE_CHECKING:
    from creneau.store.models.calendars import Calendar
    from creneau.store.models.identity import Researcher


class Workspace(Base):
    """A research team. Studies belong to a workspace; its members may manage each other's sessions."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    members: Mapped[list[WorkspaceMember]] = relationship(
        back_populates="workspace", cascade="all, delete-orphan", passive_deletes=True
    )


class WorkspaceMember(Base):
    __tablename__ = "workspace_members"
    __table_args__ = (UniqueConstraint("workspace_id", "researcher_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")  # "member" | "admin"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    workspace: Mapped[Workspace] = relationship(back_populates="members")
    researcher: Mapped[Researcher] = relationship()


class WorkspaceInvitation(Base):
    """An email invited to a workspace. It stays ``pending`` until the researcher with that address (now or
    once their account exists) accepts it on their invitations page, which makes them a member and removes
    the invitation, or declines it (``declined``, kept so that the workspace's admins see the answer)."""

    __tablename__ = "workspace_invitations"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("researchers.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # "pending" | "declined"
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    workspace: Mapped[Workspace] = relationship()
    invited_by: Mapped[Researcher | None] = relationship()


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("researchers.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    sessions: Mapped[list[StudySession]] = relationship(
        back_populates="study", cascade="all, delete-orphan", passive_deletes=True, order_by="StudySession.id"
    )


class StudySession(Base):
    """A session of a study and its appointment settings (who manages, where bookings go, when one may book).

    ``availability`` holds the weekly windows and date exceptions as JSON (see scheduling/rules.py).
    ``destination_lost`` is set when the destination calendar's account was deleted: the settings and the
    dashboard then say "no destination calendar" until the researcher picks another one.
    """

    __tablename__ = "study_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    public_token: Mapped[str] = mapped_column(String(64), unique=True)  # the booking page's link
    booking_open: Mapped[bool] = mapped_column(Boolean, default=True)

    manager_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="RESTRICT"), index=True)
    destination_calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendars.id", ondelete="SET NULL"), default=None, index=True
    )
    destination_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    event_title: Mapped[str] = mapped_column(String(300), default="{study} — {first_name}")

    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    location_kind: Mapped[str] = mapped_column(String(16), default="remote")  # "remote" | "in_person"
    address: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")  # the manager's, for the rules
    availability: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    slot_interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    max_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    study: Mapped[Study] = relationship(back_populates="sessions")
    manager: Mapped[Researcher] = relationship()
    destination_calendar: Mapped[Calendar | None] = relationship()


class Booking(Base):
    """A participant's booking. ``blocked_start``/``blocked_end`` widen it by its session's buffers: no two
    confirmed bookings of one manager may overlap there (an exclusion constraint on PostgreSQL, added by the
    migration; a serialized re-check on SQLite)."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_manager_blocked", "manager_id", "blocked_start", "blocked_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("study_sessions.id", ondelete="CASCADE"), index=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # "confirmed" | "cancelled"
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_start: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_end: Mapped[datetime] = mapped_column(UTCDateTime)

    participant_name: Mapped[str] = mapped_column(String(200))
    participant_email: Mapped[str] = mapped_column(String(320))
    participant_locale: Mapped[str] = mapped_column(String(8), default="fr")
    participant_timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")

    uid: Mapped[str] = mapped_column(String(200), unique=True)  # OUR event UID: one event per booking
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE, +1 per change
    link_nonce: Mapped[str] = mapped_column(String(64))  # signed links carry it; a reschedule renews it
    join_url: Mapped[str] = mapped_column(String(2000), default="")
    conference_provider: Mapped[str] = mapped_column(String(32), default="")

    # Where its calendar event goes (fixed at booking time) and how that is going.
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendars.id", ondelete="SET NULL"), default=None, index=True
    )
    # "none" (no destination) | "pending" | "written" | "failing" | "deleted" | "abandoned"
    event_state: Mapped[str] = mapped_column(String(16), default="pending")
    event_detail: Mapped[str] = mapped_column(Text, default="")
    remote_id: Mapped[str | None] = mapped_column(String(2000), default=None)
    # A create was sent at least once: if its answer was lost (crash), the event may exist without remote_id.
    event_write_attempted: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_etag: Mapped[str | None] = mapped_column(String(500), default=None)

    # How the slot was checked against the calendars at booking time: "live" | "synced" (provider could not
    # answer; decided from synced data) and why.
    live_check: Mapped[str] = mapped_column(String(16), default="live")
    live_check_detail: Mapped[str] = mapped_column(Text, default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_by: Mapped[str] = mapped_column(String(16), default="")  # "participant" | "researcher"

    session: Mapped[StudySession] = relationship()


class OutboxItem(Base):
    """Work owed to the outside world for one booking: bring its calendar event in line ("calendar"), or send
    one email ("email", ``payload`` says which). Retried with backoff until done."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "calendar" | "email"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # "pending" | "done" | "failed"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
