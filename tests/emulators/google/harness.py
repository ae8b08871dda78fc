"""The contract's ``Harness`` for the Google emulator: data goes straight into the emulator's state.

The iCalendar text of the contract is turned into Google event JSON *here*, with code of its own (icalendar
in, dicts out), not with the provider's renderer, so that a provider bug cannot hide itself.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx
import icalendar

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.google import GoogleProvider
from creneau.emulators.google import RunningEmulator, TokenSet
from tests.providers.conftest import test_policy

_counter = itertools.count()


def _harness_id(uid: str) -> str:
    return "h" + hashlib.sha256(uid.encode()).hexdigest()[:40]  # hex digits are base32hex characters


def _time(value: Any, *, zone: bool) -> dict[str, str]:
    if isinstance(value, datetime):
        when = {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        return {**when, "timeZone": "UTC"} if zone else when
    assert isinstance(value, date)
    return {"date": value.isoformat()}


def _utc_basic(value: Any) -> str:
    return (
        value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        if isinstance(value, datetime)
        else (value.strftime("%Y%m%d"))
    )


def ics_to_google(text: str, master_id: str) -> list[dict[str, Any]]:
    """A VCALENDAR as Google stores it: the master, then exceptions ``<id>_<original start>``."""
    items = []
    vevent: Any
    for vevent in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        recurring = "RRULE" in vevent
        item: dict[str, Any] = {
            "iCalUID": str(vevent["UID"]),
            "status": "confirmed",
            "summary": str(vevent.get("SUMMARY", "")),
            "start": _time(vevent["DTSTART"].dt, zone=recurring),
            "end": _time(vevent["DTEND"].dt, zone=recurring),
        }
        if recurring:
            item["recurrence"] = ["RRULE:" + vevent["RRULE"].to_ical().decode()]
        if "RECURRENCE-ID" in vevent:
            original = vevent["RECURRENCE-ID"].dt
            item["id"] = f"{master_id}_{_utc_basic(original)}".lower()
            item["recurringEventId"] = master_id
            item["originalStartTime"] = _time(original, zone=True)
        else:
            item["id"] = master_id
        items.append(item)
    return items


def lenient_google(text: str, event_id: str) -> dict[str, Any]:
    """What a sloppy client could have left in Google: the raw values of a (maybe broken) object."""
    item: dict[str, Any] = {"id": event_id, "status": "confirmed"}
    block = text.split("BEGIN:VEVENT", 1)
    if len(block) < 2:
        return item  # no event at all: no start, no end
    for line in block[1].split("END:VEVENT", 1)[0].splitlines():
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].upper()
        if key in ("DTSTART", "DTEND"):
            field = "start" if key == "DTSTART" else "end"
            try:
                parsed = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                item[field] = {"dateTime": parsed.isoformat()}
            except ValueError:
                item[field] = {"dateTime": value}
        elif key == "SUMMARY":
            item["summary"] = value
        elif key == "UID":
            item["iCalUID"] = value
    return item


def google_to_ics(event: dict[str, Any]) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//creneau//google harness//EN")
    calendar.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", event.get("iCalUID") or event["id"])
    for name in ("start", "end"):
        when = event[name]
        value: date | datetime = (
            datetime.fromisoformat(when["dateTime"])
            if "dateTime" in when
            else date.fromisoformat(when["date"])
        )
        vevent.add("dtstart" if name == "start" else "dtend", value)
    for key in ("summary", "description", "location"):
        if event.get(key):
            vevent.add(key, event[key])
    calendar.add_component(vevent)
    return str(calendar.to_ical().decode())


class GoogleHarness:
    """See ``tests/providers/contract.py``: ``Harness``."""

    principal_url: str | None = None
    home_url: str | None = None
    supports_read_only = True
    lists_with_get = True  # events.list is a GET; no events.get per object is checked by request counts
    busy_as_periods = True  # freebusy.query

    def __init__(self, emulator: RunningEmulator, email: str, tokens: TokenSet) -> None:
        self.emulator = emulator
        self.state = emulator.state
        self.email = email
        self.tokens = tokens
        self.owner_emails = (email.lower(),)
        self.defaults: dict[str, Any] = {}

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> GoogleProvider:
        secret = self.tokens.secret()
        if password is not None:
            secret = json.dumps({"access_token": password, "refresh_token": "x", "expires_at": 0})
        connection = Connection(server_url=self.emulator.api_url, username=self.email, secret=secret)
        return GoogleProvider(connection, policy=test_policy(on_request), **{**self.defaults, **options})

    def add_calendar(
        self,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Sequence[str] = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        if "VEVENT" not in components:
            # Google Calendar has no task-only calendars (Tasks is another API): nothing to create, and the
            # provider must not list such an id.
            return f"{name}-tasks-not-in-google@example.invalid"
        options: dict[str, Any] = {"access_role": "reader" if read_only else "owner"}
        if color:
            options["background_color"] = color[:7]
        calendar_id = f"{name}-{next(_counter)}@group.calendar.google.com"
        return self.state.add_calendar(self.email, display_name or name, calendar_id=calendar_id, **options)

    def _master_for(self, calendar_id: str, uid: str) -> str:
        for event in self.state.events(calendar_id):
            if event.get("iCalUID") == uid and not event.get("recurringEventId"):
                return str(event["id"])
        return _harness_id(uid)

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        if "BEGIN:VEVENT" not in ics:
            return f"not-stored-{uid}"  # a VTODO: Google Calendar cannot hold one
        master_id = self._master_for(calendar_id, uid)
        for item in ics_to_google(ics, master_id):
            self.state.put_event(calendar_id, item)
        return master_id

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        event_id = _harness_id(name)
        self.state.put_event(calendar_id, lenient_google(text, event_id))
        return event_id

    def remove(self, calendar_id: str, remote_id: str) -> None:
        self.state.store.delete(calendar_id, remote_id, if_match=None)

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        event = self.state.event(calendar_id, remote_id)
        if event is None or event.get("status") == "cancelled":
            return None
        return google_to_ics(event)

    def stale_cursor(self, cursor: str) -> str | None:
        self.state.expire_sync_tokens()  # the same token, now unknown to the server: Google's 410
        return cursor

    def live_channel(self, channel_id: str) -> bool:
        with self.state.lock:
            channel = self.state.notifier.channels.get(channel_id)
            return channel is not None and not channel.stopped
