"""Calendars, their events, and how writes change them (etags, sequence numbers, Meet conferences).

Every change of an event bumps its calendar's sequence number; the event remembers the number of its last
change, which is what sync tokens compare against (``listing.py``). Deleting marks an event ``cancelled``
(Google keeps deleted events for incremental sync); deleting a recurring master cancels its exceptions.

Meet: an insert/update with ``conferenceDataVersion=1`` and ``conferenceData.createRequest`` answers
``status.statusCode: "pending"``; the conference is created after ``meet_pending_reads`` further
``events.get`` calls (then ``success``, an entry point ``https://meet.google.com/xxx-yyyy-zzz`` and
``hangoutLink``), which changes the event's etag like a real asynchronous update does.
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from creneau.emulators.google import model
from creneau.emulators.google.errors import ApiError, bad_request, not_found

Event = dict[str, Any]
_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_SERVER_FIELDS = {"kind", "etag", "htmlLink", "created", "updated", "creator", "organizer", "hangoutLink"}
_IMMUTABLE = {"id", "iCalUID", "recurringEventId", "originalStartTime", "sequence"}
WRITE_ROLES = ("writer", "owner")


@dataclass
class Calendar:
    id: str
    summary: str
    timezone: str
    owner: str
    description: str = ""
    events: dict[str, Event] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)  # event id → sequence number of its last change
    seq: int = 0
    resource_id: str = field(default_factory=lambda: secrets.token_urlsafe(18))


@dataclass
class Entry:
    """One user's calendarList entry for a calendar."""

    calendar_id: str
    access_role: str = "owner"
    background_color: str = "#9fe1e7"
    foreground_color: str = "#000000"
    color_id: str = "14"
    primary: bool = False
    hidden: bool = False
    summary_override: str | None = None


def _meet_code() -> str:
    letters = string.ascii_lowercase
    return "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))


