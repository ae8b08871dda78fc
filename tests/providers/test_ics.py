"""The provider contract against ICS feeds served by a local HTTP server, then what only feeds do:
conditional downloads, the size cap, several VCALENDARs in one file, broken iCalendar, the addresses a
researcher pastes, redirects through the network guard."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from creneau.calendars import ical, providers
from creneau.calendars.providers.base import CalendarProvider, Connection, EventDraft
from creneau.calendars.providers.ics import IcsProvider
from creneau.calendars.providers.ics.address import feed_url
from creneau.domain.intervals import Interval
from creneau.errors import (
    AddressForbidden,
    AuthFailed,
    NotAFeed,
    ProviderError,
    ResponseTooLarge,
    ValidationFailed,
)
from tests.providers.conftest import test_policy as loopback_policy
from tests.providers.contract import DAY, Harness, ProviderContract, etags, ics, uids
from tests.providers.ics_harness import FeedServer, IcsHarness, Raw, serve_feeds


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


@pytest.fixture
def ics_harness(feeds: FeedServer) -> IcsHarness:
    return IcsHarness(feeds)


class TestIcsFeed(ProviderContract):
    @pytest.fixture
    def harness(self, ics_harness: IcsHarness) -> IcsHarness:
        return ics_harness

    def test_wrong_password_is_auth_failed(self, harness: Harness) -> None:
        pytest.skip("a feed has no credentials (a refused feed is test_refused_access_is_auth_failed)")

    def test_list_calendars_keeps_event_calendars_with_their_looks(
        self, harness: Harness, provider: CalendarProvider
    ) -> None:
        pytest.skip("a feed is one calendar (test_the_feed_is_one_read_only_calendar_named_by_the_feed)")

    def test_create_update_delete(self, harness: Harness, provider: CalendarProvider, calendar: str) -> None:
        pytest.skip("a feed is read-only: writes are refused (test_every_write_is_refused_and_sends_nothing)")

    def test_create_with_an_awkward_uid(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        pytest.skip("a feed is read-only: writes are refused (test_every_write_is_refused_and_sends_nothing)")

    def test_a_retried_create_and_a_stale_delete_never_clobber_the_users_change(
        self, harness: Harness, provider: CalendarProvider, calendar: str
    ) -> None:
        pytest.skip("a feed is read-only: writes are refused (test_every_write_is_refused_and_sends_nothing)")


@pytest.fixture
def provider(ics_harness: IcsHarness) -> Iterator[IcsProvider]:
    p = ics_harness.provider()
    yield p
    p.close()


def test_registered_under_ics() -> None:
    assert providers.load("ics") is IcsProvider
    assert not IcsProvider.capabilities.push


def test_the_feed_is_one_read_only_calendar_named_by_the_feed(ics_harness: IcsHarness) -> None:
    provider = ics_harness.provider()
    try:
        info = provider.discover()
        assert info.display_name == "Account feed"
        [calendar] = provider.list_calendars()
        assert (calendar.remote_id, calendar.name, calendar.read_only) == (
            ics_harness.main,
            "Account feed",
            True,
        )
    finally:
        provider.close()
    # A later run (sync) lists it without any request, under the name the account was given.
    ics_harness.feed(ics_harness.main).name = None
    asked = len(ics_harness.server.log)
    later = IcsProvider(Connection(ics_harness.main, "Timetable", ""), policy=loopback_policy())
    assert [c.name for c in later.list_calendars()] == ["Timetable"]
    assert len(ics_harness.server.log) == asked
    nameless = IcsProvider(Connection(ics_harness.main, "", ""), policy=loopback_policy())
    assert nameless.discover().display_name == "127.0.0.1"


def test_every_write_is_refused_and_sends_nothing(ics_harness: IcsHarness, provider: IcsProvider) -> None:
    calendar = ics_harness.main
    draft = EventDraft(uid="no", summary="Nope", start=DAY, end=DAY + timedelta(hours=1))
    asked = len(ics_harness.server.log)
    for write in (
        lambda: provider.create_event(calendar, draft),
        lambda: provider.update_event(calendar, "x", draft),
        lambda: provider.delete_event(calendar, "x"),
    ):
        with pytest.raises(ProviderError, match="read-only ICS feed"):
            write()
    assert len(ics_harness.server.log) == asked


def test_an_unchanged_feed_answers_304_and_nothing_is_stored_again(
    ics_harness: IcsHarness, provider: IcsProvider
) -> None:
    calendar = ics_harness.add_calendar("cond")
    path = ics_harness.server.path_of(calendar)
    for i in range(3):
        ics_harness.put(calendar, f"c-{i}", ics(f"c-{i}", DAY + timedelta(hours=i)))
    first = provider.pull_changes(calendar, cursor=None, known_etags={})
    assert uids(first) == {"c-0", "c-1", "c-2"}
    second = provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
    assert ics_harness.server.statuses(path)[-1] == 304
    assert (second.full, second.upserted, second.deleted, second.cursor) == (False, [], [], first.cursor)

    # Only Last-Modified (no ETag sent back): If-Modified-Since alone gets the 304.
    cursor = first.cursor
    assert cursor is not None
    import json

    data = json.loads(cursor)
    data["etag"] = None
    provider.pull_changes(calendar, cursor=json.dumps(data), known_etags=etags(first))
    assert ics_harness.server.statuses(path)[-1] == 304


def test_a_server_ignoring_validators_costs_no_parsing_nor_store(
    ics_harness: IcsHarness, provider: IcsProvider
) -> None:
    calendar = ics_harness.add_calendar("plain")
    feed = ics_harness.feed(calendar)
    feed.conditional = False
    ics_harness.put(calendar, "p-1", ics("p-1", DAY))
    ics_harness.put(calendar, "p-2", ics("p-2", DAY + timedelta(hours=2)))
    first = provider.pull_changes(calendar, cursor=None, known_etags={})
    same = provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
    assert ics_harness.server.statuses(ics_harness.server.path_of(calendar))[-1] == 200
    assert not same.full and not same.upserted  # the same bytes: not even split

    # A generated feed rewrites DTSTAMP at every download: the events are not stored again.
    for uid in ("p-1", "p-2"):
        feed.objects[uid] = feed.objects[uid].replace("DTSTAMP:20240101T000000Z", "DTSTAMP:20301231T235959Z")
    ics_harness.put(calendar, "p-3", ics("p-3", DAY + timedelta(hours=5)))
    ics_harness.remove(calendar, "p-2")
    third = provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
    assert third.full
    assert uids(third) == {"p-3"}
    assert third.unchanged == ["p-1"]
    assert etags(third, etags(first)).keys() == {"p-1", "p-3"}  # p-2 deleted


def test_a_feed_over_the_size_cap_is_refused_before_it_is_read_whole(feeds: FeedServer) -> None:
    big = ics("big", DAY).replace("SUMMARY:Meeting", "SUMMARY:" + "x" * 70 + "\r\n DESCRIPTION" * 0)
    body = (big * 1).encode() + b"X-PADDING:" + b"y" * 20_000 + b"\r\n"
    feeds.raw["/big-announced.ics"] = Raw(200, "text/calendar", body)
    feeds.raw["/big-streamed.ics"] = Raw(200, "text/calendar", body, headers={"X-Omit-Length": "1"})
    for path in ("/big-announced.ics", "/big-streamed.ics"):
        small = IcsProvider(Connection(feeds.url(path), "", ""), policy=loopback_policy(), max_bytes=10_000)
        with pytest.raises(ResponseTooLarge, match="more than 10000 bytes"):
            small.discover()
        with pytest.raises(ResponseTooLarge):
            small.pull_changes(feeds.url(path), cursor=None, known_etags={})
        roomy = IcsProvider(Connection(feeds.url(path), "", ""), policy=loopback_policy(), max_bytes=100_000)
        assert roomy.discover().principal_url == feeds.url(path)


def test_a_compressed_feed_is_capped_once_decompressed(feeds: FeedServer) -> None:
    bomb = gzip.compress(b"BEGIN:VCALENDAR\r\n" + b"X-PADDING:" + b"z" * 2_000_000 + b"\r\nEND:VCALENDAR\r\n")
    assert len(bomb) < 10_000
    feeds.raw["/bomb.ics"] = Raw(200, "text/calendar", bomb, headers={"Content-Encoding": "gzip"})
    provider = IcsProvider(
        Connection(feeds.url("/bomb.ics"), "", ""), policy=loopback_policy(), max_bytes=100_000
    )
    with pytest.raises(ResponseTooLarge):
        provider.discover()
    roomy = IcsProvider(
        Connection(feeds.url("/bomb.ics"), "", ""), policy=loopback_policy(), max_bytes=3_000_000
    )
    assert roomy.discover().display_name == "127.0.0.1"


def test_several_vcalendars_in_one_file(ics_harness: IcsHarness, provider: IcsProvider) -> None:
    calendar = ics_harness.add_calendar("several", display_name="Rooms")
    feed = ics_harness.feed(calendar)
    feed.several = True
    ics_harness.put(calendar, "s-1", ics("s-1", DAY))
    ics_harness.put(calendar, "s-2", ics("s-2", DAY + timedelta(hours=3)))
    paris = (
        "BEGIN:VTIMEZONE\r\nTZID:Custom/Lab\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    # A third VCALENDAR holds the zone; a fourth an event in that zone and the override of s-1.
    feed.extra = (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n{paris}END:VCALENDAR\r\n"
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
        "BEGIN:VEVENT\r\nUID:s-zoned\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=Custom/Lab:20300304T090000\r\n"
        "DTEND;TZID=Custom/Lab:20300304T100000\r\nSUMMARY:Lab\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    provider_name = (
        IcsProvider(Connection(calendar, "", ""), policy=loopback_policy()).discover().display_name
    )
    assert provider_name == "Rooms"
    changes = provider.pull_changes(calendar, cursor=None, known_etags={})
    assert uids(changes) == {"s-1", "s-2", "s-zoned"}
    zoned = next(e for e in changes.upserted if e.remote_id == "s-zoned")
    assert "TZID:Custom/Lab" in zoned.ical  # its VTIMEZONE came along from another VCALENDAR
    [busy] = ical.busy_occurrences(
        ical.parse(zoned.ical), window=Interval(DAY, DAY + timedelta(days=1)), default_tz=UTC
    )
    assert busy.interval.start == datetime(2030, 3, 4, 8, tzinfo=UTC)
    other = next(e for e in changes.upserted if e.remote_id == "s-1")
    assert "Custom/Lab" not in other.ical  # only the zones an object names


BROKEN_FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//broken//EN\r\nX-WR-TIMEZONE:Europe/Paris\r\n"
    "this line is not iCalendar\r\n"
    # no UID: read under a UID derived from its content, reported as repaired by the engine's reader
    "BEGIN:VEVENT\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20300304T080000Z\r\nDTEND:20300304T090000Z\r\n"
    "SUMMARY:No uid\r\nEND:VEVENT\r\n"
    # an empty RRULE: read as happening once
    "BEGIN:VEVENT\r\nUID:empty-rule\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20300304T100000Z\r\n"
    "DTEND:20300304T110000Z\r\nRRULE:\r\nEND:VEVENT\r\n"
    # a TZID without its VTIMEZONE: the name is enough
    "BEGIN:VEVENT\r\nUID:named-zone\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=Europe/Paris:20300304T140000\r\n"
    "DTEND;TZID=Europe/Paris:20300304T150000\r\nEND:VEVENT\r\n"
    # a floating time: read in the feed's X-WR-TIMEZONE
    "BEGIN:VEVENT\r\nUID:floating\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20300304T160000\r\n"
    "DTEND:20300304T170000\r\nEND:VEVENT\r\n"
    # cannot be placed in time
    "BEGIN:VEVENT\r\nUID:no-date\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:soon\r\nEND:VEVENT\r\n"
    # never ended: cut off by the next event
    "BEGIN:VEVENT\r\nUID:cut-off\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20300304T180000Z\r\n"
    "BEGIN:VEVENT\r\nUID:after-cut\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20300304T190000Z\r\n"
    "DURATION:PT1H\r\nEND:VEVENT\r\n"
    "BEGIN:VTODO\r\nUID:a-task\r\nEND:VTODO\r\n"
    "END:VCALENDAR\r\n"
)


def test_broken_objects_are_repaired_or_reported_while_the_rest_is_read(feeds: FeedServer) -> None:
    feeds.raw["/broken.ics"] = Raw(200, "text/calendar", BROKEN_FEED.encode())
    url = feeds.url("/broken.ics")
    provider = IcsProvider(Connection(url, "", ""), policy=loopback_policy())
    changes = provider.pull_changes(url, cursor=None, known_etags={})
    assert {(b.remote_id, b.reason) for b in changes.bad} == {
        ("cut-off", "the VEVENT on line 36 has no END:VEVENT")
    }
    by_id = {e.remote_id: e for e in changes.upserted}
    assert {"empty-rule", "named-zone", "floating", "no-date", "after-cut"} <= by_id.keys()
    [no_uid] = [r for r in by_id if r.startswith("no-uid-")]
    assert len(by_id) == 6
    window = Interval(DAY, DAY + timedelta(days=1))
    busy: dict[str, tuple[int, int]] = {}
    repairs: set[str] = set()
    for remote_id, event in by_id.items():
        try:
            parsed = ical.parse(event.ical)
        except ical.MalformedObject:
            busy[remote_id] = (-1, -1)
            continue
        repairs.update(parsed.repairs)
        [occ] = ical.busy_occurrences(parsed, window=window, default_tz=ZoneInfo("UTC"))
        busy[remote_id] = (occ.interval.start.hour, occ.interval.end.hour)
    assert busy == {
        no_uid: (8, 9),
        "empty-rule": (10, 11),
        "named-zone": (13, 14),  # 14:00 in Paris
        "floating": (15, 16),  # 16:00 in the feed's zone, Paris
        "no-date": (-1, -1),  # refused by the reader: the engine reports it as skipped
        "after-cut": (19, 20),
    }
    assert len(repairs) == 2  # a derived UID, an empty rule: the engine reports both as repaired


def test_an_address_that_is_not_a_feed_says_so(feeds: FeedServer) -> None:
    feeds.raw["/page.html"] = Raw(200, "text/html", b"<!doctype html><html><body>Timetable</body></html>")
    feeds.raw["/text.ics"] = Raw(200, "text/calendar", b"nothing here")
    for path, words in (("/page.html", "text/html"), ("/missing.ics", "404"), ("/text.ics", "VCALENDAR")):
        provider = IcsProvider(Connection(feeds.url(path), "", ""), policy=loopback_policy())
        with pytest.raises(NotAFeed, match=words):
            provider.discover()


def test_refused_access_is_auth_failed(feeds: FeedServer) -> None:
    feeds.raw["/private.ics"] = Raw(403, "text/plain", b"forbidden")
    provider = IcsProvider(Connection(feeds.url("/private.ics"), "", ""), policy=loopback_policy())
    with pytest.raises(AuthFailed, match="subscribe again"):
        provider.discover()


def test_a_redirect_into_a_private_network_is_refused(feeds: FeedServer, ics_harness: IcsHarness) -> None:
    ics_harness.put(ics_harness.main, "r-1", ics("r-1", DAY))
    feeds.raw["/moved.ics"] = Raw(301, headers={"Location": ics_harness.main})
    feeds.raw["/to-metadata.ics"] = Raw(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    feeds.raw["/to-lan.ics"] = Raw(302, headers={"Location": "http://10.1.2.3/feed.ics"})
    moved = IcsProvider(Connection(feeds.url("/moved.ics"), "", ""), policy=loopback_policy())
    assert uids(moved.pull_changes(feeds.url("/moved.ics"), cursor=None, known_etags={})) == {"r-1"}
    for path in ("/to-metadata.ics", "/to-lan.ics"):
        provider = IcsProvider(Connection(feeds.url(path), "", ""), policy=loopback_policy())
        with pytest.raises(AddressForbidden):
            provider.discover()


@pytest.mark.parametrize(
    ("typed", "fetched"),
    [
        ("webcal://calendar.example.org/u/timetable.ics", "https://calendar.example.org/u/timetable.ics"),
        ("WEBCAL://example.org", "https://example.org/"),
        ("webcals://example.org/a.ics?k=1", "https://example.org/a.ics?k=1"),
        ("  https://example.org/a.ics  ", "https://example.org/a.ics"),
        ("example.org/a.ics", "https://example.org/a.ics"),
        ("http://127.0.0.1:8080/a.ics", "http://127.0.0.1:8080/a.ics"),
    ],
)
def test_webcal_and_https_addresses(typed: str, fetched: str) -> None:
    assert feed_url(typed) == fetched


@pytest.mark.parametrize("typed", ["", "ftp://example.org/a.ics", "webcal://", "https://x:port/", "a" * 2001])
def test_addresses_that_are_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        feed_url(typed)
    assert caught.value.field == "server_url"
