"""ORM models, one module per area; import them from here.

- ``identity``: researchers, API tokens, failed sign-ins, sign-in sessions
- ``calendars``: connected accounts, calendars, synced events, busy occurrences, sync state, push channels
- ``scheduling``: workspaces, studies, sessions, bookings, the outbox
"""

from __future__ import annotations

from creneau.store.models.base import Base, now_utc
from creneau.store.models.calendars import (
    BusyOccurrence,
    Calendar,
    CalendarAccount,
    CalendarSyncState,
    PushChannel,
    SyncedEvent,
)
from creneau.store.models.identity import ApiToken, LoginAttempt, Researcher, SignInSession
from creneau.store.models.scheduling import (
    Booking,
    OutboxItem,
    Study,
    StudySession,
    Workspace,
    WorkspaceInvitation,
    WorkspaceMember,
)

__all__ = [
    "ApiToken",
    "Base",
    "Booking",
    "BusyOccurrence",
    "Calendar",
    "CalendarAccount",
    "CalendarSyncState",
    "LoginAttempt",
    "OutboxItem",
    "PushChannel",
    "Researcher",
    "SignInSession",
    "Study",
    "StudySession",
    "SyncedEvent",
    "Workspace",
    "WorkspaceInvitation",
    "WorkspaceMember",
    "now_utc",
]
