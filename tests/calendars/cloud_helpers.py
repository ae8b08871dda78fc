"""Google and Microsoft Graph accounts for engine-level tests: seed and change the emulator's calendars,
inject faults, and say what the engine must hold afterwards.

The expectation (:meth:`Cloud.expected`) is computed from the emulator's own stored events with code of its
own — dateutil for Google's RRULEs, the emulator's calendarView for Graph's occurrences, the busy rules of
docs/providers/*.md written out here — never with creneau's renderers or its iCalendar expansion, so that a
bug in the code under test cannot hide itself.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule
from sqlalchemy import select

from creneau.domain.intervals import Interval
from creneau.emulators.google import DEFAULT_SCOPE
from creneau.emulators.google import RunningEmulator as GoogleEmulator
from creneau.emulators.msgraph import RunningEmulator as GraphEmulator
from creneau.emulators.msgraph.faults import Faults as GraphFaults
from creneau.emulators.msgraph.model import parse_dtz
from creneau.runtime import Runtime
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount, SyncedEvent

PARIS = ZoneInfo("Europe/Paris")  # the accounts' zone: Google's calendars and Graph's mailbox settings
BOSS = "boss@example.org"  # organizer of the invitations the owner declined
from tests.cloud import CLIENT_ID  # noqa: E402 - the OAuth app registered at both emulators

Busy = tuple[tuple[datetime, datetime], ...]
Events = dict[str, tuple[str, Busy]]  # event remote id → (summary, its busy occurrences in UTC, sorted)
State = dict[str, Events]  # calendar remote id → its events
_users = itertools.count()


@dataclass
class Series:
    """A recurring event as the test made it: ``count`` occurrences from ``start`` (Paris wall clock)."""

    calendar: str
    start: datetime
    hours: float
    step: str  # "DAILY" or "WEEKLY"
    count: int
    touched: set[int] = field(default_factory=set)  # occurrences already changed (not changed twice)

    def original(self, index: int) -> datetime:
        # Same wall-clock time every day or week, across DST, as the providers repeat it.
        return self.start + timedelta(days=index * (7 if self.step == "WEEKLY" else 1))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)


class Cloud(ABC):
    """One emulated account with its calendars (``calendars[0]`` is the default/primary one)."""

    provider: str
    connector: str | None
    email: str
    server_url: str
    calendars: list[str]

    @abstractmethod
    def secret(self) -> str:
        """The token JSON creneau stores for the account (access token valid for an hour)."""

    @abstractmethod
    def add_calendar(self, name: str) -> str: ...

    @abstractmethod
    def add_single(self, calendar: str, start: datetime, end: datetime, summary: str, kind: str) -> str:
        """``kind``: "busy", "free" (transparent), "declined" (an invitation the owner declined) or
        "tentative"."""

    @abstractmethod
    def add_all_day(self, calendar: str, day: date, days: int, summary: str) -> str: ...

    @abstractmethod
    def add_series(self, series: Series, summary: str) -> str: ...

    @abstractmethod
    def change_occurrence(
        self, series_id: str, series: Series, index: int, moved_by: timedelta | None, summary: str
    ) -> None:
        """Move one occurrence by ``moved_by`` (and rename it), or delete it (``moved_by`` None)."""

    @abstractmethod
    def move(self, calendar: str, event_id: str, by: timedelta) -> None: ...

    @abstractmethod
    def delete(self, calendar: str, event_id: str) -> None: ...

    @abstractmethod
    def rate_limit(self, count: int, *, retry_after: int) -> None:
        """The next ``count`` API calls answer 429 with ``Retry-After``."""

    @abstractmethod
    def random_faults(self, probability: float, *, status: int, seed: int) -> None: ...

    @abstractmethod
    def clear_faults(self) -> None: ...

    @abstractmethod
    def expire_cursors(self, calendar: str) -> None:
        """The sync token / delta link of ``calendar`` is refused from now on (410)."""

    @abstractmethod
    def expire_access(self) -> None:
        """The access token expires before the time creneau stored: API calls answer 401."""

    @abstractmethod
    def refuse_access(self) -> None:
        """The access token expires and the refresh token is revoked (the user removed our access)."""

    @abstractmethod
    def tokens(self) -> tuple[str, ...]:
        """The secrets that must never appear in a message."""

    @abstractmethod
    def expected(self, window: Interval) -> State:
        """What the engine must hold for this account, from the emulator's stored events."""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _keep(periods: list[tuple[datetime, datetime]], window: Interval) -> Busy:
    """Non-empty periods overlapping ``window`` (whole, not clipped), in UTC, sorted — duplicates kept."""
    found = [(_utc(s), _utc(e)) for s, e in periods if e > s and s < window.end and e > window.start]
    return tuple(sorted(found))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS)