@dataclass
class Store:
    lock: threading.RLock
    calendars: dict[str, Calendar] = field(default_factory=dict)
    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)  # email → calendar id → entry
    meet_pending_reads: int = 1
    on_change: Callable[[str], None] | None = None  # called with a calendar id after each change
    _pending: dict[tuple[str, str], int] = field(default_factory=dict)
    _etags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- calendars ------------------------------------------------------------------------------------------

    def add_calendar(
        self,
        email: str,
        summary: str,
        *,
        calendar_id: str | None = None,
        timezone: str = "Europe/Paris",
        access_role: str = "owner",
        background_color: str = "#9fe1e7",
        primary: bool = False,
        description: str = "",
    ) -> str:
        with self.lock:
            cal_id = calendar_id or f"{secrets.token_hex(12)}@group.calendar.google.com"
            if cal_id not in self.calendars:
                self.calendars[cal_id] = Calendar(cal_id, summary, timezone, email, description)
            entry = Entry(cal_id, access_role, background_color.lower(), primary=primary)
            self.entries.setdefault(email, {})[cal_id] = entry
            return cal_id

    def entry(self, email: str, calendar_id: str) -> Entry:
        """:raises ApiError: 404 when the user has no such calendar in their list."""
        with self.lock:
            if calendar_id == "primary":
                calendar_id = email
            found = self.entries.get(email, {}).get(calendar_id)
            if found is None or calendar_id not in self.calendars:
                raise not_found()
            return found

    def calendar(self, calendar_id: str) -> Calendar:
        with self.lock:
            return self.calendars[calendar_id]

    # -- raw access (the control object and tests) -----------------------------------------------------------

    def _etag(self) -> str:
        return f'"{3180000000000000 + next(self._etags) * 1000}"'

    def _touch(self, cal: Calendar, event: Event) -> Event:
        cal.seq += 1
        cal.seqs[event["id"]] = cal.seq
        event["etag"] = self._etag()
        event["updated"] = model.rfc3339(datetime.now(UTC))
        cal.events[event["id"]] = event
        if self.on_change is not None:
            self.on_change(cal.id)
        return copy.deepcopy(event)

    def put_raw(self, calendar_id: str, event: Event) -> Event:
        """Store ``event`` as given (no validation: tests use it to plant what the API would refuse), filling
        only ``kind``, ``id``, ``etag``, ``updated``, ``status`` and ``iCalUID`` when missing."""
        with self.lock:
            cal = self.calendars[calendar_id]
            stored = copy.deepcopy(event)
            stored.setdefault("kind", "calendar#event")
            stored.setdefault("id", secrets.token_hex(13))
            stored.setdefault("status", "confirmed")
            stored.setdefault("iCalUID", f"{stored['id']}@google.com")
            stored.setdefault("created", model.rfc3339(datetime.now(UTC)))
            return self._touch(cal, stored)

    def get_raw(self, calendar_id: str, event_id: str) -> Event | None:
        with self.lock:
            found = self.calendars[calendar_id].events.get(event_id)
            return copy.deepcopy(found) if found is not None else None

    # -- the API's writes ------------------------------------------------------------------------------------

    def insert(
        self, calendar_id: str, body: Event, *, conference_version: int, organizer: str, base: str
    ) -> Event:
        with self.lock:
            cal = self.calendars[calendar_id]
            event_id = body.get("id") or secrets.token_hex(13)
            if not isinstance(event_id, str) or not _ID.match(event_id):
                raise bad_request("Invalid resource id value.")
            if event_id in cal.events:
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
            event: Event = {k: copy.deepcopy(v) for k, v in body.items() if k not in _SERVER_FIELDS}
            event.pop("conferenceData", None)
            now = model.rfc3339(datetime.now(UTC))
            event.update(
                kind="calendar#event",
                id=event_id,
                status=body.get("status") or "confirmed",
                htmlLink=f"{base}/calendar/event?eid={event_id}",
                created=now,
                creator={"email": organizer, "self": True},
                organizer={"email": organizer, "self": True},
                sequence=0,
                eventType=body.get("eventType") or "default",
            )
            event.setdefault("iCalUID", f"{event_id}@google.com")
            event.setdefault("reminders", {"useDefault": True})
            _check_times(event)
            self._conference(cal, event, body, conference_version, replace=True)
            return self._touch(cal, event)

    def get(self, calendar_id: str, event_id: str) -> Event:
        """``events.get``: cancelled events too; advances a pending Meet conference."""
        with self.lock:
            cal = self.calendars[calendar_id]
            event = cal.events.get(event_id)
            if event is None:
                raise not_found()
            key = (calendar_id, event_id)
            if key in self._pending:
                if self._pending[key] > 0:
                    self._pending[key] -= 1
                else:
                    del self._pending[key]
                    _complete_conference(event)
                    return self._touch(cal, event)
            return copy.deepcopy(event)

    def replace(
        self,
        calendar_id: str,
        event_id: str,
        body: Event,
        *,
        if_match: str | None,
        conference_version: int,
        patch: bool,
    ) -> Event:
        """``events.update`` (``patch=False``: fields not sent are cleared) or ``events.patch``."""
        with self.lock:
            cal = self.calendars[calendar_id]
            event = cal.events.get(event_id)
            if event is None:
                raise not_found()
            _check_etag(event, if_match)
            updated = copy.deepcopy(event)
            if not patch:
                for key in list(updated):
                    if key not in _SERVER_FIELDS | _IMMUTABLE | {"conferenceData", "eventType"}:
                        del updated[key]
                updated["status"] = "confirmed"  # an update of a deleted event restores it
            for key, value in body.items():
                if key not in _SERVER_FIELDS | _IMMUTABLE | {"conferenceData"}:
                    updated[key] = copy.deepcopy(value)
            _check_times(updated)
            self._conference(cal, updated, body, conference_version, replace=not patch)
            updated["sequence"] = int(event.get("sequence", 0)) + 1
            return self._touch(cal, updated)

    def delete(self, calendar_id: str, event_id: str, *, if_match: str | None) -> None:
        with self.lock:
            cal = self.calendars[calendar_id]
            event = cal.events.get(event_id)
            if event is None:
                raise not_found()
            if event.get("status") == "cancelled":
                raise ApiError(410, "deleted", "Resource has been deleted")
            _check_etag(event, if_match)
            event["status"] = "cancelled"
            self._touch(cal, event)
            for other in list(cal.events.values()):
                if other.get("recurringEventId") == event_id and other.get("status") != "cancelled":
                    other["status"] = "cancelled"
                    self._touch(cal, other)

    def _conference(self, cal: Calendar, event: Event, body: Event, version: int, *, replace: bool) -> None:
        if version < 1:
            return  # Google ignores conferenceData unless the client says it understands it
        sent = body.get("conferenceData")
        if sent is None:
            if replace:
                event.pop("conferenceData", None)
                event.pop("hangoutLink", None)
            return
        create = sent.get("createRequest") if isinstance(sent, dict) else None
        if not isinstance(create, dict):
            event["conferenceData"] = copy.deepcopy(sent)
            return
        current = (event.get("conferenceData") or {}).get("createRequest") or {}
        if current.get("requestId") and current.get("requestId") == create.get("requestId"):
            return  # the same request again: the conference it made (or is making) stays
        kind = (create.get("conferenceSolutionKey") or {}).get("type")
        if kind != "hangoutsMeet":
            raise bad_request("Invalid conference type value.")
        if not create.get("requestId"):
            raise bad_request("Missing request id.", reason="required")
        event.pop("hangoutLink", None)
        event["conferenceData"] = {
            "createRequest": {
                "requestId": create["requestId"],
                "conferenceSolutionKey": {"type": kind},
                "status": {"statusCode": "pending"},
            }
        }
        self._pending[(cal.id, event["id"])] = self.meet_pending_reads


def _complete_conference(event: Event) -> None:
    code = _meet_code()
    uri = f"https://meet.google.com/{code}"
    create = copy.deepcopy(event["conferenceData"]["createRequest"])
    create["status"] = {"statusCode": "success"}
    event["conferenceData"] = {
        "createRequest": create,
        "entryPoints": [{"entryPointType": "video", "uri": uri, "label": f"meet.google.com/{code}"}],
        "conferenceSolution": {
            "key": {"type": "hangoutsMeet"},
            "name": "Google Meet",
            "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
        },
        "conferenceId": code,
    }
    event["hangoutLink"] = uri


def _check_etag(event: Event, if_match: str | None) -> None:
    if if_match and if_match.strip() != "*" and if_match.strip() != event.get("etag"):
        raise ApiError(412, "conditionNotMet", "Precondition Failed", extra={"location": "If-Match"})


def _check_times(event: Event) -> None:
    for name in ("start", "end"):
        if name not in event:
            raise bad_request(f"Missing {name} time.", reason="required")
        if not model.is_valid_time(event[name]):
            raise bad_request(f"Invalid {name} time.")
    if event.get("recurrence") and not (event["start"].get("timeZone") or event["start"].get("date")):
        raise bad_request("Missing time zone definition for start time.", reason="required")
    start, end = model.span(event, UTC)
    if end < start:
        raise bad_request("The specified time range is empty.", "timeRangeEmpty", domain="calendar")
