"""Live busy times: GetUserAvailability for the mailbox's default Calendar (what Exchange itself uses for
free/busy, and what its throttling budget favours), a CalendarView for other calendar folders (availability
covers only the default one)."""

from __future__ import annotations

from typing import Any

from creneau.calendars.providers.base import RemoteEvent
from creneau.calendars.providers.ews import render
from creneau.calendars.providers.ews.session import EwsSession
from creneau.calendars.providers.ews.writes import ews_time, folder
from creneau.domain.intervals import Interval

BUSY = frozenset({"Tentative", "Busy", "OOF", "WorkingElsewhere"})
VIEW_FIELDS = (
    "id",
    "changekey",
    "uid",
    "subject",
    "start",
    "end",
    "is_all_day",
    "legacy_free_busy_status",
    "is_cancelled",
    "my_response_type",
)


def _ews(value: Any) -> Any:
    return ews_time(value)


def availability(session: EwsSession, window: Interval) -> list[RemoteEvent]:
    """The busy periods of the mailbox (the Detailed view's CalendarEventArray), one VEVENT each."""
    account = session.account

    def run() -> list[Any]:
        views = account.protocol.get_free_busy_info(
            accounts=[(account, "Required", False)],
            start=_ews(window.start),
            end=_ews(window.end),
            merged_free_busy_interval=15,
            requested_view="Detailed",
        )
        return list(views)

    found: list[RemoteEvent] = []
    for index, view in enumerate(session.call(run)):
        if isinstance(view, Exception):
            raise session.translate(view)
        for number, event in enumerate(view.calendar_events or []):
            if event.busy_type not in BUSY:
                continue
            uid = f"ews-availability-{index}-{number}-{event.start:%Y%m%dT%H%M%S}@creneau"
            found.append(
                RemoteEvent(
                    remote_id=uid, etag="", ical=render.period(uid, event.start, event.end, event.busy_type)
                )
            )
    return found


def calendar_view(
    session: EwsSession, calendar_id: str, window: Interval, *, owner_emails: tuple[str, ...]
) -> list[RemoteEvent]:
    def run() -> list[Any]:
        view = folder(session, calendar_id).view(start=_ews(window.start), end=_ews(window.end))
        return list(view.only(*VIEW_FIELDS))

    found: list[RemoteEvent] = []
    for item in session.call(run):
        if isinstance(item, Exception):
            raise session.translate(item)
        try:
            text = render.occurrence(item, owner_emails=owner_emails)
        except render.Unreadable:
            continue  # an occurrence without times cannot be busy; sync reports the item itself
        found.append(RemoteEvent(remote_id=str(item.id), etag=str(item.changekey or ""), ical=text))
    return found
