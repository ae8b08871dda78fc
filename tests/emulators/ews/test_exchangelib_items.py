"""Fidelity with exchangelib (public API, no patching): calendar items written and read back (invitations,
ChangeKey conflicts, extended properties, batches, paging), recurring series with exceptions, CalendarView,
MimeContent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

exchangelib = pytest.importorskip("exchangelib")

from exchangelib import (  # type: ignore[import-untyped]  # noqa: E402
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
)
from exchangelib.errors import (  # type: ignore[import-untyped]  # noqa: E402
    ErrorIrresolvableConflict,
)
from exchangelib.items import SEND_TO_NONE  # type: ignore[import-untyped]  # noqa: E402
from exchangelib.recurrence import DailyPattern, NumberedPattern, Recurrence, WeeklyPattern  # type: ignore[import-untyped]  # noqa: E402

from creneau.emulators.ews import RunningEmulator  # noqa: E402
from tests.emulators.ews.client import PARIS, at, connect, control  # noqa: E402
from tests.emulators.ews.conftest import HTTP, Box  # noqa: E402


class BookingUid(ExtendedProperty):  # type: ignore[misc]
    property_set_id = "c11ff724-aa03-4555-9952-8fa248a11c3e"
    property_name = "creneauBookingUid"
    property_type = "String"


@pytest.fixture
def booking_uid() -> Iterator[None]:
    CalendarItem.register("booking_uid", BookingUid)
    yield
    CalendarItem.deregister("booking_uid")


def test_create_read_update_delete_without_invitations(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Interview P12",
        start=at(7, 10),
        end=at(7, 11),
        legacy_free_busy_status="Busy",
        location="Room 3",
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    assert item.id and item.changekey
    held = HTTP.get(f"{emulator.url}/_emulator/state", timeout=10).json()["items"]
    mine = [i for i in held if i["id"] == item.id]
    assert mine and mine[0]["invitations"] == "SendToNone" and mine[0]["start"] == "2026-12-07T09:00:00Z"

    read = account.calendar.get(id=item.id)
    assert read.subject == "Interview P12" and read.location == "Room 3"
    assert read.start == at(7, 10) and read.end == at(7, 11)
    assert read.type == "Single" and read.is_all_day is False and read.is_cancelled is False
    assert read.legacy_free_busy_status == "Busy" and read.my_response_type == "Organizer"
    assert read.uid

    stale = read.changekey
    item.subject = "Interview P12 (moved)"
    item.start, item.end = at(7, 14), at(7, 15)
    item.save(update_fields=["subject", "start", "end"], send_meeting_invitations=SEND_TO_NONE)
    assert item.changekey != stale
    again = account.calendar.get(id=item.id)
    assert again.subject == "Interview P12 (moved)" and again.start == at(7, 14)

    read.subject = "A stale edit"
    with pytest.raises(ErrorIrresolvableConflict):
        read.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)

    item.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert list(account.calendar.all()) == []


def test_all_day_item_round_trips(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Conference",
        start=dt.date(2026, 12, 10),
        end=dt.date(2026, 12, 11),
        is_all_day=True,
        legacy_free_busy_status="OOF",
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=item.id)
    assert read.is_all_day is True and read.legacy_free_busy_status == "OOF"
    assert read.start == dt.date(2026, 12, 10) and read.end == dt.date(2026, 12, 11)


def test_writes_to_a_read_only_calendar_are_refused(emulator: RunningEmulator, box: Box) -> None:
    control(emulator, "folders", {"email": box.email, "name": "Shared", "read_only": True})
    account = connect(emulator, box)
    shared = next(f for f in account.calendar.children if f.name == "Shared")
    item = CalendarItem(account=account, folder=shared, subject="x", start=at(8, 9), end=at(8, 10))
    with pytest.raises(exchangelib.errors.ErrorAccessDenied):
        item.save(send_meeting_invitations=SEND_TO_NONE)


def test_extended_property_is_kept_and_findable(
    emulator: RunningEmulator, box: Box, booking_uid: None
) -> None:
    account = connect(emulator, box)
    for n in range(3):
        CalendarItem(
            account=account,
            folder=account.calendar,
            subject=f"Session {n}",
            start=at(9, 9 + n),
            end=at(9, 10 + n),
            booking_uid=f"booking-{n}@creneau",
        ).save(send_meeting_invitations=SEND_TO_NONE)
    found = list(account.calendar.filter(booking_uid="booking-1@creneau"))
    assert [i.subject for i in found] == ["Session 1"]
    assert found[0].booking_uid == "booking-1@creneau"
    assert list(account.calendar.filter(booking_uid="booking-9@creneau")) == []
    held = HTTP.get(f"{emulator.url}/_emulator/state", timeout=10).json()["items"]
    assert sorted(
        e["value"] for i in held for e in i["extended"] if i["folder_id"] == box.mailbox.calendar_id
    ) == [
        "booking-0@creneau",
        "booking-1@creneau",
        "booking-2@creneau",
    ]


def test_get_item_in_batches(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    for n in range(12):
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {
                    "subject": f"E{n:02d}",
                    "start": f"2026-12-14T{8 + n % 9:02d}:00:00+01:00",
                    "end": f"2026-12-14T{8 + n % 9:02d}:30:00+01:00",
                    "time_zone": "Romance Standard Time",
                },
            },
        )
    ids = [(i.id, i.changekey) for i in account.calendar.all().only("id", "changekey")]
    emulator.state.requests.clear()
    items = list(account.fetch(ids=ids, only_fields=["subject", "start", "end"]))
    assert sorted(i.subject for i in items) == [f"E{n:02d}" for n in range(12)]
    assert sorted(i.start.astimezone(PARIS).hour for i in items)[:2] == [8, 8]
    assert emulator.state.requests == ["GetItem"]  # one batch, not one request per item


def test_recurring_master_with_modified_and_deleted_occurrences(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Weekly lab meeting",
        start=at(1, 9),
        end=at(1, 10),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[2]), start=dt.date(2026, 12, 1), number=4
        ),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)

    second = master.occurrence(index=2)
    second.refresh()
    assert second.type == "Occurrence" and second.start == at(8, 9)
    second.start, second.end, second.subject = at(8, 11), at(8, 12), "Lab meeting (late)"
    second.save(update_fields=["start", "end", "subject"], send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=3).delete(send_meeting_cancellations=SEND_TO_NONE)

    read = account.calendar.get(id=master.id)
    assert read.type == "RecurringMaster"
    assert read.recurrence.pattern.weekdays == [2] and read.recurrence.boundary.number == 4
    assert [(o.original_start, o.start) for o in read.modified_occurrences] == [(at(8, 9), at(8, 11))]
    assert [d.start for d in read.deleted_occurrences] == [at(15, 9)]
    assert read.first_occurrence.start == at(1, 9) and read.last_occurrence.start == at(22, 9)

    view = list(account.calendar.view(start=at(1, 0), end=at(31, 0)))
    assert [(o.start, o.type, o.subject) for o in view] == [
        (at(1, 9), "Occurrence", "Weekly lab meeting"),
        (at(8, 11), "Exception", "Lab meeting (late)"),
        (at(22, 9), "Occurrence", "Weekly lab meeting"),
    ]
    exception = account.calendar.get(id=read.modified_occurrences[0].id)
    assert exception.type == "Exception" and exception.subject == "Lab meeting (late)"


def test_daily_series_expands_in_its_own_zone_across_dst(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    start = EWSDateTime(2027, 3, 26, 9, 0, tzinfo=PARIS)
    CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Daily stand-up",
        start=start,
        end=start + dt.timedelta(minutes=15),
        recurrence=Recurrence(
            pattern=DailyPattern(interval=1), boundary=NumberedPattern(start=start.date(), number=4)
        ),
    ).save(send_meeting_invitations=SEND_TO_NONE)
    view = list(account.calendar.view(start=start - dt.timedelta(days=1), end=start + dt.timedelta(days=7)))
    assert [o.start.astimezone(PARIS).hour for o in view] == [9, 9, 9, 9]  # the clocks change on the 28th
    assert [o.start.astimezone(EWSTimeZone("UTC")).hour for o in view] == [8, 8, 7, 7]


def test_mime_content_is_icalendar_with_the_series_exceptions_and_deletions(
    emulator: RunningEmulator, box: Box
) -> None:
    icalendar = pytest.importorskip("icalendar")
    recurring_ical_events = pytest.importorskip("recurring_ical_events")
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Seminar",
        start=at(2, 14),
        end=at(2, 15),
        legacy_free_busy_status="Tentative",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=dt.date(2026, 12, 2), number=3
        ),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)
    moved = master.occurrence(index=2)
    moved.refresh()
    moved.start, moved.end = at(10, 16), at(10, 17)
    moved.save(update_fields=["start", "end"], send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=3).delete(send_meeting_cancellations=SEND_TO_NONE)

    read = account.calendar.get(id=master.id)
    calendar = icalendar.Calendar.from_ical(read.mime_content)
    assert [c.get("tzid") for c in calendar.walk("VTIMEZONE")] == ["Romance Standard Time"]
    events = calendar.walk("VEVENT")
    assert {str(e.get("uid")) for e in events} == {read.uid}
    assert str(events[0].get("X-MICROSOFT-CDO-BUSYSTATUS")) == "TENTATIVE"
    expanded = recurring_ical_events.of(calendar).between(dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 31))
    starts = sorted(e.get("dtstart").dt.astimezone(dt.UTC) for e in expanded)
    view = [
        o.start.astimezone(EWSTimeZone("UTC")) for o in account.calendar.view(start=at(1, 0), end=at(31, 0))
    ]
    assert (
        starts
        == [v.replace(tzinfo=dt.UTC) for v in view]
        == [
            dt.datetime(2026, 12, 2, 13, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        ]
    )


def test_all_pages_through_a_large_calendar(emulator: RunningEmulator, box: Box) -> None:
    events = [
        {
            "subject": f"B{n:03d}",
            "start": f"2026-12-{1 + n % 28:02d}T10:00:00Z",
            "end": f"2026-12-{1 + n % 28:02d}T11:00:00Z",
        }
        for n in range(250)
    ]
    made = control(emulator, "events", {"folder_id": box.mailbox.calendar_id, "events": events})
    assert len(made["events"]) == 250
    account = connect(emulator, box)
    calendar = account.calendar
    emulator.state.requests.clear()
    subjects = [i.subject for i in calendar.all().only("subject")]
    assert sorted(subjects) == [f"B{n:03d}" for n in range(250)]
    assert emulator.state.requests.count("FindItem") == 3  # exchangelib pages by 100


def test_changing_a_series_pattern_drops_its_exceptions(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Standup",
        start=at(1, 9),
        end=at(1, 9, 15),
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=dt.date(2026, 12, 1), number=5),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=2).delete(send_meeting_cancellations=SEND_TO_NONE)
    master.refresh()
    assert len(master.deleted_occurrences) == 1
    master.recurrence = Recurrence(pattern=DailyPattern(interval=2), start=dt.date(2026, 12, 1), number=3)
    master.save(update_fields=["recurrence"], send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=master.id)
    assert read.deleted_occurrences is None and read.modified_occurrences is None
    assert [o.start for o in account.calendar.view(start=at(1, 0), end=at(10, 0))] == [
        at(1, 9),
        at(3, 9),
        at(5, 9),
    ]


def test_calendar_view_bounds_and_limit(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    for hour in (8, 9, 10, 11):
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {
                    "subject": f"At {hour}",
                    "start": f"2026-12-17T{hour:02d}:00:00+01:00",
                    "end": f"2026-12-17T{hour + 1:02d}:00:00+01:00",
                },
            },
        )
    # documented: an item ending before StartDate is out, one starting at or after EndDate is out
    seen = [i.subject for i in account.calendar.view(start=at(17, 9), end=at(17, 11))]
    assert seen == ["At 8", "At 9", "At 10"]
    assert [i.subject for i in account.calendar.view(start=at(17, 0), end=at(18, 0), max_items=2)] == [
        "At 8",
        "At 9",
    ]


def test_auto_resolve_merges_changes_to_other_properties_never_overwrite_refuses(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account, folder=account.calendar, subject="Pilot", start=at(18, 9), end=at(18, 10)
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    stale = account.calendar.get(id=item.id)
    item.subject = "Pilot study"
    item.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)

    stale.location = "Lab B"  # another property than the one changed since: merged
    stale.save(update_fields=["location"], send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=item.id)
    assert (read.subject, read.location) == ("Pilot study", "Lab B")

    stale.changekey = item.changekey  # a version before the location change
    stale.location = "Lab C"
    with pytest.raises(ErrorIrresolvableConflict):  # the same property changed since: a real conflict
        stale.save(update_fields=["location"], send_meeting_invitations=SEND_TO_NONE)
    read.start, read.end = at(18, 11), at(18, 12)
    read.save(update_fields=["start", "end"], send_meeting_invitations=SEND_TO_NONE)
    stale.changekey = item.changekey
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(
            update_fields=["location"],
            conflict_resolution="NeverOverwrite",
            send_meeting_invitations=SEND_TO_NONE,
        )
