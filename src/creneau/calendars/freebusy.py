"""Free/busy from synced data: merged busy periods over the calendars whose conflict switch is on.

Accounts whose credentials were refused ("reconnect needed") still count with their last synced busy times:
a broken account is never silently dropped from conflict checks.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creneau.domain.intervals import Interval, clip, merge
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount


def busy_periods(session: Session, *, researcher_id: int, window: Interval) -> list[Interval]:
    """Merged busy intervals (UTC) inside ``window`` for the researcher's conflict-checked calendars."""
    rows = session.execute(
        select(BusyOccurrence.start, BusyOccurrence.end)
        .join(Calendar, Calendar.id == BusyOccurrence.calendar_id)
        .join(CalendarAccount, CalendarAccount.id == Calendar.account_id)
        .where(
            CalendarAccount.researcher_id == researcher_id,
            Calendar.check_conflicts.is_(True),
            BusyOccurrence.start < window.end,
            BusyOccurrence.end > window.start,
        )
    )
    return merge(clip((Interval(start, end) for start, end in rows), window))
