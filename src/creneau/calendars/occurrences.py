"""Where busy occurrences are stored, and the zone and owner addresses a calendar is read with."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from creneau.calendars import ical
from creneau.store.models import BusyOccurrence, Calendar

IN_CHUNK = 500  # ids per IN (...) clause, well under every database's parameter limit


def calendar_timezone(calendar: Calendar) -> tzinfo:
    """Floating times are read in the calendar's time zone, else the account's (else UTC)."""
    for name in (calendar.timezone, calendar.account.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                resolved = ical.resolve_tzid(name)
                if resolved is not None:
                    return resolved
    return ZoneInfo("UTC")


def owner_addresses(calendar: Calendar) -> frozenset[str]:
    return frozenset(a for a in calendar.account.owner_addresses.split("\n") if a)


def replace_occurrences(session: Session, event_ids: list[int], rows: Iterable[dict[str, Any]]) -> int:
    """Delete the occurrences of ``event_ids`` and insert ``rows`` instead; returns how many were inserted."""
    for i in range(0, len(event_ids), IN_CHUNK):
        session.execute(
            delete(BusyOccurrence).where(BusyOccurrence.event_id.in_(event_ids[i : i + IN_CHUNK]))
        )
    batch = list(rows)
    for i in range(0, len(batch), IN_CHUNK):
        session.execute(insert(BusyOccurrence), batch[i : i + IN_CHUNK])
    return len(batch)