# -- Google --------------------------------------------------------------------------------------------------


def _gtime(moment: datetime, zone: str | None = None) -> dict[str, str]:
    if zone is None:
        return {"dateTime": _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"dateTime": moment.astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone}


def _google_when(when: dict[str, Any], tz: tzinfo) -> datetime:
    """A Google ``start``/``end``/``originalStartTime``: a ``date`` is midnight in ``tz``; a ``dateTime`` is
    read in its own ``timeZone`` (wall clock, what recurrences repeat)."""
    if when.get("date") and not when.get("dateTime"):
        return _day_start(date.fromisoformat(when["date"])).replace(tzinfo=tz)
    value = datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
    zone = ZoneInfo(when["timeZone"]) if when.get("timeZone") else tz
    return value.astimezone(zone) if value.tzinfo else value.replace(tzinfo=zone)


def _google_busy(item: dict[str, Any], owner: str) -> bool:
    """docs/providers/google.md: transparent and declined invitations are free, cancelled is gone."""
    if item.get("status") == "cancelled" or item.get("transparency") == "transparent":
        return False
    if (item.get("organizer") or {}).get("self"):
        return True
    for attendee in item.get("attendees") or []:
        if attendee.get("self") or str(attendee.get("email", "")).lower() == owner:
            return bool(attendee.get("responseStatus") != "declined")
    return True


