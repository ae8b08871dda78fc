"""The provider contract against the Google Calendar emulator, then what only Google has (Meet, push,
its error answers)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from creneau.calendars import ical, providers
from creneau.calendars.providers.base import EventDraft
from creneau.calendars.providers.google import GoogleProvider, Notification, parse_notification
from creneau.domain.intervals import Interval
from creneau.emulators.google import RunningEmulator, start
from creneau.errors import AuthExpired, RateLimited, RemoteNotFound, TransientProviderError
from tests.emulators.google.harness import GoogleHarness
from tests.providers.contract import ProviderContract, ics

_users = itertools.count()


@pytest.fixture(scope="module")
def google() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    running.stop()


@pytest.fixture
def google_harness(google: RunningEmulator) -> GoogleHarness:
    email = f"contract{next(_users):03d}@example.org"
    return GoogleHarness(google, email, google.state.add_user(email))


class TestGoogle(ProviderContract):
    @pytest.fixture
    def harness(self, google_harness: GoogleHarness) -> GoogleHarness:
        return google_harness


# -- what only Google has ---------------------------------------------------------------------------------

DAY = datetime(2030, 3, 4, tzinfo=UTC)


@pytest.fixture
def provider(google_harness: GoogleHarness) -> Iterator[GoogleProvider]:
    found = google_harness.provider()
    yield found
    found.close()


def test_registered_under_google() -> None:
    assert providers.load("google") is GoogleProvider
    assert GoogleProvider.capabilities.native_conferencing == "google_meet"


def test_discover_reports_the_email_and_time_zone(
    provider: GoogleProvider, google_harness: GoogleHarness
) -> None:
    info = provider.discover()
    assert info.email_addresses == (google_harness.email,)
    assert info.timezone == "Europe/Paris"


def test_meet_link_is_awaited_and_returned(
    provider: GoogleProvider, google_harness: GoogleHarness, google: RunningEmulator
) -> None:
    google.state.set_meet_pending_reads(2)  # pending on insert and on two reads, then success
    draft = EventDraft(
        uid="booking-meet-1",
        summary="Remote",
        start=DAY,
        end=DAY + timedelta(hours=1),
        native_conference=True,
    )
    written = provider.create_event(google_harness.email, draft)
    stored = google.state.event(google_harness.email, written.remote_id)
    assert stored is not None and written.join_url == stored["hangoutLink"]
    assert written.join_url is not None and written.join_url.startswith("https://meet.google.com/")
    assert written.etag == stored["etag"]
    again = provider.create_event(google_harness.email, draft)  # a retry: same event, same link
    assert (again.remote_id, again.join_url) == (written.remote_id, written.join_url)
    moved = provider.update_event(
        google_harness.email, written.remote_id, dataclasses.replace(draft, summary="Moved"), etag=again.etag
    )
    assert moved.join_url == written.join_url  # the conference survives an update
    plain = provider.create_event(
        google_harness.email, dataclasses.replace(draft, uid="b2", native_conference=False)
    )
    assert plain.join_url is None


def test_watch_then_stop(
    provider: GoogleProvider, google_harness: GoogleHarness, google: RunningEmulator
) -> None:
    channel = provider.watch(
        google_harness.email,
        address="http://127.0.0.1:9/hook",
        token="tok",
        channel_id="chan-" + google_harness.email.replace("@", "-").replace(".", "-"),  # Google's id charset
        ttl=timedelta(hours=2),
    )
    assert channel.expiration is not None
    assert timedelta(hours=1, minutes=59) < channel.expiration - datetime.now(UTC) <= timedelta(hours=2)
    assert google.state.notifier.channels[channel.id].token == "tok"
    provider.stop_watch(channel.id, channel.resource_id)
    assert google.state.notifier.channels[channel.id].stopped
    provider.stop_watch(channel.id, channel.resource_id)  # already stopped: fine
    note = parse_notification(
        {
            "X-Goog-Channel-ID": "c",
            "X-Goog-Resource-ID": "r",
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "3",
            "X-Goog-Channel-Token": "tok",
        }
    )
    assert note == Notification("c", "tok", "r", "exists", 3)


def test_errors_are_translated(
    provider: GoogleProvider, google_harness: GoogleHarness, google: RunningEmulator
) -> None:
    faults = google.state.faults
    faults.rate_limit(1, retry_after=4)
    with pytest.raises(RateLimited) as limited:
        provider.list_calendars()
    assert limited.value.retry_after == 4
    faults.rate_limit(1, retry_after=None, status=403)
    with pytest.raises(RateLimited) as limited:
        provider.list_calendars()
    assert limited.value.retry_after == 30
    faults.fail_randomly(1.0, status=500)
    try:
        with pytest.raises(TransientProviderError):
            provider.list_calendars()
    finally:
        faults.clear()
    with pytest.raises(RemoteNotFound):
        provider.pull_changes("nope@group.calendar.google.com", cursor=None, known_etags={})
    google.state.revoke(google_harness.tokens.access_token)
    with pytest.raises(AuthExpired) as expired:
        provider.list_calendars()
    assert google_harness.tokens.access_token not in str(expired.value)


def test_changed_exception_brings_its_whole_series(
    provider: GoogleProvider, google_harness: GoogleHarness
) -> None:
    calendar = google_harness.add_calendar("series")
    occurrence = DAY + timedelta(days=1)
    text = ics("daily", DAY, rrule="FREQ=DAILY;COUNT=4", overrides=[(occurrence, occurrence, "first")])
    series_id = google_harness.put(calendar, "daily", text)
    first = provider.pull_changes(calendar, cursor=None, known_etags={})
    exception_id = f"{series_id}_{occurrence.strftime('%Y%m%dT%H%M%SZ').lower()}"
    changed = google_harness.state.event(calendar, exception_id)
    assert changed is not None
    google_harness.state.put_event(calendar, {**changed, "summary": "second"})
    cancelled = dict(
        changed,
        id=series_id + "_x",
        status="cancelled",
        originalStartTime={"dateTime": (DAY + timedelta(days=2)).isoformat(), "timeZone": "UTC"},
    )
    google_harness.state.put_event(calendar, cancelled)
    second = provider.pull_changes(calendar, cursor=first.cursor, known_etags={})
    [event] = second.upserted
    assert event.remote_id == series_id and event.etag != first.upserted[0].etag
    busy = ical.busy_occurrences(
        ical.parse(event.ical), window=Interval(DAY, DAY + timedelta(days=7)), default_tz=UTC
    )
    assert [o.start for o in busy] == [DAY, occurrence, DAY + timedelta(days=3)]
    assert "second" in event.ical
    google_harness.remove(calendar, series_id)
    third = provider.pull_changes(calendar, cursor=second.cursor, known_etags={})
    assert third.deleted == [series_id] and not third.upserted


def test_google_busy_rules_reach_the_engine(provider: GoogleProvider, google_harness: GoogleHarness) -> None:
    calendar = google_harness.add_calendar("rules")
    me = google_harness.email
    base = {
        "start": {"dateTime": DAY.isoformat()},
        "end": {"dateTime": (DAY + timedelta(hours=1)).isoformat()},
    }
    google_harness.state.put_event(calendar, {**base, "id": "freeslot", "transparency": "transparent"})
    google_harness.state.put_event(
        calendar,
        {
            **base,
            "id": "declined",
            "organizer": {"email": "boss@example.org"},
            "attendees": [{"email": me, "self": True, "responseStatus": "declined"}],
        },
    )
    google_harness.state.put_event(
        calendar, {"id": "allday", "start": {"date": "2030-03-05"}, "end": {"date": "2030-03-06"}}
    )
    google_harness.state.put_event(
        calendar,
        {
            "id": "paris",
            "start": {"dateTime": "2030-03-06T09:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2030-03-06T10:00:00", "timeZone": "Europe/Paris"},
        },
    )
    changes = provider.pull_changes(calendar, cursor=None, known_etags={})
    window = Interval(DAY - timedelta(days=1), DAY + timedelta(days=5))
    busy = {
        e.remote_id: ical.busy_occurrences(
            ical.parse(e.ical), window=window, default_tz=ZoneInfo("Europe/Paris"), owner_addresses={me}
        )
        for e in changes.upserted
    }
    assert busy["freeslot"] == [] and busy["declined"] == []
    assert [(o.start, o.all_day) for o in busy["allday"]] == [(datetime(2030, 3, 4, 23, tzinfo=UTC), True)]
    assert [o.start for o in busy["paris"]] == [datetime(2030, 3, 6, 8, tzinfo=UTC)]


def test_busy_times_refuses_an_unknown_calendar(provider: GoogleProvider) -> None:
    with pytest.raises(RemoteNotFound):
        provider.busy_times(["ghost@example.org"], Interval(DAY, DAY + timedelta(hours=1)))
