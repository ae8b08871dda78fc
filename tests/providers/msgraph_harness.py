"""The contract's Harness for the Microsoft Graph emulator.

Data is put straight into the emulator's state, converted from the contract's iCalendar text to Graph JSON
here (never through the provider, so that a provider bug cannot hide itself); ``stored`` reads the state
back and writes it as iCalendar the same independent way.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx
import icalendar

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.msgraph import MicrosoftGraphProvider
from creneau.calendars.providers.msgraph.writes import UID_PROPERTY
from creneau.domain.intervals import Interval
from creneau.emulators.msgraph import RunningEmulator
from creneau.emulators.msgraph.model import parse_dtz
from tests.providers.conftest import test_policy

WINDOW = Interval(datetime(2029, 6, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC))
_counter = itertools.count()
_DAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}


def graph_time(value: datetime | date) -> dict[str, str]:
    if not isinstance(value, datetime):
        return {"dateTime": f"{value:%Y-%m-%d}T00:00:00.0000000", "timeZone": "UTC"}
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def recurrence(rule: icalendar.vRecur, start: datetime | date) -> dict[str, Any]:
    freq = rule["FREQ"][0]
    pattern: dict[str, Any] = {"interval": int(rule.get("INTERVAL", [1])[0]), "firstDayOfWeek": "monday"}
    if freq == "DAILY":
        pattern["type"] = "daily"
    elif freq == "WEEKLY":
        pattern["type"] = "weekly"
        pattern["daysOfWeek"] = [_DAYS[d[-2:]] for d in rule.get("BYDAY", [])] or [f"{start:%A}".lower()]
    elif freq == "MONTHLY":
        pattern.update(type="absoluteMonthly", dayOfMonth=start.day)
    else:
        pattern.update(type="absoluteYearly", dayOfMonth=start.day, month=start.month)
    rng: dict[str, Any] = {"type": "noEnd", "startDate": f"{start:%Y-%m-%d}"}
    if "COUNT" in rule:
        rng.update(type="numbered", numberOfOccurrences=int(rule["COUNT"][0]))
    elif "UNTIL" in rule:
        rng.update(type="endDate", endDate=f"{rule['UNTIL'][0]:%Y-%m-%d}")
    return {"pattern": pattern, "range": rng}


def to_graph(component: icalendar.cal.Component) -> dict[str, Any]:
    """A VEVENT as the Graph JSON a calendar app would have created."""
    start = component.decoded("DTSTART")
    end = component.decoded("DTEND") if "DTEND" in component else start
    event: dict[str, Any] = {
        "iCalUId": str(component["UID"]),
        "subject": str(component.get("SUMMARY", "")),
        "start": graph_time(start),
        "end": graph_time(end),
        "isAllDay": not isinstance(start, datetime),
    }
    if "RRULE" in component:
        rule: Any = component["RRULE"]
        event["recurrence"] = recurrence(rule, start)
    return event


class GraphHarness:
    """See tests/providers/contract.py: Harness."""

    principal_url = None
    home_url = None
    supports_read_only = True
    lists_with_get = True
    series_as_occurrences = True

    def __init__(self, emulator: RunningEmulator, *, kind: str = "work") -> None:
        self.emulator = emulator
        self.state = emulator.state
        self.email = f"user{next(_counter):03d}.{kind}@contoso.example"
        self.state.add_user(self.email, kind="personal" if kind == "personal" else "work")
        self.tokens = self.state.issue_tokens(self.email)
        self.owner_emails = (self.email,)
        self.defaults: dict[str, Any] = {"sync_window": WINDOW}

    def connection(self, access_token: str | None = None) -> Connection:
        secret = dict(self.tokens)
        if access_token is not None:
            secret["access_token"] = access_token
        return Connection(server_url=self.emulator.graph_url, username=self.email, secret=json.dumps(secret))

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> MicrosoftGraphProvider:
        return MicrosoftGraphProvider(
            self.connection(password), policy=test_policy(on_request), **{**self.defaults, **options}
        )

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
            return f"todo-list:{name}"  # Graph keeps tasks in Microsoft To Do, never in a calendar
        calendar = self.state.add_calendar(
            self.email, display_name or name, color=color, can_edit=not read_only
        )
        return calendar.id

    def _by_uid(self, calendar_id: str, uid: str) -> str | None:
        with self.state.lock:
            for stored in self.state.events.values():
                if stored.calendar_id == calendar_id and stored.data.get("iCalUId") == uid:
                    return stored.id
        return None

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        if calendar_id.startswith("todo-list:") or "BEGIN:VEVENT" not in ics:
            return f"todo:{uid}"  # a task: not a calendar item in Graph
        components = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        [master] = [c for c in components if "RECURRENCE-ID" not in c]
        event = to_graph(master)
        existing = self._by_uid(calendar_id, uid)
        if existing is not None:
            event["id"] = existing
        event_id = self.state.put_event(calendar_id, event)
        for override in (c for c in components if "RECURRENCE-ID" in c):
            fields = to_graph(override)
            fields.pop("iCalUId")
            self.state.put_exception(event_id, override.decoded("RECURRENCE-ID"), fields)
        return event_id

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        """Graph keeps JSON, not text: an object without an event cannot exist there (None); an event whose
        start cannot be read is stored as such (as a buggy sync client could leave it)."""
        if "BEGIN:VEVENT" not in text:
            return None
        raw = re.search(r"^DTSTART[^:\r\n]*:(.*)$", text, re.M)
        uid = re.search(r"^UID:(.*)$", text, re.M)
        value = raw.group(1).strip() if raw else ""
        return self.state.put_corrupt(
            calendar_id,
            {
                "iCalUId": uid.group(1).strip() if uid else name,
                "subject": name,
                "start": {"dateTime": value, "timeZone": "UTC"},
                "end": {"dateTime": value, "timeZone": "UTC"},
            },
        )

    def remove(self, calendar_id: str, remote_id: str) -> None:
        assert self.state.delete_event(remote_id)

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        stored = self.state.get_event(remote_id)
        if stored is None or stored.calendar_id != calendar_id:
            return None
        data = stored.data
        props = {p["id"]: p["value"] for p in data.get("singleValueExtendedProperties") or []}
        event = icalendar.Event()
        event.add("uid", props.get(UID_PROPERTY) or data["iCalUId"])
        event.add("dtstamp", datetime(2030, 1, 1, tzinfo=UTC))
        event.add("dtstart", parse_dtz(data["start"]).astimezone(UTC))
        event.add("dtend", parse_dtz(data["end"]).astimezone(UTC))
        event.add("summary", data.get("subject", ""))
        if (data.get("location") or {}).get("displayName"):
            event.add("location", data["location"]["displayName"])
        if (data.get("body") or {}).get("content"):
            event.add("description", data["body"]["content"])
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//creneau//tests//EN")
        calendar.add("version", "2.0")
        calendar.add_component(event)
        return bytes(calendar.to_ical()).decode()

    def stale_cursor(self, cursor: str) -> str | None:
        data = json.loads(cursor)
        data["delta"] = re.sub(r"\$deltatoken=[^&]+", "$deltatoken=expired0000", data["delta"])
        return json.dumps(data)

    def live_channel(self, channel_id: str) -> bool:
        with self.state.lock:
            return channel_id in self.state.subscriptions
