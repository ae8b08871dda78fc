"""Connected accounts (Cronofy's "profiles"), their calendars, synced events, busy occurrences and
per-calendar sync state. Deleting an account cascades to everything below it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creneau.store.models.base import Base, now_utc
from creneau.store.types import UTCDateTime

if TYPE_CHECKING:
    from creneau.store.models.identity import Researcher


class CalendarAccount(Base):
    """One connected account of one provider (Cronofy: a profile)."""

    __tablename__ = "calendar_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(
        String(32)
    )  # registry kind: "caldav", "icloud", "google", "msgraph"
    # How the account was connected, when the kind alone does not say: "office365" / "outlook" (both
    # "msgraph"), "google_legacy" (the old Google integration). None: the kind itself (calendars/oauth).
    connector: Mapped[str | None] = mapped_column(String(32), default=None)
    display_name: Mapped[str] = mapped_column(String(300))
    server_url: Mapped[str] = mapped_column(String(2000))
    username: Mapped[str] = mapped_column(String(320))
    principal_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    home_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    owner_addresses: Mapped[str] = mapped_column(Text, default="")  # newline-separated, lower-case
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    credentials: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted with calendars/secrets.py

    # "ok", "syncing", "reconnect_needed", "error"
    status: Mapped[str] = mapped_column(String(32), default="ok")
    status_detail: Mapped[str] = mapped_column(Text, default="")
    sync_done: Mapped[int] = mapped_column(Integer, default=0)
    sync_total: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    push_detail: Mapped[str] = mapped_column(Text, default="")  # why push could not be set up (polling then)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    researcher: Mapped[Researcher] = relationship(back_populates="accounts")
    calendars: Mapped[list[Calendar]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True, order_by="Calendar.name"
    )
    channels: Mapped[list[PushChannel]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )


class Calendar(Base):
    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("account_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    remote_id: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(300))
    color: Mapped[str | None] = mapped_column(String(16), default=None)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    check_conflicts: Mapped[bool] = mapped_column(Boolean, default=True)
    # The video link the calendar makes with an event ("google_meet", "teams"), None when it makes none.
    conferencing: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    account: Mapped[CalendarAccount] = relationship(back_populates="calendars")
    sync_state: Mapped[CalendarSyncState | None] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )


class CalendarSyncState(Base):
    """Where the last sync of one calendar left off, and what went wrong."""

    __tablename__ = "calendar_sync_states"

    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    malformed_count: Mapped[int] = mapped_column(Integer, default=0)
    malformed_detail: Mapped[str] = mapped_column(Text, default="")  # first few "href: reason" lines

    calendar: Mapped[Calendar] = relationship(back_populates="sync_state")


class SyncedEvent(Base):
    """One remote object as last seen, kept whole so occurrences can be re-expanded as the window moves."""

    __tablename__ = "synced_events"
    __table_args__ = (UniqueConstraint("calendar_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    remote_id: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str] = mapped_column(String(500))
    uid: Mapped[str] = mapped_column(String(1000), default="")
    summary: Mapped[str] = mapped_column(String(1000), default="")
    ical: Mapped[str] = mapped_column(Text)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class BusyOccurrence(Base):
    """A time the calendar's owner is busy, expanded from one synced event inside the sync window."""

    __tablename__ = "busy_occurrences"
    __table_args__ = (Index("ix_busy_calendar_range", "calendar_id", "start", "end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("synced_events.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)


class PushChannel(Base):
    """A Google watch channel or a Graph subscription: the server tells us when one calendar changes.

    ``secret`` is what the server echoes with each notification (Google's channel token, Graph's
    clientState), random per channel and encrypted like credentials (calendars/secrets.py).
    """

    __tablename__ = "push_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_accounts.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "google" (events.watch) or "msgraph" (subscription)
    channel_id: Mapped[str] = mapped_column(String(300), unique=True)  # ours (Google) or Graph's id
    resource_id: Mapped[str] = mapped_column(String(300), default="")  # Google's, needed to stop it
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    account: Mapped[CalendarAccount] = relationship(back_populates="channels")