class GoogleCloud(Cloud):
    provider = "google"
    connector = None

    def __init__(self, emulator: GoogleEmulator) -> None:
        self.state = emulator.state
        self.email = f"faults{next(_users):03d}@example.org"
        self.state.add_user(self.email, timezone="Europe/Paris")
        # Tokens of our OAuth app (add_user's are the emulator's own client's), so that refreshes work.
        self._tokens = self.state.accounts.issue(self.email, scope=DEFAULT_SCOPE, client_id=CLIENT_ID)
        self.server_url = emulator.api_url
        self.calendars = [self.email]  # the primary calendar's id is the e-mail

    def secret(self) -> str:
        return self._tokens.secret()

    def tokens(self) -> tuple[str, ...]:
        return (self._tokens.access_token, self._tokens.refresh_token)

    def add_calendar(self, name: str) -> str:
        calendar = self.state.add_calendar(self.email, name, timezone="Europe/Paris")
        self.calendars.append(calendar)
        return calendar

    def _put(self, calendar: str, item: dict[str, Any]) -> str:
        return str(self.state.put_event(calendar, item)["id"])

    def add_single(self, calendar: str, start: datetime, end: datetime, summary: str, kind: str) -> str:
        item: dict[str, Any] = {"summary": summary, "start": _gtime(start), "end": _gtime(end)}
        if kind == "free":
            item["transparency"] = "transparent"
        elif kind == "tentative":
            item["status"] = "tentative"
        elif kind == "declined":
            item["organizer"] = {"email": BOSS}
            item["attendees"] = [
                {"email": BOSS, "organizer": True, "responseStatus": "accepted"},
                {"email": self.email, "self": True, "responseStatus": "declined"},
            ]
        return self._put(calendar, item)

    def add_all_day(self, calendar: str, day: date, days: int, summary: str) -> str:
        end = day + timedelta(days=days)
        item = {"summary": summary, "start": {"date": day.isoformat()}, "end": {"date": end.isoformat()}}
        return self._put(calendar, item)

    def add_series(self, series: Series, summary: str) -> str:
        item = {
            "summary": summary,
            "start": _gtime(series.start, "Europe/Paris"),
            "end": _gtime(series.end, "Europe/Paris"),
            "recurrence": [f"RRULE:FREQ={series.step};COUNT={series.count}"],
        }
        return self._put(series.calendar, item)

    def change_occurrence(
        self, series_id: str, series: Series, index: int, moved_by: timedelta | None, summary: str
    ) -> None:
        master = self.state.event(series.calendar, series_id)
        assert master is not None
        original = series.original(index)
        start = original + (moved_by or timedelta())
        exception = {
            "id": f"{series_id}_{_utc(original):%Y%m%dT%H%M%SZ}",
            "iCalUID": master["iCalUID"],
            "recurringEventId": series_id,
            "originalStartTime": _gtime(original, "Europe/Paris"),
            "status": "cancelled" if moved_by is None else "confirmed",
            "summary": summary,
            "start": _gtime(start, "Europe/Paris"),
            "end": _gtime(start + timedelta(hours=series.hours), "Europe/Paris"),
        }
        self.state.put_event(series.calendar, exception)

    def move(self, calendar: str, event_id: str, by: timedelta) -> None:
        item = self.state.event(calendar, event_id)
        assert item is not None
        for key in ("start", "end"):
            when = item[key]
            if when.get("date"):
                item[key] = {"date": (date.fromisoformat(when["date"]) + by).isoformat()}
            else:
                item[key] = _gtime(_google_when(when, UTC) + by, when.get("timeZone"))
        self.state.put_event(calendar, item)

    def delete(self, calendar: str, event_id: str) -> None:
        # The API's own delete: the event (and a series' exceptions) become "cancelled", as in Google.
        self.state.store.delete(calendar, event_id, if_match=None)

    def rate_limit(self, count: int, *, retry_after: int) -> None:
        self.state.faults.rate_limit(count, retry_after=retry_after, status=429)

    def random_faults(self, probability: float, *, status: int, seed: int) -> None:
        self.state.faults.fail_randomly(probability, status=status, seed=seed)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def expire_cursors(self, calendar: str) -> None:
        assert self.state.expire_sync_tokens(calendar) >= 1

    def expire_access(self) -> None:
        self.state.expire_token(self._tokens.access_token)

    def refuse_access(self) -> None:
        self.expire_access()
        self.state.revoke(self._tokens.refresh_token)

    def expected(self, window: Interval) -> State:
        return {calendar: self._expected(calendar, window) for calendar in self.calendars}

    def _expected(self, calendar: str, window: Interval) -> Events:
        items = self.state.events(calendar)
        exceptions: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("recurringEventId"):
                exceptions.setdefault(item["recurringEventId"], []).append(item)
        found: Events = {}
        for master in items:
            if master.get("recurringEventId") or master.get("status") == "cancelled":
                continue
            periods: list[tuple[datetime, datetime]] = []
            if master.get("recurrence"):
                own = exceptions.get(master["id"], [])
                periods += self._series_periods(master, own)
                periods += [
                    (_google_when(x["start"], PARIS), _google_when(x["end"], PARIS))
                    for x in own
                    if _google_busy(x, self.email)
                ]
            elif _google_busy(master, self.email):
                periods.append((_google_when(master["start"], PARIS), _google_when(master["end"], PARIS)))
            found[master["id"]] = (str(master.get("summary", "")), _keep(periods, window))
        return found

    def _series_periods(
        self, master: dict[str, Any], exceptions: list[dict[str, Any]]
    ) -> list[tuple[datetime, datetime]]:
        if not _google_busy(master, self.email):
            return []
        start, end = _google_when(master["start"], PARIS), _google_when(master["end"], PARIS)
        replaced = {_utc(_google_when(x["originalStartTime"], PARIS)) for x in exceptions}
        rules = rrule.rrulestr("\n".join(master["recurrence"]), dtstart=start, forceset=True)
        return [(s, s + (end - start)) for s in rules if _utc(s) not in replaced]


# -- Microsoft Graph -----------------------------------------------------------------------------------------


