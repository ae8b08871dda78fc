"""The contract every calendar provider passes, against a real server or an emulator.

In the spirit of vdirsyncer's ``StorageTests``: a concrete test class inherits :class:`ProviderContract` and
supplies one fixture, ``harness``, which knows how to build the provider for a fresh test account and how to
put data on the server *without* going through the provider (so that a provider bug cannot hide itself)::

    class TestRadicale(ProviderContract):
        @pytest.fixture
        def harness(self, radicale, fresh_user):
            return CalDAVHarness(radicale, fresh_user)

Tests assert what a user would see: which events come back, what the server holds after a write.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
import icalendar
import pytest

from creneau.calendars import ical, providers
from creneau.calendars.providers.base import CalendarProvider, ChangeSet, EventDraft
from creneau.calendars.providers.push import ChannelRequest, Notice, Webhook, WebhookReading
from creneau.domain.intervals import Interval
from creneau.errors import AuthFailed, PreconditionFailed, ProviderError, SyncCursorInvalid
from tests.servers import wait_until

DAY = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday, far from today's date on purpose


class Harness(Protocol):
    """What a provider's test file supplies. Calendar ids are the provider's own remote ids."""

    principal_url: str | None  # expected discovery results (None: not checked)
    home_url: str | None
    owner_emails: tuple[str, ...]  # lower-cased, as discovery must report them
    supports_read_only: bool
    # Optional flags, read with getattr (default False) so that harnesses without them need no change:
    # lists_with_get -- the bulk listing itself is a GET (Graph delta, Google events.list): "no GET per
    #   object" is then shown by the request count alone, not by the absence of GETs.
    # series_as_occurrences -- the server lists each occurrence of a series as its own object (Graph's
    #   calendarView), so a series cannot come back as one VCALENDAR with its overrides.
    # busy_as_periods -- busy_times() answers anonymous busy periods (Google freebusy.query), not the events:
    #   the busy-times test then checks the time they cover instead of the UIDs.
    # For a provider with ``capabilities.push``, the harness also has ``live_channel(channel_id) -> bool``:
    #   whether the server still knows the channel and would notify it (read from the server's state).

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> CalendarProvider:
        """A provider for the test account; ``password`` replaces the right one; ``on_request`` sees every
        HTTP request the provider sends; ``options`` go to the provider's constructor."""
        ...

    def add_calendar(
        self,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Sequence[str] = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        """Create a calendar on the server; return its remote id."""
        ...

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        """Create or replace the object of ``uid``; return its remote id."""
        ...

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        """Store ``text`` as is; return its remote id, or None when the server refuses it."""
        ...

    def remove(self, calendar_id: str, remote_id: str) -> None: ...

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        """The object's text as the server holds it now, or None."""
        ...

    def stale_cursor(self, cursor: str) -> str | None:
        """A cursor shaped like ``cursor`` that the server will refuse (None: no such thing in this mode)."""
        ...


def ics(
    uid: str,
    start: datetime,
    *,
    hours: float = 1,
    summary: str = "Meeting",
    rrule: str | None = None,
    overrides: Iterable[tuple[datetime, datetime, str]] = (),
    component: str = "VEVENT",
) -> str:
    """One VCALENDAR with an event (and its RECURRENCE-ID overrides: (occurrence, new start, summary))."""

    def block(extra: list[str], begin: datetime, title: str) -> list[str]:
        end = begin + timedelta(hours=hours)
        when = [f"DTSTART:{_utc(begin)}", f"DTEND:{_utc(end)}"] if component == "VEVENT" else []
        return [
            f"BEGIN:{component}",
            f"UID:{uid}",
            "DTSTAMP:20240101T000000Z",
            *when,
            f"SUMMARY:{title}",
            *extra,
            f"END:{component}",
        ]

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//creneau//tests//EN"]
    lines += block([f"RRULE:{rrule}"] if rrule else [], start, summary)
    for occurrence, new_start, title in overrides:
        lines += block([f"RECURRENCE-ID:{_utc(occurrence)}"], new_start, title)
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _value(component: icalendar.cal.Component, name: str) -> Any:
    """A property of ``component`` (icalendar's union of value types is too wide for mypy)."""
    return component[name]


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def uids(changes: ChangeSet) -> set[str]:
    found: set[str] = set()
    for event in changes.upserted:
        calendar = icalendar.Calendar.from_ical(event.ical)
        found.update(str(c["UID"]) for c in calendar.walk("VEVENT"))
    return found


def effective_deleted(changes: ChangeSet, known: Iterable[str]) -> set[str]:
    """What the caller must delete: the ``deleted`` list, or for a full listing every known id not listed."""
    if not changes.full:
        return set(changes.deleted)
    listed = (
        {e.remote_id for e in changes.upserted} | set(changes.unchanged) | {b.remote_id for b in changes.bad}
    )
    return set(known) - listed


def etags(changes: ChangeSet, previous: dict[str, str] | None = None) -> dict[str, str]:
    """The etags a caller holds after applying ``changes``."""
    held = dict(previous or {})
    for remote_id in effective_deleted(changes, held):
        held.pop(remote_id, None)
    held.update({e.remote_id: e.etag for e in changes.upserted})
    return held


@dataclass
class RequestLog:
    requests: list[httpx.Request]

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def clear(self) -> None:
        self.requests.clear()


def new_log() -> RequestLog:
    return RequestLog([])


@dataclass
class Webhooks:
    """Our webhooks on a loopback port, answering as creneau's web layer does, through the provider's
    ``read_webhook`` alone: a handshake gets its token back, notifications the provider's accepted status.
    ``notices`` collects what was read, in order of arrival."""

    provider: type[CalendarProvider]
    base: str = ""  # http://127.0.0.1:<port>/webhooks
    notices: list[tuple[str, Notice]] = field(default_factory=list)  # (path, notice)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, channel_id: str) -> list[Notice]:
        with self.lock:
            return [n for _, n in self.notices if n.channel_id == channel_id]

    def answer(self, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if not path.startswith("/webhooks/"):
            return 404, ""
        name = path.removeprefix("/webhooks/")
        try:
            reading: WebhookReading = self.provider.read_webhook(
                Webhook(path=name, headers=headers, query=dict(parse_qsl(query)), body=body)
            )
        except ValueError:
            return 400, ""
        if reading.handshake is not None:
            return 200, reading.handshake
        with self.lock:
            self.notices += [(name, n) for n in reading.notices]
        return reading.accepted_status, ""


def serve_webhooks(provider: type[CalendarProvider]) -> Iterator[Webhooks]:
    hooks = Webhooks(provider)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            status, text = hooks.answer(url.path, url.query, dict(self.headers.items()), body)
            out = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hooks.base = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield hooks
    finally:
        server.shutdown()
        server.server_close()


PUSHED = 10.0  # seconds a server may take to deliver a notification


class ProviderContract:
    """Inherit and supply a ``harness`` fixture (see the module docstring)."""

    @pytest.fixture
    def provider(self, harness: Harness) -> Any:
        provider = harness.provider()
        yield provider
        provider.close()

    @pytest.fixture
    def calendar(self, harness: Harness) -> str:
        return harness.add_calendar("main-" + uuid.uuid4().hex[:8], display_name="Main")

    # -- discovery and calendars ----------------------------------------------------------------------

    def test_discover_finds_principal_home_and_owner(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        info = provider.discover()
        if harness.principal_url is not None:
            assert info.principal_url.rstrip("/") == harness.principal_url.rstrip("/")
        if harness.home_url is not None:
            assert info.home_url == harness.home_url
        assert info.email_addresses == harness.owner_emails

    def test_wrong_password_is_auth_failed(self, harness: Harness) -> None:
        provider = harness.provider(password="not-the-password")
        try:
            with pytest.raises(AuthFailed) as caught:
                provider.discover()
            assert "not-the-password" not in str(caught.value)
        finally:
            provider.close()

    def test_list_calendars_keeps_event_calendars_with_their_looks(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        work = harness.add_calendar("work", display_name="Work", color="#FF8800CC")
        plain = harness.add_calendar("plain")
        tasks = harness.add_calendar("tasks", display_name="Tasks", components=["VTODO"])
        mixed = harness.add_calendar("mixed", display_name="Mixed", components=["VEVENT", "VTODO"])
        holidays = (
            harness.add_calendar("ro-holidays", display_name="Holidays", read_only=True)
            if (harness.supports_read_only)
            else None
        )
        found = {c.remote_id: c for c in provider.list_calendars()}
        if not getattr(harness, "ignores_component_set", False):
            assert tasks not in found
        assert found[work].name == "Work"
        assert found[work].color == "#ff8800"
        assert not found[work].read_only
        assert found[plain].name == "plain"
        assert mixed in found
        if holidays is not None:
            assert found[holidays].read_only
            assert found[holidays].name == "Holidays"

    # -- pulling changes ---------------------------------------------------------------------------------

    def test_initial_sync_is_a_full_listing(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        for i in range(3):
            harness.put(calendar, f"ev-{i}", ics(f"ev-{i}", DAY + timedelta(hours=i)))
        changes = provider.pull_changes(calendar, cursor=None, known_etags={})
        assert changes.full
        assert changes.cursor
        assert uids(changes) == {"ev-0", "ev-1", "ev-2"}
        assert not changes.bad and not changes.unchanged
        assert all(e.etag for e in changes.upserted)

    def test_downloaded_events_are_handed_over_in_batches_as_they_arrive(
        self, harness: Harness, calendar: str
    ) -> None:
        for i in range(5):
            harness.put(calendar, f"ev-{i}", ics(f"ev-{i}", DAY + timedelta(hours=i)))
        batches: list[list[str]] = []
        provider = harness.provider(batch_size=2)
        changes = provider.pull_changes(
            calendar, cursor=None, known_etags={}, received=lambda b: batches.append([e.remote_id for e in b])
        )
        assert [len(b) for b in batches] == [2, 2, 1]
        assert sorted(r for b in batches for r in b) == sorted(e.remote_id for e in changes.upserted)

    def test_incremental_sync_returns_only_what_changed(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        ids = {
            i: harness.put(calendar, f"ev-{i}", ics(f"ev-{i}", DAY + timedelta(hours=i))) for i in range(4)
        }
        first = provider.pull_changes(calendar, cursor=None, known_etags={})
        held = etags(first)
        harness.put(calendar, "ev-1", ics("ev-1", DAY, summary="Moved"))
        harness.remove(calendar, ids[2])
        harness.put(calendar, "ev-new", ics("ev-new", DAY + timedelta(days=1)))

        second = provider.pull_changes(calendar, cursor=first.cursor, known_etags=held)
        relists = getattr(harness, "relists_latest_changes", False)  # SOGo: a few again, see the harness
        assert uids(second) == {"ev-1", "ev-new"} or (relists and uids(second) > {"ev-1", "ev-new"})
        assert effective_deleted(second, held) == {ids[2]}
        assert "Moved" in next(e.ical for e in second.upserted if e.remote_id == ids[1])

        third = provider.pull_changes(calendar, cursor=second.cursor, known_etags=etags(second, held))
        assert not third.upserted or relists
        assert effective_deleted(third, etags(second, held)) <= ({ids[2]} if relists else set())

    def test_requests_do_not_grow_with_the_number_of_events(self, harness: Harness) -> None:
        counts = []
        for size in (3, 40):
            calendar = harness.add_calendar(f"bulk-{size}")
            for i in range(size):
                harness.put(calendar, f"b{size}-{i}", ics(f"b{size}-{i}", DAY + timedelta(minutes=30 * i)))
            log = new_log()
            provider = harness.provider(on_request=log)
            try:
                first = provider.pull_changes(calendar, cursor=None, known_etags={})
                assert len(first.upserted) == size
                assert getattr(harness, "lists_with_get", False) or "GET" not in log.methods()
                initial = len(log.requests)
                for i in range(0, size, 3):  # change a third of them
                    harness.put(calendar, f"b{size}-{i}", ics(f"b{size}-{i}", DAY, summary="changed"))
                log.clear()
                second = provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
                if getattr(harness, "relists_latest_changes", False):
                    assert len(second.upserted) >= len(range(0, size, 3))
                else:
                    assert len(second.upserted) == len(range(0, size, 3))
                assert getattr(harness, "lists_with_get", False) or "GET" not in log.methods()
                counts.append((initial, len(log.requests)))
            finally:
                provider.close()
        assert counts[0] == counts[1]

    def test_progress_is_reported_per_chunk(self, harness: Harness, calendar: str) -> None:
        for i in range(5):
            harness.put(calendar, f"p-{i}", ics(f"p-{i}", DAY + timedelta(hours=i)))
        seen: list[tuple[int, int]] = []
        provider = harness.provider(batch_size=2)
        try:
            changes = provider.pull_changes(
                calendar, cursor=None, known_etags={}, progress=lambda d, t: seen.append((d, t))
            )
        finally:
            provider.close()
        assert len(changes.upserted) == 5
        assert seen[-1] == (5, 5)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        assert len(seen) >= 3

    def test_invalid_cursor_then_full_resync_downloads_nothing_unchanged(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        for i in range(3):
            harness.put(calendar, f"ev-{i}", ics(f"ev-{i}", DAY + timedelta(hours=i)))
        first = provider.pull_changes(calendar, cursor=None, known_etags={})
        assert first.cursor
        stale = harness.stale_cursor(first.cursor)
        for bad_cursor in [c for c in (stale, "not a cursor", '{"v": 99}') if c is not None]:
            with pytest.raises(SyncCursorInvalid):
                provider.pull_changes(calendar, cursor=bad_cursor, known_etags=etags(first))
        again = provider.pull_changes(calendar, cursor=None, known_etags=etags(first))
        assert again.full
        assert not again.upserted
        assert set(again.unchanged) == {e.remote_id for e in first.upserted}

    def test_recurring_event_with_an_override_round_trips_intact(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        if getattr(harness, "series_as_occurrences", False):
            pytest.skip("this server lists each occurrence of a series as its own object")
        moved = DAY + timedelta(days=2)
        text = ics(
            "weekly",
            DAY,
            rrule="FREQ=DAILY;COUNT=5",
            overrides=[(moved, moved + timedelta(hours=3), "Moved occurrence")],
        )
        remote_id = harness.put(calendar, "weekly", text)
        changes = provider.pull_changes(calendar, cursor=None, known_etags={})
        [event] = changes.upserted
        assert event.remote_id == remote_id
        parsed = icalendar.Calendar.from_ical(event.ical)
        vevents = parsed.walk("VEVENT")
        assert len(vevents) == 2
        assert {str(v["UID"]) for v in vevents} == {"weekly"}
        [master] = [v for v in vevents if "RECURRENCE-ID" not in v]
        [override] = [v for v in vevents if "RECURRENCE-ID" in v]
        assert _value(master, "RRULE")["FREQ"] == ["DAILY"]
        assert _value(override, "RECURRENCE-ID").dt == moved
        assert _value(override, "DTSTART").dt == moved + timedelta(hours=3)
        assert str(override["SUMMARY"]) == "Moved occurrence"

    def test_malformed_object_is_reported_while_the_rest_syncs(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        calendar = harness.add_calendar("mixed-bag", components=["VEVENT", "VTODO"])
        good = harness.put(calendar, "good", ics("good", DAY))
        task = harness.put(calendar, "task", ics("task", DAY, component="VTODO"))
        broken = {name: harness.put_raw(calendar, name, text) for name, text in MALFORMED.items()}
        accepted = {remote_id for remote_id in broken.values() if remote_id is not None}
        if not accepted and getattr(harness, "validates_objects", False):
            pytest.skip("this server refuses every malformed object at PUT time: none can reach a client")
        assert accepted, "the server refused every malformed object: the test cannot check anything"
        changes = provider.pull_changes(calendar, cursor=None, known_etags={})
        # The provider checks the text only; what it hands over, the engine parses once (calendars/ical).
        unreadable = {e.remote_id for e in changes.upserted if not _readable(e.ical)}
        assert {e.remote_id for e in changes.upserted} - unreadable == {good}
        assert {b.remote_id for b in changes.bad} | unreadable == accepted
        assert all(b.reason for b in changes.bad)
        assert task not in {b.remote_id for b in changes.bad} | {e.remote_id for e in changes.upserted}

    def test_busy_times_returns_events_overlapping_the_window(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        other = harness.add_calendar("other")
        harness.put(calendar, "morning", ics("morning", DAY + timedelta(hours=10)))
        harness.put(calendar, "afternoon", ics("afternoon", DAY + timedelta(hours=14)))
        harness.put(calendar, "tomorrow", ics("tomorrow", DAY + timedelta(days=1, hours=10)))
        harness.put(other, "lunch", ics("lunch", DAY + timedelta(hours=12)))
        harness.put(
            other, "daily", ics("daily", DAY - timedelta(days=3) + timedelta(hours=13), rrule="FREQ=DAILY")
        )
        window = Interval(DAY + timedelta(hours=10, minutes=30), DAY + timedelta(hours=14, minutes=30))
        events = provider.busy_times([calendar, other], window)
        if getattr(harness, "busy_as_periods", False):
            hour = timedelta(hours=1)
            assert _covered(events, window) == [
                (window.start, DAY + 11 * hour),  # morning
                (DAY + 12 * hour, window.end),  # lunch, daily at 13:00, afternoon
            ]
            return
        found: set[str] = set()
        for event in events:
            found.update(str(v["UID"]) for v in icalendar.Calendar.from_ical(event.ical).walk("VEVENT"))
        assert found == {"morning", "afternoon", "lunch", "daily"}

    # -- writing -------------------------------------------------------------------------------------------

    def test_create_update_delete(self, harness: Harness, provider: CalendarProvider, calendar: str) -> None:
        draft = EventDraft(
            uid="creneau-booking-42@example.org",
            summary="Study session",
            start=DAY + timedelta(hours=9),
            end=DAY + timedelta(hours=10),
            description="With participant P-7",
            location="Room 2",
            url="https://meet.example.org/abc",
        )
        written = provider.create_event(calendar, draft)
        stored = harness.stored(calendar, written.remote_id)
        assert stored is not None and "Study session" in stored and "Room 2" in stored
        event = icalendar.Calendar.from_ical(stored).walk("VEVENT")[0]
        assert _value(event, "DTSTART").dt == draft.start
        assert _value(event, "DTEND").dt == draft.end
        assert str(event["UID"]) == draft.uid

        again = provider.create_event(calendar, draft)  # a retry after a lost answer
        assert again.remote_id == written.remote_id
        listing = provider.pull_changes(calendar, cursor=None, known_etags={})
        assert [e.remote_id for e in listing.upserted] == [written.remote_id]

        moved = dataclasses.replace(draft, summary="Moved session")
        updated = provider.update_event(calendar, written.remote_id, moved, etag=written.etag)
        assert "Moved session" in (harness.stored(calendar, written.remote_id) or "")
        if written.etag and updated.etag and written.etag != updated.etag:
            with pytest.raises(PreconditionFailed):
                provider.update_event(calendar, written.remote_id, draft, etag=written.etag)
            with pytest.raises(PreconditionFailed):
                provider.delete_event(calendar, written.remote_id, etag=written.etag)

        provider.delete_event(calendar, written.remote_id, etag=updated.etag)
        assert harness.stored(calendar, written.remote_id) is None
        provider.delete_event(calendar, written.remote_id)  # already gone: fine

    def test_writing_to_a_read_only_calendar_is_refused(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        if not harness.supports_read_only:
            pytest.skip("this server cannot make a read-only calendar")
        calendar = harness.add_calendar("ro-shared", display_name="Shared", read_only=True)
        draft = EventDraft(uid="no-room", summary="Nope", start=DAY, end=DAY + timedelta(hours=1))
        with pytest.raises(ProviderError, match="403"):
            provider.create_event(calendar, draft)

    def test_create_with_an_awkward_uid(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        draft = EventDraft(uid="a/b c?d#é", summary="Odd", start=DAY, end=DAY + timedelta(hours=1))
        written = provider.create_event(calendar, draft)
        assert written.remote_id == provider.create_event(calendar, draft).remote_id
        stored = harness.stored(calendar, written.remote_id)
        assert stored is not None
        assert str(icalendar.Calendar.from_ical(stored).walk("VEVENT")[0]["UID"]) == draft.uid

    # -- what real servers got wrong (issue 14) ------------------------------------------------------------
    # Optional harness hooks, read with getattr: ``scheduling_collections() -> list[str]``,
    # ``recreate_calendar(calendar_id)``, ``verifying_provider(**options) -> provider`` (see each test).

    def test_scheduling_inbox_and_outbox_are_not_calendars(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        scheduling: list[str] = getattr(harness, "scheduling_collections", lambda: [])()
        if not scheduling:
            pytest.skip("this server types no scheduling Inbox/Outbox as a calendar")
        provider.discover()
        listed = {c.remote_id for c in provider.list_calendars()}
        assert listed.isdisjoint(scheduling)
        assert not {c.name for c in provider.list_calendars()} & {"Inbox", "Outbox"}
        # An engine that stored only the home (not the principal) still leaves them out.
        again = harness.provider()
        try:
            assert {c.remote_id for c in again.list_calendars()}.isdisjoint(scheduling)
        finally:
            again.close()

    def test_an_event_made_again_at_the_same_href_comes_back_with_its_new_content(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        remote_id = harness.put(calendar, "again", ics("again", DAY, summary="First version"))
        first = provider.pull_changes(calendar, cursor=None, known_etags={})
        held = etags(first)
        harness.remove(calendar, remote_id)
        made_again = harness.put(
            calendar, "again", ics("again", DAY + timedelta(hours=5), summary="Made again")
        )
        second = provider.pull_changes(calendar, cursor=first.cursor, known_etags=held)
        [event] = [e for e in second.upserted if e.remote_id == made_again]
        assert "Made again" in event.ical and "First version" not in event.ical
        gone = effective_deleted(second, etags(second, held))
        assert made_again not in gone
        if made_again != remote_id:  # the server gave it a new id (Google, Graph): the old one is gone
            assert remote_id in gone

    def test_a_calendar_made_again_at_the_same_url_drops_its_old_events_at_the_verification(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        if not hasattr(harness, "recreate_calendar") or not hasattr(harness, "verifying_provider"):
            pytest.skip("this harness cannot re-create a calendar at the same address")
        old = {harness.put(calendar, f"old-{i}", ics(f"old-{i}", DAY + timedelta(hours=i))) for i in range(3)}
        first = provider.pull_changes(calendar, cursor=None, known_etags={})
        held = etags(first)
        assert set(held) == old
        if not harness.recreate_calendar(calendar):
            pytest.skip("this server does not let its owner delete a calendar over CalDAV")
        new = harness.put(calendar, "new", ics("new", DAY + timedelta(days=1)))
        try:  # Radicale, Xandikos and Cyrus refuse the old token; DAViCal and SOGo accept it
            second = provider.pull_changes(calendar, cursor=first.cursor, known_etags=held)
        except SyncCursorInvalid:
            second = provider.pull_changes(calendar, cursor=None, known_etags=held)
        held = etags(second, held)
        assert new in held

        log = new_log()
        verifier = harness.verifying_provider(on_request=log)
        try:
            third = verifier.pull_changes(calendar, cursor=second.cursor, known_etags=held)
            held = etags(third, held)
            assert set(held) == {new}, "events of the deleted calendar are still held"
            assert {e.remote_id for e in third.upserted} <= {new}
            log.clear()
            fourth = verifier.pull_changes(calendar, cursor=third.cursor, known_etags=held)
        finally:
            verifier.close()
        assert not effective_deleted(fourth, held)
        if not getattr(harness, "relists_latest_changes", False):  # nothing differs: no download
            assert not fourth.upserted
            assert not [r for r in log.requests if b"calendar-multiget" in r.content]

    def test_a_retried_create_and_a_stale_delete_never_clobber_the_users_change(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        draft = EventDraft(uid="retried-create", summary="Booked", start=DAY, end=DAY + timedelta(hours=1))
        written = provider.create_event(calendar, draft)
        edited = ics("retried-create", DAY + timedelta(hours=2), summary="Changed by the user")
        if harness.put(calendar, draft.uid, edited) != written.remote_id:
            pytest.skip("this harness cannot change the event the provider wrote in place")
        again = provider.create_event(calendar, draft)  # the outbox retries after a lost answer
        assert again.remote_id == written.remote_id
        assert "Changed by the user" in (harness.stored(calendar, written.remote_id) or "")
        with pytest.raises(PreconditionFailed):  # our etag is the one before the user's change
            provider.delete_event(calendar, written.remote_id, etag=written.etag)
        assert "Changed by the user" in (harness.stored(calendar, written.remote_id) or "")
        provider.delete_event(calendar, written.remote_id, etag=again.etag)
        assert harness.stored(calendar, written.remote_id) is None

    # -- push (providers whose capabilities say so) --------------------------------------------------------

    @pytest.fixture
    def webhooks(self, provider: CalendarProvider) -> Iterator[Webhooks]:
        if not provider.capabilities.push:
            pytest.skip(f"{provider.name} has no push (capabilities.push is false): it is polled")
        yield from serve_webhooks(type(provider))

    def test_push_is_declared_once_and_routed_to_this_provider(self, provider: CalendarProvider) -> None:
        cls = type(provider)
        assert cls.capabilities.push == bool(cls.webhooks)
        for path in cls.webhooks:
            assert providers.load(providers.kind_of_webhook(path)) is cls
        if not cls.capabilities.push:
            with pytest.raises(ProviderError):
                provider.open_channel(
                    ChannelRequest("c", "id", "secret", "https://x.example/webhooks/x", "https://x.example")
                )

    def test_a_change_is_notified_with_the_channel_secret_until_the_channel_stops(
        self, harness: Harness, provider: CalendarProvider, calendar: str, webhooks: Webhooks
    ) -> None:
        secret = "secret-" + uuid.uuid4().hex
        request = ChannelRequest(
            calendar_id=calendar,
            channel_id=str(uuid.uuid4()),
            secret=secret,
            address=f"{webhooks.base}/{type(provider).webhooks[0]}",
            webhook_base=webhooks.base,
        )
        channel = provider.open_channel(request)
        assert channel.channel_id
        lifetime = provider.channel_lifetime()
        assert lifetime > timedelta(hours=1)
        assert channel.expires - datetime.now(UTC) - lifetime < timedelta(seconds=5)
        assert _live(harness, channel.channel_id)

        harness.put(calendar, "pushed", ics("pushed", DAY))
        wait_until(
            lambda: any(n.sync for n in webhooks.received(channel.channel_id)),
            timeout=PUSHED,
            what="a notification of the change",
        )
        notices = webhooks.received(channel.channel_id)
        assert {n.secret for n in notices} == {secret}
        assert all(n.resource_id in (None, channel.resource_id) for n in notices)

        renewed = provider.renew_channel(channel)  # None: this server renews by opening a new channel
        if renewed is not None:
            assert renewed.channel_id == channel.channel_id
            assert renewed.expires >= channel.expires - timedelta(seconds=1)
            channel = renewed
        provider.stop_channel(channel)
        assert not _live(harness, channel.channel_id)
        provider.stop_channel(channel)  # already stopped: fine

    def test_a_request_that_is_not_a_notification_is_refused(self, webhooks: Webhooks) -> None:
        for path in webhooks.provider.webhooks:
            for body in (b"", b"not a notification", b"[1, 2]"):
                try:
                    reading = webhooks.provider.read_webhook(
                        Webhook(path=path, headers={"Content-Type": "text/plain"}, query={}, body=body)
                    )
                except ValueError:
                    continue
                assert reading.handshake is None and not reading.notices


def _live(harness: Harness, channel_id: str) -> bool:
    live: Callable[[str], bool] = getattr(harness, "live_channel")  # noqa: B009 - optional in the Protocol
    return live(channel_id)


def _covered(events: Sequence[Any], window: Interval) -> list[tuple[datetime, datetime]]:
    """The merged busy time of ``events`` inside ``window``, as the engine would judge it."""
    spans = sorted(
        (max(o.start, window.start), min(o.end, window.end))
        for event in events
        for o in ical.busy_occurrences(ical.parse(event.ical), window=window, default_tz=UTC)
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _readable(text: str) -> bool:
    try:
        ical.parse(text)
    except ical.MalformedObject:
        return False
    return True


# Objects a calendar app can leave on a server; each server refuses some of them at PUT time.
MALFORMED = {
    "no-event.ics": (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    ),
    "bad-start.ics": (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:bad-start\r\n"
        "DTSTAMP:20240101T000000Z\r\nDTSTART:notadate\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
}
