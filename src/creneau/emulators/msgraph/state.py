"""The emulator's state and its Python control surface: accounts, tokens, calendars, events.

Everything lives in memory behind one lock (uvicorn answers from a thread pool). Tests call these methods
directly; ``control.py`` exposes the same operations over HTTP under ``/_emulator/``. Writes through the
Graph API and through this control surface alike notify subscriptions (``push.Notifier``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from creneau.emulators.msgraph import recurrence
from creneau.emulators.msgraph.delta import DeltaBook
from creneau.emulators.msgraph.faults import Faults
from creneau.emulators.msgraph.model import (
    TEAMS,
    AccountKind,
    AuthCode,
    Calendar,
    Grant,
    Json,
    StoredEvent,
    Subscription,
    User,
    change_key,
    iso_z,
    new_id,
    parse_dtz,
)

ChangeListener = Callable[[str, str, str, str], None]  # (user id, calendar id, event id, changeType)


class EmulatorError(Exception):
    """A Graph error answer: ``status``, Graph ``code`` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str = "The specified object was not found in the store.") -> EmulatorError:
    return EmulatorError(404, "ErrorItemNotFound", what)


class GraphState:
    """All of the emulator's data. ``now`` is the clock (tests may replace it)."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.now = now or (lambda: datetime.now(UTC))
        self.users: dict[str, User] = {}
        self.calendars: dict[str, Calendar] = {}
        self.events: dict[str, StoredEvent] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.clients: dict[str, str | None] = {}  # registered client id → secret (empty: any client)
        self.subscriptions: dict[str, Subscription] = {}
        self.delta = DeltaBook()
        self.faults = Faults()
        self.listeners: list[ChangeListener] = []
        self.validation_timeout = 10.0  # seconds the notification URL has to echo validationToken

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    # -- accounts and tokens ---------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        *,
        kind: AccountKind = "work",
        display_name: str | None = None,
        time_zone: str = "Romance Standard Time",
    ) -> User:
        """A user with a default calendar ("Calendar"). Personal ids are 16 hex digits, like Microsoft
        accounts'; work ids are GUIDs."""
        with self.lock:
            existing = self.user_by_email(email)
            if existing is not None:
                return existing
            user_id = secrets.token_hex(8) if kind == "personal" else _guid()
            name = display_name or email.split("@")[0].replace(".", " ").title()
            user = User(user_id, email, name, kind, time_zone)
            self.users[user_id] = user
            self.add_calendar(email, "Calendar", is_default=True)
            return user

    def user_by_email(self, email: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def _user(self, email: str) -> User:
        user = self.user_by_email(email)
        if user is None:
            raise KeyError(f"no emulated user {email}")
        return user

    def issue_tokens(
        self,
        email: str,
        *,
        client_id: str = "creneau-tests",
        scope: str = "Calendars.ReadWrite",
        lifetime: int = 3600,
    ) -> Json:
        """New access + refresh tokens for ``email``, shaped like creneau's ``Connection.secret``."""
        with self.lock:
            user = self._user(email)
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(40)
            expires = self.now() + timedelta(seconds=lifetime)
            self.access[access] = Grant(user.id, client_id, scope, expires)
            self.refresh[refresh] = Grant(user.id, client_id, scope)
            return {"access_token": access, "refresh_token": refresh, "expires_at": int(expires.timestamp())}

    def user_for_token(self, token: str) -> User | None:
        with self.lock:
            grant = self.access.get(token)
            if grant is None or (grant.expires_at is not None and grant.expires_at <= self.now()):
                return None
            return self.users.get(grant.user_id)

    def revoke(self, *, token: str | None = None, email: str | None = None) -> int:
        """Revoke one token (access or refresh), or every token of ``email``; returns how many."""
        with self.lock:
            user_id = self._user(email).id if email else None
            count = 0
            for book in (self.access, self.refresh):
                for key in [k for k, g in book.items() if k == token or g.user_id == user_id]:
                    del book[key]
                    count += 1
            return count

    def expire_access_tokens(self, email: str) -> None:
        with self.lock:
            user = self._user(email)
            for grant in self.access.values():
                if grant.user_id == user.id:
                    grant.expires_at = self.now() - timedelta(seconds=1)

    # -- calendars ---------------------------------------------------------------------------------------

    def add_calendar(
        self,
        email: str,
        name: str,
        *,
        color: str | None = None,
        can_edit: bool = True,
        is_default: bool = False,
        teams: bool | None = None,
    ) -> Calendar:
        """``teams``: whether Teams meetings may be created in it (default: work accounts only)."""
        with self.lock:
            user = self._user(email)
            allow_teams = user.kind == "work" if teams is None else teams
            providers = (TEAMS,) if allow_teams else ("skypeForConsumer",) if user.kind == "personal" else ()
            calendar = Calendar(
                id=new_id("AAMkA"),
                owner_id=user.id,
                name=name,
                hex_color=(color or "")[:7].lower(),
                can_edit=can_edit,
                is_default=is_default,
                allowed_providers=providers,
            )
            self.calendars[calendar.id] = calendar
            return calendar

    def calendars_of(self, user: User) -> list[Calendar]:
        with self.lock:
            return [c for c in self.calendars.values() if c.owner_id == user.id]

    def calendar_of(self, user: User, calendar_id: str | None) -> Calendar:
        """``calendar_id`` of ``user`` (None: the default one). :raises EmulatorError: 404."""
        with self.lock:
            for calendar in self.calendars_of(user):
                if calendar.id == calendar_id or (calendar_id is None and calendar.is_default):
                    return calendar
            raise not_found()

    # -- events ------------------------------------------------------------------------------------------

    def put_event(self, calendar_id: str, event: Json, *, notify: bool = True) -> str:
        """Store a Graph event (single, or a series master with ``recurrence``) as the server would hold
        it: server fields are filled in; an ``id`` already stored is replaced. Returns the id."""
        with self.lock:
            calendar = self.calendars[calendar_id]
            owner = self.users[calendar.owner_id]
            data = _with_defaults(event, owner)
            parse_dtz(data["start"]), parse_dtz(data["end"])  # refuse what the server would refuse
            previous = self.events.get(data["id"])
            stored = StoredEvent(calendar_id, data)
            if previous is not None:
                data["createdDateTime"] = previous.data.get("createdDateTime", data["createdDateTime"])
                if data.get("type") == "seriesMaster":
                    stored.exceptions, stored.deleted_occurrences = (
                        previous.exceptions,
                        previous.deleted_occurrences,
                    )
            self.events[data["id"]] = stored
            if notify:
                self._changed(calendar, data["id"], "updated" if previous else "created")
            return str(data["id"])

    def put_corrupt(self, calendar_id: str, event: Json) -> str:
        """Store ``event`` exactly as given (e.g. unreadable dates); it is listed in every window."""
        with self.lock:
            data = dict(event)
            data.setdefault("id", new_id("AAMkAG"))
            data.setdefault("changeKey", change_key())
            self.events[data["id"]] = StoredEvent(calendar_id, data, corrupt=True)
            return str(data["id"])

    def put_exception(self, master_id: str, original_start: datetime, fields: Json | None) -> None:
        """Modify one occurrence of a series (``fields`` override the master's), or delete it (None)."""
        with self.lock:
            master = self.events[master_id]
            key = iso_z(original_start)
            if fields is None:
                master.deleted_occurrences.add(key)
                master.exceptions.pop(key, None)
            else:
                master.exceptions[key] = {**fields, "changeKey": change_key()}
            self._touch(master)

    def delete_event(self, event_id: str) -> bool:
        """Delete a single event or a whole series, or one occurrence (by its occurrence id)."""
        with self.lock:
            stored = self.events.pop(event_id, None)
            if stored is not None:
                self._changed(self.calendars[stored.calendar_id], event_id, "deleted")
                return True
            parts = recurrence.split_occurrence_id(event_id)
            master = self.events.get(parts[0]) if parts else None
            if master is None or parts is None or parts[1] in master.deleted_occurrences:
                return False
            master.deleted_occurrences.add(parts[1])
            self._touch(master)
            return True

    def get_event(self, event_id: str) -> StoredEvent | None:
        with self.lock:
            return self.events.get(event_id)

    def view(self, calendar_id: str, start: datetime, end: datetime) -> list[Json]:
        """What calendarView lists for the window: singles, occurrences and exceptions, by start."""
        with self.lock:
            stored = [e for e in self.events.values() if e.calendar_id == calendar_id]
            items = [item for event in stored for item in recurrence.occurrences(event, start, end)]
        return sorted(items, key=_start_key)

    def item_exists(self, item_id: str) -> bool:
        """Whether an event or occurrence id still names something (for delta's ``@removed`` reason)."""
        with self.lock:
            if item_id in self.events:
                return True
            parts = recurrence.split_occurrence_id(item_id)
            master = self.events.get(parts[0]) if parts else None
            return master is not None and parts is not None and parts[1] not in master.deleted_occurrences

    def expire_delta_tokens(self) -> int:
        """Make every delta and skip token unknown: the next use answers 410 Gone."""
        with self.lock:
            return self.delta.expire()

    def _touch(self, stored: StoredEvent) -> None:
        stored.data["changeKey"] = change_key()
        stored.data["lastModifiedDateTime"] = iso_z(self.now())
        self._changed(self.calendars[stored.calendar_id], stored.id, "updated")

    def _changed(self, calendar: Calendar, event_id: str, change: str) -> None:
        for listener in list(self.listeners):
            listener(calendar.owner_id, calendar.id, event_id, change)


def _guid() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _start_key(item: Json) -> str:
    try:
        return iso_z(parse_dtz(item.get("start")))
    except ValueError:
        return ""


def _with_defaults(event: Json, owner: User) -> Json:
    """``event`` with the fields Exchange fills in on its own."""
    now = iso_z(datetime.now(UTC))
    data: dict[str, Any] = {
        "id": new_id("AAMkAG"),
        "createdDateTime": now,
        "transactionId": None,
        "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper(),
        "subject": "",
        "bodyPreview": "",
        "body": {"contentType": "text", "content": ""},
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "isDraft": False,
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "hasAttachments": False,
        "responseRequested": True,
        "showAs": "busy",
        "type": "singleInstance",
        "seriesMasterId": None,
        "recurrence": None,
        "categories": [],
        "location": {"displayName": "", "locationType": "default"},
        "locations": [],
        "attendees": [],
        "organizer": {"emailAddress": {"name": owner.display_name, "address": owner.email}},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
        "onlineMeeting": None,
        "onlineMeetingUrl": None,
        "webLink": "https://outlook.office365.com/owa/?itemid=emulated",
    }
    data.update({k: v for k, v in event.items() if v is not None or k in ("recurrence",)})
    if data.get("recurrence"):
        data["type"] = "seriesMaster"
    data["changeKey"] = change_key()
    data["lastModifiedDateTime"] = now
    data.setdefault("originalStartTimeZone", data["start"].get("timeZone", "UTC"))
    data.setdefault("originalEndTimeZone", data["end"].get("timeZone", "UTC"))
    content = (data.get("body") or {}).get("content") or ""
    data["bodyPreview"] = content[:255]
    return data