def _graph_time(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    local = moment.astimezone(PARIS if zone == "Romance Standard Time" else ZoneInfo(zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


def _graph_busy(item: dict[str, Any]) -> bool:
    """docs/providers/msgraph.md: free / workingElsewhere, cancelled and declined invitations are free."""
    if item.get("isCancelled") or item.get("showAs") in ("free", "workingElsewhere"):
        return False
    declined = (item.get("responseStatus") or {}).get("response") == "declined"
    return not (item.get("isOrganizer") is False and declined)


def _graph_period(item: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = parse_dtz(item["start"]), parse_dtz(item["end"])
    if item.get("isAllDay"):  # whole days, read in the account's zone like any DATE value
        first = start.date()
        return _day_start(first), _day_start(max(end.date(), first + timedelta(days=1)))
    return start, end


class GraphCloud(Cloud):
    provider = "msgraph"
    connector = "office365"

    def __init__(self, emulator: GraphEmulator) -> None:
        self.state = emulator.state
        self.email = f"faults{next(_users):03d}@contoso.example"
        user = self.state.add_user(self.email, kind="work", time_zone="Romance Standard Time")
        self._tokens = self.state.issue_tokens(self.email, client_id=CLIENT_ID, lifetime=3600)
        self.server_url = emulator.graph_url
        self.calendars = [self.state.calendar_of(user, None).id]

    def secret(self) -> str:
        return json.dumps(self._tokens)

    def tokens(self) -> tuple[str, ...]:
        return (self._tokens["access_token"], self._tokens["refresh_token"])

    def add_calendar(self, name: str) -> str:
        calendar = self.state.add_calendar(self.email, name).id
        self.calendars.append(calendar)
        return calendar

    def add_single(self, calendar: str, start: datetime, end: datetime, summary: str, kind: str) -> str:
        event: dict[str, Any] = {"subject": summary, "start": _graph_time(start), "end": _graph_time(end)}
        if kind == "free":
            event["showAs"] = "free"
        elif kind == "tentative":
            event["showAs"] = "tentative"
        elif kind == "declined":
            event["isOrganizer"] = False
            event["organizer"] = {"emailAddress": {"address": BOSS}}
            event["responseStatus"] = {"response": "declined", "time": "2026-01-01T00:00:00Z"}
        return self.state.put_event(calendar, event)

    def add_all_day(self, calendar: str, day: date, days: int, summary: str) -> str:
        zone = "Romance Standard Time"
        event = {
            "subject": summary,
            "isAllDay": True,
            "start": {"dateTime": f"{day:%Y-%m-%d}T00:00:00.0000000", "timeZone": zone},
            "end": {"dateTime": f"{day + timedelta(days=days):%Y-%m-%d}T00:00:00.0000000", "timeZone": zone},
        }
        return self.state.put_event(calendar, event)

    def add_series(self, series: Series, summary: str) -> str:
        pattern: dict[str, Any] = {"type": series.step.lower(), "interval": 1, "firstDayOfWeek": "monday"}
        if series.step == "WEEKLY":
            pattern["daysOfWeek"] = [f"{series.start:%A}".lower()]
        event = {
            "subject": summary,
            "start": _graph_time(series.start, "Romance Standard Time"),
            "end": _graph_time(series.end, "Romance Standard Time"),
            "recurrence": {
                "pattern": pattern,
                "range": {
                    "type": "numbered",
                    "numberOfOccurrences": series.count,
                    "startDate": f"{series.start:%Y-%m-%d}",
                },
            },
        }
        return self.state.put_event(series.calendar, event)

    def change_occurrence(
        self, series_id: str, series: Series, index: int, moved_by: timedelta | None, summary: str
    ) -> None:
        original = series.original(index)
        if moved_by is None:
            self.state.put_exception(series_id, original, None)
            return
        start = original + moved_by
        fields = {
            "subject": summary,
            "start": _graph_time(start, "Romance Standard Time"),
            "end": _graph_time(start + timedelta(hours=series.hours), "Romance Standard Time"),
        }
        self.state.put_exception(series_id, original, fields)

    def move(self, calendar: str, event_id: str, by: timedelta) -> None:
        stored = self.state.get_event(event_id)
        assert stored is not None
        data = dict(stored.data)
        for key in ("start", "end"):
            zone = data[key].get("timeZone", "UTC")
            data[key] = _graph_time(parse_dtz(data[key]) + by, zone)
        self.state.put_event(calendar, data)

    def delete(self, calendar: str, event_id: str) -> None:
        assert self.state.delete_event(event_id)

    def rate_limit(self, count: int, *, retry_after: int) -> None:
        self.state.faults.fail_next(count, status=429, retry_after=retry_after)

    def random_faults(self, probability: float, *, status: int, seed: int) -> None:
        # Graph's Faults take their seed at construction (no reseeding method): a fresh one per round keeps
        # the run reproducible whatever ran before in the module's emulator.
        self.state.faults = GraphFaults(seed=seed)
        self.state.faults.error_rate(probability, status=status)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def expire_cursors(self, calendar: str) -> None:
        # Graph's emulator forgets every delta token at once (Exchange dropping its sync state).
        assert self.state.expire_delta_tokens() >= 1

    def expire_access(self) -> None:
        self.state.expire_access_tokens(self.email)

    def refuse_access(self) -> None:
        self.expire_access()
        self.state.revoke(token=self._tokens["refresh_token"])

    def expected(self, window: Interval) -> State:
        found: State = {}
        for calendar in self.calendars:
            events: Events = {}
            for item in self.state.view(calendar, window.start, window.end):
                periods = [_graph_period(item)] if _graph_busy(item) else []
                events[str(item["id"])] = (str(item.get("subject") or ""), _keep(periods, window))
            found[calendar] = events
        return found


# -- the engine's side ---------------------------------------------------------------------------------------


def add_account(runtime: Runtime, researcher_id: int, cloud: Cloud) -> int:
    """The row ``accounts.connect_oauth_account`` stores, written directly (no consent page, no discovery)."""
    with runtime.ctx.sessions() as session, session.begin():
        account = CalendarAccount(
            researcher_id=researcher_id,
            provider=cloud.provider,
            connector=cloud.connector,
            display_name=cloud.email,
            server_url=cloud.server_url,
            username=cloud.email,
            owner_addresses=cloud.email.lower(),
            timezone="Europe/Paris",
            credentials=runtime.ctx.vault.encrypt(cloud.secret()),
            status="syncing",
        )
        session.add(account)
        session.flush()
        return account.id


def local_state(runtime: Runtime, account_id: int) -> State:
    """What the engine holds for the account, in the shape of :meth:`Cloud.expected`."""
    with runtime.ctx.sessions() as session:
        calendars = dict(
            session.execute(
                select(Calendar.id, Calendar.remote_id).where(Calendar.account_id == account_id)
            ).all()
        )
        events = session.execute(
            select(SyncedEvent.id, SyncedEvent.calendar_id, SyncedEvent.remote_id, SyncedEvent.summary).where(
                SyncedEvent.calendar_id.in_(list(calendars))
            )
        ).all()
        busy: dict[int, list[tuple[datetime, datetime]]] = {}
        rows = session.execute(
            select(
                BusyOccurrence.event_id, BusyOccurrence.calendar_id, BusyOccurrence.start, BusyOccurrence.end
            ).where(BusyOccurrence.calendar_id.in_(list(calendars)))
        )
        owner = {event_id: calendar_id for event_id, calendar_id, _, _ in events}
        for event_id, calendar_id, start, end in rows:
            assert owner.get(event_id) == calendar_id, "a busy occurrence filed under another calendar"
            busy.setdefault(event_id, []).append((_utc(start), _utc(end)))
    state: State = {remote: {} for remote in calendars.values()}
    for event_id, calendar_id, remote_id, summary in events:
        state[calendars[calendar_id]][remote_id] = (summary, tuple(sorted(busy.get(event_id, []))))
    return state


def differences(held: Events, wanted: Events, limit: int = 6) -> str:
    """A short account of how ``held`` differs from ``wanted``, for assertion messages."""
    lines = [f"missing {k}: {wanted[k]}" for k in sorted(set(wanted) - set(held))]
    lines += [f"stale {k}: {held[k]}" for k in sorted(set(held) - set(wanted))]
    lines += [
        f"differs {k}: held {held[k]} wanted {wanted[k]}"
        for k in sorted(set(held) & set(wanted))
        if held[k] != wanted[k]
    ]
    more = f" (+{len(lines) - limit} more)" if len(lines) > limit else ""
    return "; ".join(lines[:limit]) + more
