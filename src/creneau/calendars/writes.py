"""Writing events we own into a connected calendar (Cronofy's "upsert event" with an app-supplied id).

The caller (the booking outbox, scheduling/outbox.py) keeps the desired state and retries; this module makes
each attempt safe to repeat: the event's UID is the caller's idempotency key, a create that already happened
returns the existing event, and a delete of a missing event succeeds.

We do not send etags on update or delete: the event is ours and the booking is its truth, so a change the
researcher made meanwhile in their calendar app (e.g. its colour) is overwritten rather than left stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from creneau.calendars.context import EngineContext
from creneau.calendars.providers.base import EventDraft, WrittenEvent
from creneau.errors import NotFound, ValidationFailed
from creneau.store.models import Calendar, CalendarAccount

__all__ = ["EventDraft", "Target", "WrittenEvent", "put_event", "remove_event", "target"]


@dataclass(frozen=True)
class Target:
    """Where an event goes, read from the database before talking to the server."""

    account: CalendarAccount
    calendar: Calendar


def target(session: Session, *, calendar_id: int) -> Target:
    """:raises NotFound: when the calendar (or its account) was deleted.
    :raises ValidationFailed: when the calendar is read-only."""
    calendar = session.get(Calendar, calendar_id)
    if calendar is None:
        raise NotFound(f"calendar {calendar_id} no longer exists")
    if calendar.read_only:
        raise ValidationFailed("this calendar is read-only", field="calendar")
    return Target(account=calendar.account, calendar=calendar)


def put_event(
    ctx: EngineContext,
    where: Target,
    *,
    draft: EventDraft,
    remote_id: str | None,
    maybe_created: bool,
) -> WrittenEvent:
    """Make the calendar hold ``draft``.

    ``remote_id`` is where the event is known to be (None: not known). ``maybe_created`` says a create may
    have happened whose answer was lost, or the event may hold older times: the create then returns the
    existing event and an update brings it in line.

    :raises ProviderError: as the provider raised it (the caller retries what is transient).
    """
    provider = ctx.provider_for(where.account)
    try:
        if remote_id is None:
            written = provider.create_event(where.calendar.remote_id, draft)
            if not maybe_created:
                return written
            remote_id = written.remote_id
        updated = provider.update_event(where.calendar.remote_id, remote_id, draft)
        return updated
    finally:
        provider.close()


def remove_event(
    ctx: EngineContext, where: Target, *, draft: EventDraft, remote_id: str | None, maybe_created: bool
) -> None:
    """Make sure the event of ``draft.uid`` is not in the calendar.

    With no ``remote_id`` and no create ever sent there is nothing to remove. When a create was sent but its
    answer lost, the (idempotent) create tells where the event is, and it is then deleted.
    """
    if remote_id is None and not maybe_created:
        return
    provider = ctx.provider_for(where.account)
    try:
        if remote_id is None:
            remote_id = provider.create_event(where.calendar.remote_id, draft).remote_id
        provider.delete_event(where.calendar.remote_id, remote_id)
    finally:
        provider.close()
